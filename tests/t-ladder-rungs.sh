#!/usr/bin/env bash
# t-ladder-rungs: which variants a video gets from ladder=: an H.264 source its passthrough (named after
# its height) plus the rungs strictly below it (never an upscale); a non-H.264 source (HEVC, MPEG-4 Part 2)
# every rung up to its height, and at least one; the master lists each variant once, by ascending
# BANDWIDTH, with BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION and FRAME-RATE, and ffmpeg plays them all.
source "$(dirname "$0")/lib.sh"

# --- ladder sources: the same recipes in every t-ladder-* test, generated once into the shared media cache ---
_LADDER_MEDIA=${HLSFS_MEDIA_CACHE:-${TMPDIR:-/tmp}/hlsfs-test-media}/ladder

# ladder_source NAME FFMPEG-ARGS...: $SRC/NAME becomes the file `ffmpeg FFMPEG-ARGS OUT` makes; made once per
# recipe (and ffmpeg version) under a lock, then copied.
ladder_source() {
    local name=$1 key d
    shift
    key=$( { printf '%s\n' "$name" "$@"; ffmpeg -version 2>/dev/null | sed -n 1p; } | sha256sum | cut -c1-16)
    d=$_LADDER_MEDIA/$key
    if [ ! -f "$d/$name" ]; then
        mkdir -p "$_LADDER_MEDIA"
        (
            flock 9
            if [ ! -f "$d/$name" ]; then
                mkdir -p "$d" && ffmpeg -nostdin -hide_banner -v error -y "$@" "$d/part-$name" &&
                    mv "$d/part-$name" "$d/$name"
            fi
        ) 9>"$d.lock" || fail "could not generate the test source $name (ffmpeg $*)"
    fi
    cp -p "$d/$name" "$SRC/$name"
}
_tone() { printf 'sine=frequency=440:sample_rate=48000:duration=%s' "$1"; }
_x264='-c:v libx264 -preset veryfast -pix_fmt yuv420p -sc_threshold 0'
# shellcheck disable=SC2086
{
# 854x480 (16:9) H.264 High with B-frames, a keyframe every 50 frames (segments cut at 6.667 s and 13.333 s), AAC
src_h480() { ladder_source h480.mp4 -f lavfi -i testsrc2=size=854x480:rate=30:duration=14 -f lavfi -i "$(_tone 14)" \
    $_x264 -profile:v high -g 50 -keyint_min 50 -bf 3 -b:v 1200k -c:a aac -b:a 64k -ac 2; }
# 426x240 H.264, no B-frames
src_h240() { ladder_source h240.mp4 -f lavfi -i testsrc2=size=426x240:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    $_x264 -profile:v main -g 60 -keyint_min 60 -bf 0 -b:v 400k -c:a aac -b:a 64k -ac 2; }
# 640x360 HEVC (libx265: open GOPs, B-frames), AAC
src_hevc() { ladder_source hevc.mp4 -f lavfi -i testsrc2=size=640x360:rate=30:duration=10 -f lavfi -i "$(_tone 10)" \
    -c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=error:keyint=60:min-keyint=60:scenecut=0 \
    -tag:v hvc1 -c:a aac -b:a 64k -ac 2; }
# 320x180 HEVC, video only: smaller than every rung of the tests' ladders
src_hevc_small() { ladder_source hevc-small.mp4 -f lavfi -i testsrc2=size=320x180:rate=25:duration=4 \
    -c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=error:keyint=50:min-keyint=50 -tag:v hvc1; }
# 640x360 MPEG-4 Part 2 (with B-frames) at 25 fps, AAC
src_mpeg4() { ladder_source mpeg4.mp4 -f lavfi -i testsrc2=size=640x360:rate=25:duration=10 -f lavfi -i "$(_tone 10)" \
    -c:v mpeg4 -q:v 5 -g 50 -bf 2 -c:a aac -b:a 64k -ac 2; }
# 640x480 (4:3) H.264
src_43() { ladder_source four-three.mp4 -f lavfi -i testsrc2=size=640x480:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    $_x264 -profile:v high -g 60 -keyint_min 60 -b:v 800k -c:a aac -b:a 64k -ac 2; }
# 360x640 portrait H.264
src_portrait() { ladder_source portrait.mp4 -f lavfi -i testsrc2=size=360x640:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    $_x264 -profile:v high -g 60 -keyint_min 60 -b:v 800k -c:a aac -b:a 64k -ac 2; }
# 720x480 with 32:27 pixels (16:9 display), H.264
src_anamorphic() { ladder_source anamorphic.mp4 -f lavfi -i testsrc2=size=720x480:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    -vf setsar=32/27 $_x264 -profile:v high -g 60 -keyint_min 60 -b:v 800k -c:a aac -b:a 64k -ac 2; }
}

# video_facts FILE: "WIDTH HEIGHT SAR_NUM SAR_DEN FPS_NUM FPS_DEN FRAMES CODEC" of its first video stream
# (frames counted by decoding).
video_facts() {
    ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=width,height,sample_aspect_ratio,avg_frame_rate,nb_read_frames,codec_name -of json "$1" |
        jq -r '.streams[0] | (.sample_aspect_ratio // "1:1") as $s | ($s | if test("^[1-9][0-9]*:[1-9][0-9]*$") then . else "1:1" end) as $s |
            "\(.width) \(.height) \($s | split(":") | .[0]) \($s | split(":") | .[1]) \(.avg_frame_rate | split("/") | .[0]) \(.avg_frame_rate | split("/") | .[1]) \(.nb_read_frames) \(.codec_name)"'
}

# master_rows MASTER: one line per variant, in playlist order:
# "BANDWIDTH<TAB>AVERAGE-BANDWIDTH<TAB>CODECS<TAB>RESOLUTION<TAB>FRAME-RATE<TAB>URI" ("-" for a missing attribute).
master_rows() {
    python3 - "$1" <<'PY'
import re, sys
attrs = None
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\r\n")
    if line.startswith("#EXT-X-STREAM-INF:"):
        attrs = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line[len("#EXT-X-STREAM-INF:"):]))
    elif line and not line.startswith("#") and attrs is not None:
        get = lambda k: (attrs.get(k, "").strip('"') or "-")
        print("\t".join([get("BANDWIDTH"), get("AVERAGE-BANDWIDTH"), get("CODECS"), get("RESOLUTION"),
                         get("FRAME-RATE"), line]))
        attrs = None
PY
}

# video_dir_ok REL: $MNT/REL is a served video (a master playlist, no error.txt), or the test fails saying why.
video_dir_ok() {
    local v=$MNT/$1
    if [ -f "$v/error.txt" ]; then fail "'$1' is not served: error.txt says: $(head -c 300 "$v/error.txt")"; fi
    [ -f "$v/master.m3u8" ] || fail "'$1' has no master.m3u8 (holds: $(ls "$v" 2>&1 | tr '\n' ' '))"
}

LADDER=720:1500/360:600/240:300

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
    got_dirs=$(find "$v" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')
    want_dirs=$(for h in $want; do echo "${h}p"; done | sort | tr '\n' ' ')
    [ "$got_dirs" = "$want_dirs" ] ||
        fail "'$rel' ($codec ${sw}x$sh, ladder $LADDER) has the variant folders [$got_dirs], want [$want_dirs]"

    local rows n
    rows=$(master_rows "$v/master.m3u8")
    n=$(grep -c . <<<"$rows" || true)
    [ "$n" = "$(wc -w <<<"$want")" ] || fail "'$rel/master.m3u8' lists $n variants, want $(wc -w <<<"$want") ($want)"
    local bw abw codecs res fr uri prev=0 uris='' fps
    fps=$(awk -v n="$fn" -v d="$fd" 'BEGIN { printf "%.3f", n / d }')
    while IFS=$'\t' read -r bw abw codecs res fr uri; do
        for a in "BANDWIDTH=$bw" "AVERAGE-BANDWIDTH=$abw" "CODECS=$codecs" "RESOLUTION=$res" "FRAME-RATE=$fr"; do
            [ "${a#*=}" != - ] || fail "'$rel/master.m3u8': the variant $uri has no ${a%%=*}"
        done
        [[ $bw =~ ^[1-9][0-9]*$ && $abw =~ ^[1-9][0-9]*$ ]] || fail "'$rel/master.m3u8': $uri: BANDWIDTH=$bw AVERAGE-BANDWIDTH=$abw are not positive integers"
        [ "$abw" -le "$bw" ] || fail "'$rel/master.m3u8': $uri: AVERAGE-BANDWIDTH $abw above BANDWIDTH (peak) $bw"
        [ "$bw" -ge "$prev" ] || fail "'$rel/master.m3u8': not ordered by ascending BANDWIDTH: $uri ($bw) after one of $prev"
        prev=$bw
        [[ $uri =~ ^([0-9]+)p/index\.m3u8$ ]] || fail "'$rel/master.m3u8': variant URI '$uri' is not HEIGHTp/index.m3u8"
        h=${BASH_REMATCH[1]}
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
