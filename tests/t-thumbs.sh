#!/usr/bin/env bash
# t-thumbs: scrubbing previews. Listing a video folder, stat of thumbs/ and reading thumbs.vtt open and
# decode nothing; thumbs.vtt parses as WebVTT with one contiguous cue per 10 s over the whole duration,
# every #xywh rectangle inside its sheet; the sheets decode silently as JPEG and each tile is the keyframe
# at or before its span's middle (PSNR against ffmpeg's own decode); stat size = bytes read; a remount on
# the same cache knows every size and serves every byte without opening the source; a transcoded-only
# source (MPEG-4 Part 2) and an anamorphic source get previews too, in their display shape; thumbnails=no
# leaves thumbs/ out.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe python3
W=$T/work
mkdir -p "$W"
ff() { ffmpeg -nostdin -v error -y "$@" || fail "ffmpeg could not make test media: ffmpeg $*"; }

# 35 s, keyframes every 3 s (tiles fall between them), B-frames; MPEG-4 Part 2 (transcoded only), 4:3 SAR
# anamorphic H.264.
ff -f lavfi -i testsrc2=size=320x180:rate=25:duration=35 -c:v libx264 -bf 2 -g 75 -keyint_min 75 \
    -pix_fmt yuv420p "$SRC/film.mp4"
ff -f lavfi -i testsrc=size=320x240:rate=25:duration=12 -c:v mpeg4 -q:v 5 -g 50 "$SRC/old.mp4"
ff -f lavfi -i testsrc2=size=360x480:rate=25:duration=12 -c:v libx264 -g 50 -pix_fmt yuv420p \
    -vf setsar=4/3 "$SRC/anamorphic.mp4"

mount_hlsfs "$SRC" "$MNT" -o ladder=360:800
V=$MNT/film.mp4

# --- nothing is decoded for a listing ----------------------------------------------------------------------
ls -l "$V" > /dev/null
opens0=$(stat_of "$MNT" hlsfs_source_opens_total)
[ -d "$V/thumbs" ] || fail "film.mp4 has no thumbs/ folder: $(ls "$V" | tr '\n' ' ')"
ls "$V/thumbs" > "$W/names"
cat "$V/thumbs/thumbs.vtt" > "$W/thumbs.vtt"
stat "$V/thumbs" "$V/thumbs/thumbs.vtt" > /dev/null
[ "$(stat_of "$MNT" hlsfs_source_opens_total)" = "$opens0" ] ||
    fail "listing thumbs/ and reading thumbs.vtt opened the source ($opens0 -> $(stat_of "$MNT" hlsfs_source_opens_total))"

# --- thumbs.vtt against the sheets -------------------------------------------------------------------------
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SRC/film.mp4")
for s in $(grep '^sprite-' "$W/names"); do
    ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$V/thumbs/$s" | tr ',' ' ' > "$W/$s.dim"
    read -r codec w h < "$W/$s.dim"
    [ "$codec" = mjpeg ] || fail "thumbs/$s is $codec, not JPEG"
    echo "$s $w $h" >> "$W/dims"
    out=$(ffmpeg -nostdin -v error -i "$V/thumbs/$s" -f null - 2>&1) && [ -z "$out" ] || fail "thumbs/$s does not decode silently: $out"
    [ "$(stat -c %s "$V/thumbs/$s")" = "$(wc -c < "$V/thumbs/$s")" ] || fail "thumbs/$s: stat size != bytes read"
    cp "$V/thumbs/$s" "$W/first-$s"
done
[ "$(stat -c %s "$V/thumbs/thumbs.vtt")" = "$(wc -c < "$V/thumbs/thumbs.vtt")" ] || fail "thumbs.vtt: stat size != bytes read"
python3 - "$W/thumbs.vtt" "$W/dims" "$dur" > "$W/tiles" <<'PY' || fail "thumbs.vtt: $(tail -n 1 "$W/tiles")"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
dims = {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in open(sys.argv[2])}
dur = float(sys.argv[3])
assert text.startswith("WEBVTT\n"), "no WEBVTT header"
def sec(t):
    h, m, s = t.split(":"); return int(h) * 3600 + int(m) * 60 + float(s)
blocks = text.strip().split("\n\n")[1:]
cues = []
for bl in blocks:
    m = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n([^\n]+)", bl)
    assert m, "a cue does not parse: %r" % bl
    cues.append(m.groups())
assert cues, "no cues"
assert len(cues) == int(-(-dur // 10)), "want %d tiles for %.3f s, got %d" % (-(-dur // 10), dur, len(cues))
prev = 0.0
for i, (a, b, ref) in enumerate(cues):
    a, b = sec(a), sec(b)
    assert abs(a - prev) < 0.0015 and b > a, "cue %d at %.3f-%.3f does not follow %.3f" % (i, a, b, prev)
    prev = b
    m = re.fullmatch(r"(sprite-\d\d\d\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)", ref)
    assert m, "cue %d: %r is not SHEET#xywh=x,y,w,h" % (i, ref)
    sheet, x, y, w, h = m.group(1), *map(int, m.groups()[1:])
    assert sheet in dims, "cue %d names %s, which is not in thumbs/" % (i, sheet)
    W, H = dims[sheet]
    assert w > 0 and h > 0 and x + w <= W and y + h <= H, "cue %d: %d,%d %dx%d outside %s (%dx%d)" % (i, x, y, w, h, sheet, W, H)
    print(i, a, b, sheet, x, y, w, h)
assert abs(prev - dur) < 0.05, "tiles end at %.3f, the video at %.3f" % (prev, dur)
PY
# Tiles are 160 px wide in the display aspect (16:9 -> 160x90).
read -r _ _ _ _ _ _ tw th < <(head -n 1 "$W/tiles")
[ "$tw.$th" = 160.90 ] || fail "film.mp4 tiles are ${tw}x$th, want 160x90"

# Each tile is the keyframe at or before the middle of its span.
ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,flags -of csv=p=0 "$SRC/film.mp4" |
    awk -F, 'index($2, "K") { print $1 }' | sort -g > "$W/keys"
while read -r i a b sheet x y w h; do
    mid=$(fcalc "($a + $b) / 2")
    key=$(awk -v m="$mid" '$1 <= m + 0.0005 { k = $1 } END { print k }' "$W/keys")
    ffmpeg -nostdin -v error -y -ss "$key" -i "$SRC/film.mp4" -frames:v 1 -vf "scale=$w:$h" "$W/want-$i.png" ||
        fail "ffmpeg could not take the frame at $key"
    psnr=$(ffmpeg -nostdin -v info -i "$V/thumbs/$sheet" -i "$W/want-$i.png" \
        -lavfi "[0:v]crop=$w:$h:$x:$y[a];[a][1:v]psnr" -f null - 2>&1 | sed -n 's/.*average:\([0-9.inf]*\).*/\1/p')
    [ -n "$psnr" ] || fail "tile $i: no PSNR"
    [ "$psnr" = inf ] || ftrue "$psnr > 25" || fail "tile $i ($a-$b s) is not the keyframe at $key (PSNR $psnr dB)"
done < "$W/tiles"

# --- other sources ------------------------------------------------------------------------------------------
for rel in old.mp4 anamorphic.mp4; do
    s=$MNT/$rel/thumbs/sprite-000.jpg
    [ -f "$s" ] || fail "$rel has no thumbs/sprite-000.jpg: $(ls "$MNT/$rel" | tr '\n' ' ')"
    out=$(ffmpeg -nostdin -v error -i "$s" -f null - 2>&1) && [ -z "$out" ] || fail "$rel: its sheet does not decode: $out"
done
grep -q 'xywh=0,0,160,160$' "$MNT/anamorphic.mp4/thumbs/thumbs.vtt" ||
    fail "anamorphic.mp4 (360x480, SAR 4:3 -> 480x480 display) tiles: $(sed -n 4p "$MNT/anamorphic.mp4/thumbs/thumbs.vtt"), want 160x160"
umount_hlsfs "$MNT"

# --- a remount on the same cache: sizes and bytes without the source -------------------------------------
mount_hlsfs "$SRC" "$MNT" -o "ladder=360:800,cache_dir=$T/cache-1"
for s in $(grep '^sprite-' "$W/names"); do
    [ "$(stat -c %s "$V/thumbs/$s")" = "$(stat -c %s "$W/first-$s")" ] || fail "remount: thumbs/$s has another size"
    cmp -s "$V/thumbs/$s" "$W/first-$s" || fail "remount: thumbs/$s has other bytes"
done
[ "$(stat_of "$MNT" hlsfs_source_opens_total)" = 0 ] ||
    fail "remount: the previews opened the source $(stat_of "$MNT" hlsfs_source_opens_total) times"
umount_hlsfs "$MNT"

# --- thumbnails=no: no thumbs/ folder, nothing else changes ------------------------------------------------
mount_hlsfs "$SRC" "$MNT" -o "ladder=360:800,thumbnails=no"
[ ! -e "$V/thumbs" ] || fail "thumbnails=no: film.mp4 still has thumbs/"
ls "$V" > "$W/ls-no"
grep -qx thumbs "$W/ls-no" && fail "thumbnails=no: thumbs listed in film.mp4/"
grep -qx master.m3u8 "$W/ls-no" || fail "thumbnails=no: film.mp4 has no master.m3u8"
umount_hlsfs "$MNT"
pass
