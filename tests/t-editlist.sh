#!/usr/bin/env bash
# t-editlist: an MP4 trimmed without re-encoding (`ffmpeg -ss T -c copy`, as LosslessCut or a phone's trim
# makes it) keeps the frames from the keyframe before its cut, and an edit list says they are not shown.
# hlsfs shows what the edit list shows: every playlist's EXTINF adds up to the trimmed duration, a
# transcoded rung holds exactly the frames the source shows, its first picture is the one at the cut (as
# ffmpeg decodes the source), and its audio starts with the video. The passthrough carries the hidden
# frames (its decoder needs them). Audio keeps one frame before the first shown, to prime the decoder.
# poster.jpg and the first preview thumbnail are a keyframe the source shows.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:800

need ffmpeg ffprobe python3
# 640x480 H.264 High with B-frames, a keyframe every 3 s, AAC; cut at 4.5 s: 1.5 s of hidden frames.
# shellcheck disable=SC2086
ladder_source whole.mp4 -f lavfi -i testsrc2=size=640x480:rate=30:duration=12 -f lavfi -i "$(_tone 12)" \
    $_x264 -profile:v high -g 90 -keyint_min 90 -bf 3 -b:v 1200k -c:a aac -b:a 64k -ac 2
ffmpeg -nostdin -v error -y -ss 4.5 -i "$SRC/whole.mp4" -c copy "$SRC/trimmed.mp4" || fail "could not make trimmed.mp4"
hidden=$(ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 "$SRC/trimmed.mp4" | grep -c D)
[ "$hidden" -ge 30 ] || fail "test bug: trimmed.mp4 has $hidden video samples its edit list hides, not a GOP's worth"
# 10 s GOPs cut at 1 s: the first keyframe shown is 9 s into the copy, past the middle of the first preview
# tile (0 to 10 s), where the hidden one at -1 s would stand for it.
# shellcheck disable=SC2086
ladder_source gop10.mp4 -f lavfi -i testsrc2=size=640x480:rate=30:duration=14 $_x264 -profile:v high -g 300 \
    -keyint_min 300 -bf 3 -b:v 800k
mkdir -p "$T/gop10" && mv "$SRC/gop10.mp4" "$T/gop10/" || fail "could not move gop10.mp4 aside"
ffmpeg -nostdin -v error -y -ss 1 -i "$T/gop10/gop10.mp4" -c copy "$SRC/cut10.mp4" || fail "could not make cut10.mp4"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER,prefetch=0"

# facts PLAYLIST: "VSTART ASTART VFRAMES AFRAMES" (seconds, frames decoded)
facts() {
    ffprobe -v error -count_frames -show_entries stream=codec_type,start_time,nb_read_frames -of json "$1" |
        python3 -c '
import json, sys
s = {x["codec_type"]: x for x in json.load(sys.stdin)["streams"]}
v, a = s["video"], s.get("audio", {})
print(v["start_time"], a.get("start_time", "-"), v["nb_read_frames"], a.get("nb_read_frames", "-"))'
}

for rel in trimmed.mp4 whole.mp4; do
    video_dir_ok "$rel"
    srcdur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SRC/$rel")
    read -r _ _ shown src_afr < <(facts "$SRC/$rel")
    for pl in "$MNT/$rel/480p/index.m3u8" "$MNT/$rel/360p/index.m3u8"; do
        [ -f "$pl" ] || fail "'$rel' has no ${pl#"$MNT/$rel/"} (holds: $(ls "$MNT/$rel" | tr '\n' ' '))"
        sum=$(sed -n 's/^#EXTINF:\([^,]*\),.*/\1/p' "$pl" | awk '{ s += $1 } END { printf "%.6f", s }')
        ftrue "($sum - $srcdur) <= 0.034 && ($srcdur - $sum) <= 0.034" ||
            fail "'${pl#"$MNT"/}': EXTINF add up to $sum s, the source shows $srcdur s"
    done
    read -r vs as frames afr < <(facts "$MNT/$rel/360p/index.m3u8")
    [ "$frames" = "$shown" ] || fail "'$rel' 360p (transcoded) has $frames frames, the source shows $shown"
    # the audio frames the source shows, and the one before them that primes the decoder (ADTS cannot say
    # to skip it; the edit of every AAC track leaves it out): in the trimmed copy, the frames before it are gone
    [ "$afr" = "$((src_afr + 1))" ] ||
        fail "'$rel' 360p has $afr audio frames, the source shows $src_afr: not those and the priming frame"
    # audio starts with the video, never after it: before it, only the frame that primes the decoder (it
    # ends at most one AAC frame, 21.3 ms, before the first sound shown) and the part of the next one
    # before the video's start
    ftrue "$as <= $vs + 0.0005 && $vs - $as <= 0.0430" ||
        fail "'$rel' 360p: audio starts at $as s, video at $vs s"
    # the first pictures are the source's first shown ones
    p=$(ffmpeg -nostdin -v info -i "$MNT/$rel/360p/index.m3u8" -i "$SRC/$rel" -lavfi \
        "[1:v]scale=480:360,trim=end_frame=15,setpts=PTS-STARTPTS[r];[0:v]trim=end_frame=15,setpts=PTS-STARTPTS[d];[d][r]psnr" -f null - 2>&1 |
        sed -n 's/.*PSNR.* average:\([0-9.]*\).*/\1/p')
    ftrue "${p:-0} >= 30" || fail "'$rel' 360p: first 15 pictures are not the source's first shown ones (PSNR ${p:-none} dB)"
done

# The passthrough keeps the hidden frames before its first shown one (a decoder needs them), and plays.
read -r vs _ frames _ < <(facts "$MNT/trimmed.mp4/480p/index.m3u8")
read -r vs_rung _ _ _ < <(facts "$MNT/trimmed.mp4/360p/index.m3u8")
all=$(ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 "$SRC/trimmed.mp4" | wc -l)
[ "$frames" = "$all" ] || fail "trimmed.mp4 480p (passthrough) has $frames frames, the source's samples are $all"
ftrue "($vs_rung - $vs) >= 1.4 && ($vs_rung - $vs) <= 1.6" ||
    fail "trimmed.mp4: the passthrough starts at $vs s, the rung at $vs_rung s: not the 1.5 s the edit list hides"
out=$(ffmpeg -nostdin -v error -i "$MNT/trimmed.mp4/480p/index.m3u8" -f null - 2>&1) ||
    fail "trimmed.mp4 480p does not decode: $out"

# poster.jpg is a keyframe the source shows (here the one 1.5 s after the cut, the first shown), not the
# hidden one before the cut: it looks like the source's picture at 1.5 s, not like the one 1.5 s before 0.
poster_psnr() {
    ffmpeg -nostdin -v info -i "$MNT/trimmed.mp4/poster.jpg" -i "$SRC/whole.mp4" -lavfi \
        "[1:v]trim=start_frame=$1:end_frame=$(($1 + 1)),setpts=PTS-STARTPTS[s];[s][0:v]scale2ref[r][p];[p]format=yuv420p[a];[r]format=yuv420p[b];[a][b]psnr" \
        -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([0-9.]*\).*/\1/p'
}
right=$(poster_psnr 180) wrong=$(poster_psnr 90)  # whole.mp4's frames at 6 s (trimmed 1.5 s) and at 3 s
ftrue "${right:-0} >= 25 && ${right:-0} >= ${wrong:-99} + 3" ||
    fail "trimmed.mp4/poster.jpg: PSNR ${right:-none} dB against the first keyframe shown, ${wrong:-none} dB against the hidden one"
# So is the first preview thumbnail (thumbs/): the tile the first cue names, in cut10.mp4 the keyframe 9 s
# in (10 s in gop10.mp4), not the hidden one (its first).
IFS=, read -r tx ty tw th < <(sed -n 's/^sprite-000\.jpg#xywh=//p' "$MNT/cut10.mp4/thumbs/thumbs.vtt" | sed -n 1p)
[ -n "${th:-}" ] || fail "cut10.mp4/thumbs/thumbs.vtt names no tile of sprite-000.jpg"
tile_psnr() {
    ffmpeg -nostdin -v info -i "$MNT/cut10.mp4/thumbs/sprite-000.jpg" -i "$T/gop10/gop10.mp4" -lavfi \
        "[0:v]crop=$tw:$th:$tx:$ty,format=yuv420p[a];[1:v]trim=start_frame=$1:end_frame=$(($1 + 1)),setpts=PTS-STARTPTS,scale=$tw:$th,format=yuv420p[b];[a][b]psnr" \
        -f null - 2>&1 | sed -n 's/.*PSNR.* average:\([0-9.]*\).*/\1/p'
}
right=$(tile_psnr 300) wrong=$(tile_psnr 0)
ftrue "${right:-0} >= 25 && ${right:-0} >= ${wrong:-99} + 3" ||
    fail "cut10.mp4's first thumbnail: PSNR ${right:-none} dB against the first keyframe shown, ${wrong:-none} dB against the hidden one"

umount_hlsfs "$MNT"
pass
