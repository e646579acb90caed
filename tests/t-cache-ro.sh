#!/usr/bin/env bash
# t-cache-ro: a cache folder that cannot be used costs time, never a read (invariant 4), for transcoded rungs
# too: cache_dir on a read-only file system, and on a full one. Each segment of a rung and of the
# passthrough decodes and has the bytes a mount with a working cache gives; the daemon says once that it
# serves uncached and stays up.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/ladder-lib.sh"

need ffmpeg ffprobe mount umount dd
need_hlsfs

RO=$T/ro FULL=$T/full
mkdir -p "$RO" "$FULL"
# The tmpfs are unmounted before lib.sh's cleanup looks for mounts left under $T.
_ro_cleanup() {
    local rc=$?
    umount -l "$RO" 2>/dev/null
    umount -l "$FULL" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _ro_cleanup EXIT
mount -t tmpfs -o size=1m,ro hlsfs-test-ro "$RO" || fail "cannot mount a read-only tmpfs on $RO"
mount -t tmpfs -o size=2m hlsfs-test-full "$FULL" || fail "cannot mount a tmpfs on $FULL"
dd if=/dev/zero of="$FULL/filler" bs=4096 2>/dev/null || true

src_h480
LADDER=ladder=360:400

# Reference: a working cache.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "$LADDER,cache_dir=$T/cache-ref"
rung=$T/mnt-ref/h480.mp4/360p
[ -f "$rung/index.m3u8" ] || fail "test bug: no 360p rung for h480.mp4 ($(ls "$T/mnt-ref/h480.mp4" | tr '\n' ' '))"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"

# check CACHE_DIR WHAT ERRNO-TEXT: every file read through a mount whose cache is CACHE_DIR has the reference
# bytes; every rung segment decodes to H.264 pictures; one log line says the cache is not written.
check() {
    local cdir=$1 what=$2 why=$3 mnt=$T/mnt-$2 seg out codec
    mkdir -p "$mnt"
    local line="^hlsfs: .*: cannot write the cache \\($why\\); serving segments uncached\$"
    EXPECT_LOG=("$line" '^hlsfs: .*: cannot keep its index in the persistent index: .*$')
    mount_hlsfs "$SRC" "$mnt" -o "$LADDER,cache_dir=$cdir"
    for seg in "$mnt"/h480.mp4/360p/seg-*.ts; do
        out=$(timeout 60 ffmpeg -nostdin -v error -i "$seg" -f null - 2>&1) ||
            fail "$what: ${seg#"$mnt"/} does not decode: $(head -n 2 <<<"$out" | tr '\n' ' ')"
        [ -z "$out" ] || fail "$what: decoding ${seg#"$mnt"/} printed: $(head -n 2 <<<"$out" | tr '\n' ' ')"
        codec=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$seg" | sed -n 1p)
        [ "$codec" = h264 ] ||
            fail "$what: ${seg#"$mnt"/} holds no H.264 video"
    done
    tree_sums "$mnt" > "$T/got-$what"
    diff -q "$T/ref" "$T/got-$what" > /dev/null ||
        fail "$what: '$(diff "$T/ref" "$T/got-$what" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' differs from a mount with a working cache"
    mountpoint -q "$mnt" || fail "$what: the mount went away"
    local n
    n=$(grep -cE "$line" "$DAEMON_LOG" || true)
    [ "$n" = 1 ] || fail "$what: the daemon said $n times that it serves uncached, want once ($(grep -m1 . "$DAEMON_LOG" || echo 'log empty'))"
    umount_hlsfs "$mnt"
    EXPECT_LOG=()
    say "cache-ro ($what): every file right, rung segments decode, one log line"
}

check "$RO/c" read-only "Read-only file system"
check "$FULL/c" full "No space left on device"
pass
