#!/usr/bin/env bash
# t-cache-full: a full cache file system costs time, never correctness (invariant 4). cache_dir on a 2 MiB
# tmpfs filled up with dd (cache_passthrough=yes): every read gives the bytes an uncached mount gives,
# hlsfs_cache_write_errors_total counts the failed writes, the daemon says so in one log line (and may say
# once per video that its index could not be kept) and stays up.
#   A: the cache folder (index and lock file) was made while there was room, then the file system filled.
#   B: a fresh cache folder on the already full file system.
source "$(dirname "$0")/lib.sh"

need ffmpeg sha256sum dd mount umount
need_hlsfs

FULL=$T/tmpfs
mkdir -p "$FULL"

# The tmpfs is unmounted before lib.sh's cleanup looks for mounts left under $T.
_full_cleanup() {
    local rc=$?
    umount -l "$FULL" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _full_cleanup EXIT

mount -t tmpfs -o size=2M,mode=0755 hlsfs-test-full "$FULL" || fail "cannot mount a tmpfs on $FULL"

# fill: write zeros until the tmpfs has no free block.
fill() {
    dd if=/dev/zero of="$FULL/filler-$1" bs=4096 2>/dev/null || true
    local avail
    avail=$(df --output=avail -B1 "$FULL" | tail -n 1 | tr -d ' ')
    [ "$avail" = 0 ] || fail "test bug: the tmpfs still has $avail bytes free after filling it"
}

x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -b:v 1M -c:a aac -b:a 64k)
mkdir -p "$SRC/sub"
ffmpeg -nostdin -hide_banner -v error -y -f lavfi -i testsrc2=size=480x270:rate=30:duration=14 \
    -f lavfi -i sine=f=440:d=14 "${x264[@]}" "$SRC/one.mp4" || fail "ffmpeg could not generate one.mp4"
ffmpeg -nostdin -hide_banner -v error -y -f lavfi -i testsrc=size=480x270:rate=30:duration=9 \
    -f lavfi -i sine=f=660:d=9 "${x264[@]}" "$SRC/sub/two.mp4" || fail "ffmpeg could not generate two.mp4"
NVIDEOS=2

# Reference: remuxed without the cache, on a cache folder with room.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,cache_dir=$T/cache-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"
nseg=$(grep -c '\.ts$' "$T/ref" || true)

# The log lines a full cache may cause: the cache write error (required, once) and, per video, that its
# index could not be kept.
CACHE_LINE='^hlsfs: .*: cannot write the cache \(No space left on device\); serving segments uncached$'
INDEX_LINE='^hlsfs: .*: cannot keep its index in the persistent index: No space left on device$'

# check_full_mount CACHE_DIR WHAT MNT: mount on CACHE_DIR (on the full tmpfs), read everything, check. The
# mount point's name says which case it is, so a failure to mount names the case too.
check_full_mount() {
    local cdir=$1 what=$2
    MNT=$3
    mkdir -p "$MNT"
    mount_hlsfs "$SRC" "$MNT" -o "ladder=none,cache_passthrough=yes,cache_dir=$cdir"
    local log=$DAEMON_LOG
    tree_sums "$MNT" > "$T/got-$what"
    diff -q "$T/ref" "$T/got-$what" > /dev/null ||
        fail "$what: on a full cache file system '$(diff "$T/ref" "$T/got-$what" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' has other bytes than an uncached mount's"
    # Every file a second time, its pages dropped first (the kernel keeps them across opens) so that the
    # reads reach the daemon again: still right, still up.
    find "$MNT" -type f -exec dd if={} iflag=nocache count=0 status=none \;
    tree_sums "$MNT" > "$T/got2-$what"
    diff -q "$T/ref" "$T/got2-$what" > /dev/null || fail "$what: a second read on a full cache file system gave other bytes"
    local errs
    errs=$(stat_of "$MNT" hlsfs_cache_write_errors_total)
    [ "$errs" -gt 0 ] || fail "$what: hlsfs_cache_write_errors_total is 0 after $nseg segments could not be cached on a full file system"
    mountpoint -q "$MNT" || fail "$what: the mount went away"
    local n
    n=$(grep -cE "$CACHE_LINE" "$log" || true)
    [ "$n" = 1 ] || fail "$what: the daemon logged the cache write error $n times, want once ($(grep -m1 . "$log" || echo 'log empty'))"
    n=$(grep -cE "$INDEX_LINE" "$log" || true)
    [ "$n" -le "$NVIDEOS" ] || fail "$what: the daemon logged $n index write errors for $NVIDEOS videos"
    EXPECT_LOG=("$CACHE_LINE" "$INDEX_LINE")
    umount_hlsfs "$MNT"
    # shellcheck disable=SC2034  # read by lib.sh
    EXPECT_LOG=()
    say "cache-full ($what): $errs cache write errors, bytes right, one log line"
}

# A: the cache folder made with room (a mount that only starts), then the file system filled.
mount_hlsfs "$SRC" "$MNT" -o "ladder=none,cache_passthrough=yes,cache_dir=$FULL/cache-a"
umount_hlsfs "$MNT"
fill a
check_full_mount "$FULL/cache-a" "made before the fs filled" "$T/mnt-A-cache-made-then-fs-filled"

# B: a fresh cache folder on the full file system.
check_full_mount "$FULL/cache-b" "fresh on a full fs" "$T/mnt-B-fresh-cache-on-full-fs"

pass
