#!/usr/bin/env bash
# t-transcode: a source browsers cannot play in TS (HEVC) is served as H.264 variants: no error.txt, no HEVC
# offered; the master plays without a message; each variant exists and each of its segments decodes alone
# without a message as h264; every source frame, exact sizes, well-formed TS, and the same bytes from two
# mounts (invariant 2 holds for transcoded variants too).
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe node
setup_library
rel=$(media_transcode_list "$MEDIA" | sed -n 1p)
# media.sh makes hevc.mp4 only when ffmpeg can encode HEVC: without it there is nothing to check, which is
# a failure to fix on this machine, not a pass.
if [ -z "$rel" ]; then
    if ffmpeg -hide_banner -encoders 2>/dev/null | grep ' libx265 ' > /dev/null; then
        fail "ffmpeg has libx265, yet the media library holds no HEVC source (tests/media.sh did not make hevc.mp4)"
    fi
    fail "ffmpeg here has no libx265 encoder, so tests/media.sh made no HEVC source and transcoding goes untested (install an ffmpeg with libx265)"
fi
# Served, the HEVC source gives no log line (setup_library allows one naming it for the other tests).
keep=()
for p in "${EXPECT_LOG[@]}"; do [[ $p == *"$(ere_quote "$rel")" ]] || keep+=("$p"); done
EXPECT_LOG=("${keep[@]}")
mkdir -p "$T/mnt-b"
mount_hlsfs "$SRC" "$MNT"
mount_hlsfs "$SRC" "$T/mnt-b"
v=$MNT/$rel

if [ -f "$v/error.txt" ]; then
    fail "'$rel' is refused instead of served as H.264: error.txt says: $(head -c 300 "$v/error.txt" | tr '\n' ' ')"
fi
[ -f "$v/master.m3u8" ] || fail "'$rel' has no master.m3u8: it holds [$(ls -A "$v" | tr '\n' ' ')]"
out=$(timeout 300 ffmpeg -nostdin -v error -i "$v/master.m3u8" -map 0 -f null - 2>&1) ||
    fail "ffmpeg cannot play '$rel/master.m3u8': $(sed -n 1p <<<"$out")"
[ -z "$out" ] || fail "ffmpeg playing '$rel/master.m3u8' printed: $(sed -n 1p <<<"$out")"
want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$SRC/$rel")
grep -q 'avc1\.' "$v/master.m3u8" || fail "'$rel/master.m3u8' lists no H.264 (avc1) variant"
grep -qi 'hvc1\|hev1' "$v/master.m3u8" && fail "'$rel/master.m3u8' offers HEVC in TS, which browsers cannot play"

mapfile -t pls < <(variant_playlists "$v")
[ "${#pls[@]}" -gt 0 ] || fail "'$rel/master.m3u8' lists no variant"
segs=()
for pl in "${pls[@]}"; do
    [ -f "$pl" ] || fail "'$rel/master.m3u8' lists '${pl#"$v"/}', which is not in the mount"
    mapfile -t vsegs < <(segments_of "$pl")
    [ "${#vsegs[@]}" -gt 0 ] || fail "'${pl#"$MNT"/}' lists no segment"
    for s in "${vsegs[@]}"; do
        [ -f "$s" ] || fail "'${pl#"$MNT"/}' lists '$(basename "$s")', which is not in the mount"
        out=$(ffmpeg -nostdin -v error -i "$s" -f null - 2>&1) || fail "ffmpeg cannot decode '${s#"$MNT"/}' on its own: $(sed -n 1p <<<"$out")"
        [ -z "$out" ] || fail "ffmpeg decoding '${s#"$MNT"/}' on its own printed: $(sed -n 1p <<<"$out")"
        codec=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$s" | sed "/^$/d" | sed -n 1p)
        [ "$codec" = h264 ] || fail "'${s#"$MNT"/}' carries video '${codec:-none}', want h264"
        [ "$(wc -c < "$s")" = "$(stat -c %s "$s")" ] || fail "'${s#"$MNT"/}': stat size differs from the bytes read"
        segs+=("$s")
    done
    got=$(ffmpeg -nostdin -v error -i "$pl" -map 0:v:0 -fps_mode passthrough -f framemd5 - | grep -vc '^#' || true)
    [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}' decodes to $got frames, the source has $want"
done

tscheck=$(node "$TESTS_DIR/tools/tscheck.js" "${segs[@]}") || fail "TS problems: $(sed -n 1p <<<"$tscheck" | sed "s|$MNT/||")"

# The second mount encodes on its own: it must give the same bytes.
a=$(cd "$v" && find . -type f -print0 | sort -z | xargs -0 sha256sum) || fail "reading '$rel' failed"
b=$(cd "$T/mnt-b/$rel" && find . -type f -print0 | sort -rz | xargs -0 sha256sum | sort -k2) || fail "reading '$rel' on the second mount failed"
[ "$a" = "$b" ] || fail "two mounts transcode '$rel' to different bytes: $(diff <(echo "$a") <(echo "$b") | sed -n 's/^< [0-9a-f]*  //p' | tr '\n' ' ')"

umount_hlsfs "$T/mnt-b"
umount_hlsfs "$MNT"
pass
