#!/usr/bin/env bash
# t-ladder-http: a real Caddy serving a mount with transcoded variants: ffmpeg plays the master over HTTP
# with every variant (-map 0) and each variant playlist alone without a message and to the full frame count;
# transcoded segments come back with Content-Length = stat size and exact bytes, and ranges as 206.
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
