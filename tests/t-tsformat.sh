#!/usr/bin/env bash
# t-tsformat: every segment is well-formed MPEG-TS as HLS players expect (tests/tools/tscheck.js): a
# multiple of 188 bytes, 0x47 sync everywhere, PAT then PMT as packets 0 and 1, continuity counters,
# PCR before the first PES and at most 100 ms apart, an AUD opening every video PES, ADTS for AAC.
source "$(dirname "$0")/lib.sh"

need node
mount_library

segs=()
while IFS= read -r rel; do
    while IFS= read -r pl; do
        mapfile -t s < <(segments_of "$pl")
        [ "${#s[@]}" -gt 0 ] || fail "'$rel': ${pl#"$MNT"/} lists no segments"
        segs+=("${s[@]}")
    done < <(variant_playlists "$MNT/$rel")
done < <(good_videos)

# The first bytes, checked here too so a failure reads plainly without the tool.
for s in "${segs[@]}"; do
    b=$(od -An -tx1 -N 1 "$s" | tr -d ' ')
    [ "$b" = 47 ] || fail "'${s#"$MNT"/}' starts with 0x$b, not 0x47"
    size=$(stat -c %s "$s")
    [ $((size % 188)) = 0 ] || fail "'${s#"$MNT"/}' is $size bytes, not a multiple of 188"
done

if ! out=$(node "$TESTS_DIR/tools/tscheck.js" "${segs[@]}"); then
    fail "$(grep -c . <<<"$out" || true) TS problems; first: $(head -n 1 <<<"$out" | sed "s|$MNT/||")"
fi

umount_hlsfs "$MNT"
pass
