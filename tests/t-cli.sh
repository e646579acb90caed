#!/usr/bin/env bash
# t-cli: the command line: --help and -V answer on stdout with status 0 and mount nothing, -V with hlsfs's
# own version on its first line; --help names every -o option of the interface; without -f the daemon
# mounts and then detaches; fstab's options are accepted; -d implies -f.
source "$(dirname "$0")/lib.sh"

need_hlsfs
setup_library

for h in -h --help; do
    rc=0; timeout 10 "$HLSFS" "$h" > "$T/out" 2> "$T/err" || rc=$?
    [ "$rc" = 0 ] || fail "hlsfs $h exited $rc"
    [ -s "$T/out" ] || fail "hlsfs $h printed nothing on stdout"
    for o in cache_dir segment config -f -d; do
        grep -qe "$o" "$T/out" || fail "hlsfs $h does not mention $o"
    done
done
for v in -V --version; do
    rc=0; timeout 10 "$HLSFS" "$v" > "$T/out" 2> "$T/err" || rc=$?
    [ "$rc" = 0 ] || fail "hlsfs $v exited $rc"
    grep -Eq '[0-9]+\.[0-9]+' "$T/out" || fail "hlsfs $v prints no version number: $(head -n 1 "$T/out")"
    # hlsfs's own line first, also when stdout is a file: libfuse runs fusermount3 for its line
    first=$(head -n 1 "$T/out")
    [[ $first == "hlsfs version "* ]] || fail "hlsfs $v: the first line is '$first', want 'hlsfs version ...'"
done

# Without -f: returns once mounted, with status 0; the mount works; fusermount3 -u ends the daemon.
rc=0; timeout 20 "$HLSFS" "$SRC" "$MNT" -o "cache_dir=$CACHE" > "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 0 ] || fail "hlsfs without -f exited $rc: $(head -n 2 "$T/err" | tr '\n' ' ')"
_is_mounted "$MNT" || fail "hlsfs without -f returned 0 but $MNT is not mounted"
timeout 10 cat "$MNT/bframes.mp4/master.m3u8" > /dev/null || fail "the daemonized mount does not serve files"
dpid=$(pgrep -f -x -- "$HLSFS $SRC $MNT -o cache_dir=$CACHE" || true)
fusermount3 -u "$MNT" || fail "fusermount3 -u of the daemonized mount failed"
if [ -n "$dpid" ]; then
    wait_until 10 bash -c "! kill -0 $dpid 2>/dev/null" || fail "the detached daemon (pid $dpid) outlived its unmount by 10 s"
fi
check_daemon_log "$T/err"

# What fstab and mount.fuse3 add is accepted and ignored.
mount_hlsfs "$SRC" "$MNT" -o ro,auto,noauto,_netdev,nofail,user,users,defaults,x-systemd.automount
timeout 10 cat "$MNT/bframes.mp4/master.m3u8" > /dev/null || fail "the mount with fstab options does not serve files"
umount_hlsfs "$MNT"

# -d implies -f: the process we started is the daemon and stays until unmounted.
"$HLSFS" -d "$SRC" "$MNT" -o "cache_dir=$CACHE" > /dev/null 2> "$T/debug.log" < /dev/null &
dpid=$!
_track_pid "$dpid"
wait_until 10 _is_mounted "$MNT" || fail "hlsfs -d did not mount within 10 s"
sleep 0.3
kill -0 "$dpid" 2>/dev/null || fail "hlsfs -d detached (the process exited while mounted)"
timeout 10 ls "$MNT" > /dev/null || fail "the -d mount does not answer"
fusermount3 -u "$MNT" || fail "fusermount3 -u of the -d mount failed"
wait_until 10 bash -c "! kill -0 $dpid 2>/dev/null || grep -q '^[^ ]* [^ ]* Z' /proc/$dpid/stat" ||
    fail "hlsfs -d still runs 10 s after unmount"
rc=0; wait "$dpid" || rc=$?
_forget_pid "$dpid"
[ "$rc" = 0 ] || fail "hlsfs -d exited $rc after unmount"

pass
