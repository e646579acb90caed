#!/usr/bin/env bash
# t-rotation: a video whose container asks for a turned display (phone videos: a display matrix of 90,
# 180 or 270 degrees) plays upright: no passthrough variant (MPEG-TS cannot carry the turn), every rung
# transcoded in the display orientation, pictures that match ffmpeg's own autorotation of the source and
# not the other turns, every frame kept, sizes exact, and poster.jpg upright too.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:1500/240:800

need ffmpeg ffprobe jq python3
# 640x360 H.264 + AAC, then copied with a turn in the container: ffmpeg's MP4 muxer writes the "rotate" tag
# of a copied stream as the track's display matrix
ladder_source upright.mp4 -f lavfi -i testsrc2=size=640x360:rate=30:duration=8 -f lavfi -i "$(_tone 8)" \
    $_x264 -profile:v high -g 60 -keyint_min 60 -b:v 1500k -c:a aac -b:a 64k -ac 2
# turned-R.mp4 is to be shown turned clockwise by R degrees. ffprobe's rotation is counterclockwise, and
# so is the tag the muxer takes.
for r in 90 180 270; do
    ffmpeg -nostdin -v error -y -i "$SRC/upright.mp4" -c copy -metadata:s:v:0 rotate=$(( (360 - r) % 360 )) \
        "$SRC/turned-$r.mp4" || fail "could not make turned-$r.mp4"
    got=$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 "$SRC/turned-$r.mp4")
    [ "$(( (360 - ${got:-0}) % 360 ))" = "$r" ] ||
        fail "turned-$r.mp4 carries rotation '${got}' (ffprobe), not a clockwise turn of $r degrees"
done
rm "$SRC/upright.mp4"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,prefetch=0"

# psnr RAW WxH SOURCE FILTER: average PSNR of the first 60 pictures of the raw yuv420p file against the
# source as decoded without autorotation, passed through FILTER and scaled to WxH.
psnr() {
    ffmpeg -nostdin -v info -f rawvideo -pix_fmt yuv420p -s "$2" -i "$1" -noautorotate -i "$3" \
        -lavfi "[1:v]$4,scale=${2/x/:},trim=end_frame=60[r];[0:v]trim=end_frame=60[d];[d][r]psnr" -f null - 2>&1 |
        sed -n 's/.*PSNR.* average:\([0-9.]*\).*/\1/p'
}

check_video() {
    local rel=$1 deg=$2 v=$MNT/$1 right wrong
    local _ frames
    read -r _ _ _ _ _ _ frames _ < <(video_facts "$SRC/$rel")
    # what ffmpeg applies for each clockwise turn (its autorotation), and the turn a mistake would give
    case $deg in
        90) right=transpose=clock wrong=transpose=cclock ;;
        180) right=hflip,vflip wrong=null ;;
        270) right=transpose=cclock wrong=transpose=clock ;;
    esac
    video_dir_ok "$rel"
    local rows n=0 res rw rh uri seg got size pw ph p_right p_wrong count
    rows=$(master_rows "$v/master.m3u8")
    while IFS=$'\t' read -r _ _ _ res _ uri; do
        n=$((n + 1))
        [[ $res =~ ^([0-9]+)x([0-9]+)$ ]] || fail "'$rel': $uri has RESOLUTION=$res"
        rw=${BASH_REMATCH[1]} rh=${BASH_REMATCH[2]}
        if [ "$deg" = 180 ]; then
            [ "$rw" -gt "$rh" ] || fail "'$rel' (turned 180): $uri is ${res}, not landscape like the source"
        else
            [ "$rw" -lt "$rh" ] || fail "'$rel' (turned $deg): $uri is ${res}, not portrait"
        fi
        # every segment: stat size = bytes read; the whole variant: every frame, pictures of RESOLUTION
        while IFS= read -r seg; do
            size=$(stat -c %s "$seg")
            got=$(wc -c <"$seg")
            [ "$size" = "$got" ] || fail "'${seg#"$MNT"/}': stat says $size bytes, read gave $got"
        done < <(segments_of "$v/$uri")
        ffmpeg -nostdin -v error -i "$v/$uri" -f rawvideo -pix_fmt yuv420p -y "$T/out.yuv" 2>"$T/dec.err" ||
            fail "'$rel/$uri' does not decode: $(head -n 1 "$T/dec.err")"
        [ ! -s "$T/dec.err" ] || fail "decoding '$rel/$uri' printed: $(head -n 1 "$T/dec.err")"
        count=$(( $(stat -c %s "$T/out.yuv") / (rw * rh * 3 / 2) ))
        [ "$count" = "$frames" ] || fail "'$rel/$uri' decodes to $count pictures of $res, the source has $frames"
        p_right=$(psnr "$T/out.yuv" "$res" "$SRC/$rel" "$right")
        p_wrong=$(psnr "$T/out.yuv" "$res" "$SRC/$rel" "$wrong")
        [ -n "$p_right" ] && [ -n "$p_wrong" ] || fail "'$rel/$uri': no PSNR could be measured"
        ftrue "$p_right >= 20 && $p_right >= $p_wrong + 8" ||
            fail "'$rel/$uri' is not turned as ffmpeg turns the source: PSNR $p_right dB against its turn ($right), $p_wrong dB against $wrong"
    done <<<"$rows"
    [ "$n" = 2 ] || fail "'$rel/master.m3u8' lists $n variants; ladder $LADDER on a turned 640x360 source gives 2, no passthrough"
    read -r pw ph < <(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$v/poster.jpg" | tr ',' ' ')
    if [ "$deg" = 180 ]; then
        [ "$pw" -gt "$ph" ] || fail "'$rel/poster.jpg' is ${pw}x$ph, not landscape"
    else
        [ "$pw" -lt "$ph" ] || fail "'$rel/poster.jpg' is ${pw}x$ph, not portrait"
    fi
    ffmpeg -nostdin -v error -i "$v/poster.jpg" -f rawvideo -pix_fmt yuv420p -y "$T/poster.yuv"
    p_right=$(psnr "$T/poster.yuv" "${pw}x$ph" "$SRC/$rel" "$right")
    p_wrong=$(psnr "$T/poster.yuv" "${pw}x$ph" "$SRC/$rel" "$wrong")
    ftrue "$p_right >= $p_wrong + 8" ||
        fail "'$rel/poster.jpg' is not turned as ffmpeg turns the source: PSNR $p_right dB against $right (first frame), $p_wrong dB against $wrong"
}

for r in 90 180 270; do
    soft check_video "turned-$r.mp4" "$r"
done

umount_hlsfs "$MNT"
pass
