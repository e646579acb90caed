#!/usr/bin/env bash
# t-cache-replace: a source replaced by another video under the same name (written aside, then mv over it)
# while mounted with a warm cache_dir is a new identity (invariant 2): within a few seconds its playlists
# show the new durations, and every file of its tree has the size and bytes a fresh mount of the new file
# gives; no byte of the old file's cache is served, then or after a remount on the same cache.
source "$(dirname "$0")/lib.sh"

need ffmpeg sha256sum
need_hlsfs

OPTS=(-o "ladder=none,cache_passthrough=yes,segment=2")

# sizes_sums DIR: "PATH SIZE SHA256" for every file under DIR, sorted by path.
sizes_sums() {
    local dir=$1 f
    tree_sums "$dir" | while read -r sum f; do
        printf '%s %s %s\n' "$f" "$(stat -c %s "$dir/$f")" "$sum"
    done
}

x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 48k)
mkdir -p "$SRC/sub" "$T/new" "$T/ref-src/sub"
# Old: 8 s of testsrc2. New: 13 s of another picture and tone, same size and rate.
make_video "$SRC/sub/clip.mp4" -f lavfi -i testsrc2=size=320x180:rate=30:duration=8 -f lavfi -i sine=f=440:d=8 "${x264[@]}"
make_video "$SRC/other.mp4" -f lavfi -i testsrc2=size=320x180:rate=30:duration=3 -f lavfi -i sine=f=330:d=3 "${x264[@]}"
make_video "$T/new/clip.mp4" -f lavfi -i smptebars=size=320x180:rate=30:duration=13 -f lavfi -i sine=f=880:d=13 "${x264[@]}"
# cp -p: the reference copy has the new file's size and time, so its segment names carry the same version.
cp -p "$T/new/clip.mp4" "$T/ref-src/sub/clip.mp4"

# Reference for the new file: a fresh cache folder, remuxed segments not cached.
mkdir -p "$T/mnt-ref"
mount_hlsfs "$T/ref-src" "$T/mnt-ref" -o "ladder=none,cache_passthrough=no,segment=2,cache_dir=$T/cache-ref"
sizes_sums "$T/mnt-ref/sub/clip.mp4" > "$T/new.ref"
cp "$T/mnt-ref/sub/clip.mp4/master.m3u8" "$T/new.master"
pl_rel=$(playlist_uris "$T/new.master" | sed -n 1p)
[ -n "$pl_rel" ] || fail "the reference master playlist lists no variant"
cp "$T/mnt-ref/sub/clip.mp4/$pl_rel" "$T/new.m3u8"
umount_hlsfs "$T/mnt-ref"

# The mount under test, on its own cache; read the old file's whole tree (and the other file's) so the
# cache holds the old index and old segments.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}" -o "cache_dir=$CACHE"
V=$MNT/sub/clip.mp4
sizes_sums "$V" > "$T/old"
tree_sums "$MNT/other.mp4" > "$T/other-before"
[ -f "$V/$pl_rel" ] || fail "the old file has no '$pl_rel' (the new one does): test media differ in shape"
cp "$V/$pl_rel" "$T/old.m3u8"
old_extinf=$(playlist_extinfs "$T/old.m3u8" | tr '\n' ' ')
new_extinf=$(playlist_extinfs "$T/new.m3u8" | tr '\n' ' ')
[ "$old_extinf" != "$new_extinf" ] || fail "test bug: old and new files have the same durations ($old_extinf)"
# Not one segment of the new file may equal an old one, or "no old byte" could not be seen.
if awk 'NR == FNR { if ($1 ~ /\.ts$/) old[$3] = 1; next } ($1 ~ /\.ts$/) && ($3 in old) { found = 1 } END { exit !found }' \
    "$T/old" "$T/new.ref"; then
    fail "test bug: a segment of the new file is byte-identical to one of the old file"
fi

# The old playlist read again just before the replacement (its pages in the kernel, its attributes a
# moment old), and an old segment's name last looked up more than the 1 s entry timeout ago.
old_seg=$(playlist_uris "$T/old.m3u8" | sed -n 1p)
sleep 1.2
cmp -s "$V/$pl_rel" "$T/old.m3u8" || fail "$pl_rel changed before the replacement"
# Replace: the new video written aside on the same file system, then renamed over the old name.
cp -p "$T/new/clip.mp4" "$SRC/sub/.clip.mp4.tmp"
mv -f "$SRC/sub/.clip.mp4.tmp" "$SRC/sub/clip.mp4"
t0=$SECONDS

# Until the playlist shows the new durations, every read of it must be the old or the new playlist;
# once the old segment name is gone, the playlist must no longer list it (no stale page of it).
seen_new=0
while [ $((SECONDS - t0)) -le 5 ]; do
    old_gone=0
    [ -e "$V/${pl_rel%/*}/$old_seg" ] || old_gone=1
    cat "$V/$pl_rel" > "$T/pl.now" 2> "$T/pl.err" || fail "reading $pl_rel after the replacement failed: $(head -n 1 "$T/pl.err")"
    if cmp -s "$T/pl.now" "$T/new.m3u8"; then seen_new=1; break; fi
    cmp -s "$T/pl.now" "$T/old.m3u8" ||
        fail "after the replacement, $pl_rel is neither the old nor the new playlist: EXTINF $(playlist_extinfs "$T/pl.now" | tr '\n' ' ')"
    [ "$old_gone" = 0 ] ||
        fail "after the replacement the old segment name $old_seg was gone, yet $pl_rel read next still listed it"
    sleep 0.1
done
[ "$seen_new" = 1 ] ||
    fail "5 s after the replacement the playlist still shows the old durations [$old_extinf], want [$new_extinf]"
say "cache-replace: the new playlist showed after $((SECONDS - t0)) s"

# The whole tree now: the new file's sizes and bytes, nothing else.
sizes_sums "$V" > "$T/now"
diff -q "$T/new.ref" "$T/now" > /dev/null ||
    fail "after the replacement, '$(diff "$T/new.ref" "$T/now" | sed -n 's/^> \([^ ]*\) .*/\1/p' | head -n 1)' differs from a fresh mount of the new file (path size sha256: want $(diff "$T/new.ref" "$T/now" | sed -n 's/^< //p' | head -n 1), got $(diff "$T/new.ref" "$T/now" | sed -n 's/^> //p' | head -n 1))"
if awk 'NR == FNR { old[$3] = $1; next } ($1 ~ /\.ts$/) && ($3 in old) { print $1 " = old " old[$3]; found = 1 } END { exit !found }' \
    "$T/old" "$T/now" > "$T/stale"; then
    fail "after the replacement the mount serves old bytes: $(head -n 1 "$T/stale")"
fi
# The old file's segment names are no files now (another version), and no new name is an old one.
while read -r f _; do
    case $f in *.ts) ;; *) continue ;; esac
    [ ! -e "$V/$f" ] || fail "after the replacement the old segment name '$f' still exists"
    grep -q "^$f " "$T/now" && fail "the new file's segments reuse the old name '$f'"
done < "$T/old"
# The other video is untouched.
tree_sums "$MNT/other.mp4" > "$T/other-after"
diff -q "$T/other-before" "$T/other-after" > /dev/null || fail "other.mp4 changed when sub/clip.mp4 was replaced"
umount_hlsfs "$MNT"

# A remount on the same cache (which still holds the old file's entries) serves the new file too.
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}" -o "cache_dir=$CACHE"
sizes_sums "$V" > "$T/remount"
diff -q "$T/new.ref" "$T/remount" > /dev/null ||
    fail "remount on the same cache after the replacement: '$(diff "$T/new.ref" "$T/remount" | sed -n 's/^> \([^ ]*\) .*/\1/p' | head -n 1)' differs from a fresh mount of the new file"
umount_hlsfs "$MNT"

pass
