#!/usr/bin/env bash
# t-prefetch-start: a player reads a variant's playlist, then (after its own set-up and a round trip) asks
# for the first segment. When the variant is a transcoded rung and no segment of the video was opened yet,
# the mount starts making that segment when the playlist is read, as prefetch: the player's read then
# joins it or finds it in the cache. Only once per video: a second variant's playlist read afterwards (an
# ABR switch, which asks for a later segment) starts nothing, and neither does a playlist read once a
# segment was opened, nor any read with prefetch=0. The bytes are those of a mount that made the segment
# only when asked.
source "$(dirname "$0")/lib.sh"

need ffmpeg cmp
need_hlsfs

make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=14 -f lavfi -i sine=f=440:d=14 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 64k
OPTS="ladder=480:1400/360:800,workers=1"

mount_hlsfs "$SRC" "$MNT" -o "$OPTS,prefetch=1,cache_dir=$T/cache"
stat_value() { stat_of "$MNT" "$1"; }
cat "$MNT/v.mp4/master.m3u8" > /dev/null || fail "reading master.m3u8 failed"
[ "$(stat_value hlsfs_prefetch_queued_total)" = 0 ] ||
    fail "reading master.m3u8 queued $(stat_value hlsfs_prefetch_queued_total) segments, want none (the player's choice of variant is not known yet)"
mapfile -t SEGS < <(segments_of "$MNT/v.mp4/360p/index.m3u8")
[ "${#SEGS[@]}" -ge 3 ] || fail "want at least 3 segments of the 360p rung, got ${#SEGS[@]}"
[ "$(stat_value hlsfs_prefetch_queued_total)" = 1 ] ||
    fail "reading the 360p playlist queued $(stat_value hlsfs_prefetch_queued_total) segments, want 1 (its first)"
made() { [ "$(stat_value hlsfs_generations_total)" = 1 ] && [ "$(stat_value hlsfs_generations_in_flight)" = 0 ]; }
wait_until 30 made || fail "the first 360p segment was not made after its playlist was read (generations $(stat_value hlsfs_generations_total))"
# An ABR switch reads another rung's playlist and asks for a later segment: nothing is started for it.
cat "$MNT/v.mp4/480p/index.m3u8" > /dev/null || fail "reading the 480p playlist failed"
[ "$(stat_value hlsfs_prefetch_queued_total)" = 1 ] ||
    fail "reading a second playlist of the same video queued more (prefetch queued $(stat_value hlsfs_prefetch_queued_total), want 1)"
cat "${SEGS[0]}" > "$T/a-0.ts" || fail "reading segment 0 failed"
[ "$(stat_value hlsfs_cache_hits_total)" = 1 ] && [ "$(stat_value hlsfs_cache_misses_total)" = 0 ] ||
    fail "segment 0 was not read from the cache (hits $(stat_value hlsfs_cache_hits_total), misses $(stat_value hlsfs_cache_misses_total))"
[ "$(stat -c %s "$T/a-0.ts")" = "$(stat -c %s "${SEGS[0]}")" ] || fail "segment 0: read $(stat -c %s "$T/a-0.ts") bytes, stat says $(stat -c %s "${SEGS[0]}")"
umount_hlsfs "$MNT"

# A segment opened first: the playlist read after it starts nothing more than that segment's prefetch.
mount_hlsfs "$SRC" "$MNT" -o "$OPTS,prefetch=1,cache_dir=$T/cache-seg"
cat "${SEGS[1]}" > "$T/b-1.ts" || fail "reading segment 1 first failed"
queued=$(stat_value hlsfs_prefetch_queued_total)
cat "$MNT/v.mp4/480p/index.m3u8" > /dev/null || fail "reading the 480p playlist failed"
[ "$(stat_value hlsfs_prefetch_queued_total)" = "$queued" ] ||
    fail "a playlist read after a segment was opened queued more (prefetch queued $(stat_value hlsfs_prefetch_queued_total), want $queued)"
umount_hlsfs "$MNT"

# prefetch=0: a playlist read starts nothing; the segment made when asked has the same bytes.
mount_hlsfs "$SRC" "$MNT" -o "$OPTS,prefetch=0,cache_dir=$T/cache-ref"
mapfile -t REF < <(segments_of "$MNT/v.mp4/360p/index.m3u8")
[ "$(stat_value hlsfs_prefetch_queued_total)" = 0 ] ||
    fail "with prefetch=0 a playlist read queued $(stat_value hlsfs_prefetch_queued_total) segments"
cmp -s "$T/a-0.ts" "${REF[0]}" ||
    fail "segment 0 made on the playlist read differs from the one made when asked ($(stat -c %s "$T/a-0.ts") vs $(stat -c %s "${REF[0]}") bytes)"
cmp -s "$T/b-1.ts" "${REF[1]}" || fail "segment 1 differs from the one made with prefetch=0"
umount_hlsfs "$MNT"
pass
