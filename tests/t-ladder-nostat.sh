#!/usr/bin/env bash
# t-ladder-nostat: listing a mount with transcoded variants (ls -lR, fresh cache_dir) encodes nothing: every
# size comes from the plan, hlsfs_generations_total and _in_flight stay 0 in .hlsfs/stats, and the listing
# takes well under 3 s. Reading its playlists prepares no more than a player's start: the first segment of
# the first rung read, once per video (prefetch; segment_prepare_start). Reading one segment then does count
# a generation.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300/144:150

need ffmpeg ffprobe jq
src_h480
src_hevc
src_43
src_portrait
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER"

# stat_value NAME: the value of metric NAME in $MNT/.hlsfs/stats.
stat_value() {
    local v
    v=$(awk -v n="$1" '$1 == n { print $2 }' "$MNT/.hlsfs/stats") || fail "cannot read $MNT/.hlsfs/stats"
    [ -n "$v" ] || fail "$MNT/.hlsfs/stats has no $1"
    printf '%s\n' "$v"
}
[ "$(stat_value hlsfs_generations_total)" = 0 ] || fail "a fresh mount reports $(stat_value hlsfs_generations_total) generations before anything was read"

t0=$EPOCHREALTIME
ls -lR "$MNT" > "$T/ls.txt" 2> "$T/ls.err" || fail "ls -lR of the mount failed: $(head -n 1 "$T/ls.err")"
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
nts=$(grep -c '\.ts$' "$T/ls.txt" || true)
for d in h480.mp4/360p h480.mp4/144p hevc.mp4/360p four-three.mp4/240p portrait.mp4/144p; do
    [ -d "$MNT/$d" ] || fail "no transcoded variant $d in the mount (ladder $LADDER)"
done
# Every size is there, and none is zero.
zero=$(find "$MNT" -type f -size 0 -printf '%P\n' | head -n 3 | tr '\n' ' ')
[ -z "$zero" ] || fail "files listed with size 0: $zero"
ftrue "$secs < 3" || fail "ls -lR of $nts segments took $secs s (want under 3 s: sizes come from the plan, nothing is encoded)"

# Listing and stat'ing started no encode, now or a moment later (no prefetch from stat).
sleep 1
g=$(stat_value hlsfs_generations_total)
f=$(stat_value hlsfs_generations_in_flight)
[ "$g" = 0 ] && [ "$f" = 0 ] ||
    fail "ls -lR of the mount started encoding: hlsfs_generations_total $g, hlsfs_generations_in_flight $f (want 0 and 0)"
# Reading every playlist queues one segment per video (each has rungs): its first rung's first segment.
[ "$(stat_value hlsfs_prefetch_queued_total)" = 0 ] || fail "stat'ing queued $(stat_value hlsfs_prefetch_queued_total) segments"
find "$MNT" -name '*.m3u8' -exec cat {} + > /dev/null
videos=$(find "$MNT" -mindepth 1 -maxdepth 1 -type d | wc -l)
q=$(stat_value hlsfs_prefetch_queued_total)
[ "$q" = "$videos" ] ||
    fail "reading the playlists of $videos videos queued $q segments (want one each: a player's start)"

# The counter counts: reading one transcoded segment makes at least one generation, and its size holds.
seg=$(segment_path "$MNT/hevc.mp4/144p/index.m3u8" 0)
size=$(stat -c %s "$seg")
got=$(cat "$seg" | wc -c)  # cat: wc -c alone takes the size from fstat and reads nothing
[ "$got" = "$size" ] || fail "'${seg#"$MNT"/}': ls said $size bytes, a read returned $got"
g=$(stat_value hlsfs_generations_total)
[ "$g" -ge 1 ] || fail "reading a transcoded segment left hlsfs_generations_total at $g (the counter this test relies on does not count)"

umount_hlsfs "$MNT"
pass
