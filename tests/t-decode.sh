#!/usr/bin/env bash
# t-decode: ffmpeg plays every video's master playlist through the mount without a single message; every
# variant decodes to as many pictures as the source and carries every source audio frame once; the
# passthrough variant's pictures are exactly the source's (same order, same pixels).
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe
mount_library

check_video() {
    local rel=$1 m out want got first pl want_a
    m=$MNT/$rel/master.m3u8
    out=$(timeout 120 ffmpeg -nostdin -v error -i "$m" -map 0 -f null - 2>&1) ||
        fail "ffmpeg -i '$rel/master.m3u8' -map 0 -f null - failed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"
    [ -z "$out" ] || fail "ffmpeg decoding '$rel/master.m3u8' printed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"

    want=$(media_fact "$rel" frames)
    frame_hashes "$SRC/$rel" > "$T/src.md5"
    [ "$(wc -l < "$T/src.md5")" = "$want" ] || fail "test bug: source '$rel' decoded to $(wc -l < "$T/src.md5") frames, ffprobe counted $want"
    while IFS= read -r pl; do
        frame_hashes "$pl" > "$T/hls.md5"
        got=$(wc -l < "$T/hls.md5")
        [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': decodes to $got video frames, the source to $want"
        if [ "$pl" = "$(passthrough_playlist "$MNT/$rel" "$rel")" ] && ! cmp -s "$T/src.md5" "$T/hls.md5"; then
            first=$(cmp "$T/src.md5" "$T/hls.md5" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p' || true)
            fail "'${pl#"$MNT"/}': decoded picture $first differs from the source's (passthrough must not alter or reorder frames)"
        fi
        if [ -n "$(media_fact "$rel" acodec)" ]; then
            want_a=$(audio_packets "$SRC/$rel")
            got=$(audio_packets "$pl")
            [ "$got" = "$want_a" ] || fail "'${pl#"$MNT"/}': carries ${got:-no} audio frames, the source $want_a"
        fi
    done < <(variant_playlists "$MNT/$rel")
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

umount_hlsfs "$MNT"
pass
