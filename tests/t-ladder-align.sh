#!/usr/bin/env bash
# t-ladder-align: every variant cuts at the same times (DESIGN invariant 3): segment N of each variant,
# passthrough (with B-frames) and transcoded alike, starts at the same video and audio PTS, and within each
# variant the timestamps of N+1 continue from N without gap or overlap.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300

need ffmpeg ffprobe jq python3
src_h480
src_hevc
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER"

# check_video REL: all variants of REL have the same number of segments; segment N starts at the same
# video PTS in every variant (within one frame; the passthrough's B-frames and the rungs' P-only streams
# alike) and at the same audio PTS; within each variant, video and audio of N+1 start where N ended
# (within half a frame), each segment opens on a keyframe, and the video frames add up to the source's.
check_video() {
    local rel=$1 v=$MNT/$1
    local _ fn fd frames ft
    read -r _ _ _ _ fn fd frames _ < <(video_facts "$SRC/$rel")
    ft=$(awk -v n="$fn" -v d="$fd" 'BEGIN { printf "%d", 90000 * d / n + 0.5 }')
    video_dir_ok "$rel"
    local pl name ref_name='' ref_n='' i key vs ve as ae nv ad pve pae pad total
    local -a ref_vs=() ref_as=()
    while IFS= read -r pl; do
        name=${pl#"$MNT"/}
        name=${name%/index.m3u8}
        i=0 pve='' pae='' pad='' total=0
        while IFS= read -r seg; do
            read -r key vs ve as ae nv ad < <(segment_times "$seg" "$ft")
            [ "$nv" -gt 0 ] || fail "'$name' segment $i holds no video"
            [ "$key" = 1 ] || fail "'$name' segment $i does not open on a keyframe"
            total=$((total + nv))
            if [ -z "$ref_name" ]; then
                ref_vs[i]=$vs ref_as[i]=$as
            else
                [ -n "${ref_vs[i]:-}" ] || fail "'$name' has a segment $i, '$ref_name' has not"
                local d=$((vs - ref_vs[i]))
                [ "${d#-}" -lt "$ft" ] ||
                    fail "segment $i starts at video PTS $vs in '$name' but ${ref_vs[i]} in '$ref_name' ($d ticks of 90 kHz; a frame is $ft)"
                [ "$as" = "${ref_as[i]}" ] ||
                    fail "segment $i starts at audio PTS $as in '$name' but ${ref_as[i]} in '$ref_name'"
            fi
            if [ -n "$pve" ]; then
                local gap=$((vs - pve))
                [ $((2 * ${gap#-})) -le "$ft" ] ||
                    fail "'$name' segment $i: video starts at PTS $vs, segment $((i - 1)) ended at $pve ($gap ticks; a frame is $ft)"
                if [ "$as" != - ] && [ "$pae" != - ]; then
                    gap=$((as - pae))
                    [ $((2 * ${gap#-})) -le "$pad" ] ||
                        fail "'$name' segment $i: audio starts at PTS $as, segment $((i - 1)) ended at $pae ($gap ticks; an audio frame is $pad)"
                fi
            fi
            pve=$ve pae=$ae pad=$ad
            i=$((i + 1))
        done < <(segments_of "$pl")
        [ "$i" -gt 1 ] || fail "'$name' has $i segments; the test needs at least 2"
        [ "$total" = "$frames" ] || fail "'$name' segments hold $total video frames, the source $frames"
        if [ -z "$ref_name" ]; then
            ref_name=$name ref_n=$i
        else
            [ "$i" = "$ref_n" ] || fail "'$name' has $i segments, '$ref_name' $ref_n"
        fi
    done < <(variant_playlists "$v")
    [ "$(variant_playlists "$v" | wc -l)" -ge 2 ] || fail "'$rel' has fewer than 2 variants (ladder $LADDER)"
}

soft check_video h480.mp4
soft check_video hevc.mp4

umount_hlsfs "$MNT"
pass
