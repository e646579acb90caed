#!/usr/bin/env bash
# t-ladder-aspect: transcoded rungs keep the display aspect ratio of the source with even dimensions: 4:3,
# portrait, anamorphic (non-square pixels) and 16:9 sources; the master's RESOLUTION and the decoded
# pictures (ffprobe) agree, and their display width is the source's aspect within one pixel.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300/144:150

need ffmpeg ffprobe jq python3
src_43
src_portrait
src_anamorphic
src_hevc
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,prefetch=0"

# check_video REL "HEIGHT...": each transcoded rung of REL (the heights given) keeps the source's display
# aspect ratio: its RESOLUTION in the master and the picture its first segment decodes to are the same even
# width and height, and width x SAR / height is the source's display aspect within one pixel of width.
check_video() {
    local rel=$1 rungs=$2 v=$MNT/$1
    local sw sh sn sd _
    read -r sw sh sn sd _ < <(video_facts "$SRC/$rel")
    video_dir_ok "$rel"
    local rows h res rw rh seg fw fh fsar fsn fsd out exact
    rows=$(master_rows "$v/master.m3u8")
    for h in $rungs; do
        res=$(awk -F'\t' -v u="${h}p/index.m3u8" '$6 == u { print $4 }' <<<"$rows")
        [ -n "$res" ] || fail "'$rel/master.m3u8' lists no ${h}p variant (ladder $LADDER, source ${sw}x$sh)"
        [[ $res =~ ^([0-9]+)x([0-9]+)$ ]] || fail "'$rel': ${h}p has RESOLUTION=$res, not WxH"
        rw=${BASH_REMATCH[1]} rh=${BASH_REMATCH[2]}
        # exact width of an h-line picture with the source's display aspect and square pixels
        exact=$(fcalc "$h * $sw * $sn / ($sh * $sd)")
        [ "$rh" = "$h" ] || fail "'$rel': ${h}p has RESOLUTION=$res"
        [ $((rw % 2)) = 0 ] && [ $((rh % 2)) = 0 ] || fail "'$rel': ${h}p has RESOLUTION=$res, not even"
        ftrue "$rw - $exact <= 1 && $exact - $rw <= 1" ||
            fail "'$rel': ${h}p has RESOLUTION=$res, but the source ${sw}x$sh (SAR $sn:$sd) at $h lines is $exact wide (an even width within 1 pixel of it: $(awk -v e="$exact" 'BEGIN { a = int(e / 2) * 2; if (e - a <= 1) printf "%d ", a; if (a + 2 - e <= 1) printf "%d", a + 2 }'))"

        seg=$(segments_of "$v/${h}p/index.m3u8" | sed -n 1p)
        out=$(ffmpeg -nostdin -v error -i "$seg" -f null - 2>&1) || fail "'${seg#"$MNT"/}' does not decode: $(head -n 1 <<<"$out")"
        [ -z "$out" ] || fail "decoding '${seg#"$MNT"/}' printed: $(head -n 1 <<<"$out")"
        read -r fw fh fsar < <(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' \
            -show_entries frame=width,height,sample_aspect_ratio -of csv=p=0 "$seg" | tr ',' ' ')
        [ "$fw" = "$rw" ] && [ "$fh" = "$rh" ] ||
            fail "'${seg#"$MNT"/}' decodes to ${fw}x$fh pictures, the master says $res"
        fsn=1 fsd=1
        if [[ $fsar =~ ^([1-9][0-9]*):([1-9][0-9]*)$ ]]; then fsn=${BASH_REMATCH[1]} fsd=${BASH_REMATCH[2]}; fi
        ftrue "$fw * $fsn / $fsd - $exact <= 1 && $exact - $fw * $fsn / $fsd <= 1" ||
            fail "'${seg#"$MNT"/}' displays ${fw}x$fh with SAR ${fsar:-none} as $(fcalc "$fw * $fsn / $fsd")x$fh, the source's aspect wants $exact x $h"
    done
}

soft check_video four-three.mp4 "360 240 144"
soft check_video portrait.mp4 "360 240 144"
soft check_video anamorphic.mp4 "360 240 144"
soft check_video hevc.mp4 "360 240 144"

umount_hlsfs "$MNT"
pass
