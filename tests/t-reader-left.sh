#!/usr/bin/env bash
# t-reader-left: a transcode every reader left before it was whole (hls.js aborts a segment that loads too
# slowly and asks for a lower rung's) no longer holds a reader's place. With workers=1 and no prefetch, a
# reader takes the first 100 KB of the 360p rung's segment 3 and closes it; a reader of segment 1 then
# gets made at once beside it (hlsfs_generations_in_flight 2) while segment 3 pauses
# (hlsfs_generations_paused 1), instead of waiting until segment 3 is whole. Segment 3 is still finished
# and kept (a later read is a cache hit), and the bytes of both are those of a mount where nobody left.
source "$(dirname "$0")/lib.sh"

need ffmpeg cmp head
need_hlsfs

# 24 s of 720p H.264 with a keyframe a second; preset=slower makes each 6 s 360p segment take seconds, so
# the reader of segment 1 arrives while segment 3 is still being made.
make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=24 -f lavfi -i sine=f=440:d=24 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 64k
OPTS="ladder=360:800,preset=slower,workers=1,prefetch=0"

mount_hlsfs "$SRC" "$MNT" -o "$OPTS,cache_dir=$T/cache"
PL="$MNT/v.mp4/360p/index.m3u8"
[ -f "$PL" ] || fail "no 360p rung: $(ls "$MNT/v.mp4" | tr '\n' ' ')"
mapfile -t SEGS < <(segments_of "$PL")
[ "${#SEGS[@]}" -ge 4 ] || fail "want at least 4 segments in $PL, got ${#SEGS[@]}"
stat_value() { stat_of "$MNT" "$1"; }

head -c 100000 "${SEGS[3]}" > "$T/a-3.head" || fail "reading the start of segment 3 failed"
[ "$(stat -c %s "$T/a-3.head")" = 100000 ] || fail "got $(stat -c %s "$T/a-3.head") bytes of segment 3, want 100000"
[ "$(stat_value hlsfs_productions_left_total)" = 1 ] ||
    fail "hlsfs_productions_left_total is $(stat_value hlsfs_productions_left_total) after the only reader of segment 3 left, want 1"
[ "$(stat_value hlsfs_generations_in_flight)" = 1 ] ||
    fail "segment 3 is not being made any more right after its reader left (in flight $(stat_value hlsfs_generations_in_flight)): the machine is too fast for this test's timing"

cat "${SEGS[1]}" > "$T/a-1.ts" &
R1=$!
_track_pid "$R1"
beside() {
    [ "$(stat_value hlsfs_generations_in_flight)" = 2 ] && [ "$(stat_value hlsfs_generations_paused)" = 1 ]
}
wait_until 20 beside ||
    fail "segment 1, asked for after segment 3's reader left, did not run beside it with segment 3 paused (in flight $(stat_value hlsfs_generations_in_flight), paused $(stat_value hlsfs_generations_paused); want 2 and 1)"
wait "$R1" || fail "reading segment 1 failed (exit $?)"
_forget_pid "$R1"
idle() { [ "$(stat_value hlsfs_generations_in_flight)" = 0 ]; }
wait_until 60 idle || fail "segment 3 was not finished after segment 1 (in flight $(stat_value hlsfs_generations_in_flight))"
[ "$(stat_value hlsfs_generations_paused)" = 0 ] || fail "hlsfs_generations_paused is $(stat_value hlsfs_generations_paused) with nothing read"
hits=$(stat_value hlsfs_cache_hits_total)
cat "${SEGS[3]}" > "$T/a-3.ts" || fail "reading segment 3 failed"
[ "$(stat_value hlsfs_cache_hits_total)" -gt "$hits" ] || fail "segment 3 was not kept: reading it again was no cache hit"
cmp -s "$T/a-3.head" <(head -c 100000 "$T/a-3.ts") || fail "the first 100000 bytes of segment 3 changed between its two reads"
umount_hlsfs "$MNT"

# The same segments, made with nobody leaving.
mount_hlsfs "$SRC" "$MNT" -o "$OPTS,cache_dir=$T/cache-ref"
mapfile -t REF < <(segments_of "$PL")
for i in 1 3; do
    cmp -s "$T/a-$i.ts" "${REF[$i]}" ||
        fail "segment $i differs from the one made where no reader left ($(stat -c %s "$T/a-$i.ts") vs $(stat -c %s "${REF[$i]}") bytes)"
done
umount_hlsfs "$MNT"
pass
