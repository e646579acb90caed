#!/usr/bin/env bash
# t-cache-torn: a torn entry is detected and rebuilt (invariant 4). After a clean run filled the cache, one
# cache file is truncated and another gets one byte flipped (same size). A remount detects both
# (hlsfs_cache_damaged_total >= 2, one log line naming each), serves exactly an uncached mount's bytes and
# rebuilds both entries, so that a third mount finds nothing damaged.
source "$(dirname "$0")/lib.sh"

need ffmpeg sha256sum dd od
need_hlsfs

OPTS=(-o "ladder=none,cache_passthrough=yes,cache_dir=$CACHE")

x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -b:v 1M -c:a aac -b:a 64k)
mkdir -p "$SRC/sub"
make_video "$SRC/one.mp4" -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 -f lavfi -i sine=f=440:d=20 "${x264[@]}"
make_video "$SRC/sub/two.mp4" -f lavfi -i testsrc=size=480x270:rate=30:duration=13 -f lavfi -i sine=f=660:d=13 "${x264[@]}"

# Reference: remuxed without the cache.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,cache_dir=$T/cache-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"
nseg=$(grep -c '\.ts$' "$T/ref" || true)

# Fill the cache: every segment read once.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
tree_sums "$MNT" > "$T/first"
umount_hlsfs "$MNT"
diff -q "$T/ref" "$T/first" > /dev/null || fail "the first caching mount already differs from an uncached one"
mapfile -t entries < <(find "$CACHE/seg" -type f -name '*.ts' | sort)
[ "${#entries[@]}" = "$nseg" ] || fail "after reading $nseg segments the cache holds ${#entries[@]} entries"

# Damage two entries: cut one to half its size; flip one byte in the middle of another.
cut=${entries[0]}
flip=${entries[$((${#entries[@]} / 2))]}
size=$(stat -c %s "$cut")
truncate -s $((size / 2)) "$cut"
size=$(stat -c %s "$flip")
off=$((size / 2 + 1001))
byte=$(od -An -tu1 -j "$off" -N 1 "$flip" | tr -d ' ')
printf '%b' "\\$(printf '%03o' $((byte ^ 0xff)))" | dd of="$flip" bs=1 seek="$off" conv=notrunc status=none
[ "$(stat -c %s "$flip")" = "$size" ] || fail "test bug: flipping a byte changed the size of $flip"
[ "$(od -An -tu1 -j "$off" -N 1 "$flip" | tr -d ' ')" = $((byte ^ 0xff)) ] || fail "test bug: the byte was not flipped"

# Remount: both are detected, with one log line naming each file, and the bytes are right.
EXPECT_LOG=("^hlsfs: $(ere_quote "$cut"): cache entry damaged or missing; generating it again$"
            "^hlsfs: $(ere_quote "$flip"): cache entry damaged or missing; generating it again$")
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
log=$DAEMON_LOG
tree_sums "$MNT" > "$T/second"
diff -q "$T/ref" "$T/second" > /dev/null ||
    fail "with a truncated and a flipped cache entry, '$(diff "$T/ref" "$T/second" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' differs from an uncached mount's"
damaged=$(stat_of "$MNT" hlsfs_cache_damaged_total)
gens=$(stat_of "$MNT" hlsfs_generations_total)
[ "$damaged" -ge 2 ] || fail "hlsfs_cache_damaged_total is $damaged after reading a truncated and a flipped entry, want >= 2"
[ "$gens" -ge 2 ] || fail "hlsfs_generations_total is $gens: the two damaged entries were not generated again"
# Everything once more within the same mount, its pages dropped first (the kernel keeps them across
# opens) so that the reads reach the rebuilt entries: still right.
find "$MNT" -type f -exec dd if={} iflag=nocache count=0 status=none \;
tree_sums "$MNT" > "$T/second-again"
diff -q "$T/ref" "$T/second-again" > /dev/null || fail "a second read on the remount gave other bytes"
umount_hlsfs "$MNT"
for f in "$cut" "$flip"; do
    n=$(grep -cF "$f" "$log" || true)
    [ "$n" = 1 ] || fail "the daemon logged '$(basename "$f")' $n times, want once"
done
# shellcheck disable=SC2034  # read by lib.sh
EXPECT_LOG=()

# The rebuilt entries are whole: a third mount finds nothing damaged and generates nothing.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
tree_sums "$MNT" > "$T/third"
diff -q "$T/ref" "$T/third" > /dev/null || fail "after the rebuild, a remount serves other bytes"
damaged=$(stat_of "$MNT" hlsfs_cache_damaged_total)
gens=$(stat_of "$MNT" hlsfs_generations_total)
[ "$damaged" = 0 ] || fail "after the damaged entries were rebuilt, a remount still finds $damaged damaged"
[ "$gens" = 0 ] || fail "after the damaged entries were rebuilt, a remount generated $gens segments, want 0"
umount_hlsfs "$MNT"

say "cache-torn: $nseg segments; truncated $(basename "$cut"), flipped a byte of $(basename "$flip"); both detected and rebuilt"
pass
