#!/usr/bin/env bash
# t-prefetch-yield: a segment a reader waits for comes before the segments made ahead of it (prefetch).
# With workers=1 and prefetch=1, a reader of the 360p rung's segment 0 makes segment 1 go ahead once
# segment 0 is made; a reader then asking for segment 3 must not wait for that slot: segment 3 is made at
# once beside it (hlsfs_generations_in_flight 2) and segment 1 pauses (hlsfs_generations_paused 1). A
# reader joining segment 1 then makes it go on while segment 3 is still made. The bytes of every segment
# are those of a mount that makes one segment at a time with no prefetch.
source "$(dirname "$0")/lib.sh"

need ffmpeg cmp
need_hlsfs

# 24 s of 720p H.264 with a keyframe a second; preset=slower makes each 6 s 360p segment take seconds, so
# the readers below overlap the productions by a wide margin.
make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=24 -f lavfi -i sine=f=440:d=24 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 64k
OPTS="ladder=360:800,preset=slower"

mount_hlsfs "$SRC" "$MNT" -o "$OPTS,workers=1,prefetch=1,cache_dir=$T/cache"
PL="$MNT/v.mp4/360p/index.m3u8"
[ -f "$PL" ] || fail "no 360p rung: $(ls "$MNT/v.mp4" | tr '\n' ' ')"
mapfile -t SEGS < <(segments_of "$PL")
[ "${#SEGS[@]}" -ge 4 ] || fail "want at least 4 segments in $PL, got ${#SEGS[@]}"
stat_value() { stat_of "$MNT" "$1"; }

cat "${SEGS[0]}" > "$T/a-0.ts" || fail "reading segment 0 failed"
# Segment 1 is made ahead now (it waited for the only worker slot, which segment 0 held).
cat "${SEGS[3]}" > "$T/a-3.ts" &
R3=$!
_track_pid "$R3"
both() {
    [ "$(stat_value hlsfs_generations_in_flight)" = 2 ] && [ "$(stat_value hlsfs_generations_paused)" = 1 ]
}
wait_until 20 both ||
    fail "segment 3, asked for while segment 1 was made ahead, did not run beside it with segment 1 paused (in flight $(stat_value hlsfs_generations_in_flight), paused $(stat_value hlsfs_generations_paused); want 2 and 1)"
# A reader of segment 1 makes it wanted: it goes on while segment 3 is still made.
cat "${SEGS[1]}" > "$T/a-1.ts" &
R1=$!
_track_pid "$R1"
resumed() {
    [ "$(stat_value hlsfs_generations_paused)" = 0 ] && [ "$(stat_value hlsfs_generations_in_flight)" = 2 ]
}
wait_until 10 resumed ||
    fail "segment 1 stayed paused after a reader asked for it (in flight $(stat_value hlsfs_generations_in_flight), paused $(stat_value hlsfs_generations_paused); want 2 and 0)"
for p in "$R3" "$R1"; do
    wait "$p" || fail "a reader failed (exit $?)"
    _forget_pid "$p"
done
for i in 2 "$((${#SEGS[@]} - 1))"; do
    cat "${SEGS[$i]}" > "$T/a-$i.ts" || fail "reading segment $i failed"
done
[ "$(stat_value hlsfs_generations_paused)" = 0 ] || fail "hlsfs_generations_paused is $(stat_value hlsfs_generations_paused) with nothing read"
umount_hlsfs "$MNT"

# The same segments, made one at a time with nothing ahead.
mount_hlsfs "$SRC" "$MNT" -o "$OPTS,workers=1,prefetch=0,cache_dir=$T/cache-ref"
mapfile -t REF < <(segments_of "$PL")
for i in 0 1 2 3 "$((${#SEGS[@]} - 1))"; do
    cmp -s "$T/a-$i.ts" "${REF[$i]}" ||
        fail "segment $i differs from the one made with workers=1,prefetch=0 ($(stat -c %s "$T/a-$i.ts") vs $(stat -c %s "${REF[$i]}") bytes)"
done
umount_hlsfs "$MNT"
pass
