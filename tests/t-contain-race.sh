#!/usr/bin/env bash
# t-contain-race: a source tree whose owner swaps a video, or a folder on its path, for a symlink that leads
# outside while the mount reads it never lets a byte of the outside video through. One process exchanges
# (renameat2 RENAME_EXCHANGE, as fast as it can) src/a.mp4 with a symlink to an outside video and src/d with
# a symlink to an outside folder holding another; readers meanwhile open and read a.mp4/ and d/b.mp4/ files
# over and over. Every read must fail or give the inside video's bytes (compared with a plain mount of each
# video); the daemon stays up, answers afterwards, and exits 0 at unmount.
source "$(dirname "$0")/lib.sh"

need ffmpeg python3 sha256sum
MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
INSIDE=$MEDIA/lib/LOUD.MP4
SECRET=$MEDIA/lib/faststart.mp4     # another video: its playlists and segments differ from the inside one's
RACE_SECS=${HLSFS_RACE_SECS:-10}

# --- the tree: the swapped-in links wait in $T/swap (same filesystem, outside the source) ------------------
OUT=$T/outside
mkdir -p "$OUT/d" "$SRC/d" "$T/swap"
cp -p "$SECRET" "$OUT/secret.mp4"
cp -p "$SECRET" "$OUT/d/b.mp4"
cp -p "$INSIDE" "$SRC/a.mp4"
cp -p "$INSIDE" "$SRC/d/b.mp4"
ln -s "$OUT/secret.mp4" "$T/swap/a.mp4"
ln -s "$OUT/d" "$T/swap/d"

# --- references: every file of each video's folder, from plain mounts of folders holding only it -----------
ref_sums() {  # ref_sums VIDEO OUTFILE
    mkdir -p "$T/plain-$2" "$T/mnt-$2"
    cp -p "$1" "$T/plain-$2/v.mp4"
    mount_hlsfs "$T/plain-$2" "$T/mnt-$2" -o ladder=none
    (cd "$T/mnt-$2/v.mp4" && find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum) > "$T/$2.sums" ||
        fail "reading the reference mount of $(basename "$1") failed"
    umount_hlsfs "$T/mnt-$2"
}
ref_sums "$INSIDE" inside
ref_sums "$SECRET" secret
cmp -s "$T/inside.sums" "$T/secret.sums" && fail "test bug: the inside and outside videos give the same files"

# A read that meets a swapped-in link fails; those failures are said in the log, naming the file.
EXPECT_LOG+=("^hlsfs: $(ere_quote "$SRC")/(a|d/b)\\.mp4: ")
mount_hlsfs "$SRC" "$MNT" -o ladder=none
pid=$DAEMON_PID
ls "$MNT/a.mp4/master.m3u8" "$MNT/d/b.mp4/master.m3u8" > /dev/null || fail "the videos are not served before the race"

# --- the swapper ------------------------------------------------------------------------------------------
cat > "$T/swap.py" <<'PY'
import ctypes, os, random, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
stop = sys.argv[1].encode()
pairs = [(a.encode(), b.encode()) for a, b in zip(sys.argv[2::2], sys.argv[3::2])]
def exchange(a, b):
    if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        sys.exit("renameat2(%s, %s): %s" % (a, b, os.strerror(ctypes.get_errno())))
# The link stays in place a random while (up to some 50 us), the real entry only briefly: a check that
# meets the real entry is then likely followed by a use that meets the link.
n = 0
while not os.path.exists(stop):
    for a, b in pairs:
        exchange(a, b)
        for _ in range(random.randrange(1500)):
            pass
        exchange(a, b)  # back: between rounds the tree is as it was
        n += 2
print(n)
PY
python3 "$T/swap.py" "$T/stop" "$SRC/a.mp4" "$T/swap/a.mp4" "$SRC/d" "$T/swap/d" > "$T/swaps" 2> "$T/swap.err" &
swapper=$!
_track_pid "$swapper"

# --- the readers: one line per read that gave bytes other than the inside video's --------------------------
cat > "$T/read.py" <<'PY'
import hashlib, os, sys, time
mnt, inside, secret, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def sums(p):
    d = {}
    for line in open(p):
        h, name = line.rstrip("\n").split("  ", 1)
        d[name] = h
    return d
ins, sec = sums(inside), sums(secret)
secret_hashes = set(sec.values())
# Playlists most often (cheap: each open asks the daemon for the video's identity), every file now and then.
names = sorted(ins)
small = [n for n in names if n.endswith(".m3u8")]
end = time.monotonic() + secs
ok = err = rounds = 0
bad = []
while time.monotonic() < end:
    rounds += 1
    for video in ("a.mp4", "d/b.mp4"):
        for name in (names if rounds % 20 == 0 else small):
            p = os.path.join(mnt, video, name)
            try:
                # O_DIRECT: every read asks the daemon; the page cache would answer with what an earlier
                # open read (attributes unchanged) and hide what this open was given.
                fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
                try:
                    chunks = []
                    while True:
                        c = os.read(fd, 1 << 20)
                        if not c:
                            break
                        chunks.append(c)
                    data = b"".join(chunks)
                finally:
                    os.close(fd)
            except OSError:
                err += 1
                continue
            h = hashlib.sha256(data).hexdigest()
            if h == ins[name]:
                ok += 1
            elif h in secret_hashes:
                bad.append("%s/%s: the OUTSIDE video's bytes came through" % (video, name))
            else:
                bad.append("%s/%s: %d bytes that are not the inside video's (part of the outside one's?)" % (video, name, len(data)))
        # A listing that shows the outside video's variants is an escape too.
        try:
            listed = set(os.listdir(os.path.join(mnt, video)))
            extra = listed - {n.split("/")[0] for n in names}
            if extra:
                bad.append("%s lists %s, which only the outside video has" % (video, sorted(extra)))
        except OSError:
            err += 1
print("%d %d %d" % (ok, err, len(bad)))
for b in bad[:20]:
    print(b)
if len(bad) > 20:
    print("... and %d more" % (len(bad) - 20))
PY
python3 "$T/read.py" "$MNT" "$T/inside.sums" "$T/secret.sums" "$RACE_SECS" > "$T/read1.out" 2> "$T/read1.err" &
r1=$!
python3 "$T/read.py" "$MNT" "$T/inside.sums" "$T/secret.sums" "$RACE_SECS" > "$T/read2.out" 2> "$T/read2.err" &
r2=$!
rc1=0 rc2=0
wait "$r1" || rc1=$?
wait "$r2" || rc2=$?
touch "$T/stop"
wait "$swapper" || fail "the swapper failed: $(tail -n 1 "$T/swap.err")"
[ "$rc1$rc2" = 00 ] || fail "a reader crashed: $(tail -n 2 "$T/read1.err" "$T/read2.err" | tr '\n' ' ')"
# The swapper stops only between rounds, each of which puts the tree back as it was.
[ ! -L "$SRC/a.mp4" ] && [ ! -L "$SRC/d" ] || fail "test bug: the swapper left a symlink in the source tree"

read -r ok1 err1 bad1 < <(head -n 1 "$T/read1.out")
read -r ok2 err2 bad2 < <(head -n 1 "$T/read2.out")
say "contain-race: $(cat "$T/swaps") exchanges; reads: $((ok1 + ok2)) gave the inside bytes, $((err1 + err2)) failed"
kill -0 "$pid" 2>/dev/null || fail "hlsfs died during the race"
[ $((bad1 + bad2)) = 0 ] ||
    fail "$((bad1 + bad2)) read(s) escaped the source root while it was swapped: $( (tail -n +2 "$T/read1.out"; tail -n +2 "$T/read2.out") | head -n 3 | tr '\n' '|')"
[ $((ok1 + ok2 + err1 + err2)) -gt 100 ] || fail "test too slow: only $((ok1 + ok2 + err1 + err2)) reads in $RACE_SECS s"

timeout 10 ls "$MNT" > /dev/null || fail "after the race, the mount does not answer a listing"
timeout 10 cat "$MNT/.hlsfs/stats" > /dev/null || fail "after the race, .hlsfs/stats does not answer"
umount_hlsfs "$MNT"
pass
