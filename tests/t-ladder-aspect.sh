#!/usr/bin/env bash
# t-ladder-aspect: transcoded rungs keep the display aspect ratio of the source with even dimensions: 4:3,
# portrait, anamorphic (non-square pixels) and 16:9 sources; the master's RESOLUTION and the decoded
# pictures (ffprobe) agree, and their display width is the source's aspect within one pixel.
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

LADDER=360:600/240:300/144:150

need ffmpeg ffprobe jq python3
src_43
src_portrait
src_anamorphic
src_hevc
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,prefetch=0"

# check_video REL "HEIGHT...": each transcoded rung of REL (the heights given) keeps the source's display
# aspect ratio: its RESOLUTION in the master and the picture its first segment decodes to are the same even
# width and height, and width x SAR / height is the source's display aspect within one pixel of width.
check_video() {
    local rel=$1 rungs=$2 v=$MNT/$1
    local sw sh sn sd _
    read -r sw sh sn sd _ < <(video_facts "$SRC/$rel")
    video_dir_ok "$rel"
    local rows h res rw rh seg fw fh fsar fsn fsd out exact
    rows=$(master_rows "$v/master.m3u8")
    for h in $rungs; do
        res=$(awk -F'\t' -v u="${h}p/index.m3u8" '$6 == u { print $4 }' <<<"$rows")
        [ -n "$res" ] || fail "'$rel/master.m3u8' lists no ${h}p variant (ladder $LADDER, source ${sw}x$sh)"
        [[ $res =~ ^([0-9]+)x([0-9]+)$ ]] || fail "'$rel': ${h}p has RESOLUTION=$res, not WxH"
        rw=${BASH_REMATCH[1]} rh=${BASH_REMATCH[2]}
        # exact width of an h-line picture with the source's display aspect and square pixels
        exact=$(fcalc "$h * $sw * $sn / ($sh * $sd)")
        [ "$rh" = "$h" ] || fail "'$rel': ${h}p has RESOLUTION=$res"
        [ $((rw % 2)) = 0 ] && [ $((rh % 2)) = 0 ] || fail "'$rel': ${h}p has RESOLUTION=$res, not even"
        ftrue "$rw - $exact <= 1 && $exact - $rw <= 1" ||
            fail "'$rel': ${h}p has RESOLUTION=$res, but the source ${sw}x$sh (SAR $sn:$sd) at $h lines is $exact wide (an even width within 1 pixel of it: $(awk -v e="$exact" 'BEGIN { a = int(e / 2) * 2; if (e - a <= 1) printf "%d ", a; if (a + 2 - e <= 1) printf "%d", a + 2 }'))"

        seg=$(segments_of "$v/${h}p/index.m3u8" | sed -n 1p)
        out=$(ffmpeg -nostdin -v error -i "$seg" -f null - 2>&1) || fail "'${seg#"$MNT"/}' does not decode: $(head -n 1 <<<"$out")"
        [ -z "$out" ] || fail "decoding '${seg#"$MNT"/}' printed: $(head -n 1 <<<"$out")"
        read -r fw fh fsar < <(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' \
            -show_entries frame=width,height,sample_aspect_ratio -of csv=p=0 "$seg" | tr ',' ' ')
        [ "$fw" = "$rw" ] && [ "$fh" = "$rh" ] ||
            fail "'${seg#"$MNT"/}' decodes to ${fw}x$fh pictures, the master says $res"
        fsn=1 fsd=1
        if [[ $fsar =~ ^([1-9][0-9]*):([1-9][0-9]*)$ ]]; then fsn=${BASH_REMATCH[1]} fsd=${BASH_REMATCH[2]}; fi
        ftrue "$fw * $fsn / $fsd - $exact <= 1 && $exact - $fw * $fsn / $fsd <= 1" ||
            fail "'${seg#"$MNT"/}' displays ${fw}x$fh with SAR ${fsar:-none} as $(fcalc "$fw * $fsn / $fsd")x$fh, the source's aspect wants $exact x $h"
    done
}

soft check_video four-three.mp4 "360 240 144"
soft check_video portrait.mp4 "360 240 144"
soft check_video anamorphic.mp4 "360 240 144"
soft check_video hevc.mp4 "360 240 144"

umount_hlsfs "$MNT"
pass
