#!/usr/bin/env bash
# t-ranges: a read at any offset returns the same bytes as that slice of a whole read: offsets on and
# around 188-byte packet edges, 4 KiB pages and 128 KiB FUSE reads, random ones, the last byte, and past
# the end. Slices are read from a fresh mount before anything else touches the file, and compared with a
# whole read through a second mount (its own page cache), so the daemon really serves each offset.
source "$(dirname "$0")/lib.sh"

setup_library
mkdir -p "$T/mnt-b"
mount_hlsfs "$SRC" "$MNT"
mount_hlsfs "$SRC" "$T/mnt-b"

# Files to probe: for each video its master, media playlist, first and largest segment.
files=()
while IFS= read -r rel; do
    pl=$(variant_playlists "$MNT/$rel" | sed -n 1p)
    first=$(segments_of "$pl" | sed -n 1p)
    big=$(segments_of "$pl" | while IFS= read -r s; do printf '%s %s\n' "$(stat -c %s "$s")" "$s"; done |
        sort -n | tail -n 1 | cut -d' ' -f2-)
    files+=("$MNT/$rel/master.m3u8" "$pl" "$first")
    [ "$big" = "$first" ] || files+=("$big")
done < <(good_videos)
rel=$(bad_videos | sed -n 1p)
files+=("$MNT/$rel/error.txt")

RANDOM=4242 # the same offsets every run, so a failure reproduces
k=0
for f in "${files[@]}"; do
    size=$(stat -c %s "$f")
    offs=(0 1 187 188 189 $((188 * 7 + 5)) 4095 4096 65535 131071 131072 131073 $((2 * 131072 - 100))
        $((3 * 131072 + 188)) $((size - 188)) $((size - 1)) "$size" $((size + 4096)))
    for _ in 1 2 3 4 5; do offs+=($(( (RANDOM * 32768 + RANDOM) % (size + 1) ))); done
    rel=${f#"$MNT"/}
    mapfile -t offs < <(printf '%s\n' "${offs[@]}" | awk -v s="$size" '$1 >= 0 && $1 <= s + 4096' | sort -un)
    for off in "${offs[@]}"; do
        for count in 1 4097 $((131072 + 7)); do
            k=$((k + 1))
            slice "$f" "$off" "$count" > "$T/part.$k" || fail "dd of '$rel' at offset $off count $count failed"
            printf '%s\t%s\t%s\t%s\n' "$rel" "$off" "$count" "$k" >> "$T/parts"
        done
    done
done

# Whole reads through the second mount; every slice must match.
while IFS=$'\t' read -r rel off count k; do
    whole=$T/whole/$rel
    if [ ! -f "$whole" ]; then
        mkdir -p "$(dirname "$whole")"
        cat "$T/mnt-b/$rel" > "$whole" || fail "reading '$rel' whole failed"
        [ "$(stat -c %s "$whole")" = "$(stat -c %s "$MNT/$rel")" ] || fail "'$rel': whole read is $(stat -c %s "$whole") bytes, stat $(stat -c %s "$MNT/$rel")"
    fi
    if ! slice "$whole" "$off" "$count" | cmp -s - "$T/part.$k"; then
        fail "'$rel': $count bytes at offset $off differ from the whole read (reproduce: dd if=MNT/$rel iflag=skip_bytes,count_bytes skip=$off count=$count)"
    fi
done < "$T/parts"

# And the whole file read at odd block sizes through the first mount, now that its cache is warm in parts.
for f in "${files[@]}"; do
    rel=${f#"$MNT"/}
    dd if="$f" bs=1001 status=none | cmp -s - "$T/whole/$rel" || fail "'$rel': reading with bs=1001 gives different bytes"
done

umount_hlsfs "$T/mnt-b"
umount_hlsfs "$MNT"
pass
