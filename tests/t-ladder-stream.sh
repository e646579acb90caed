#!/usr/bin/env bash
# t-ladder-stream: a transcoded segment is served while it is encoded. The first bytes reach a reader
# while the generation is still in flight; two readers at once share one generation; the bytes are those
# of a mount without a cache (made whole, then served); the finished segment is in the cache; and a source
# cut short mid-segment gives the reader EIO, never wrong bytes, and leaves nothing in the cache.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

need ffmpeg python3
LADDER=480:900
# 720p30 H.264 High 10 (transcode-only, so the rung is the first variant), 8 s: one 6.7 s segment and a tail
ladder_source stream.mp4 -f lavfi -i testsrc2=size=1280x720:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p10le -profile:v high10 -g 50 -keyint_min 50 -c:a aac -b:a 64k -ac 2
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,workers=1,prefetch=0"
seg=$(segment_path "$MNT/stream.mp4/480p/index.m3u8" 0)
[ -f "$seg" ] || fail "no $seg (holds: $(ls "$MNT/stream.mp4" | tr '\n' ' '))"

stat_value() { awk -v n="$1" '$1 == n { print $2 }' "$MNT/.hlsfs/stats"; }

# first_bytes FILE OUT: reads FILE's first 4096 bytes, then at once the generation counters, then the rest;
# OUT gets "GENERATIONS IN-FLIGHT FIRST-S WHOLE-S" and OUT.ts the bytes.
first_bytes() {
    python3 - "$1" "$2" "$MNT/.hlsfs/stats" <<'PY'
import os, sys, time
path, out, stats = sys.argv[1:4]
t0 = time.monotonic()
fd = os.open(path, os.O_RDONLY)
first = os.read(fd, 4096)
t1 = time.monotonic()
vals = dict(l.split()[:2] for l in open(stats) if l and not l.startswith("#"))
data = first
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    data += b
t2 = time.monotonic()
open(out + ".ts", "wb").write(data)
open(out, "w").write("%s %s %.3f %.3f\n" % (vals["hlsfs_generations_total"], vals["hlsfs_generations_in_flight"], t1 - t0, t2 - t0))
PY
}
first_bytes "$seg" "$T/a" || fail "reading $seg failed"
read -r gen fly first whole < "$T/a"
say "first 4 KiB after $first s, whole segment after $whole s"
[ "$gen" = 0 ] && [ "$fly" = 1 ] ||
    fail "the first bytes came only after the segment was made (generations_total $gen, in_flight $fly when they arrived; want 0 and 1)"
[ "$(stat -c %s "$T/a.ts")" = "$(stat -c %s "$seg")" ] || fail "read $(stat -c %s "$T/a.ts") bytes of a $(stat -c %s "$seg")-byte segment"
[ "$(stat_value hlsfs_generations_total)" = 1 ] || fail "one read made $(stat_value hlsfs_generations_total) generations"
ls "$CACHE"/seg/*/*.ts > /dev/null 2>&1 || fail "the finished segment is not in the cache"

# The same bytes from a mount without a cache (made whole for the open) and from this mount's cache.
mkdir -p "$T/mnt-b"
mount_hlsfs "$SRC" "$T/mnt-b" -o "ladder=$LADDER"
cmp -s "$T/a.ts" "$(MNT=$T/mnt-b segment_path "$T/mnt-b/stream.mp4/480p/index.m3u8" 0)" || fail "the streamed segment differs from the one made whole"
cmp -s "$T/a.ts" "$seg" || fail "the cached segment differs from the streamed one"
umount_hlsfs "$T/mnt-b"

# Two readers at once: one generation.
python3 - "$(segment_path "$MNT/stream.mp4/480p/index.m3u8" 1)" > "$T/two" <<'PY' || fail "two readers at once failed"
import hashlib, sys, threading
out = []
def read():
    out.append(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
ts = [threading.Thread(target=read) for _ in range(2)]
[t.start() for t in ts]
[t.join() for t in ts]
print(len(set(out)))
PY
[ "$(cat "$T/two")" = 1 ] || fail "two readers at once got different bytes"
[ "$(stat_value hlsfs_generations_total)" = 2 ] || fail "two readers of one segment made $(( $(stat_value hlsfs_generations_total) - 1 )) generations, not 1"
umount_hlsfs "$MNT"

# The source cut short while the segment is made: EIO for the reader, nothing cached.
EXPECT_LOG=('stream\.mp4' 'not served' 'reading the source failed' 'changed since it was indexed')
rm -rf "$CACHE" && mkdir -p "$CACHE"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,workers=1,prefetch=0"
python3 - "$seg" "$SRC/stream.mp4" > "$T/cut" 2>&1 <<'PY' || true
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 4096)
os.truncate(sys.argv[2], os.path.getsize(sys.argv[2]) // 2)
try:
    n = 4096
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            break
        n += len(b)
    print("read", n)
except OSError as e:
    print("errno", e.errno)
PY
grep -qx "errno $(python3 -c 'import errno; print(errno.EIO)')" "$T/cut" || fail "a source cut short mid-segment: the reader got '$(cat "$T/cut")', not EIO"
if ls "$CACHE"/seg/*/*.ts > /dev/null 2>&1; then fail "a failed segment was left in the cache"; fi
umount_hlsfs "$MNT"
pass
