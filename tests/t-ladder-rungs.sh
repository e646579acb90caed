#!/usr/bin/env bash
# t-ladder-rungs: which variants a video gets from ladder=: an H.264 source its passthrough (named after
# its height) plus the rungs strictly below it (never an upscale); a non-H.264 source (HEVC, MPEG-4 Part 2)
# every rung up to its height, and at least one; the master lists each variant once, the passthrough first
# (when its BANDWIDTH is at most 5 Mbit/s) and the rest by ascending BANDWIDTH, with BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION and FRAME-RATE, and ffmpeg plays them all.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=720:1500/360:600/240:300
START_MAX_BPS=5000000  # playlist.h: PLAYLIST_START_MAX_BPS

need ffmpeg ffprobe jq python3
src_h480
src_h240
src_hevc
src_hevc_small
src_mpeg4
lint_ready
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER"

# check_video REL "HEIGHT..." PASSTHROUGH: the video offers exactly the variants HEIGHT... (folders and
# master entries), the passthrough one (yes/no) being the source's own size; the master lists them by
# ascending BANDWIDTH, each with every attribute; ffmpeg plays every variant through the master without a
# message.
check_video() {
    local rel=$1 want=$2 passthrough=$3 v=$MNT/$1
    local sw sh _ fn fd _frames codec
    read -r sw sh _ _ fn fd _frames codec < <(video_facts "$SRC/$rel")
    video_dir_ok "$rel"

    local got_dirs want_dirs h
    # (thumbs/, subs-LANG/ and subtitles/ are not variants)
    got_dirs=$(find "$v" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sed -n '/^[0-9]*p$/p' | sort | tr '\n' ' ')
    want_dirs=$(for h in $want; do echo "${h}p"; done | sort | tr '\n' ' ')
    [ "$got_dirs" = "$want_dirs" ] ||
        fail "'$rel' ($codec ${sw}x$sh, ladder $LADDER) has the variant folders [$got_dirs], want [$want_dirs]"

    local rows n
    rows=$(master_rows "$v/master.m3u8")
    n=$(grep -c . <<<"$rows" || true)
    [ "$n" = "$(wc -w <<<"$want")" ] || fail "'$rel/master.m3u8' lists $n variants, want $(wc -w <<<"$want") ($want)"
    local bw abw codecs res fr uri prev=0 uris='' fps pt_bw='' first_pt=no
    fps=$(awk -v n="$fn" -v d="$fd" 'BEGIN { printf "%.3f", n / d }')
    while IFS=$'\t' read -r bw abw codecs res fr uri; do
        for a in "BANDWIDTH=$bw" "AVERAGE-BANDWIDTH=$abw" "CODECS=$codecs" "RESOLUTION=$res" "FRAME-RATE=$fr"; do
            [ "${a#*=}" != - ] || fail "'$rel/master.m3u8': the variant $uri has no ${a%%=*}"
        done
        [[ $bw =~ ^[1-9][0-9]*$ && $abw =~ ^[1-9][0-9]*$ ]] || fail "'$rel/master.m3u8': $uri: BANDWIDTH=$bw AVERAGE-BANDWIDTH=$abw are not positive integers"
        [ "$abw" -le "$bw" ] || fail "'$rel/master.m3u8': $uri: AVERAGE-BANDWIDTH $abw above BANDWIDTH (peak) $bw"
        [[ $uri =~ ^([0-9]+)p/index\.m3u8$ ]] || fail "'$rel/master.m3u8': variant URI '$uri' is not HEIGHTp/index.m3u8"
        h=${BASH_REMATCH[1]}
        if [ "$passthrough" = yes ] && [ "$h" = "$sh" ]; then
            pt_bw=$bw
            [ -n "$uris" ] || first_pt=yes
        fi
        # the passthrough, when listed first, starts the order; the rest by ascending BANDWIDTH
        if [ -z "$uris" ] && [ "$passthrough" = yes ] && [ "$h" = "$sh" ]; then
            [ "$bw" -le "$START_MAX_BPS" ] ||
                fail "'$rel/master.m3u8': the passthrough is listed first though its BANDWIDTH $bw is above $START_MAX_BPS"
        else
            [ "$bw" -ge "$prev" ] || fail "'$rel/master.m3u8': not ordered by ascending BANDWIDTH: $uri ($bw) after one of $prev"
            prev=$bw
        fi
        [[ $res =~ ^([0-9]+)x([0-9]+)$ ]] || fail "'$rel/master.m3u8': $uri: RESOLUTION=$res is not WxH"
        [ "${BASH_REMATCH[2]}" = "$h" ] || fail "'$rel/master.m3u8': $uri has RESOLUTION=$res, not ${h} lines tall"
        [ "$fr" = "$fps" ] || fail "'$rel/master.m3u8': $uri: FRAME-RATE=$fr, the source is $fps"
        [[ $codecs =~ ^avc1\.[0-9a-fA-F]{6}(,mp4a\.40\.2)?$ ]] || fail "'$rel/master.m3u8': $uri: CODECS=\"$codecs\" is not avc1.PPCCLL[,mp4a.40.2]"
        if [ "$passthrough" = yes ] && [ "$h" = "$sh" ]; then
            [ "$res" = "${sw}x$sh" ] || fail "'$rel': the passthrough variant has RESOLUTION=$res, the source is ${sw}x$sh"
        fi
        [ -n "$(playlist_uris "$v/$uri")" ] || fail "'$rel/$uri' lists no segments"
        uris+="$h "
    done <<<"$rows"
    # players start with the first variant (hls.js: the best one within the first's BANDWIDTH, up to 5 Mbit/s)
    if [ "$passthrough" = yes ] && [ "$pt_bw" -le "$START_MAX_BPS" ] && [ "$first_pt" != yes ]; then
        fail "'$rel/master.m3u8': the passthrough (BANDWIDTH $pt_bw) is not listed first"
    fi
    [ "$(tr ' ' '\n' <<<"$uris" | sed '/^$/d' | sort -n | tr '\n' ' ')" = "$(tr ' ' '\n' <<<"$want" | sort -n | tr '\n' ' ')" ] ||
        fail "'$rel/master.m3u8' lists the heights [$uris], want [$want]"

    # A player: every variant through the master (-map 0 takes every program's streams).
    local out heights
    out=$(timeout 120 ffmpeg -nostdin -v error -i "$v/master.m3u8" -map 0 -f null - 2>&1) ||
        fail "'$rel': ffmpeg could not play master.m3u8: $(head -n 2 <<<"$out" | sed "s|$MNT/||g")"
    [ -z "$out" ] || fail "'$rel': ffmpeg printed while playing master.m3u8: $(head -n 2 <<<"$out" | sed "s|$MNT/||g")"
    heights=$(ffprobe -v error -show_entries stream=codec_type,height -of json "$v/master.m3u8" |
        jq -r '.streams[] | select(.codec_type == "video") | .height' | sort -n | tr '\n' ' ')
    [ "$heights" = "$(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort -n | tr '\n' ' ')" ] ||
        fail "'$rel': the video streams ffmpeg finds through master.m3u8 are [$heights] lines tall, want [$want]"
}

# H.264 at 480: its passthrough plus the rungs strictly below 480; never the 720 rung (an upscale).
soft check_video h480.mp4 "480 360 240" yes
# H.264 at 240: the 240 rung is not below it, so the passthrough alone.
soft check_video h240.mp4 "240" yes
# HEVC at 360 and MPEG-4 Part 2 at 360: every rung up to their height (360 included), no passthrough.
soft check_video hevc.mp4 "360 240" no
soft check_video mpeg4.mp4 "360 240" no
# HEVC smaller than every rung: still one rung (at its own height), so it plays.
soft check_video hevc-small.mp4 "180" no

# Every playlist of the ladder passes the strict linter.
mapfile -d '' lists < <(find "$MNT" -name '*.m3u8' -print0 | sort -z)
if ! out=$(node "$TESTS_DIR/lint/lint.js" "${lists[@]}" 2>&1); then
    soft fail "lint found $(grep -c . <<<"$out" || true) problems in the ladder's playlists; first: $(head -n 1 <<<"$out" | sed "s|$MNT/||")"
fi

umount_hlsfs "$MNT"
pass
