#!/usr/bin/env bash
# t-transcode: a source browsers cannot play in TS (HEVC) is either refused with an error.txt saying it
# needs transcoding, or (where hlsfs transcodes) served as H.264 that ffmpeg plays without a message, with
# every source frame, exact sizes, well-formed TS, and the same bytes from two mounts (invariant 2 holds for
# transcoded variants too).
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe node
setup_library
rel=$(media_transcode_list "$MEDIA" | sed -n 1p)
[ -n "$rel" ] || fail "ffmpeg here has no libx265: no HEVC source to test with"
mkdir -p "$T/mnt-b"
mount_hlsfs "$SRC" "$MNT"
mount_hlsfs "$SRC" "$T/mnt-b"
v=$MNT/$rel

if [ -f "$v/error.txt" ]; then
    got=$(ls -A "$v" | tr '\n' ' ')
    [ "$got" = "error.txt " ] || fail "'$rel' holds [$got]: error.txt must be alone"
    text=$(cat "$v/error.txt")
    [ "$(grep -c . "$v/error.txt" || true)" = 1 ] || fail "'$rel/error.txt' is not one line: $(tr '\n' '|' < "$v/error.txt")"
    [[ ${text,,} == *transcod* ]] || fail "'$rel/error.txt' should say the HEVC file needs transcoding: '$text'"
    say "t-transcode: $rel is refused: $text"
    umount_hlsfs "$T/mnt-b"
    umount_hlsfs "$MNT"
    pass
fi

[ -f "$v/master.m3u8" ] || fail "'$rel' has neither error.txt nor master.m3u8: $(ls -A "$v" | tr '\n' ' ')"
out=$(timeout 300 ffmpeg -nostdin -v error -i "$v/master.m3u8" -map 0 -f null - 2>&1) ||
    fail "ffmpeg cannot play '$rel/master.m3u8': $(sed -n 1p <<<"$out")"
[ -z "$out" ] || fail "ffmpeg playing '$rel/master.m3u8' printed: $(sed -n 1p <<<"$out")"
want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$SRC/$rel")
grep -q 'avc1\.' "$v/master.m3u8" || fail "'$rel/master.m3u8' lists no H.264 (avc1) variant"
grep -qi 'hvc1\|hev1' "$v/master.m3u8" && fail "'$rel/master.m3u8' offers HEVC in TS, which browsers cannot play"

segs=()
while IFS= read -r pl; do
    codec=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$(segments_of "$pl" | sed -n 1p)" | sed "/^$/d" | sed -n 1p)
    [ "$codec" = h264 ] || fail "'${pl#"$MNT"/}': segments carry $codec, want h264"
    got=$(ffmpeg -nostdin -v error -i "$pl" -map 0:v:0 -fps_mode passthrough -f framemd5 - | grep -vc '^#' || true)
    [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}' decodes to $got frames, the source has $want"
    while IFS= read -r s; do
        segs+=("$s")
        [ "$(wc -c < "$s")" = "$(stat -c %s "$s")" ] || fail "'${s#"$MNT"/}': stat size differs from the bytes read"
    done < <(segments_of "$pl")
done < <(variant_playlists "$v")

tscheck=$(node "$TESTS_DIR/tools/tscheck.js" "${segs[@]}") || fail "TS problems: $(sed -n 1p <<<"$tscheck" | sed "s|$MNT/||")"

# The second mount encodes on its own: it must give the same bytes.
a=$(cd "$v" && find . -type f -print0 | sort -z | xargs -0 sha256sum) || fail "reading '$rel' failed"
b=$(cd "$T/mnt-b/$rel" && find . -type f -print0 | sort -rz | xargs -0 sha256sum | sort -k2) || fail "reading '$rel' on the second mount failed"
[ "$a" = "$b" ] || fail "two mounts transcode '$rel' to different bytes: $(diff <(echo "$a") <(echo "$b") | sed -n 's/^< [0-9a-f]*  //p' | tr '\n' ' ')"

umount_hlsfs "$T/mnt-b"
umount_hlsfs "$MNT"
pass
