#!/usr/bin/env bash
# t-cache-flight: work is done once (invariant 5). Sixteen readers released at the same instant on one
# uncached segment (cache_passthrough=yes, prefetch=0) cause exactly one generation, and all sixteen get the
# same bytes: as many as stat says, and those of an uncached mount. Twice:
#   1. workers free (the default 2);
#   2. workers=1 and that worker busy (a transcoded segment of another variant is being made) when the
#      sixteen arrive: they must still share one generation once the worker is free.
source "$(dirname "$0")/lib.sh"

need ffmpeg cmp
need_hlsfs

N=16

# One 6 s 1280x720 segment of several MB: its generation (remux, write, fdatasync) takes long enough that
# the readers overlap it.
make_video "$SRC/big.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=6 \
    -f lavfi -i sine=f=440:d=6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -qp 14 -g 180 -c:a aac -b:a 64k
# seg0 MNT VARIANT_DIR: VARIANT_DIR/<its first segment's name>, as the playlist in MNT names it (names carry
# the source's version, so they are looked up after each mount).
seg0() { local p; p=$(segment_path "$1/$2/index.m3u8" 0); printf '%s/%s\n' "$2" "$(basename "$p")"; }
# Phase 2: a 20 s video with one keyframe, whose single 360p segment (transcoded) keeps the only worker busy.
mkdir -p "$T/src-2"
make_video "$T/src-2/slow.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=20 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -qp 30 -g 600 -an
cp "$SRC/big.mp4" "$T/src-2/big.mp4"

mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,cache_dir=$T/cache-ref"
SEG=$(seg0 "$T/mnt-ref" big.mp4/720p)
[ -f "$T/mnt-ref/$SEG" ] || fail "test bug: no $SEG in the mount: $(find "$T/mnt-ref/big.mp4" | tr '\n' ' ')"
cat "$T/mnt-ref/$SEG" > "$T/ref.ts"
umount_hlsfs "$T/mnt-ref"

# readers PHASE: start N readers of $MNT/$SEG held at a FIFO barrier (each opens the FIFO for reading, which
# blocks until this shell opens it for writing); open_gate lets them go at once; wait_readers waits for them.
readers() {
    local i
    rm -f "$T/go"
    mkfifo "$T/go"
    RPIDS=()
    for i in $(seq 1 $N); do
        ( exec 3< "$T/go"; exec cat "$MNT/$SEG" > "$T/out-$1.$i" ) &
        RPIDS+=($!)
        _track_pid "$!"
    done
    sleep 0.5
}
open_gate() {
    exec 4> "$T/go"
    exec 4>&-
}
wait_readers() {
    local i rc
    for i in $(seq 1 $N); do
        rc=0
        wait "${RPIDS[$((i - 1))]}" || rc=$?
        _forget_pid "${RPIDS[$((i - 1))]}"
        [ "$rc" = 0 ] || fail "phase $1: reader $i of $N failed (exit $rc)"
    done
}
# check_outputs PHASE SIZE: every reader got SIZE bytes, the same bytes, the reference bytes.
check_outputs() {
    local i got
    for i in $(seq 1 $N); do
        got=$(stat -c %s "$T/out-$1.$i")
        [ "$got" = "$2" ] || fail "phase $1: reader $i got $got bytes, stat says $2"
        cmp -s "$T/out-$1.1" "$T/out-$1.$i" || fail "phase $1: readers 1 and $i got different bytes"
    done
    cmp -s "$T/out-$1.1" "$T/ref.ts" || fail "phase $1: the readers' bytes differ from an uncached mount's"
}

# --- Phase 1: workers free.
mount_hlsfs "$SRC" "$MNT" -o "ladder=none,cache_passthrough=yes,prefetch=0,cache_dir=$CACHE"
SEG=$(seg0 "$MNT" big.mp4/720p)
size=$(stat -c %s "$MNT/$SEG")
[ "$size" -ge 2000000 ] || fail "test bug: the segment is $size bytes, want a few MB"
g=$(stat_of "$MNT" hlsfs_generations_total)
[ "$g" = 0 ] || fail "hlsfs_generations_total is $g after only stat, want 0"
readers 1
open_gate
wait_readers 1
gens=$(stat_of "$MNT" hlsfs_generations_total)
hits=$(stat_of "$MNT" hlsfs_cache_hits_total)
misses=$(stat_of "$MNT" hlsfs_cache_misses_total)
entries=$(stat_of "$MNT" hlsfs_cache_entries)
check_outputs 1 "$size"
[ "$gens" = 1 ] || fail "phase 1: $N concurrent readers of one uncached segment caused $gens generations, want 1 (hits $hits, misses $misses)"
[ "$entries" = 1 ] || fail "phase 1: hlsfs_cache_entries is $entries after one segment was read, want 1"
[ $((hits + misses)) = "$N" ] || fail "phase 1: $N segment opens but hits $hits + misses $misses"
# The test means something only if readers did overlap the generation.
[ "$misses" -ge 2 ] || fail "test bug: only $misses of $N readers missed the cache: they did not overlap the generation"
umount_hlsfs "$MNT"
say "cache-flight: phase 1: $N readers, 1 generation, $misses waited on it, $hits hit the cache"

# --- Phase 2: one worker, busy transcoding another segment when the readers arrive.
mount_hlsfs "$T/src-2" "$MNT" -o "ladder=360:800,segment=20,cache_passthrough=yes,prefetch=0,workers=1,cache_dir=$T/cache-2"
SEG=$(seg0 "$MNT" big.mp4/720p)
OTHER=$(seg0 "$MNT" slow.mp4/360p)
[ -f "$MNT/$OTHER" ] || fail "test bug: no $OTHER in the mount: $(find "$MNT/slow.mp4" | tr '\n' ' ')"
[ "$(stat -c %s "$MNT/$SEG")" = "$size" ] || fail "phase 2: $SEG has another size than in phase 1"
readers 2
cat "$MNT/$OTHER" > /dev/null &
busy=$!
_track_pid "$busy"
ok=0
for _ in $(seq 1 500); do
    [ "$(stat_of "$MNT" hlsfs_generations_in_flight)" = 1 ] && { ok=1; break; }
    sleep 0.01
done
[ "$ok" = 1 ] || fail "test bug: the transcoded segment's generation did not start within 5 s"
open_gate
# Several readers must be waiting on the daemon while the worker is still busy (else this phase tests
# nothing new). Watched from /proc, not through the mount: the daemon's threads are all taken by now.
ok=0
for _ in $(seq 1 500); do
    kill -0 "$busy" 2>/dev/null || break
    w=0
    for p in "${RPIDS[@]}"; do
        [ "$(cat "/proc/$p/wchan" 2>/dev/null)" = request_wait_answer ] && w=$((w + 1))
    done
    if [ "$w" -ge 3 ] && kill -0 "$busy" 2>/dev/null; then ok=1; break; fi
    sleep 0.01
done
[ "$ok" = 1 ] || fail "test bug: the transcoded segment was done before the readers arrived; phase 2 needs a slower transcode"
wait_readers 2
wait "$busy" || fail "phase 2: reading the transcoded $OTHER failed"
_forget_pid "$busy"
gens=$(stat_of "$MNT" hlsfs_generations_total)
hits=$(stat_of "$MNT" hlsfs_cache_hits_total)
misses=$(stat_of "$MNT" hlsfs_cache_misses_total)
check_outputs 2 "$size"
[ "$gens" = 2 ] ||
    fail "phase 2 (workers=1, busy): $N concurrent readers of one uncached segment and one reader of a transcoded one caused $gens generations, want 2 (hits $hits, misses $misses)"
umount_hlsfs "$MNT"
say "cache-flight: phase 2: $N readers waiting on a busy worker, 1 generation"
pass
