#!/usr/bin/env bash
# t-cache-kill9: a daemon killed with SIGKILL while four readers pull every segment through a caching mount
# (cache_passthrough=yes) leaves a cache_dir that a remount uses without harm (invariant 4): every file's
# stat size equals the bytes read, ffmpeg plays every master without a message, the bytes equal an uncached
# mount's, nothing is reported damaged and no temporary or stray file is left once everything was read.
source "$(dirname "$0")/lib.sh"

need ffmpeg sha256sum
need_hlsfs

OPTS=(-o "ladder=none,cache_passthrough=yes,segment=2,cache_dir=$CACHE")

# Three videos of 20 s with 1 s GOPs: 10 segments of about 0.7 MB each.
x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -b:v 3M -maxrate 3M -bufsize 3M -c:a aac -b:a 64k)
mkdir -p "$SRC/a/b"
make_video "$SRC/one.mp4" -f lavfi -i testsrc2=size=640x360:rate=30:duration=20 -f lavfi -i sine=f=440:d=20 "${x264[@]}"
make_video "$SRC/a/two.mp4" -f lavfi -i testsrc=size=640x360:rate=30:duration=20 -f lavfi -i sine=f=550:d=20 "${x264[@]}"
make_video "$SRC/a/b/three.mov" -f lavfi -i smptehdbars=size=640x360:rate=30:duration=20 -f lavfi -i sine=f=660:d=20 \
    "${x264[@]}" -f mov

# Reference: remuxed without the cache, on a fresh cache folder.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,segment=2,cache_dir=$T/cache-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"
total=$(grep -c '\.ts$' "$T/ref" || true)
[ "$total" -ge 24 ] || fail "test bug: only $total segments in the library, want at least 24"

# The mount to kill. Four readers go over every segment in a loop, each from another starting point.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
pid=$DAEMON_PID
klog=$DAEMON_LOG
(cd "$MNT" && find . -name '*.ts' | sort) > "$T/segs"
readers=()
for r in 0 1 2 3; do
    (
        cd "$MNT" || exit 0
        mapfile -t segs < "$T/segs"
        n=${#segs[@]}
        while :; do
            for ((i = 0; i < n; i++)); do
                cat "${segs[$(((i + r * n / 4) % n))]}" > /dev/null 2>&1 || exit 0
            done
        done
    ) &
    readers+=($!)
    _track_pid "$!"
done

# Kill once a few segments were generated, while the others are being made.
killed_at=
for _ in $(seq 1 400); do
    g=$(awk '$1 == "hlsfs_generations_total" { print $2 }' "$MNT/.hlsfs/stats" 2>/dev/null || true)
    if [ "${g:-0}" -ge 4 ]; then killed_at=$g; break; fi
    sleep 0.01
done
[ -n "$killed_at" ] || fail "no segment was generated within 4 s of four readers starting"
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null || true
# What the dead daemon left.
cached=$(find "$CACHE/seg" -name '*.ts' | wc -l)
temps=$(find "$CACHE/tmp" -type f | wc -l)
for p in "${readers[@]}"; do
    wait "$p" 2>/dev/null || true
    _forget_pid "$p"
done
fusermount3 -uz "$MNT" 2>/dev/null || true
_forget_pid "$pid"
unset "_DMNT[$pid]"
check_daemon_log "$klog"
say "cache-kill9: killed after $killed_at generations: $cached of $total segments in seg/, $temps temporaries"
[ "$cached" -lt "$total" ] ||
    fail "test bug: all $total segments were cached before the kill; the kill did not happen mid-way"

# Remount on what was left.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
# stat size == bytes read, for every file, before anything else reads it.
while IFS= read -r -d '' f; do
    want=$(stat -c %s "$f")
    got=$(wc -c < "$f") || fail "after the kill, reading '${f#"$MNT"/}' failed"
    [ "$got" = "$want" ] || fail "after the kill, '${f#"$MNT"/}' gave $got bytes, stat says $want"
done < <(every_file "$MNT")
# A player reads every master, every variant and segment, without a message.
while IFS= read -r -d '' m; do
    out=$(timeout 120 ffmpeg -nostdin -hide_banner -v error -i "$m" -map 0 -f null - 2>&1) ||
        fail "after the kill, ffmpeg failed on '${m#"$MNT"/}': $(head -n 2 <<<"$out" | tr '\n' ' ')"
    [ -z "$out" ] || fail "after the kill, ffmpeg complained about '${m#"$MNT"/}': $(head -n 2 <<<"$out" | tr '\n' ' ')"
done < <(find "$MNT" -name master.m3u8 -print0)
tree_sums "$MNT" > "$T/after"
diff -q "$T/ref" "$T/after" > /dev/null ||
    fail "after the kill and a remount on the same cache, '$(diff "$T/ref" "$T/after" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' differs from an uncached mount's"
damaged=$(stat_of "$MNT" hlsfs_cache_damaged_total)
[ "$damaged" = 0 ] ||
    fail "after kill -9 (every written byte kept by the kernel), $damaged recorded cache entries were found damaged or missing"
umount_hlsfs "$MNT"

# Everything was read once: one entry per segment, no temporaries, no strays the sweep missed.
n=$(find "$CACHE/seg" -name '*.ts' | wc -l)
[ "$n" = "$total" ] || fail "after reading every segment, seg/ holds $n files for $total segments"
n=$(find "$CACHE/tmp" -type f | wc -l)
[ "$n" = 0 ] || fail "$n temporaries left in tmp/ after a clean run following the kill"

pass
