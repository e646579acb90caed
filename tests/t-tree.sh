#!/usr/bin/env bash
# t-tree: the shape of the mount: source folders are folders, each video file (any case of .mp4/.m4v/.mov)
# a folder of the same name with master.m3u8 and the <height>p variants it lists (the source's own among
# them; poster.jpg and cytube.json allowed), other files hidden, nothing writable, the source untouched.
source "$(dirname "$0")/lib.sh"

mount_library
before=$(cd "$SRC" && find . -printf '%p %s %T@ %m\n' | sort | sha256sum)

# Every source folder: its listing in the mount is its subfolders and video files, nothing else.
while IFS= read -r -d '' d; do
    rel=${d#"$SRC"}
    want=$(find "$d" -mindepth 1 -maxdepth 1 \( -type d -o -iname '*.mp4' -o -iname '*.m4v' -o -iname '*.mov' \) \
        -printf '%f\n' | sort)
    [ -d "$MNT$rel" ] || fail "source folder '${rel:-/}' is not a folder in the mount"
    got=$(ls -A "$MNT$rel" | sort)
    [ "$got" = "$want" ] || fail "listing of '${rel:-/}' is [$(tr '\n' '|' <<<"$got")], want [$(tr '\n' '|' <<<"$want")]"
done < <(find "$SRC" -type d -print0)

# Hidden files are hidden from lookup too, not just from readdir.
while IFS= read -r rel; do
    [ ! -e "$MNT/$rel" ] || fail "'$rel' (not a video) is visible in the mount"
done < <(media_hidden_list)
[ -z "$(ls -A "$MNT/empty-folder")" ] || fail "empty-folder is not empty in the mount"

# Each usable video: master.m3u8 + <height>p/, the master names <height>p/index.m3u8, and the variant holds
# index.m3u8 and exactly the segments it lists, seg-00000-VERSION.ts upwards, one VERSION for every variant.
check_video() {
    local rel=$1 v h u vd got want n listed i e iframes ver vfirst=
    local -a variants=()
    v=$MNT/$rel
    [ -d "$v" ] || fail "'$rel' is not a directory in the mount"
    h=$(media_fact "$rel" height)
    [ -f "$v/master.m3u8" ] || fail "'$rel' has no master.m3u8: $(ls -A "$v" | tr '\n' ' ')"
    # The variants are what the master lists, each <height>p/index.m3u8; the source's own is among them.
    while IFS= read -r u; do
        [[ $u =~ ^([0-9]+p)/index\.m3u8$ ]] || fail "'$rel/master.m3u8' lists '$u', want <height>p/index.m3u8"
        variants+=("${BASH_REMATCH[1]}")
    done < <(playlist_uris "$v/master.m3u8")
    [[ " ${variants[*]} " == *" ${h}p "* ]] || fail "'$rel/master.m3u8' lists [${variants[*]}], not the source's ${h}p"
    want=$(printf '%s\n' master.m3u8 "${variants[@]}" | sort | tr '\n' ' ')
    got=$(ls -A "$v" | sort | tr '\n' ' ')
    for e in "${VIDEO_EXTRAS[@]}"; do got=${got/"$e "/}; done
    [ "$got" = "$want" ] || fail "'$rel' holds [$got] (besides ${VIDEO_EXTRAS[*]}), want [$want]"
    if [ -e "$v/poster.jpg" ]; then
        [ "$(od -An -tx1 -N 3 "$v/poster.jpg" | tr -d ' ')" = ffd8ff ] || fail "'$rel/poster.jpg' is not a JPEG"
    fi
    for vd in "${variants[@]}"; do
        [ -d "$v/$vd" ] || fail "'$rel/$vd' is not a directory"
        n=$(playlist_uris "$v/$vd/index.m3u8" | wc -l)
        [ "$n" -gt 0 ] || fail "'$rel/$vd/index.m3u8' lists no segments"
        # the passthrough variant also holds the I-frame playlist the master names
        iframes=
        grep -q "^#EXT-X-I-FRAME-STREAM-INF:.*URI=\"$vd/iframes.m3u8\"" "$v/master.m3u8" && iframes=iframes.m3u8
        ver=$(segment_version "$v/$vd/index.m3u8")
        [ -z "${vfirst:-}" ] || [ "$ver" = "$vfirst" ] || fail "'$rel/$vd': segment version $ver, but $vfirst in another variant"
        vfirst=$ver
        want=$( { echo index.m3u8 $iframes | tr ' ' '\n'; for ((i = 0; i < n; i++)); do printf 'seg-%05d-%s.ts\n' "$i" "$ver"; done; } | sed '/^$/d' | sort | tr '\n' ' ')
        got=$(ls -A "$v/$vd" | sort | tr '\n' ' ')
        [ "$got" = "$want" ] || fail "'$rel/$vd' holds [$got], want [$want]"
        listed=$( { echo index.m3u8 $iframes | tr ' ' '\n'; playlist_uris "$v/$vd/index.m3u8"; } | sed '/^$/d' | sort | tr '\n' ' ')
        [ "$listed" = "$want" ] || fail "'$rel/$vd/index.m3u8' lists [$listed], want the folder's [$want]"
        [ ! -e "$v/$vd/seg-$(printf %05d "$n")-$ver.ts" ] || fail "'$rel/$vd': a segment past the end exists"
        # another version of a listed name is no file
        [ ! -e "$v/$vd/seg-00000-$(printf %08x $((0x$ver ^ 1))).ts" ] || fail "'$rel/$vd': a segment of another version exists"
    done
    [ ! -e "$v/nonexistent" ] || fail "'$rel/nonexistent' exists"
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

# Nothing in the mount is writable or creatable.
while IFS= read -r -d '' f; do
    case $(stat -c %A "$f") in *w*) fail "'${f#"$MNT"/}' has a write permission bit: $(stat -c %A "$f")" ;; esac
done < <(find "$MNT" -print0)
seg=$(segment_path "$MNT/bframes.mp4/$(media_fact bframes.mp4 height)p/index.m3u8" 0)
if (printf x >> "$seg") 2>/dev/null; then fail "appending to a segment succeeded"; fi
if (: > "$MNT/new-file") 2>/dev/null; then fail "creating a file in the mount succeeded"; fi
if mkdir "$MNT/new-dir" 2>/dev/null; then fail "mkdir in the mount succeeded"; fi
if rm -f "$seg" 2>/dev/null && [ ! -e "$seg" ]; then fail "a segment could be removed"; fi
if mv "$MNT/bframes.mp4" "$MNT/renamed.mp4" 2>/dev/null; then fail "renaming in the mount succeeded"; fi

# Read everything; the source tree is unchanged afterwards (names, sizes, mtimes, modes).
read_all "$MNT"
after=$(cd "$SRC" && find . -printf '%p %s %T@ %m\n' | sort | sha256sum)
[ "$before" = "$after" ] || fail "the source tree changed while mounted"

umount_hlsfs "$MNT"
pass
