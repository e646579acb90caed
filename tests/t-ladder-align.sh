#!/usr/bin/env bash
# t-ladder-align: every variant cuts at the same times (DESIGN invariant 3): segment N of each variant,
# passthrough (with B-frames) and transcoded alike, starts at the same video and audio PTS, and within each
# variant the timestamps of N+1 continue from N without gap or overlap. A transcode-only source with one
# keyframe in 20 s is cut between frames into segments of about the target: every picture is shown where
# the source shows it, and the segments are the same bytes whichever order they are made in.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300

need ffmpeg ffprobe jq python3
src_h480
src_hevc
src_longgop
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
soft check_video longgop.mp4

# The long GOP: segments near the 6 s target, not one of 20 s; every picture where the source has it (a
# frame out of order at a cut would be tens of dB off).
check_longgop() {
    local v=$MNT/longgop.mp4 pl worst
    pl=$(variant_playlists "$v" | head -n 1)
    [ "$(segments_of "$pl" | wc -l)" -ge 3 ] || fail "longgop.mp4: $(segments_of "$pl" | wc -l) segments, want 3 or more (its GOP cut)"
    [ "$(playlist_tag "$pl" EXT-X-TARGETDURATION)" -le 7 ] ||
        fail "longgop.mp4: target duration $(playlist_tag "$pl" EXT-X-TARGETDURATION) s: its GOP was not cut"
    ffmpeg -nostdin -v error -i "$pl" -i "$SRC/longgop.mp4" -lavfi \
        "[1:v][0:v]scale2ref[b][a];[b]format=yuv420p,setpts=PTS-STARTPTS[b2];[a]format=yuv420p,setpts=PTS-STARTPTS[a2];[a2][b2]psnr=stats_file=$T/psnr.log" \
        -f null - || fail "longgop.mp4: ffmpeg could not compare its pictures with the source's"
    worst=$(sed -n 's/.*psnr_avg:\([0-9.inf]*\).*/\1/p' "$T/psnr.log" | sort -g | sed -n 1p)
    awk -v w="$worst" 'BEGIN { exit !(w == "inf" || w >= 30) }' ||
        fail "'${pl#"$MNT"/}': a picture is $worst dB from the source's (shown out of order at a cut?)"
}
soft check_longgop
tree_sums "$MNT/longgop.mp4" > "$T/sums-1"
umount_hlsfs "$MNT"
# Made in the opposite order on a fresh cache (each segment decoded from the keyframe before it): the same bytes.
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-2,ladder=$LADDER"
REVERSE=1 tree_sums "$MNT/longgop.mp4" > "$T/sums-2"
cmp -s "$T/sums-1" "$T/sums-2" ||
    fail "longgop.mp4 differs when made in the opposite order: $(diff "$T/sums-1" "$T/sums-2" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
umount_hlsfs "$MNT"
pass
