#!/usr/bin/env bash
# t-ladder-http: a real Caddy serving a mount with transcoded variants: ffmpeg plays the master over HTTP
# with every variant (-map 0) and each variant playlist alone without a message and to the full frame count;
# transcoded segments come back with Content-Length = stat size and exact bytes, and ranges as 206.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300

need ffmpeg ffprobe jq curl caddy
src_h480
src_hevc
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER"
start_caddy "$MNT"
BASE=http://127.0.0.1:$HTTP_PORT

# check_video REL "HEIGHT...": over HTTP, ffmpeg plays the master with every variant (-map 0) without a
# message and finds one video stream per variant; each variant's index.m3u8 decodes alone, silently, to the
# source's frame count; a transcoded segment comes back whole (Content-Length = stat size, same bytes) and
# a Range of it as 206 with exactly those bytes.
check_video() {
    local rel=$1 heights=$2 v=$MNT/$1 u=$BASE/$1
    local _ frames out got h
    read -r _ _ _ _ _ _ frames _ < <(video_facts "$SRC/$rel")
    video_dir_ok "$rel"
    out=$(timeout 120 ffmpeg -nostdin -v error -i "$u/master.m3u8" -map 0 -f null - 2>&1) ||
        fail "'$rel': ffmpeg over HTTP failed on master.m3u8: $(head -n 2 <<<"$out")"
    [ -z "$out" ] || fail "'$rel': ffmpeg over HTTP printed while playing master.m3u8: $(head -n 2 <<<"$out")"
    got=$(ffprobe -v error -show_entries stream=codec_type,height -of json "$u/master.m3u8" |
        jq -r '.streams[] | select(.codec_type == "video") | .height' | sort -n | tr '\n' ' ')
    [ "$got" = "$(tr ' ' '\n' <<<"$heights" | sed '/^$/d' | sort -n | tr '\n' ' ')" ] ||
        fail "'$rel': over HTTP the master gives video streams [$got] lines tall, want one per variant [$heights]"
    for h in $heights; do
        out=$(timeout 120 ffmpeg -nostdin -v error -i "$u/${h}p/index.m3u8" -map 0 -f null - 2>&1) ||
            fail "'$rel/${h}p': ffmpeg over HTTP failed: $(head -n 2 <<<"$out")"
        [ -z "$out" ] || fail "'$rel/${h}p': ffmpeg over HTTP printed: $(head -n 2 <<<"$out")"
        got=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 \
            "$u/${h}p/index.m3u8" | sed -n 1p)
        [ "$got" = "$frames" ] || fail "'$rel/${h}p' over HTTP decodes to $got frames, the source has $frames"
    done
    # One transcoded segment, whole and a range across a packet edge inside it.
    local seg size meta status clen crange
    seg=$(segments_of "$v/${heights##* }p/index.m3u8" | sed -n 2p)
    [ -n "$seg" ] || fail "'$rel/${heights##* }p' has fewer than 2 segments"
    size=$(stat -c %s "$seg")
    meta=$(http_get "$BASE/${seg#"$MNT"/}" "$T/body")
    IFS=$'\t' read -r status _ clen _ <<<"$meta"
    [ "$status" = 200 ] || fail "GET ${seg#"$MNT"/} gave status $status"
    [ "$clen" = "$size" ] || fail "GET ${seg#"$MNT"/}: Content-Length $clen, stat size $size"
    cmp -s "$T/body" "$seg" || fail "GET ${seg#"$MNT"/}: body differs from the file in the mount"
    meta=$(http_get "$BASE/${seg#"$MNT"/}" "$T/range" -H "Range: bytes=1000-5000")
    IFS=$'\t' read -r status _ _ crange <<<"$meta"
    [ "$status" = 206 ] && [ "$crange" = "bytes 1000-5000/$size" ] ||
        fail "Range bytes=1000-5000 of ${seg#"$MNT"/}: status $status, Content-Range '$crange' (want 206, bytes 1000-5000/$size)"
    slice "$seg" 1000 4001 | cmp -s - "$T/range" || fail "Range bytes=1000-5000 of ${seg#"$MNT"/}: wrong bytes"
}

soft check_video h480.mp4 "480 360 240"
soft check_video hevc.mp4 "360 240"

stop_servers
umount_hlsfs "$MNT"
pass
