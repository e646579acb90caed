#!/usr/bin/env bash
# t-mount-helper: hlsfs mounted the way fstab and systemd do it, through mount(8) and mount.fuse3 running
# `hlsfs` by name: `mount -t fuse.hlsfs`, an fstab line with the options they add, `umount`; a mount without
# ro (mount(8) adds rw) is read-only all the same, and says so once.
#
# mount(8) drops PATH from the helper's environment (util-linux sanitize_env), so mount.fuse3's
# `/bin/sh -c 'hlsfs ...'` searches sh's default path (/usr/local/sbin:/usr/local/bin:/usr/sbin:...), as
# at boot. The test therefore runs in a private mount namespace where its bin folder, holding a link to the
# built hlsfs, is bind-mounted over /usr/local/sbin; neither that nor the test's mounts are seen outside.
if [ -z "${HLSFS_MOUNT_HELPER_NS:-}" ] && unshare --mount --propagation private -- true 2>/dev/null; then
    HLSFS_MOUNT_HELPER_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

need mount umount findmnt ffmpeg realpath
need_hlsfs
[ "$(id -u)" = 0 ] || fail "mount -t fuse.hlsfs needs root (this test mounts as an administrator would)"
[ -n "${HLSFS_MOUNT_HELPER_NS:-}" ] || fail "not in a private mount namespace (unshare --mount failed)"
helper=
for h in /sbin/mount.fuse.hlsfs /sbin/mount.fuse /usr/sbin/mount.fuse; do
    if [ -x "$h" ]; then helper=$h; break; fi
done
[ -n "$helper" ] || fail "no mount.fuse helper (/sbin/mount.fuse, from fuse3)"

# mount.fuse3 runs the file system's program by name, as `hlsfs SOURCE MOUNTPOINT -o OPTIONS`.
BIN=$T/bin
mkdir -p "$BIN"
REAL=$(realpath "$HLSFS")
ln -s "$REAL" "$BIN/hlsfs"
export PATH=$BIN:$PATH
[ -d /usr/local/sbin ] || fail "/usr/local/sbin is missing: nowhere to show the test's hlsfs to sh's default path"
mount --bind "$BIN" /usr/local/sbin || fail "cannot bind-mount $BIN on /usr/local/sbin in the test's namespace"
found=$(env -u PATH /bin/sh -c 'command -v hlsfs') || true
[ "$found" = /usr/local/sbin/hlsfs ] ||
    fail "with no PATH, sh finds hlsfs at '$found', not at the test's link in /usr/local/sbin"

_ff -f lavfi -i "$(_video 320x180 25 4)" -f lavfi -i "$(_tone2 4 48000)" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -c:a aac -b:a 64k "$SRC/clip.mp4" ||
    fail "ffmpeg could not generate the test video"

# exited PID: the process is gone or a zombie (a daemon that detached waits for init to reap it).
exited() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# Daemons of ours serving $MNT: the running hlsfs processes whose command line names it.
daemons() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2>/dev/null)" = "$REAL" ] || continue
        exited "${p#/proc/}" && continue
        { tr '\0' '\n' < "$p/cmdline"; } 2>/dev/null | grep -qxF -- "$MNT" && printf '%s\n' "${p#/proc/}"
    done
    return 0
}

# check_mount HOW CACHE_DIR: $MNT is an hlsfs mount of $SRC, read-only, serving the video, run by our
# binary with the cache folder it was given.
check_mount() {
    local how=$1 cache=$2 fstype opts pids pl seg
    fstype=$(findmnt -n -o FSTYPE --mountpoint "$MNT") || fail "$how: findmnt does not list $MNT"
    [ "$fstype" = fuse.hlsfs ] || fail "$how: findmnt shows type '$fstype', want fuse.hlsfs"
    opts=$(findmnt -n -o VFS-OPTIONS --mountpoint "$MNT")
    [[ ,$opts, == *,ro,* ]] || fail "$how: mount options '$opts' are not read-only"
    pids=$(daemons)
    [ -n "$pids" ] || fail "$how: no hlsfs process of $REAL serves $MNT"
    local p
    for p in $pids; do _track_pid "$p"; done
    [ -f "$MNT/clip.mp4/master.m3u8" ] || fail "$how: no clip.mp4/master.m3u8 in the mount"
    pl=$(variant_playlists "$MNT/clip.mp4" | sed -n 1p)
    seg=$(segments_of "$pl" | sed -n 1p)
    [ -n "$seg" ] || fail "$how: ${pl#"$MNT"/} lists no segment"
    [ "$(wc -c < "$seg")" = "$(stat -c %s "$seg")" ] || fail "$how: ${seg#"$MNT"/} reads short"
    [ -d "$cache" ] || fail "$how: cache_dir $cache was not created: the option did not reach hlsfs"
    touch "$MNT/new" 2>/dev/null && fail "$how: creating a file in the mount succeeded"
    return 0
}

# unmount HOW: umount(8) $MNT; the daemon must exit within 10 s.
unmount() {
    local how=$1 pids out p
    pids=$(daemons)
    out=$(timeout 20 umount "$MNT" 2>&1) || fail "$how: umount $MNT failed: $out"
    _is_mounted "$MNT" && fail "$how: $MNT still mounted after umount"
    for p in $pids; do
        wait_until 10 exited "$p" || fail "$how: hlsfs (pid $p) still runs 10 s after umount"
        _forget_pid "$p"
    done
}

# 1. mount -t fuse.hlsfs, as fstab's type column makes mount(8) do.
out=$(timeout 20 mount -t fuse.hlsfs "$SRC" "$MNT" -o "ro,cache_dir=$T/cache-a" 2>&1) ||
    fail "mount -t fuse.hlsfs $SRC $MNT -o ro,cache_dir=... failed: $out"
[ -z "$out" ] || fail "mount -t fuse.hlsfs printed: $out"
check_mount "mount -t fuse.hlsfs" "$T/cache-a"
unmount "mount -t fuse.hlsfs"

# 2. An fstab line with the options fstab and systemd add (from a test-owned file, not /etc/fstab).
fstab_escape() { printf '%s' "$1" | sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g'; }
printf '# test fstab\n%s %s fuse.hlsfs ro,noauto,_netdev,nofail,x-systemd.automount,cache_dir=%s 0 0\n' \
    "$(fstab_escape "$SRC")" "$(fstab_escape "$MNT")" "$(fstab_escape "$T/cache-b")" > "$T/fstab"
out=$(timeout 20 mount -T "$T/fstab" "$MNT" 2>&1) || fail "mount -T fstab $MNT failed: $out (line: $(tail -n 1 "$T/fstab"))"
[ -z "$out" ] || fail "mount -T fstab printed: $out"
check_mount "fstab line" "$T/cache-b"
unmount "fstab line"

# 3. Without ro, as most mount commands and fstab lines are written: mount(8) then passes rw, which hlsfs
# accepts, mounting read-only all the same and saying so once (as mount(8) does for a write-protected
# device). Once with rw left for mount(8) to add, once with rw written out.
RO_NOTE="hlsfs: $(realpath "$MNT"): mounting read-only (hlsfs is a read-only file system)"
EXPECT_LOG+=("^$(ere_quote "$RO_NOTE")\$")
for how in no-ro rw; do
    opts="cache_dir=$T/cache-$how"
    [ "$how" = rw ] && opts="rw,$opts"
    out=$(timeout 20 mount -t fuse.hlsfs "$SRC" "$MNT" -o "$opts" 2>&1) ||
        fail "mount -t fuse.hlsfs $SRC $MNT -o $opts ($how) failed: $out"
    printf '%s\n' "$out" > "$T/mount-$how.err"
    n=$(grep -cxF -- "$RO_NOTE" "$T/mount-$how.err" || true)
    [ "$n" = 1 ] || fail "mount $how: the read-only note appears $n times, want once: $(tr '\n' '|' <<<"$out")"
    check_daemon_log "$T/mount-$how.err"
    check_mount "mount $how" "$T/cache-$how"
    mopts=$(awk -v m="$MNT" '{ p = $5; gsub(/\\040/, " ", p); if (p == m) print $6 }' /proc/self/mountinfo)
    [[ ,$mopts, == *,ro,* ]] || fail "mount $how: /proc/self/mountinfo gives $MNT the options '$mopts', not ro"
    err=$(LC_ALL=C sh -c ': >> "$1"' sh "$MNT/clip.mp4/master.m3u8" 2>&1) &&
        fail "mount $how: opening a file of the mount for writing succeeded"
    [[ $err == *"Read-only file system"* ]] || fail "mount $how: a write failed, but not with EROFS: $err"
    err=$(LC_ALL=C mkdir "$MNT/new-dir" 2>&1) && fail "mount $how: mkdir in the mount succeeded"
    [[ $err == *"Read-only file system"* ]] || fail "mount $how: mkdir failed, but not with EROFS: $err"
    unmount "mount $how"
done

pass
