#!/usr/bin/env bash
# t-cache: the cache is an accelerator, never the truth (invariant 4): a remount on a warm cache, a remount
# after the daemon was killed with SIGKILL in the middle of reading, and a remount on a warm cache after a
# source file was replaced all give exactly the bytes a fresh cache gives.
source "$(dirname "$0")/lib.sh"

setup_library
sums() { tree_sums "$1"; }

# Reference: a fresh cache.
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-ref"
sums "$MNT" > "$T/ref"
umount_hlsfs "$MNT"

# Same cache again, warm.
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-ref"
sums "$MNT" > "$T/warm"
umount_hlsfs "$MNT"
diff -q "$T/ref" "$T/warm" > /dev/null ||
    fail "a warm-cache remount serves different bytes: $(diff "$T/ref" "$T/warm" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)"

# SIGKILL while readers are busy, then remount on what was left in the cache.
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-kill"
pid=$DAEMON_PID
(cd "$MNT" && find . -type f -print0 | sort -rz | xargs -0 -n 4 -P 3 cat > /dev/null 2>&1) &
readers=$!
sleep 0.4
kill -KILL "$pid"
wait "$readers" 2>/dev/null || true
fusermount3 -uz "$MNT" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
_forget_pid "$pid"
unset "_DMNT[$pid]"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-kill"
sums "$MNT" > "$T/after-kill"
umount_hlsfs "$MNT"
diff -q "$T/ref" "$T/after-kill" > /dev/null ||
    fail "after kill -9 and remount on the same cache, '$(diff "$T/ref" "$T/after-kill" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' differs from a fresh cache's"

# A changed source is a new identity: replace faststart.mp4 by other content with the same mtime; the warm
# cache must not serve the old file's plan or bytes.
mtime=$(stat -c %Y "$SRC/faststart.mp4")
cp "$SRC/LOUD.MP4" "$SRC/faststart.mp4"
touch -d "@$mtime" "$SRC/faststart.mp4"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-ref"
sums "$MNT" > "$T/changed-warm"
umount_hlsfs "$MNT"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-fresh"
sums "$MNT" > "$T/changed-fresh"
umount_hlsfs "$MNT"
diff -q "$T/changed-warm" "$T/changed-fresh" > /dev/null ||
    fail "after replacing a source file, the warm cache serves stale '$(diff "$T/changed-fresh" "$T/changed-warm" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)'"
grep -q '  ./faststart.mp4/' "$T/changed-fresh" || fail "faststart.mp4 has no files after replacement"
if diff <(grep '  ./faststart.mp4/' "$T/ref") <(grep '  ./faststart.mp4/' "$T/changed-fresh") > /dev/null; then
    fail "test bug: replacing faststart.mp4 changed nothing in the mount"
fi

pass
