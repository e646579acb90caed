#!/usr/bin/env bash
# t-concurrent: many readers at once on a cold mount (the same segments, different orders) all get the
# bytes one sequential reader of another mount gets (invariant 5: concurrent readers share one generation).
source "$(dirname "$0")/lib.sh"

setup_library
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"

mount_hlsfs "$SRC" "$MNT"
pids=()
for r in 1 2 3 4 5 6; do
    (
        cd "$MNT"
        case $r in
            1 | 2) find . -type f -print0 | sort -z ;;
            3 | 4) find . -type f -print0 | sort -rz ;;
            *) find . -type f -print0 | sort -z | shuf -z --random-source=<(yes "$r") ;;
        esac | xargs -0 sha256sum | sort -k2 > "$T/reader-$r"
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a concurrent reader failed (exit $?)"
done
for r in 1 2 3 4 5 6; do
    diff -q "$T/ref" "$T/reader-$r" > /dev/null ||
        fail "concurrent reader $r got different bytes for '$(diff "$T/ref" "$T/reader-$r" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)'"
done

umount_hlsfs "$MNT"
pass
