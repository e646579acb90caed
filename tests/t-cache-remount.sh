#!/usr/bin/env bash
# t-cache-remount: a remount on a warm cache_dir lists and stats a library without opening a single source
# video (man page, cache_dir): after `ls -lR` the stats say 0 source opens and one index load per video,
# strace sees no open of a source video, and the listing is identical to the first mount's. Reading the
# whole tree again (cache_passthrough=yes, every segment cached) opens no source either and gives the same
# bytes.
source "$(dirname "$0")/lib.sh"

need ffmpeg strace sha256sum
need_hlsfs

OPTS=(-o "ladder=none,cache_passthrough=yes,cache_dir=$CACHE")

# Six videos in nested folders (three recipes, each also copied: a copy is another source), a folder without
# videos and a text file that is not shown.
mkdir -p "$SRC/one" "$SRC/one/two deep" "$SRC/three/four" "$SRC/empty"
x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 48k)
make_video "$SRC/a.mp4" -f lavfi -i testsrc2=size=320x180:rate=30:duration=4 -f lavfi -i sine=f=440:d=4 "${x264[@]}"
make_video "$SRC/one/b.mp4" -f lavfi -i testsrc=size=256x144:rate=25:duration=7 -f lavfi -i sine=f=660:d=7 "${x264[@]}"
make_video "$SRC/one/two deep/c.mov" -f lavfi -i smptebars=size=320x240:rate=30:duration=9 -f lavfi -i sine=f=880:d=9 \
    "${x264[@]}" -f mov
cp "$SRC/a.mp4" "$SRC/three/four/a copy.mp4"
cp "$SRC/one/b.mp4" "$SRC/three/b.m4v"
cp "$SRC/one/two deep/c.mov" "$SRC/one/c2.mov"
printf 'not a video\n' > "$SRC/one/notes.txt"
NVIDEOS=6
srcreal=$(realpath "$SRC")

# The daemon runs under strace (open, openat, creat; and openat2 where strace knows it), one log a mount.
trace=open,openat,creat
strace -qq -o /dev/null -e trace=$trace,openat2 true 2>/dev/null && trace=$trace,openat2
cat > "$T/hlsfs-strace" <<EOF
#!/bin/sh
# LeakSanitizer cannot run under ptrace: a sanitizer build checks leaks in the other tests.
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec strace -f -qq -o "\$STRACE_LOG" -e trace=$trace "$HLSFS" "\$@"
EOF
chmod +x "$T/hlsfs-strace"
REAL_HLSFS=$HLSFS
HLSFS=$T/hlsfs-strace
export STRACE_LOG

# _source_open_paths LOG: the path of every call in LOG that opens a source video to read it (whatever its
# result), one a line. Sources are opened beneath a descriptor of the source root, so a relative path is
# taken as relative to it; O_PATH opens (the identity's fstat, no byte read) are not opens of the video.
_source_open_paths() {
    { grep -E '^[0-9]+ +(open|openat|openat2|creat)\(' "$1" || true; } | { grep -v 'O_PATH' || true; } |
        sed -E 's/^[^"]*"([^"]*)".*/\1/' | sed -E "s|^([^/])|$srcreal/\\1|" |
        { grep -F "$srcreal/" || true; } | { grep -iE '\.(mp4|m4v|mov)$' || true; }
}
# source_opens LOG: the source videos LOG shows an open call of, one path a line.
source_opens() { _source_open_paths "$1" | sort -u; }
# source_open_calls LOG: how many open calls of source videos LOG shows.
source_open_calls() { _source_open_paths "$1" | wc -l; }

# --- First mount: a cold cache. List, then read everything.
STRACE_LOG=$T/strace-1.log
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
ls -lR "$MNT" > "$T/ls-1" 2> "$T/ls-1.err" || fail "ls -lR of the first mount failed: $(head -n 1 "$T/ls-1.err")"
find "$MNT" -printf '%P|%y|%s|%T@\n' | sort > "$T/find-1"
tree_sums "$MNT" > "$T/sums-1"
builds=$(stat_of "$MNT" hlsfs_index_builds_total)
[ "$builds" = "$NVIDEOS" ] || fail "first mount: hlsfs_index_builds_total $builds after listing $NVIDEOS videos on an empty cache, want $NVIDEOS"
opens1=$(stat_of "$MNT" hlsfs_source_opens_total)
nseg=$(grep -c '\.ts$' "$T/sums-1" || true)
[ "$nseg" -ge "$NVIDEOS" ] || fail "first mount: $nseg segments for $NVIDEOS videos"
umount_hlsfs "$MNT"
# The way opens are detected sees them when they happen.
n=$(source_opens "$T/strace-1.log" | wc -l)
[ "$n" = "$NVIDEOS" ] ||
    fail "test bug: strace saw opens of $n distinct source videos on the first (cold) mount, want $NVIDEOS: $(source_opens "$T/strace-1.log" | tr '\n' ' ')"

# Sources made unreadable (root still can read them: the counters and strace are the proof below).
find "$SRC" -type f -exec chmod 000 {} +

# --- Second mount on the same cache: list only.
STRACE_LOG=$T/strace-2.log
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
ls -lR "$MNT" > "$T/ls-2" 2> "$T/ls-2.err" || fail "ls -lR of the remount failed: $(head -n 1 "$T/ls-2.err")"
find "$MNT" -printf '%P|%y|%s|%T@\n' | sort > "$T/find-2"
opens=$(stat_of "$MNT" hlsfs_source_opens_total)
loads=$(stat_of "$MNT" hlsfs_index_loads_total)
builds=$(stat_of "$MNT" hlsfs_index_builds_total)
entries=$(stat_of "$MNT" hlsfs_index_entries)
[ "$opens" = 0 ] || fail "remount: hlsfs_source_opens_total is $opens after ls -lR on a warm cache, want 0"
[ "$builds" = 0 ] || fail "remount: hlsfs_index_builds_total is $builds after ls -lR on a warm cache, want 0"
[ "$loads" = "$NVIDEOS" ] || fail "remount: hlsfs_index_loads_total is $loads after ls -lR of $NVIDEOS videos, want $NVIDEOS"
[ "$entries" = "$NVIDEOS" ] || fail "remount: hlsfs_index_entries is $entries, want $NVIDEOS"
# strace's log is written as calls happen: what it holds now is the listing's.
cp "$T/strace-2.log" "$T/strace-2-ls.log"
n=$(source_opens "$T/strace-2-ls.log" | wc -l)
[ "$n" = 0 ] || fail "remount: the daemon opened $n source videos during ls -lR: $(source_opens "$T/strace-2-ls.log" | head -n 2 | tr '\n' ' ')"
diff -q "$T/find-1" "$T/find-2" > /dev/null ||
    fail "remount: the tree differs from the first mount's (path|type|size|mtime): $(diff "$T/find-1" "$T/find-2" | grep -m 2 '^[<>]' | tr '\n' ' ')"
diff -q "$T/ls-1" "$T/ls-2" > /dev/null ||
    fail "remount: ls -lR differs from the first mount's: $(diff "$T/ls-1" "$T/ls-2" | grep -m 2 '^[<>]' | tr '\n' ' ')"

# --- Still on the remount: read everything. Every segment is in the cache: no source is opened, nothing is
# generated, every segment open is a hit, and the bytes are the first mount's.
tree_sums "$MNT" > "$T/sums-2"
diff -q "$T/sums-1" "$T/sums-2" > /dev/null ||
    fail "remount: '$(diff "$T/sums-1" "$T/sums-2" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)' has other bytes than on the first mount"
opens=$(stat_of "$MNT" hlsfs_source_opens_total)
gens=$(stat_of "$MNT" hlsfs_generations_total)
hits=$(stat_of "$MNT" hlsfs_cache_hits_total)
misses=$(stat_of "$MNT" hlsfs_cache_misses_total)
[ "$opens" = 0 ] || fail "remount: hlsfs_source_opens_total is $opens after reading a fully cached tree, want 0"
[ "$gens" = 0 ] || fail "remount: hlsfs_generations_total is $gens after reading a fully cached tree, want 0"
[ "$misses" = 0 ] || fail "remount: hlsfs_cache_misses_total is $misses after reading a fully cached tree, want 0"
[ "$hits" = "$nseg" ] || fail "remount: hlsfs_cache_hits_total is $hits after reading $nseg cached segments once, want $nseg"
umount_hlsfs "$MNT"
n=$(source_opens "$T/strace-2.log" | wc -l)
[ "$n" = 0 ] ||
    fail "remount: the daemon opened $n source videos while serving a fully cached tree: $(source_opens "$T/strace-2.log" | head -n 2 | tr '\n' ' ')"
HLSFS=$REAL_HLSFS
say "cache-remount: $NVIDEOS videos, $nseg segments; remount: 0 source opens, $loads index loads, $hits cache hits"

# The proof above leans on hlsfs_source_opens_total ("Source files opened"): on the first mount it must
# have counted every open of a source video strace saw (indexing, and remuxing segments into the cache).
calls1=$(source_open_calls "$T/strace-1.log")
[ "$opens1" = "$calls1" ] ||
    fail "first mount: hlsfs_source_opens_total said $opens1 after listing and reading everything, but strace saw $calls1 opens of source videos ($NVIDEOS videos, $nseg segments generated): the counter misses opens"

pass
