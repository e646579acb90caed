#!/usr/bin/env bash
# t-ladder-determinism: transcoded segments are byte-identical between separate mounts with separate
# cache_dirs (DESIGN invariant 2), read in opposite orders and with different workers=/prefetch=, and again
# in a third mount after both daemons are gone. And within one process: the same segment encoded again and
# again, with the heap holding other bytes each time (MALLOC_PERTURB_), gives the same bytes (an encoder
# reading memory it never wrote made a long-running daemon's segments differ now and then).
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300

need ffmpeg ffprobe jq
src_h480
src_hevc

# One process, one segment, encoded again and again: on fresh threads, two at once, and with the heap's
# unwritten bytes set to other values. Any difference is the encoder reading what nobody wrote.
REPEAT=$(dirname "$HLSFS")/tests/unit/transcode_repeat
[ -x "$REPEAT" ] || fail "no $REPEAT (build the tree first)"
: > "$T/repeat"
for p in 0 1 2 85 170 254; do
    # MALLOC_PERTURB_=0 is glibc's "off"
    MALLOC_PERTURB_=$p "$REPEAT" "$SRC/h480.mp4" 240:200 0 4 2 >> "$T/repeat" 2> "$T/repeat.err" ||
        fail "transcode_repeat failed (MALLOC_PERTURB_=$p): $(head -c 300 "$T/repeat.err")"
done
[ "$(wc -l < "$T/repeat")" = 24 ] || fail "transcode_repeat printed $(wc -l < "$T/repeat") lines, not 24"
sums=$(awk '{ print $4 }' "$T/repeat" | sort | uniq -c)
[ "$(wc -l <<<"$sums")" = 1 ] ||
    fail "one segment (h480 240p at 200 kbit/s, segment 0) encoded 24 times in six processes gave different bytes: $(tr -s ' \n' ' ' <<<"$sums")"
mkdir -p "$T/mnt-b" "$T/cache-a" "$T/cache-b"
# Same source, same ladder; separate caches, and different parallelism (which must not change a byte).
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-a,ladder=$LADDER,workers=2,prefetch=2"
mount_hlsfs "$SRC" "$T/mnt-b" -o "cache_dir=$T/cache-b,ladder=$LADDER,workers=1,prefetch=0"

(cd "$MNT" && find . -print | sort) > "$T/list-a"
(cd "$T/mnt-b" && find . -print | sort) > "$T/list-b"
diff -q "$T/list-a" "$T/list-b" > /dev/null ||
    fail "the two mounts list different trees: $(diff "$T/list-a" "$T/list-b" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
for d in h480.mp4/360p h480.mp4/240p hevc.mp4/360p hevc.mp4/240p; do
    grep -q "^\./$d/seg-00001-[0-9a-f]\{8\}\.ts$" "$T/list-a" || fail "no transcoded variant $d with 2 segments in the mount (ladder $LADDER)"
done

# Mount A front to back, mount B back to front: segment N must not depend on what was made before it.
tree_sums "$MNT" > "$T/sum-a"
REVERSE=1 tree_sums "$T/mnt-b" > "$T/sum-b"
if ! diff -q "$T/sum-a" "$T/sum-b" > /dev/null; then
    f=$(differing_files "$T/sum-a" "$T/sum-b")
    fail "$(wc -l <<<"$f") files differ between two mounts of the same source with separate caches (workers=2,prefetch=2 read forward vs workers=1,prefetch=0 read backward): $(head -n 4 <<<"$f" | tr '\n' ' ')"
fi
(cd "$MNT" && find . -type f -printf '%p %s %T@\n' | sort) > "$T/meta-a"
(cd "$T/mnt-b" && find . -type f -printf '%p %s %T@\n' | sort) > "$T/meta-b"
diff -q "$T/meta-a" "$T/meta-b" > /dev/null ||
    fail "sizes/mtimes differ between the mounts: $(diff "$T/meta-a" "$T/meta-b" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
umount_hlsfs "$T/mnt-b"
umount_hlsfs "$MNT"

# The same again from a third, fresh cache after both daemons are gone: nothing carried over in memory.
mkdir -p "$T/cache-c"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-c,ladder=$LADDER"
tree_sums "$MNT" > "$T/sum-c"
diff -q "$T/sum-a" "$T/sum-c" > /dev/null ||
    fail "$(differing_files "$T/sum-a" "$T/sum-c" | head -n 4 | tr '\n' ' ')differ in a third mount with a fresh cache from the first mount"
umount_hlsfs "$MNT"
pass
