#!/usr/bin/env bash
# t-fault-replace: a source changed under a reader in the middle of a large segment (renamed over by another
# video, truncated in place, deleted, rewritten in place) gives that reader EIO or the old identity's whole,
# correct bytes, never a mix; the daemon stays up, logs naming the file, and then serves the new state.
source "$(dirname "$0")/lib.sh"

need ffmpeg python3 truncate cmp

# --- media: a video with large segments (noise keeps x264 from compressing), and two others ---------------
M=$T/media
mkdir -p "$M"
_ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=13,noise=alls=30:allf=t" -f lavfi -i "sine=f=440:d=13" \
    -c:v libx264 -preset ultrafast -crf 30 -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k "$M/big.mp4" ||
    fail "ffmpeg could not generate the large test video"
_ff -f lavfi -i "testsrc2=size=320x180:rate=25:duration=8" -f lavfi -i "sine=f=880:d=8" \
    -c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -c:a aac -b:a 64k "$M/other.mp4" ||
    fail "ffmpeg could not generate the replacement video"
# Another large video, of other content and larger than big.mp4: what a rewrite in place puts there.
_ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=15,noise=alls=40:allf=t,hue=h=90" -f lavfi -i "sine=f=330:d=15" \
    -c:v libx264 -preset ultrafast -crf 28 -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k "$M/big2.mp4" ||
    fail "ffmpeg could not generate the second large video"
[ "$(stat -c %s "$M/big2.mp4")" -gt "$(stat -c %s "$M/big.mp4")" ] || fail "big2.mp4 should be larger than big.mp4"

# The faults, one source file each: how to apply it, and what the path shows afterwards.
CASES=(rename truncate delete rewrite)
apply_fault() {
    local f=$SRC/$1.mp4
    case $1 in
        rename) cp "$M/other.mp4" "$SRC/.incoming.mp4" && mv -f "$SRC/.incoming.mp4" "$f" ;;
        truncate) truncate -s $(($(stat -c %s "$f") / 2)) "$f" ;;
        delete) rm -f "$f" ;;
        rewrite) cat "$M/big2.mp4" > "$f" ;;  # what cp does to an existing file: same inode, O_TRUNC, write
    esac
}
for c in "${CASES[@]}"; do EXPECT_LOG+=("^hlsfs: .*/$c\\.mp4"); done

restore_sources() {
    local c
    for c in "${CASES[@]}"; do rm -f "$SRC/$c.mp4"; cp "$M/big.mp4" "$SRC/$c.mp4"; done
    cp "$M/other.mp4" "$SRC/other.mp4"
}
restore_sources

# The segment read under the fault: the second one, whose samples lie in the second half of the file
# (moov at the end, mdat first), so a truncation to half cuts all of them.
# Its name carries the source's version, so it is taken from the playlist (seg_of).
SEG="360p segment 1"
seg_of() { segment_path "$1/360p/index.m3u8" 1; }

# --- reference bytes from a separate mount, made before any change ----------------------------------------
mkdir -p "$T/mnt-ref" "$T/ref"
mount_hlsfs "$SRC" "$T/mnt-ref" -o ladder=none
for c in "${CASES[@]}"; do
    cp "$(seg_of "$T/mnt-ref/$c.mp4")" "$T/ref/$c.ts" || fail "reading $c.mp4/$SEG from the reference mount failed"
done
cp "$T/mnt-ref/other.mp4/master.m3u8" "$T/ref/other-master.m3u8"
ref_size=$(stat -c %s "$T/ref/rename.ts")
[ "$ref_size" -ge $((4 * 1024 * 1024)) ] || fail "$SEG of the test video is $ref_size bytes; want a large one (>= 4 MiB)"
umount_hlsfs "$T/mnt-ref"

# --- the slow reader --------------------------------------------------------------------------------------
# reader.py FILE OUT READY GO: reads FILE 64 KiB at a time; after a quarter of it, creates READY and waits
# for GO, then goes on with a short pause per read. Writes what it read to OUT and one status line to stdout:
# "ok BYTES" or "err ERRNO BYTES".
cat > "$T/reader.py" <<'PY'
import errno, os, sys, time
path, out, ready, go = sys.argv[1:5]
size = os.stat(path).st_size
fd = os.open(path, os.O_RDONLY)
got = bytearray()
status = None
try:
    while True:
        if ready and len(got) >= size // 4:
            open(ready, "w").close()
            ready = None
            end = time.time() + 30
            while not os.path.exists(go):
                if time.time() > end:
                    print("timeout waiting for the fault", flush=True)
                    sys.exit(2)
                time.sleep(0.01)
        try:
            b = os.read(fd, 65536)
        except OSError as e:
            status = "err %d %d" % (e.errno, len(got))
            break
        if not b:
            break
        got += b
        if not ready:
            time.sleep(0.002)
finally:
    os.close(fd)
with open(out, "wb") as f:
    f.write(got)
print(status or "ok %d" % len(got), flush=True)
PY

log_lines_naming() { grep -c -F -- "/$2.mp4" "$1" || true; }

# run_case MODE CASE: a reader on CASE's segment, the fault applied when it is a quarter through.
run_case() {
    local mode=$1 c=$2
    local seg w=$T/$mode-$c
    seg=$(seg_of "$MNT/$c.mp4")
    mkdir -p "$w"
    printf '%s\n' "$seg" > "$w/segpath"
    local before after st rpid
    before=$(log_lines_naming "$DAEMON_LOG" "$c")
    python3 "$T/reader.py" "$seg" "$w/got" "$w/ready" "$w/go" > "$w/status" 2> "$w/stderr" &
    rpid=$!
    _track_pid "$rpid"
    wait_until 30 test -e "$w/ready" || fail "$mode/$c: the reader did not get a quarter into $SEG within 30 s ($(cat "$w/stderr" "$w/status" | head -n 2 | tr '\n' ' '))"
    apply_fault "$c" || fail "$mode/$c: applying the fault failed"
    : > "$w/go"
    local end=$((SECONDS + 60))
    while kill -0 "$rpid" 2>/dev/null; do
        [ "$SECONDS" -lt "$end" ] || fail "$mode/$c: the reader hung for 60 s after the source was changed ($c)"
        sleep 0.1
    done
    wait "$rpid" || fail "$mode/$c: the reader failed: $(cat "$w/stderr" "$w/status" | head -n 3 | tr '\n' ' ')"
    _forget_pid "$rpid"
    st=$(cat "$w/status")
    after=$(log_lines_naming "$DAEMON_LOG" "$c")
    local logged=$((after - before))
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "$mode/$c: the daemon died when the source was changed under a reader"
    case $st in
        "ok $ref_size")
            cmp -s "$w/got" "$T/ref/$c.ts" ||
                fail "$mode/$c: the reader got all $ref_size bytes without an error, but they differ from the old segment at byte $(cmp "$w/got" "$T/ref/$c.ts" 2>/dev/null | awk '{print $5}' | tr -d ,) (a mix of old and new source bytes)"
            say "$mode/$c: old identity's complete bytes ($ref_size), $logged log line(s)" ;;
        "ok "*)
            fail "$mode/$c: the reader got ${st#ok } bytes and end of file without an error; the segment is $ref_size bytes (short read after the source changed)" ;;
        "err 5 "*)
            local n=${st##* }
            [ "$n" -lt "$ref_size" ] || fail "$mode/$c: EIO after $n bytes, more than the segment's $ref_size"
            if [ "$n" -gt 0 ] && ! cmp -s -n "$n" "$w/got" "$T/ref/$c.ts"; then
                fail "$mode/$c: the $n bytes read before EIO differ from the old segment at byte $(cmp -n "$n" "$w/got" "$T/ref/$c.ts" 2>/dev/null | awk '{print $5}' | tr -d ,) (a mix)"
            fi
            [ "$logged" -ge 1 ] || fail "$mode/$c: the reader got EIO but the daemon logged no line naming $c.mp4"
            [ "$logged" -le 1 ] || fail "$mode/$c: the reader got EIO and the daemon logged $logged lines naming $c.mp4, want one: $(grep -F "/$c.mp4" "$DAEMON_LOG" | tail -n "$logged" | tr '\n' ' ')"
            say "$mode/$c: EIO after $n of $ref_size bytes (the bytes before it correct), $logged log line" ;;
        "err "*)
            fail "$mode/$c: the reader failed with errno ${st#err } (want EIO or the whole old segment)" ;;
        *)
            fail "$mode/$c: the reader reported '$st'" ;;
    esac
    # The mount still answers, for this file's neighbours at least.
    timeout 10 cmp -s "$MNT/other.mp4/master.m3u8" "$T/ref/other-master.m3u8" ||
        fail "$mode/$c: the mount stopped answering (other.mp4/master.m3u8) after the source changed"
}

# check_after MODE CASE: once the entry and attribute timeouts passed, the path shows its new state.
check_after() {
    local mode=$1 c=$2
    local v=$MNT/$c.mp4
    case $c in
        delete)
            wait_until 5 test ! -e "$v" || fail "$mode/$c: $c.mp4 is still listed 5 s after its source was deleted" ;;
        truncate)
            wait_until 5 test -f "$v/error.txt" || fail "$mode/$c: $c.mp4 shows no error.txt 5 s after its source lost its moov ($(ls "$v" 2>&1 | tr '\n' ' '))"
            [ "$(ls "$v")" = error.txt ] || fail "$mode/$c: $c.mp4 holds '$(ls "$v" | tr '\n' ' ')' after truncation, want only error.txt" ;;
        rename | rewrite)
            # the new video: every file's bytes = its stat size, and they are not the old segment
            local want=360p
            [ "$c" = rename ] && want=180p
            wait_until 5 test -d "$v/$want" || fail "$mode/$c: $c.mp4 shows no $want/ 5 s after its source became another video ($(ls "$v" 2>&1 | tr '\n' ' '))"
            local f n s
            while IFS= read -r -d '' f; do
                s=$(stat -c %s "$f")
                n=$(timeout 30 cat "$f" | wc -c) || fail "$mode/$c: reading ${f#"$MNT"/} of the new video failed"
                [ "$n" = "$s" ] || fail "$mode/$c: ${f#"$MNT"/} of the new video: stat size $s, read $n bytes"
            done < <(every_file "$v")
            local old
            old=$(cat "$T/$mode-$c/segpath")
            [ ! -e "$old" ] || fail "$mode/$c: ${old#"$MNT"/}, a segment name of the old video, still exists after its source became another video"
            if [ -f "$v/360p/index.m3u8" ] && cmp -s "$(seg_of "$v")" "$T/ref/$c.ts"; then
                fail "$mode/$c: $c.mp4/$SEG still gives the old video's bytes after the source became another video"
            fi ;;
    esac
}

for mode in direct cached; do
    opts=(-o ladder=none)
    [ "$mode" = cached ] && opts+=(-o cache_passthrough=yes)
    restore_sources
    mount_hlsfs "$SRC" "$MNT" "${opts[@]}"
    for c in "${CASES[@]}"; do soft run_case "$mode" "$c"; done
    sleep 1.2  # entry and attribute timeouts (1 s)
    for c in "${CASES[@]}"; do soft check_after "$mode" "$c"; done
    timeout 10 stat "$MNT" > /dev/null || fail "$mode: the mount root does not answer after the faults"
    umount_hlsfs "$MNT"
done
pass
