#!/usr/bin/env bash
# t-cache-cap: cache_max bounds the cache folder (man page: "Upper bound of the space the cache folder uses,
# index included"). With a 4 MiB cap and a working set of about 120 MB of cached (passthrough) segments,
# read twice file by file, then by three readers at once: every read gives the bytes an uncached mount
# gives, the space of the cache folder never exceeds the cap (after any file, and sampled every 20 ms while
# the three read), the stats count evictions, and no evicted entry is taken for a damaged one.
source "$(dirname "$0")/lib.sh"

need ffmpeg sha256sum du shuf
need_hlsfs

CAP=4194304   # 4M
OPTS=(-o "ladder=none,cache_passthrough=yes,cache_max=4M,cache_dir=$CACHE")

# One 60 s 640x360 video at about 2 Mbit/s (segments of about 1.5 MB), and seven copies of it: each copy is
# another source (path and inode), so another set of cache entries.
mkdir -p "$SRC/more"
make_video "$SRC/v0.mp4" -f lavfi -i testsrc2=size=640x360:rate=30:duration=60 \
    -f lavfi -i sine=f=440:d=60 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 \
    -b:v 2M -maxrate 2M -bufsize 2M -c:a aac -b:a 64k
for i in 1 2 3; do cp "$SRC/v0.mp4" "$SRC/v$i.mp4"; done
for i in 4 5 6 7; do cp "$SRC/v0.mp4" "$SRC/more/v$i.mp4"; done

# Reference: remuxed without the cache.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,cache_dir=$T/cache-ref"
tree_sums "$T/mnt-ref" > "$T/ref"
umount_hlsfs "$T/mnt-ref"

mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
LOG=$DAEMON_LOG
working=$(find "$MNT" -name '*.ts' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
maxseg=$(find "$MNT" -name '*.ts' -printf '%s\n' | sort -n | tail -n 1)
[ "$working" -ge 100000000 ] || fail "test bug: the working set is $working bytes of segments, want at least 100 MB"
[ "$maxseg" -lt $((CAP / 2)) ] || fail "test bug: a segment of $maxseg bytes leaves no room to cache two under the cap"

# The space of the cache folder as `du -sb` counts it (every file and folder, apparent size), measured so
# that a busy daemon cannot make it look larger than it ever was: a walk of the tree is not atomic (a
# segment evicted from seg/ after the walk saw it, then a new one started in tmp/ before the walk got
# there, would both be counted). Two walks back to back; only what both saw (same inode, same path) is
# counted, at the smaller size: all of that existed at once, between the two walks.
space() {
    local a b
    a=$(find "$CACHE" -printf '%s %i %p\n' 2>/dev/null)
    b=$(find "$CACHE" -printf '%s %i %p\n' 2>/dev/null)
    awk 'NR == FNR { s[substr($0, index($0, " ") + 1)] = $1; next }
        { k = substr($0, index($0, " ") + 1); if ((k in s) && !(k in done)) { done[k] = 1; t += ($1 < s[k] ? $1 : s[k]) } }
        END { print t + 0 }' <(printf '%s\n' "$a") <(printf '%s\n' "$b")
}

# what_is_there: the composition of the cache folder, for a failure message.
what_is_there() {
    printf 'du -sb %s; segment files %s bytes in %s files; index %s; %s folders; hlsfs_cache_bytes %s, hlsfs_cache_damaged_total %s; %s "damaged or missing" log lines' \
        "$(du -sb "$CACHE" 2>/dev/null | cut -f1)" \
        "$(find "$CACHE/seg" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')" \
        "$(find "$CACHE/seg" -type f 2>/dev/null | wc -l)" \
        "$(stat -c %s "$CACHE/index.lmdb" 2>/dev/null || echo -)" \
        "$(find "$CACHE" -type d 2>/dev/null | wc -l)" \
        "$(awk '$1 == "hlsfs_cache_bytes" { print $2 }' "$MNT/.hlsfs/stats" 2>/dev/null || echo -)" \
        "$(awk '$1 == "hlsfs_cache_damaged_total" { print $2 }' "$MNT/.hlsfs/stats" 2>/dev/null || echo -)" \
        "$(grep -c 'cache entry damaged or missing' "$LOG" || true)"
}

peak=0
check_space() {
    local b
    b=$(space)
    [ "$b" -gt "$peak" ] && peak=$b
    [ "$b" -le "$CAP" ] || fail "pass $1, after '$2': the cache folder takes $b bytes, over cache_max=4M ($CAP): $(what_is_there)"
}

# The kernel keeps a file's pages across opens while its size and mtime stay (auto_cache): each file's
# pages are dropped (fadvise DONTNEED through dd iflag=nocache) before it is read, so every read reaches
# the daemon.
drop_pages() { dd if="$1" iflag=nocache count=0 status=none 2>/dev/null || true; }

mapfile -d '' files < <(cd "$MNT" && find . -type f -print0 | sort -z)
for pass in 1 2; do
    for f in "${files[@]}"; do
        drop_pages "$MNT/$f"
        sum=$(sha256sum < "$MNT/$f" 2> "$T/err") || fail "pass $pass: reading '$f' failed: $(head -n 1 "$T/err")"
        want=$(awk -v p="$f" '$2 == p { print $1 }' "$T/ref")
        [ "${sum%% *}" = "$want" ] || fail "pass $pass: '$f' has other bytes than an uncached mount's"
        check_space "$pass" "$f"
    done
done
served=$(stat_of "$MNT" hlsfs_bytes_served_total)
[ "$served" -ge $((2 * working)) ] ||
    fail "test bug: the daemon served $served bytes of segments for two reads of $working: the page cache answered"
evictions=$(stat_of "$MNT" hlsfs_cache_evictions_total)
[ "$evictions" -gt 0 ] || fail "hlsfs_cache_evictions_total is 0 after reading $working bytes of segments twice through a 4M cache"
# Nothing damaged the cache: an entry found missing or damaged here is one that eviction removed while a
# reader was opening it, and counting it as damaged also drops its size a second time from the daemon's
# total. Checked softly, so that pass 3 still runs and reports.
no_damage() {
    local damaged
    damaged=$(stat_of "$MNT" hlsfs_cache_damaged_total)
    [ "$damaged" = 0 ] || fail "$1: $damaged entries evicted under a reader were reported damaged: $(what_is_there)"
}
soft no_damage "passes 1-2 (one reader)"

# Pass 3: three readers at once, each in its own order, while the space is sampled every 20 ms.
rm -f "$T/stop"
echo 0 > "$T/peak3"
(
    p=0
    while [ ! -e "$T/stop" ]; do
        b=$(space)
        if [ "$b" -gt "$p" ]; then p=$b; echo "$p" > "$T/peak3"; fi
        sleep 0.02
    done
) &
monitor=$!
_track_pid "$monitor"
readers=()
for r in 1 2 3; do
    (
        for f in "${files[@]}"; do printf '%s\n' "$f"; done | shuf --random-source=<(yes "$r") |
            while IFS= read -r f; do
                drop_pages "$MNT/$f"
                printf '%s  %s\n' "$(sha256sum < "$MNT/$f" | cut -d' ' -f1)" "$f"
            done | sort -k2 > "$T/reader-$r"
    ) &
    readers+=($!)
    _track_pid "$!"
done
for p in "${readers[@]}"; do
    wait "$p" || fail "pass 3: a concurrent reader failed"
    _forget_pid "$p"
done
touch "$T/stop"
wait "$monitor" || true
_forget_pid "$monitor"
for r in 1 2 3; do
    diff -q "$T/ref" "$T/reader-$r" > /dev/null ||
        fail "pass 3: concurrent reader $r got other bytes for '$(diff "$T/ref" "$T/reader-$r" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)'"
done
peak3=$(cat "$T/peak3")
[ "$peak3" -gt "$peak" ] && peak=$peak3
gauges_sane() {
    local entries bytes
    entries=$(stat_of "$MNT" hlsfs_cache_entries)
    bytes=$(stat_of "$MNT" hlsfs_cache_bytes)
    if [ "$bytes" -lt 0 ] || [ "$entries" -lt 0 ]; then
        fail "hlsfs_cache_bytes $bytes, hlsfs_cache_entries $entries: negative"
    fi
}
peak3_under_cap() {
    [ "$peak3" -le "$CAP" ] || fail "pass 3: the cache folder reached $peak3 bytes while three readers read, over cache_max=4M ($CAP): $(what_is_there)"
}
soft gauges_sane
soft peak3_under_cap
soft check_space 3 "the concurrent readers"
evictions=$(stat_of "$MNT" hlsfs_cache_evictions_total)
# Reported damaged entries log a warning each; the daemon's log is checked after the soft checks above.
[ -s "$T/.soft" ] && EXPECT_LOG+=('^hlsfs: .*: cache entry damaged or missing; generating it again$')
umount_hlsfs "$MNT"
soft check_space end "unmount"
say "cache-cap: $((working / 1000000)) MB of segments read twice, then by three readers at once; $evictions evictions; peak $peak of $CAP bytes"
pass
