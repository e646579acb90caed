#!/usr/bin/env bash
# t-continuity: every segment opens with a keyframe, and timestamps run on across segments without gap
# or overlap: the end of segment N (last PTS + duration) is the first PTS of N+1 within half a frame, for
# video and for audio.
source "$(dirname "$0")/lib.sh"

need ffprobe
mount_library

check_video() {
    local rel=$1 ft pl i pve pae pa_dur seg key vs ve as ae nv ad name gap
    ft=$(awk -v n="$(media_fact "$rel" fps_num)" -v d="$(media_fact "$rel" fps_den)" 'BEGIN { printf "%d", 90000 * d / n + 0.5 }')
    while IFS= read -r pl; do
        i=0 pve= pae= pa_dur=
        while IFS= read -r seg; do
            read -r key vs ve as ae nv ad < <(segment_times "$seg" "$ft")
            name=${seg#"$MNT"/}
            [ "$nv" -gt 0 ] || fail "'$name' holds no video packet"
            [ "$key" = 1 ] || fail "'$name': the first video packet is not a keyframe"
            if [ -n "$pve" ]; then
                gap=$((vs - pve))
                [ $((2 * ${gap#-})) -le "$ft" ] ||
                    fail "'$name': video starts at PTS $vs, previous segment ended at $pve ($gap ticks of 90 kHz; a frame is $ft)"
            fi
            if [ "$as" != - ] && [ -n "$pae" ] && [ "$pae" != - ]; then
                gap=$((as - pae))
                [ $((2 * ${gap#-})) -le "$pa_dur" ] ||
                    fail "'$name': audio starts at PTS $as, previous segment's audio ended at $pae ($gap ticks; an audio frame is $pa_dur)"
            fi
            if [ -n "$(media_fact "$rel" acodec)" ] && [ "$as" = - ]; then
                # a segment may lack audio only if the source has none
                fail "'$name' holds no audio packet though the source has audio"
            fi
            pve=$ve pae=$ae pa_dur=$ad
            i=$((i + 1))
        done < <(segments_of "$pl")
        [ "$i" -gt 0 ] || fail "'${pl#"$MNT"/}' lists no segments"
    done < <(variant_playlists "$MNT/$rel")
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

umount_hlsfs "$MNT"
pass
