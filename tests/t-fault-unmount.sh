#!/usr/bin/env bash
# t-fault-unmount: unmounting while readers are in the middle of reads (cached remuxes and transcodes in
# flight) ends the daemon within 10 s with status 0 and a clean log, and a remount on the same cache_dir
# serves exactly the bytes a fresh mount gives (sizes = bytes, ffmpeg decodes every master silently).
source "$(dirname "$0")/lib.sh"

need ffmpeg fusermount3 shuf
setup_library
# Slow work: a transcoded rung on every video, a cache that keeps remuxed segments too, two workers. The
# rung's rate is low enough for it to cost clearly less than the library's light sources (about 275 kbit/s
# with their audio), or it would not be offered.
OPTS=(-o ladder=144:60 -o cache_passthrough=yes -o workers=2)

# Reference bytes: a mount with its own fresh cache, read once sequentially.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" "${OPTS[@]}" -o "cache_dir=$T/cache-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
(cd "$T/mnt-ref" && find . -type f -printf '%p %s\n' | sort) > "$T/ref-sizes"
grep -q '/144p/seg-' "$T/ref" || fail "no 144p rung in the mount: the ladder option did not give a transcoded variant"
umount_hlsfs "$T/mnt-ref"

mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}" -o "cache_dir=$CACHE"
pid=$DAEMON_PID
log=$DAEMON_LOG

# Segments of every variant of every video, transcoded ones first so that they are what is in flight.
(cd "$MNT" && find . -name 'seg-*.ts' -printf '%p\n') | sed "s|^\\.|$MNT|" | sort -t/ -k1,1 > "$T/segs"
{ grep '/144p/' "$T/segs"; grep -v '/144p/' "$T/segs"; } > "$T/order"
[ "$(grep -c '/144p/' "$T/order")" -ge 5 ] || fail "want several transcoded segments, found $(grep -c '/144p/' "$T/order")"

# Readers: loops of cat over all segments, each in another order, until told to stop. They run outside
# the mount (absolute paths), so only their open files hold it.
readers=()
for r in 1 2 3 4 5 6; do
    (
        exec < /dev/null > /dev/null 2>&1
        cd /
        while [ ! -e "$T/stop" ]; do
            case $r in
                1 | 2) cat "$T/order" ;;
                3) tac "$T/order" ;;
                *) shuf --random-source=<(yes "$r") "$T/order" ;;
            esac | while IFS= read -r s; do
                [ -e "$T/stop" ] && break
                cat "$s" || true
                echo x >> "$T/reads-$r"
            done
        done
    ) &
    readers+=($!)
    _track_pid "$!"
done

stop_readers() {
    : > "$T/stop"
    local p
    for p in "${readers[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        wait_until 20 eval "! kill -0 $p 2>/dev/null" || { kill -KILL "$p" 2>/dev/null; fail "a reader did not stop within 20 s of being told to"; }
        wait "$p" 2>/dev/null || true
        _forget_pid "$p"
    done
}

# Wait until generations are in flight (the readers are inside transcodes and cache writes).
in_flight() {
    local n
    n=$(awk '$1 == "hlsfs_generations_in_flight" {print $2}' "$MNT/.hlsfs/stats" 2>/dev/null)
    [ "${n:-0}" -ge 1 ] && [ "$(cat "$T"/reads-* 2>/dev/null | wc -l)" -ge 3 ]
}
wait_until 30 in_flight || fail "no segment generation in flight 30 s after six readers started"

# Unmount now: plain first; a busy mount (open files) gets a lazy unmount.
how=-u
if ! fusermount3 -u "$MNT" 2> "$T/umount.err"; then
    how=-uz
    fusermount3 -uz "$MNT" 2>> "$T/umount.err" || fail "fusermount3 -u and -uz of $MNT both failed: $(tr '\n' ' ' < "$T/umount.err")"
fi
t0=$SECONDS
end=$((SECONDS + 11))
while kill -0 "$pid" 2>/dev/null; do
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
    if [ "$SECONDS" -ge "$end" ]; then
        stacks=$(for t in /proc/"$pid"/task/*; do cat "$t/comm" 2>/dev/null; done | sort | uniq -c | tr '\n' ' ')
        fail "hlsfs (pid $pid) still running 10 s after fusermount3 $how with reads in flight (threads: $stacks)"
    fi
    sleep 0.05
done
rc=0
wait "$pid" || rc=$?
_forget_pid "$pid"
unset "_DMNT[$pid]"
case $rc in
    0) ;;
    13[2-9] | 14[0-9] | 15[0-9]) fail "hlsfs died of signal $((rc - 128)) when unmounted ($how) with reads in flight (log: $(tail -n 3 "$log" | tr '\n' ' '))" ;;
    *) fail "hlsfs exited with status $rc when unmounted ($how) with reads in flight (log: $(tail -n 3 "$log" | tr '\n' ' '))" ;;
esac
say "unmount ($how) with reads in flight: daemon exited 0 after $((SECONDS - t0)) s"
_is_mounted "$MNT" && fail "$MNT is still mounted after the daemon exited"
check_daemon_log "$log"
stop_readers
[ "$(cat "$T"/reads-* | wc -l)" -ge 3 ] || fail "the readers read almost nothing before the unmount"

# Remount on the same cache: every file has the reference size and bytes.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}" -o "cache_dir=$CACHE"
(cd "$MNT" && find . -type f -printf '%p %s\n' | sort) > "$T/sizes"
diff -q "$T/ref-sizes" "$T/sizes" > /dev/null ||
    fail "after the remount, listing or sizes differ from a fresh mount: $(diff "$T/ref-sizes" "$T/sizes" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
while IFS= read -r -d '' f; do
    s=$(stat -c %s "$f")
    n=$(timeout 60 cat "$f" | wc -c) || fail "after the remount, reading ${f#"$MNT"/} failed"
    [ "$n" = "$s" ] || fail "after the remount, ${f#"$MNT"/}: stat size $s, read $n bytes"
done < <(every_file "$MNT")
tree_sums "$MNT" > "$T/got"
diff -q "$T/ref" "$T/got" > /dev/null ||
    fail "after the remount on the same cache_dir, bytes differ from a fresh mount for '$(diff "$T/ref" "$T/got" | sed -n 's/^> [0-9a-f]*  \.\///p' | head -n 1)'"
while IFS= read -r rel; do
    out=$(timeout 120 ffmpeg -nostdin -v error -i "$MNT/$rel/master.m3u8" -map 0 -f null - 2>&1) ||
        fail "after the remount, ffmpeg failed on $rel/master.m3u8: $(head -n 2 <<<"$out" | tr '\n' ' ')"
    [ -z "$out" ] || fail "after the remount, ffmpeg printed for $rel/master.m3u8: $(head -n 2 <<<"$out" | tr '\n' ' ')"
done < <(good_videos)
umount_hlsfs "$MNT"
pass
