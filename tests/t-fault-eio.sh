#!/usr/bin/env bash
# t-fault-eio: a source file system that answers EIO (tests/tools/eiofs.c, over a copy of the media) under
# hlsfs: a file whose moov cannot be read becomes error.txt; a file whose moov reads but whose media data
# fails lists with its planned sizes and answers EIO (never a hang, one log line naming it) for its
# segments; a healthy neighbour is served whole and exact; the mount stays up.
source "$(dirname "$0")/lib.sh"

need cc pkg-config ffmpeg python3 fusermount3 cmp

# --- eiofs ------------------------------------------------------------------------------------------------
# shellcheck disable=SC2046
cc -O2 -Wall -o "$T/eiofs" "$TESTS_DIR/tools/eiofs.c" $(pkg-config --cflags --libs fuse3) 2> "$T/cc.log" ||
    fail "building tests/tools/eiofs.c failed: $(head -n 3 "$T/cc.log" | tr '\n' ' ')"

# Unmount hlsfs before the file system under it, even when the test fails; then the usual cleanup.
EIO_MNT=$T/eio
_fault_cleanup() {
    local rc=$?
    _is_mounted "$MNT" && fusermount3 -uz "$MNT" 2>/dev/null
    _is_mounted "$EIO_MNT" && fusermount3 -uz "$EIO_MNT" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _fault_cleanup EXIT

# --- media: one video, moov first (good, bad-data) and moov last (bad-moov) ------------------------------
LOWER=$T/lower
mkdir -p "$LOWER" "$EIO_MNT"
_ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=10,noise=alls=30:allf=t" -f lavfi -i "sine=f=440:d=10" \
    -c:v libx264 -preset ultrafast -crf 30 -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k -movflags +faststart \
    "$T/fast.mp4" || fail "ffmpeg could not generate the test video"
_ff -i "$T/fast.mp4" -c copy "$T/slow.mp4" || fail "ffmpeg could not remux the test video with its moov at the end"
case $(mp4_top_boxes "$T/fast.mp4" | tr '\n' ' ') in *moov*mdat*) ;; *) fail "fast.mp4 should have its moov before mdat" ;; esac
case $(mp4_top_boxes "$T/slow.mp4" | tr '\n' ' ') in *mdat*moov*) ;; *) fail "slow.mp4 should have its moov after mdat" ;; esac
cp "$T/fast.mp4" "$LOWER/good.mp4"
cp "$T/fast.mp4" "$LOWER/bad-data.mp4"
cp "$T/slow.mp4" "$LOWER/bad-moov.mp4"

# The failing offset: 128 KiB past the end of fast.mp4's moov (the indexer's reads around the mdat header
# stay below it; nearly all media data lies beyond it). slow.mp4's moov starts far beyond it.
read -r moov_end moov_start_slow < <(python3 - "$T/fast.mp4" "$T/slow.mp4" <<'PY'
import struct, sys
def boxes(p):
    out, off = {}, 0
    data = open(p, "rb").read()
    while off + 8 <= len(data):
        size, typ = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = len(data) - off
        out[typ.decode("latin-1")] = (off, off + size)
        off += size
    return out
print(boxes(sys.argv[1])["moov"][1], boxes(sys.argv[2])["moov"][0])
PY
)
FAIL_AT=$((moov_end + 131072))
[ "$moov_start_slow" -gt "$FAIL_AT" ] || fail "slow.mp4's moov starts at $moov_start_slow, not beyond the failing offset $FAIL_AT"
[ "$(stat -c %s "$T/fast.mp4")" -gt $((FAIL_AT * 4)) ] || fail "the test video is too small for its media data to lie mostly beyond byte $FAIL_AT"

EIOFS_FAIL_OFFSET=$FAIL_AT "$T/eiofs" -f "$LOWER" "$EIO_MNT" 2> "$T/eiofs.log" < /dev/null &
EIO_PID=$!
_track_pid "$EIO_PID"
wait_until 10 _is_mounted "$EIO_MNT" || fail "eiofs did not mount: $(head -n 3 "$T/eiofs.log" | tr '\n' ' ')"

# eiofs itself does what it claims: the moov region of bad-data reads, the rest fails, good reads whole.
cmp -s "$EIO_MNT/good.mp4" "$T/fast.mp4" || fail "eiofs: good.mp4 does not read back as the file below it"
head -c "$FAIL_AT" "$EIO_MNT/bad-data.mp4" | cmp -s - <(head -c "$FAIL_AT" "$T/fast.mp4") ||
    fail "eiofs: the first $FAIL_AT bytes of bad-data.mp4 do not read back"
if cat "$EIO_MNT/bad-data.mp4" > /dev/null 2>&1; then fail "eiofs: bad-data.mp4 reads whole; it should fail past byte $FAIL_AT"; fi

EXPECT_LOG+=('^hlsfs: .*/bad-data\.mp4: ' '^hlsfs: .*/bad-moov\.mp4: ')

# Reference: hlsfs straight on the folder below, for good.mp4's bytes and bad-data.mp4's sizes.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$LOWER" "$T/mnt-ref" -o ladder=none
tree_sums "$T/mnt-ref/good.mp4" > "$T/ref-good"
# (Preview sheets are left out: their sizes need the frames, whose reads fail here; they answer EIO.)
(cd "$T/mnt-ref/bad-data.mp4" && find . -path ./thumbs -prune -o -type f -printf '%p %s\n' | sort) > "$T/ref-bad-sizes"
umount_hlsfs "$T/mnt-ref"

lines_naming() { grep -c -F -- "/$2: " "$1" || true; }

check_mount() {
    local mode=$1 log=$DAEMON_LOG
    # good.mp4: every file, the same bytes as straight from the folder below.
    tree_sums "$MNT/good.mp4" > "$T/got-good-$mode"
    diff -q "$T/ref-good" "$T/got-good-$mode" > /dev/null ||
        fail "$mode: good.mp4 through eiofs differs from the reference: $(diff "$T/ref-good" "$T/got-good-$mode" | sed -n 's/^> [0-9a-f]*  //p' | head -n 1)"

    # bad-moov.mp4: error.txt only, one log line naming it.
    local entries
    entries=$(timeout 10 ls -A "$MNT/bad-moov.mp4" 2>&1) || fail "$mode: listing bad-moov.mp4 failed: $entries"
    [ "$entries" = error.txt ] || fail "$mode: bad-moov.mp4 holds '$(tr '\n' ' ' <<<"$entries")', want only error.txt"
    local why
    why=$(timeout 10 cat "$MNT/bad-moov.mp4/error.txt") || fail "$mode: reading bad-moov.mp4/error.txt failed"
    [ -n "$why" ] || fail "$mode: bad-moov.mp4/error.txt is empty"
    [ "$(stat -c %s "$MNT/bad-moov.mp4/error.txt")" = "$(printf '%s\n' "$why" | wc -c)" ] ||
        fail "$mode: bad-moov.mp4/error.txt: stat size differs from the bytes read"
    [ "$(lines_naming "$log" bad-moov.mp4)" = 1 ] ||
        fail "$mode: want one log line naming bad-moov.mp4, got $(lines_naming "$log" bad-moov.mp4): $(grep -F /bad-moov.mp4 "$log" | tr '\n' ' ')"

    # bad-data.mp4: listed with the sizes its moov gives.
    local got
    got=$(cd "$MNT/bad-data.mp4" && timeout 10 find . -path ./thumbs -prune -o -type f -printf '%p %s\n' | sort) ||
        fail "$mode: listing bad-data.mp4 failed"
    # poster.jpg needs a decoded frame: it may be left out (with a log line) when that frame's bytes fail;
    # when it is there, it is the reference's
    local want=$T/ref-bad-sizes
    if ! grep -q '^\./poster\.jpg ' <<<"$got"; then
        grep -v '^\./poster\.jpg ' "$T/ref-bad-sizes" > "$T/ref-bad-sizes-noposter" || true
        want=$T/ref-bad-sizes-noposter
    fi
    [ "$got" = "$(cat "$want")" ] ||
        fail "$mode: bad-data.mp4 lists [$(tr '\n' ' ' <<<"$got")], want the sizes from its moov [$(tr '\n' ' ' < "$T/ref-bad-sizes")]"
    timeout 10 cat "$MNT/bad-data.mp4/master.m3u8" > /dev/null || fail "$mode: bad-data.mp4/master.m3u8 does not read"

    # Its segments: EIO within 10 s each, one log line naming the file per failed read.
    local pl s rc before after nfail=0
    pl=$(variant_playlists "$MNT/bad-data.mp4" | sed -n 1p)
    timeout 10 cat "$pl" > /dev/null || fail "$mode: $(basename "$pl") of bad-data.mp4 does not read"
    while IFS= read -r s; do
        before=$(lines_naming "$log" bad-data.mp4)
        rc=0
        timeout 10 cat "$s" > /dev/null 2> "$T/err" || rc=$?
        [ "$rc" != 124 ] || fail "$mode: reading bad-data.mp4/${s#*/bad-data.mp4/} hung (10 s) on a source that answers EIO"
        [ "$rc" != 0 ] || fail "$mode: bad-data.mp4/${s#*/bad-data.mp4/} read without an error though its media data answers EIO"
        grep -q 'Input/output error' "$T/err" || fail "$mode: reading bad-data.mp4/${s#*/bad-data.mp4/} failed with '$(head -n 1 "$T/err")', want EIO"
        nfail=$((nfail + 1))
        sleep 0.3  # background work on this file (prefetch) logs now, if it does
        after=$(lines_naming "$log" bad-data.mp4)
        [ $((after - before)) = 1 ] ||
            fail "$mode: a failed read of bad-data.mp4/${s#*/bad-data.mp4/} gave $((after - before)) log lines naming the file, want 1: $(grep -F /bad-data.mp4 "$log" | tail -n $((after - before > 0 ? after - before : 1)) | tr '\n' ' ')"
    done < <(segments_of "$pl")
    [ "$nfail" -ge 1 ] || fail "$mode: bad-data.mp4 has no segments"

    # The mount is still up and good.mp4 still whole.
    timeout 10 stat "$MNT" > /dev/null || fail "$mode: the mount root stopped answering"
    tree_sums "$MNT/good.mp4" > "$T/got-good2-$mode"
    diff -q "$T/ref-good" "$T/got-good2-$mode" > /dev/null || fail "$mode: good.mp4 changed after the failed reads"
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "$mode: hlsfs died"
}

for mode in direct cached; do
    opts=(-o ladder=none)
    [ "$mode" = cached ] && opts+=(-o cache_passthrough=yes)
    mount_hlsfs "$EIO_MNT" "$MNT" "${opts[@]}"
    soft check_mount "$mode"
    umount_hlsfs "$MNT"
done

fusermount3 -u "$EIO_MNT" || fail "fusermount3 -u of the eiofs mount failed"
wait_until 10 eval '! kill -0 "$EIO_PID" 2>/dev/null' || fail "eiofs did not exit after its unmount"
pass
