#!/usr/bin/env bash
# t-gop10: a source whose keyframes are 10 s apart (longer than the 6 s target) gets ~10 s segments, no
# empty or tiny segment, and a TARGETDURATION that covers them; every segment still starts on a keyframe.
source "$(dirname "$0")/lib.sh"

need ffprobe
mount_library

rel=gop10.mp4
pl=$(variant_playlists "$MNT/$rel")
# the fixture: keyframes every 10 s
gop=$(media_fact "$rel" keyframes | awk 'NR > 1 { d = $1 - p; if (m == 0 || d < m) m = d } { p = $1 } END { print m }')
ftrue "$gop >= 9.9" || fail "test bug: $rel has a keyframe interval of $gop s"

td=$(playlist_tag "$pl" EXT-X-TARGETDURATION)
[ -n "$td" ] && [ "$td" -ge 10 ] || fail "'$rel': TARGETDURATION ${td:-missing} is below the 10 s GOP"

mapfile -t durs < <(playlist_extinfs "$pl")
mapfile -t segs < <(segments_of "$pl")
nk=$(media_fact "$rel" keyframes | wc -l)
[ "${#segs[@]}" = "$nk" ] || fail "'$rel': ${#segs[@]} segments [${durs[*]}] for $nk keyframes 10 s apart (one segment per GOP expected)"
last=$((${#durs[@]} - 1))
for i in "${!durs[@]}"; do
    ftrue "${durs[$i]} > 0" || fail "'$rel': segment $i has EXTINF ${durs[$i]}"
    if [ "$i" -lt "$last" ]; then
        ftrue "${durs[$i]} >= $gop - 0.002" || fail "'$rel': segment $i lasts ${durs[$i]} s, shorter than the ${gop} s GOP"
    fi
    read -r key _ _ _ _ nv _ < <(segment_times "${segs[$i]}" 3000)
    [ "$nv" -gt 0 ] || fail "'${segs[$i]#"$MNT"/}' holds no video"
    [ "$key" = 1 ] || fail "'${segs[$i]#"$MNT"/}' does not start with a keyframe"
done
check_plan "$pl" "$rel" 6

umount_hlsfs "$MNT"
pass
