#!/usr/bin/env bash
# t-srcchange: a source file replaced while mounted never yields wrong bytes: reading a segment planned from
# the old file either fails (EIO, or ENOENT for a segment the new file does not have) or returns exactly
# what the old or the new file gives; a failure is logged naming the file; the mount stays up.
source "$(dirname "$0")/lib.sh"

setup_library
EXPECT_LOG+=("^hlsfs: .*faststart\\.mp4")

# Reference bytes of every segment of faststart.mp4, before (old) and after (new) the change, each from
# its own mount and cache.
mkdir -p "$T/old" "$T/new" "$T/mnt-ref"
mount_hlsfs "$SRC" "$T/mnt-ref"
cp -r "$T/mnt-ref/faststart.mp4/." "$T/old/" || fail "copying faststart.mp4 out of the mount failed"
umount_hlsfs "$T/mnt-ref"

mount_hlsfs "$SRC" "$MNT"
log=$DAEMON_LOG
pl=$(variant_playlists "$MNT/faststart.mp4")
mapfile -t segs < <(segments_of "$pl")
[ "${#segs[@]}" -ge 2 ] || fail "faststart.mp4 has ${#segs[@]} segments, want several"
# Read the first segment so the file is indexed and open; leave the rest for after the change.
cat "${segs[0]}" > /dev/null

# Replace the source in place (same inode, same mtime, another valid video): a re-encode copied over it.
mtime=$(stat -c %Y "$SRC/faststart.mp4")
cat "$SRC/LOUD.MP4" > "$SRC/faststart.mp4"
touch -d "@$mtime" "$SRC/faststart.mp4"

mkdir -p "$T/mnt-new"
mount_hlsfs "$SRC" "$T/mnt-new"
cp -r "$T/mnt-new/faststart.mp4/." "$T/new/" 2>/dev/null || true
umount_hlsfs "$T/mnt-new"

errors=0
for s in "${segs[@]:1}"; do
    rel=${s#"$MNT/faststart.mp4/"}
    rc=0
    timeout 20 cat "$s" > "$T/got" 2> "$T/err" || rc=$?
    case $rc in
        0)
            cmp -s "$T/got" "$T/old/$rel" && continue
            [ -f "$T/new/$rel" ] && cmp -s "$T/got" "$T/new/$rel" && continue
            fail "after the source changed, faststart.mp4/$rel read without error but matches neither the old nor the new file" ;;
        124) fail "reading faststart.mp4/$rel hung after the source changed" ;;
        *)
            if grep -q 'Input/output error' "$T/err"; then
                errors=$((errors + 1))
            elif grep -q 'No such file' "$T/err" && [ ! -e "$T/new/$rel" ]; then
                : # the new file has no such segment
            else
                fail "reading faststart.mp4/$rel after the change failed with: $(cat "$T/err")"
            fi ;;
    esac
done
if [ "$errors" -gt 0 ]; then
    grep -q 'faststart\.mp4' "$log" || fail "$errors segment reads failed after the source changed, but the daemon logged nothing naming the file"
fi
say "srcchange: $errors of $((${#segs[@]} - 1)) reads failed with EIO, the others matched old or new bytes"

timeout 10 cat "$MNT/bframes.mp4/master.m3u8" > /dev/null || fail "the mount stopped answering after a source changed"
umount_hlsfs "$MNT"
pass
