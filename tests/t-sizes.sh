#!/usr/bin/env bash
# t-sizes: for every file in the mount, the size stat reports before any read equals the number of bytes a
# read returns, and stays the same after reading (static servers send Content-Length from stat).
source "$(dirname "$0")/lib.sh"

mount_library

declare -A before=()
n=0
while IFS= read -r -d '' f; do
    before[$f]=$(stat -c %s "$f")
    n=$((n + 1))
done < <(every_file "$MNT")
[ "$n" -gt 0 ] || fail "the mount holds no files"

while IFS= read -r -d '' f; do
    got=$(wc -c < "$f") || fail "reading '${f#"$MNT"/}' failed"
    [ "$got" = "${before[$f]}" ] ||
        fail "'${f#"$MNT"/}': stat said ${before[$f]} bytes before reading, cat returned $got"
    after=$(stat -c %s "$f")
    [ "$after" = "$got" ] || fail "'${f#"$MNT"/}': stat says $after bytes after reading, cat returned $got"
    if [ "$got" = 0 ]; then fail "'${f#"$MNT"/}' is empty"; fi
done < <(every_file "$MNT")

umount_hlsfs "$MNT"
pass
