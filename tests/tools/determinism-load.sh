#!/usr/bin/env bash
# determinism-load.sh: not a test run by run.sh; the reproducer of segments that differed between two
# mounts under load. ROUNDS times: two daemons (separate caches, workers=1, prefetch=0) on the ladder
# sources, whole trees read at once (the second in reverse order) while two `yes` keep the CPUs busy;
# prints which files differ. Exit 0 when every round gave the same bytes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../ladder-lib.sh"
LADDER=${LADDER:-360:400/240:200}
ROUNDS=${ROUNDS:-3}
src_h480; src_hevc; src_mpeg4; src_portrait; src_hi10
yes > /dev/null & _PIDS+=($!)
yes > /dev/null & _PIDS+=($!)
bad=0
mkdir -p "$T/mnt-b"
for r in $(seq 1 "$ROUNDS"); do
    mkdir -p "$T/ca$r" "$T/cb$r"
    mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/ca$r,ladder=$LADDER,workers=1,prefetch=0"
    mount_hlsfs "$SRC" "$T/mnt-b" -o "cache_dir=$T/cb$r,ladder=$LADDER,workers=1,prefetch=0"
    tree_sums "$MNT" > "$T/sum-a$r" &
    p=$!
    REVERSE=1 tree_sums "$T/mnt-b" > "$T/sum-b$r"
    wait "$p"
    if diff -q "$T/sum-a$r" "$T/sum-b$r" > /dev/null; then
        say "round $r: the same"
    else
        say "round $r: differ: $(differing_files "$T/sum-a$r" "$T/sum-b$r" | tr '\n' ' ')"
        bad=1
    fi
    umount_hlsfs "$T/mnt-b"
    umount_hlsfs "$MNT"
done
[ "$bad" = 0 ] || fail "segments differ between two mounts under load"
pass
