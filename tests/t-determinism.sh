#!/usr/bin/env bash
# t-determinism: two daemons mounting the same source, each with its own cache, give byte-identical trees
# (invariant 2), whatever order files are first read in (segment N must not depend on N-1 being made
# first: one mount is read front to back, the other back to front). Sizes and mtimes agree too, so HTTP
# validators (ETag, Last-Modified) agree between nodes.
source "$(dirname "$0")/lib.sh"

setup_library
mkdir -p "$T/mnt-b"
mount_hlsfs "$SRC" "$MNT"
mount_hlsfs "$SRC" "$T/mnt-b"

(cd "$MNT" && find . -print | sort) > "$T/list-a"
(cd "$T/mnt-b" && find . -print | sort) > "$T/list-b"
diff -q "$T/list-a" "$T/list-b" > /dev/null ||
    fail "the two mounts list different trees: $(diff "$T/list-a" "$T/list-b" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
[ "$(grep -c '\.ts$' "$T/list-a" || true)" -gt 0 ] || fail "no segments in the mount"

tree_sums "$MNT" > "$T/sum-a"
REVERSE=1 tree_sums "$T/mnt-b" > "$T/sum-b"
if ! diff -q "$T/sum-a" "$T/sum-b" > /dev/null; then
    f=$(differing_files "$T/sum-a" "$T/sum-b" | sed -n 1p)
    fail "'$f' differs between two mounts of the same source ($(diff "$T/sum-a" "$T/sum-b" | grep -c '^<' || true) files differ)"
fi

(cd "$MNT" && find . -type f -printf '%p %s %T@ %m\n' | sort) > "$T/meta-a"
(cd "$T/mnt-b" && find . -type f -printf '%p %s %T@ %m\n' | sort) > "$T/meta-b"
diff -q "$T/meta-a" "$T/meta-b" > /dev/null ||
    fail "size/mtime/mode differ between the mounts: $(diff "$T/meta-a" "$T/meta-b" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"

umount_hlsfs "$T/mnt-b"
umount_hlsfs "$MNT"
pass
