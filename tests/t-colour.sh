#!/usr/bin/env bash
# t-colour: a transcoded rung shows the source's colours in a player that follows the colour description,
# whatever the source's size and tags. Players take an untagged picture below 720 lines for BT.601, so a
# 360p rung of an HD source must say it is BT.709 (or be converted). For an HD source tagged BT.709, an SD
# source without tags (BT.601), an SD source tagged BT.709 and a full-range HD source tagged BT.709, the 360p
# rung's first segment says its matrix, primaries, transfer and limited range, and its first picture,
# turned into RGB by ffmpeg as the tags say, is the source's (mean difference of 64x36 RGB thumbnails). So are
# poster.jpg and a preview sheet of a one-colour HD source (JPEG is BT.601 full range).
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe python3

pic() { printf 'testsrc2=size=%s:rate=25:duration=3' "$1"; }
tags709=(-colorspace bt709 -color_primaries bt709 -color_trc bt709)
make_video "$SRC/hd709.mp4" -f lavfi -i "$(pic 1280x720)" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p "${tags709[@]}"
make_video "$SRC/sd.mp4" -f lavfi -i "$(pic 720x576)" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p
make_video "$SRC/sd709.mp4" -f lavfi -i "$(pic 720x576)" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p "${tags709[@]}"
make_video "$SRC/full709.mp4" -f lavfi -i "$(pic 1280x720)" -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuvj420p \
    "${tags709[@]}" -color_range pc
# One colour all along, so that poster.jpg and every preview tile must show it.
make_video "$SRC/solid.mp4" -f lavfi -i color=c=0x2060D0:size=1280x720:rate=25:duration=3 -c:v libx264 -preset ultrafast \
    -g 25 -pix_fmt yuv420p "${tags709[@]}"

mount_hlsfs "$SRC" "$MNT" -o ladder=360:800

# rgb_diff A B: mean absolute difference of the first pictures of A and B as 64x36 RGB, as ffmpeg shows them.
rgb_diff() {
    python3 - "$1" "$2" <<'PY'
import subprocess, sys
def rgb(path):
    return subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-i', path, '-frames:v', '1', '-vf',
                           'scale=64:36:flags=area,format=rgb24', '-f', 'rawvideo', '-'],
                          capture_output=True, check=True).stdout
a, b = rgb(sys.argv[1]), rgb(sys.argv[2])
if len(a) != 64 * 36 * 3 or len(a) != len(b):
    sys.exit('pictures of %d and %d bytes' % (len(a), len(b)))
print('%.2f' % (sum(abs(x - y) for x, y in zip(a, b)) / len(a)))
PY
}

# check NAME TAGS LIMIT: the 360p rung's first segment of NAME.mp4 is tagged TAGS (range,space,transfer,
# primaries, as ffprobe lists them) and differs from the source by at most LIMIT.
check() {
    local name=$1 want=$2 limit=$3 seg got d
    seg=$(segments_of "$MNT/$name.mp4/360p/index.m3u8" | sed -n 1p)
    [ -n "$seg" ] || fail "$name.mp4: no 360p rung: $(ls "$MNT/$name.mp4" | tr '\n' ' ')"
    got=$(ffprobe -v error -select_streams v:0 -show_entries stream=color_space,color_primaries,color_transfer,color_range \
        -of csv=p=0 "$seg" | sed '/^$/d' | sed -n 1p)
    [ "$got" = "$want" ] || fail "$name.mp4: its 360p rung says colour '$got' (range,space,transfer,primaries as ffprobe lists them), want '$want'"
    d=$(rgb_diff "$SRC/$name.mp4" "$seg") || fail "$name.mp4: could not compare pictures: $d"
    ftrue "$d <= $limit" || fail "$name.mp4: its 360p rung's first picture differs from the source's by $d on average (RGB, want at most $limit)"
    say "$name.mp4: 360p rung tagged $got, RGB difference $d"
}
soft check hd709 "tv,bt709,bt709,bt709" 1.5
soft check sd "tv,smpte170m,smpte170m,smpte170m" 1.5
soft check full709 "tv,bt709,bt709,bt709" 1.5
# Converted from BT.709 to the matrix an SD rung keeps (swscale's 8-bit conversion costs about 2 levels).
soft check sd709 "tv,smpte170m,smpte170m,smpte170m" 4
# poster.jpg and the preview sheet of the one-colour source (JPEG: BT.601 full range) show its colour.
check_jpeg() {
    local f=$1 d
    [ -s "$f" ] || fail "no ${f#"$MNT"/}"
    d=$(rgb_diff "$SRC/solid.mp4" "$f") || fail "could not compare ${f#"$MNT"/}: $d"
    ftrue "$d <= 2" || fail "${f#"$MNT"/} differs from the source's colour by $d on average (RGB, want at most 2)"
    say "${f#"$MNT"/}: RGB difference $d"
}
soft check_jpeg "$MNT/solid.mp4/poster.jpg"
soft check_jpeg "$(ls "$MNT"/solid.mp4/thumbs/*.jpg | sed -n 1p)"
umount_hlsfs "$MNT"
pass
