#!/usr/bin/env bash
# t-ladder-threads: a transcoded segment's bytes do not depend on how many threads decode the source
# (frame and slice threads). Open-GOP HEVC with CRA pictures and B-frames (8- and 10-bit), H.264 with
# a B-pyramid, and open-GOP H.264: segments 0 and 1 made with 1, 2 and 4 decoder threads, four times
# each (two at once), give one hash per segment.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

need ffmpeg ffprobe
REPEAT=$(dirname "$HLSFS")/tests/unit/transcode_repeat
[ -x "$REPEAT" ] || fail "no $REPEAT (build the tree first)"
src_hevc
src_h480
# 10-bit HEVC, open GOPs (CRA every 2 s), B-pyramid
ladder_source hevc10.mp4 -f lavfi -i testsrc2=size=640x360:rate=30:duration=8 \
    -c:v libx265 -preset ultrafast -pix_fmt yuv420p10le \
    -x265-params log-level=error:keyint=60:min-keyint=60:scenecut=0:open-gop=1:bframes=4:b-pyramid=1 -tag:v hvc1
# H.264 with open GOPs (recovery-point I-frames, B-frames shown before them)
ladder_source h264-open.mp4 -f lavfi -i testsrc2=size=640x360:rate=30:duration=8 \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -x264-params open-gop=1:keyint=60:min-keyint=60:scenecut=0:bframes=3:b-pyramid=normal

# The sources must be what the test says: CRA pictures in the HEVC ones.
for f in hevc.mp4 hevc10.mp4; do
    nals=$(ffmpeg -v trace -nostdin -i "$SRC/$f" -c copy -bsf:v trace_headers -f null - 2>&1 | grep -c 'nal_unit_type .* = 21$' || true)
    [ "$nals" -ge 2 ] || fail "test bug: $f has $nals CRA pictures, not an open-GOP source"
done

for f in hevc.mp4 hevc10.mp4 h480.mp4 h264-open.mp4; do
    for seg in 0 1; do
        : > "$T/runs"
        for d in 1 2 4; do
            "$REPEAT" "$SRC/$f" 240:300 "$seg" 4 2 "$d" > "$T/out" 2> "$T/err" ||
                fail "$f segment $seg with $d decoder threads: transcode_repeat failed: $(head -c 300 "$T/err")"
            sed "s/^/d$d /" "$T/out" >> "$T/runs"
        done
        [ "$(wc -l < "$T/runs")" = 12 ] || fail "$f segment $seg: $(wc -l < "$T/runs") runs, not 12"
        sums=$(awk '{ print $5 }' "$T/runs" | sort | uniq -c)
        [ "$(wc -l <<<"$sums")" = 1 ] ||
            fail "$f segment $seg: 12 encodes with 1, 2 and 4 decoder threads gave different bytes: $(awk '{ print $1, $5 }' "$T/runs" | sort | uniq -c | tr -s ' \n' ' ')"
    done
done
pass
