#!/usr/bin/env bash
# t-ladder-refit: a GOP whose encode would leave a transcoded segment over its planned size is encoded
# again at a lower rate, alone (the GOPs before it stay, so bytes already served stay true), and the
# result is the same every time, decodes whole and is exactly the planned size. The planned size is
# shrunk by tests/unit/transcode_repeat to force it; too small a size fails cleanly (EIO, no bytes).
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

need ffmpeg ffprobe
REPEAT=$(dirname "$HLSFS")/tests/unit/transcode_repeat
[ -x "$REPEAT" ] || fail "no $REPEAT (build the tree first)"
# noisy pictures: hard to compress, so a smaller size than planned is soon too small
ladder_source noise.mp4 -f lavfi -i "testsrc2=size=640x360:rate=30:duration=8,noise=alls=100:allf=t" \
    -c:v libx264 -preset ultrafast -g 60 -pix_fmt yuv420p

TRANSCODE_DEBUG=1 TRANSCODE_OUT=$T/full.ts "$REPEAT" "$SRC/noise.mp4" 240:100 0 1 > "$T/full" 2> "$T/full.err" ||
    fail "the segment at its planned size failed: $(head -c 300 "$T/full.err")"
if grep -q 'encoding them again' "$T/full.err"; then fail "test bug: the planned size already needs a second encode"; fi
size=$(stat -c %s "$T/full.ts")

TRANSCODE_DEBUG=1 TRANSCODE_OUT=$T/refit.ts "$REPEAT" "$SRC/noise.mp4" 240:100 0 4 2 0 85 > "$T/refit" 2> "$T/refit.err" ||
    fail "the segment at 85% of its planned size failed: $(head -c 300 "$T/refit.err")"
grep -q 'frames [0-9]*-[0-9]* leave the segment over its bound .* again at' "$T/refit.err" ||
    fail "at 85% of its planned size, no GOP was encoded again: $(head -c 300 "$T/refit.err")"
[ "$(awk '{ print $4 }' "$T/refit" | sort -u | wc -l)" = 1 ] ||
    fail "four encodes of the refitted segment gave different bytes: $(tr '\n' ' ' < "$T/refit")"
want=$(( size * 85 / 100 / 188 * 188 ))
[ "$(stat -c %s "$T/refit.ts")" = "$want" ] || fail "the refitted segment has $(stat -c %s "$T/refit.ts") bytes, not $want"
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/refit.ts" | sed -n 1p | tr -d " ")
[ "$frames" = 180 ] || fail "the refitted segment decodes to $frames frames, not 180"
err=$(ffmpeg -nostdin -v error -i "$T/refit.ts" -f null - 2>&1 || true)
[ -z "$err" ] || fail "the refitted segment does not decode cleanly: $(head -c 300 <<<"$err")"
cmp -s "$T/full.ts" "$T/refit.ts" && fail "the refitted segment is the same bytes as the full-size one"

# Far too small: no rate fits; an error, never bytes.
if "$REPEAT" "$SRC/noise.mp4" 240:100 0 1 1 0 30 > "$T/small" 2> "$T/small.err"; then
    fail "a segment planned at 30% of its size was made: $(cat "$T/small")"
fi
grep -q 'no encode fits its planned size' "$T/small.err" || fail "no clear error for a size nothing fits: $(head -c 300 "$T/small.err")"
pass
