# tests/remote-lib.sh: sourced (after lib.sh) by the remote tests that compare a remote tree with a local
# mount of the same files. VIDEOS holds the video folders to compare, relative to a mount's root.

# video_sums DIR: "SHA256  ./PATH" for every file under DIR but cytube.json, sorted; a read error fails.
# Segment names carry the version of the source's identity, which differs between a remote object (its
# ETag) and a local copy (its mtime): the version is cut out of names and playlists ("seg-00000.ts"), so
# that what is compared is every byte else.
video_sums() {
    local dir=$1 err=$T/.vsums.err f
    (
        cd "$dir" || exit 1
        find . -type f ! -name cytube.json -print0 | sort -z | while IFS= read -r -d '' f; do
            case $f in
                *.m3u8) printf '%s  %s\n' "$(unversion < "$f" | sha256sum | cut -d' ' -f1)" "$f" ;;
                *) printf '%s  %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$f" ;;
            esac || exit 1
        done
    ) 2> "$err" | unversion
    [ ! -s "$err" ] || fail "reading through the mount failed: $(grep -m1 . "$err" | sed "s|$dir/||")"
}

# local_reference DIR OPTIONS: mounts DIR (local files) with OPTIONS and keeps the sums of every video of
# VIDEOS in $T/local-N.sums.
local_reference() {
    local dir=$1 opts=$2 v i=0
    mkdir -p "$T/mnt-local"
    mount_hlsfs "$dir" "$T/mnt-local" -o "$opts"
    for v in "${VIDEOS[@]}"; do
        i=$((i + 1))
        video_sums "$T/mnt-local/$v" > "$T/local-$i.sums"
        grep -q '\.ts$' "$T/local-$i.sums" || fail "the local mount shows no segments for '$v'"
    done
    umount_hlsfs "$T/mnt-local"
}

# same_as_local MNT WHEN: every file of every video of VIDEOS equals the local mount's.
same_as_local() {
    local m=$1 when=$2 v i=0 f
    for v in "${VIDEOS[@]}"; do
        i=$((i + 1))
        video_sums "$m/$v" > "$T/remote-$i.sums"
        if ! diff -q "$T/local-$i.sums" "$T/remote-$i.sums" > /dev/null; then
            f=$(diff "$T/local-$i.sums" "$T/remote-$i.sums" | sed -n 's/^[<>] [0-9a-f]*  \.\///p' | sed -n 1p || true)
            fail "$when: '$v/$f' differs from (or is missing in) the local mount of the same files"
        fi
    done
}
