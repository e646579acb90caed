#!/usr/bin/env bash
# t-contain: the mount stays inside its source and never writes. Symlinks that leave the source tree (to a
# video, to /etc, to a folder of videos, to a sibling folder sharing the root's name as a prefix, through
# a chain) are neither listed nor reachable by path, while symlinks inside it are served; odd names ('..'
# inside, newline, invalid UTF-8, spaces, quotes, backslash) are listed and read whole; every write answers
# EROFS; the source tree (and what the links point at) is byte-for-byte unchanged afterwards.
source "$(dirname "$0")/lib.sh"

need ffmpeg python3 sha256sum
MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
V=$MEDIA/lib/LOUD.MP4

# --- the tree ---------------------------------------------------------------------------------------------
OUT=$T/outside
EVIL=$T/src-evil           # shares "$T/src" as a string prefix: a naive prefix check lets it in
mkdir -p "$OUT/videos" "$EVIL" "$SRC/sub"
cp -p "$V" "$OUT/ext.mp4"
cp -p "$V" "$OUT/videos/one.mp4"
cp -p "$V" "$EVIL/evil.mp4"
cp -p "$V" "$SRC/real.mp4"
cp -p "$V" "$SRC/sub/inner.mp4"
ODD=('a..b.mp4' 'c...mp4' $'new\nline.mp4' $'\xff\xfe.mp4' 'with spaces and "double" '"'single'"' quotes.mp4'
     'back\slash.mp4' $'tab\there.mp4' 'ünïcödé – ok.mp4')
for n in "${ODD[@]}"; do cp -p "$V" "$SRC/$n"; done
ln -s "$OUT/ext.mp4" "$SRC/abs-out.mp4"             # file link, absolute, outside
ln -s ../outside/ext.mp4 "$SRC/rel-out.mp4"          # file link, relative, outside
ln -s /etc "$SRC/etc-link"                           # directory link to /etc
ln -s "$OUT/videos" "$SRC/videos-out"                # directory link to a folder of videos outside
ln -s "$EVIL" "$SRC/evil-dir"                        # directory link to the prefix sibling
ln -s "$EVIL/evil.mp4" "$SRC/evil.mp4"               # file link into the prefix sibling
ln -s ../src-evil/evil.mp4 "$SRC/sub/evil-rel.mp4"   # relative, from a subfolder
ln -s rel-out.mp4 "$SRC/chain-out.mp4"               # inside link to a link that leaves
ln -s real.mp4 "$SRC/link-in.mp4"                    # file link inside
ln -s "$SRC/sub/inner.mp4" "$SRC/abs-in.mp4"         # absolute file link inside
ln -s sub "$SRC/sub-link"                            # directory link inside
ln -s ../real.mp4 "$SRC/sub/up-in.mp4"               # relative link up, still inside
ln -s . "$SRC/sub/self"                              # a loop inside (a folder that holds itself)
ln -s /nonexistent/x.mp4 "$SRC/dangling.mp4"         # dangling

# Listing with checksums of the source tree and of what its links point at (not /etc: we only read it).
snapshot() {
    local d
    for d in "$SRC" "$OUT" "$EVIL"; do
        (cd "$d" && find . -printf '%y %m %s %T@ %p -> %l\0' | sort -z | tr '\0' '\n'
         find . -type f -print0 | sort -z | xargs -0 sha256sum) | sed "s|^|$(basename "$d"): |"
    done
}
snapshot > "$T/before"

mount_hlsfs "$SRC" "$MNT" -o ladder=none
pid=$DAEMON_PID

# Reference: the bytes of one video directory, from a mount of a plain folder holding only the video.
mkdir -p "$T/plain" "$T/mnt-ref"
cp -p "$V" "$T/plain/v.mp4"
mount_hlsfs "$T/plain" "$T/mnt-ref" -o ladder=none
(cd "$T/mnt-ref/v.mp4" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$T/ref-video"
umount_hlsfs "$T/mnt-ref"

# --- listing, reading, reaching by path, writing: one python run, one line per failed check ----------------
cat > "$T/contain.py" <<'PY'
import errno, hashlib, os, sys

mnt = os.fsencode(sys.argv[1])
ref_lines = open(sys.argv[2], "rb").read().splitlines()
odd = [os.fsencode(n) for n in sys.argv[3:]]
ref = {}
for line in ref_lines:
    h, p = line.split(b"  ", 1)
    ref[p[2:]] = h.decode()
bad = []

def j(*parts):
    return os.path.join(mnt, *parts)

def show(p):
    return repr(p)[1:]

# Root listing: exactly the videos and folders inside the tree.
want_root = set(odd) | {b"real.mp4", b"sub", b"link-in.mp4", b"abs-in.mp4", b"sub-link"}
got_root = set(os.listdir(mnt))
if got_root != want_root:
    bad.append("root lists %s; missing %s" % (sorted(got_root - want_root), sorted(want_root - got_root)))
want_sub = {b"inner.mp4", b"up-in.mp4", b"self"}
got_sub = set(os.listdir(j(b"sub")))
if got_sub != want_sub:
    bad.append("sub/ lists %s; missing %s" % (sorted(got_sub - want_sub), sorted(want_sub - got_sub)))

# Outside links: not reachable by path either, nor anything below them.
for p in [b"abs-out.mp4", b"rel-out.mp4", b"chain-out.mp4", b"evil.mp4", b"sub/evil-rel.mp4",
          b"abs-out.mp4/master.m3u8", b"rel-out.mp4/master.m3u8", b"evil.mp4/master.m3u8",
          b"etc-link", b"etc-link/passwd", b"etc-link/hostname", b"videos-out", b"videos-out/one.mp4",
          b"videos-out/one.mp4/master.m3u8", b"evil-dir", b"evil-dir/evil.mp4/master.m3u8",
          b"dangling.mp4", b"..", b"sub/..", b"sub/../real.mp4", b"./real.mp4/master.m3u8"]:
    try:
        os.stat(j(p))
    except OSError as e:
        if e.errno not in (errno.ENOENT,):
            bad.append("stat %s: %s, want ENOENT" % (show(p), errno.errorcode.get(e.errno)))
        continue
    # "..", "sub/.." and "./x" are resolved by the kernel before hlsfs sees them: only real escapes count
    if p in (b"..", b"sub/..") or p.startswith(b"./") or p == b"sub/../real.mp4":
        real = os.path.realpath(j(p))
        if not (real == mnt or real.startswith(mnt + b"/")) and p != b"..":
            bad.append("%s resolves outside the mount: %s" % (show(p), show(real)))
        continue
    bad.append("%s is reachable through the mount, though it points outside the source" % show(p))

# Every video directory that is listed: the reference's files, sizes = bytes, identical bytes.
def check_video(rel):
    d = j(rel)
    got = {}
    for root, dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            st = os.stat(p)
            with open(p, "rb") as fh:
                data = fh.read()
            if len(data) != st.st_size:
                bad.append("%s: stat size %d, read %d bytes" % (show(os.path.relpath(p, mnt)), st.st_size, len(data)))
            got[os.path.relpath(p, d)] = hashlib.sha256(data).hexdigest()
    if got != ref:
        diff = sorted(set(got.items()) ^ set(ref.items()))[:2]
        bad.append("%s: files or bytes differ from a plain mount of the same video: %s" % (show(rel), diff))

for rel in sorted(want_root - {b"sub", b"sub-link"}) + [b"sub/inner.mp4", b"sub/up-in.mp4", b"sub-link/inner.mp4",
                                                          b"sub/self/inner.mp4", b"sub/self/self/up-in.mp4"]:
    try:
        check_video(rel)
    except OSError as e:
        bad.append("%s: %s" % (show(rel), e))

# Writes: each must fail with EROFS.
def first_segment():
    # segment names carry the source's version: the first one the playlist lists
    try:
        with open(j(b"real.mp4", b"180p", b"index.m3u8"), "rb") as f:
            return [l for l in f.read().split(b"\n") if l and not l.startswith(b"#")][0]
    except (OSError, IndexError):
        return b"seg-00000-00000000.ts"
seg = j(b"real.mp4", b"180p", first_segment())
master = j(b"real.mp4", b"master.m3u8")
if not os.path.exists(seg):
    bad.append("real.mp4/180p's first segment is missing; the write checks need it")
before = open(seg, "rb").read() if os.path.exists(seg) else b""

def expect_erofs(what, fn):
    try:
        r = fn()
        if isinstance(r, int):
            os.close(r)
    except OSError as e:
        if e.errno != errno.EROFS:
            bad.append("%s: %s (%s), want EROFS" % (what, errno.errorcode.get(e.errno), e.strerror))
        return
    bad.append("%s: succeeded, want EROFS" % what)

for where, d in [("root", mnt), ("a source folder", j(b"sub")), ("a video folder", j(b"real.mp4")),
                 ("a variant folder", j(b"real.mp4", b"180p")), ("the control folder", j(b".hlsfs"))]:
    expect_erofs("create a file in %s" % where, lambda: os.open(os.path.join(d, b"new.txt"), os.O_CREAT | os.O_WRONLY, 0o644))
    expect_erofs("create exclusively in %s" % where, lambda: os.open(os.path.join(d, b"x.mp4"), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644))
    expect_erofs("mkdir in %s" % where, lambda: os.mkdir(os.path.join(d, b"newdir")))
    expect_erofs("mkfifo in %s" % where, lambda: os.mkfifo(os.path.join(d, b"fifo")))
    expect_erofs("symlink in %s" % where, lambda: os.symlink(b"/etc/passwd", os.path.join(d, b"ln")))
for what, p in [("a segment", seg), ("a master playlist", master), ("the stats file", j(b".hlsfs", b"stats")),
                ("error-free poster", j(b"real.mp4", b"poster.jpg"))]:
    expect_erofs("open %s O_WRONLY|O_APPEND (>>)" % what, lambda: os.open(p, os.O_WRONLY | os.O_APPEND))
    expect_erofs("open %s O_RDWR" % what, lambda: os.open(p, os.O_RDWR))
    expect_erofs("open %s O_WRONLY|O_TRUNC" % what, lambda: os.open(p, os.O_WRONLY | os.O_TRUNC))
    expect_erofs("truncate %s" % what, lambda: os.truncate(p, 0))
    expect_erofs("unlink %s" % what, lambda: os.unlink(p))
    expect_erofs("rename %s" % what, lambda: os.rename(p, p + b".moved"))
    expect_erofs("chmod %s" % what, lambda: os.chmod(p, 0o666))
    expect_erofs("chown %s" % what, lambda: os.chown(p, 1, 1))
    expect_erofs("utime (touch) %s" % what, lambda: os.utime(p, None))
    expect_erofs("hard link %s" % what, lambda: os.link(p, j(b"sub", b"hard")))
    expect_erofs("setxattr on %s" % what, lambda: os.setxattr(p, "user.x", b"1"))
for what, p in [("a video folder", j(b"real.mp4")), ("a variant folder", j(b"real.mp4", b"180p")),
                ("a source folder", j(b"sub")), ("an odd-named video", j(odd[3]))]:
    expect_erofs("rmdir %s" % what, lambda: os.rmdir(p))
    expect_erofs("unlink %s" % what, lambda: os.unlink(p))
    expect_erofs("rename %s" % what, lambda: os.rename(p, j(b"renamed")))
    expect_erofs("chmod %s" % what, lambda: os.chmod(p, 0o777))
    expect_erofs("utime (touch) %s" % what, lambda: os.utime(p, None))
expect_erofs("rename a video folder into a source folder", lambda: os.rename(j(b"real.mp4"), j(b"sub", b"real.mp4")))
expect_erofs("rename the root's video over another", lambda: os.rename(j(b"real.mp4"), j(b"link-in.mp4")))
if os.path.exists(seg) and open(seg, "rb").read() != before:
    bad.append("the segment's bytes changed after the write attempts")

for b in bad:
    print(b)
PY
python3 "$T/contain.py" "$MNT" "$T/ref-video" "${ODD[@]}" > "$T/contain.out" 2> "$T/contain.err" ||
    fail "the containment checker crashed: $(tail -n 2 "$T/contain.err" | tr '\n' ' ')"
if [ -s "$T/contain.out" ]; then
    n=$(wc -l < "$T/contain.out")
    fail "$n containment checks failed: $(head -n 3 "$T/contain.out" | tr '\n' '|')"
fi

# The same write attempts from the shell, as a user types them: each must fail and change nothing.
shell_writes() {
    local seg out
    seg=$(segment_path "$MNT/real.mp4/180p/index.m3u8" 0)
    local -a cmds=(
        "touch '$MNT/new.mp4'" "touch '$seg'" "mkdir '$MNT/d'" "rm -f '$seg'" "rm -rf '$MNT/real.mp4'"
        "mv '$MNT/real.mp4' '$MNT/moved.mp4'" "truncate -s 0 '$seg'" "echo x >> '$seg'" "echo x > '$MNT/new.txt'"
        "chmod 777 '$seg'" "cp '$V' '$MNT/copy.mp4'" "ln -s /etc '$MNT/etc2'"
    )
    local c
    for c in "${cmds[@]}"; do
        if out=$(bash -c "$c" 2>&1); then
            fail "'$c' succeeded on the read-only mount"
        fi
        grep -qi 'read-only file system' <<<"$out" || fail "'$c' failed with '$out', want 'Read-only file system'"
    done
}
shell_writes

kill -0 "$pid" 2>/dev/null || fail "hlsfs died during the containment checks"
umount_hlsfs "$MNT"

snapshot > "$T/after"
diff -q "$T/before" "$T/after" > /dev/null ||
    fail "the source tree changed while mounted: $(diff "$T/before" "$T/after" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
pass
