#!/usr/bin/env bash
# t-duration: EXTINF tells the truth: the sum of EXTINF equals the source's duration within one frame, each
# EXTINF equals its segment's presentation span (from the TS timestamps) within 2 ms, and the running sum
# of EXTINF stays within one frame of each segment's start time (Apple 8.1: no accumulated drift).
source "$(dirname "$0")/lib.sh"

need ffprobe
mount_library

check_video() {
    local rel=$1 fd ft srcdur pl name sum first acc i vs ve span at
    local -a durs segs
    fd=$(frame_dur "$rel")
    ft=$(awk -v f="$fd" 'BEGIN { printf "%d", f * 90000 + 0.5 }')
    srcdur=$(media_fact "$rel" duration)
    while IFS= read -r pl; do
        name=${pl#"$MNT"/}
        sum=$(playlist_extinfs "$pl" | awk '{ s += $1 } END { printf "%.6f", s }')
        ftrue "($sum - $srcdur) <= $fd && ($srcdur - $sum) <= $fd" ||
            fail "'$name': EXTINF sum $sum s, source duration $srcdur s (more than one frame, $fd s, apart)"

        mapfile -t durs < <(playlist_extinfs "$pl")
        mapfile -t segs < <(segments_of "$pl")
        [ "${#durs[@]}" = "${#segs[@]}" ] || fail "'$name': ${#durs[@]} EXTINF for ${#segs[@]} URIs"
        first= acc=0
        for i in "${!segs[@]}"; do
            read -r _ vs ve _ < <(segment_times "${segs[$i]}" "$ft")
            [ -n "$first" ] || first=$vs
            span=$(fcalc "($ve - $vs) / 90000")
            ftrue "(${durs[$i]} - $span) <= 0.002 && ($span - ${durs[$i]}) <= 0.002" ||
                fail "'${segs[$i]#"$MNT"/}': EXTINF ${durs[$i]} but its video frames span $span s (first PTS to last PTS + frame duration)"
            at=$(fcalc "($vs - $first) / 90000")
            ftrue "($acc - $at) <= $fd && ($at - $acc) <= $fd" ||
                fail "'${segs[$i]#"$MNT"/}' starts at $at s, the EXTINF before it add up to $acc s"
            acc=$(fcalc "$acc + ${durs[$i]}")
        done
    done < <(variant_playlists "$MNT/$rel")
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

umount_hlsfs "$MNT"
pass
