#!/usr/bin/env bash
# t-containers: videos in Matroska (mkvmerge, laced audio, zlib-compressed frames), WebM, AVI, FLV, MPEG-PS,
# ASF/WMV and Ogg are served: each index names exactly the demuxer's frames, each tree plays through Caddy and
# is exact and deterministic, H.264 with an avcC (or Annex B in MPEG-TS) passes through unchanged, and
# MPEG-2 frames whose PES has no PTS are shown in their order, an interlaced DVD picture is deinterlaced;
# MPEG-4 Part 2 B-frames in AVI (DivX, packed XviD) show every picture where the source does; H.264 with
# B-frames in AVI is refused with one error.txt line; MPEG-PS playlists start at the first frame, not at the
# muxer's clock. t-mpegts covers MPEG-TS timestamps, .m2ts and damage.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe mkvmerge mkvinfo
SCAN_FRAMES=$(dirname "$HLSFS")/tests/unit/scan_frames
[ -x "$SCAN_FRAMES" ] || fail "no $SCAN_FRAMES beside $HLSFS (built by ninja with hlsfs)"

# --- media, made here --------------------------------------------------------------------------------------
ff() { ffmpeg -nostdin -v error -y "$@" || fail "ffmpeg could not make test media: ffmpeg $*"; }
pic() { printf 'testsrc2=size=320x240:rate=%s:duration=%s' "$1" "$2"; }
tone() { printf 'sine=frequency=%s:sample_rate=%s:duration=%s' "$1" "$2" "$3"; }
W=$T/work
mkdir -p "$W"

# H.264 High with B-frames + AAC, remuxed by mkvmerge: it laces the audio (several frames a block).
ff -f lavfi -i "$(pic 30 8)" -f lavfi -i "$(tone 440 48000 8)" -c:v libx264 -profile:v high -bf 3 -g 60 \
    -pix_fmt yuv420p -c:a aac -b:a 96k "$W/talk.mp4"
mkvmerge -q -o "$SRC/talk.mkv" "$W/talk.mp4" || fail "mkvmerge could not make talk.mkv"
mkvinfo -v "$SRC/talk.mkv" > "$W/talk.mkvinfo" || fail "mkvinfo cannot read talk.mkv"
grep -Eq 'track number 2, [2-9][0-9]* frame' "$W/talk.mkvinfo" || fail "test bug: mkvmerge did not lace the audio of talk.mkv"
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 330 48000 6)" -c:v libvpx-vp9 -b:v 300k -deadline realtime \
    -cpu-used 8 -g 50 -c:a libopus -b:a 64k -metadata:s:a:0 language=fre "$SRC/lecture.webm"
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 550 44100 6)" -c:v mpeg4 -q:v 5 -g 50 -c:a libmp3lame -b:a 128k \
    "$SRC/show.avi"
# H.264 as AVI stores it: Annex B with start codes, no avcC; our muxer cannot pass it through. AVI gives
# decode times only, so B-frames (whose presentation order the index cannot know) are refused.
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 500 44100 6)" -c:v libx264 -bf 0 -g 50 -pix_fmt yuv420p \
    -c:a libmp3lame "$SRC/annexb.avi"
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 500 44100 4)" -c:v libx264 -bf 2 -g 50 -pix_fmt yuv420p \
    -c:a libmp3lame "$SRC/bframes.avi"
# MPEG-4 Part 2 with B-frames, as DivX and XviD wrote AVI: decode times only. XviD packs a B-frame with
# the picture after it into one chunk and leaves a placeholder chunk (an N-VOP) where the B-frame stood.
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 450 44100 4)" -c:v mpeg4 -vtag DX50 -bf 2 -q:v 4 -g 50 \
    -c:a libmp3lame "$SRC/divx.avi"
# XviD's GOPs here are open (B-frames after a keyframe shown before it), its keyframes a second apart, so
# the second segment starts at such a keyframe.
ff -f lavfi -i "$(pic 25 8)" -f lavfi -i "$(tone 350 44100 8)" -c:v libxvid -bf 2 -q:v 4 -g 25 \
    -c:a libmp3lame "$SRC/xvid.avi"
ffprobe -v error -select_streams v -show_entries packet=size -of csv=p=0 "$SRC/xvid.avi" | awk '$1 <= 8 { n++ } END { exit !n }' ||
    fail "test bug: xvid.avi has no placeholder chunks (its B-frames are not packed)"
ff -f lavfi -i "$(pic 30 6)" -f lavfi -i "$(tone 660 44100 6)" -c:v libx264 -profile:v main -g 60 \
    -pix_fmt yuv420p -c:a aac -b:a 96k "$SRC/clip.flv"
# MPEG-TS: frames put together from transport packets, H.264 as Annex B, AAC as ADTS.
ff -f lavfi -i "$(pic 30 6)" -f lavfi -i "$(tone 770 48000 6)" -c:v libx264 -g 60 -pix_fmt yuv420p -c:a aac \
    "$SRC/cam.ts"
# Frames in pieces, demuxed again when read: MPEG-PS (MPEG-2 with B-frames at a low rate, so that many
# frames share a PES and get no PTS of their own), ASF/WMV, Ogg; and Matroska frames compressed with zlib.
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 770 48000 4)" -c:v mpeg2video -bf 2 -b:v 60k -c:a mp2 -f vob \
    "$SRC/old.mpg"
[ "$(ffprobe -v error -select_streams v -show_entries packet=pts -of csv=p=0 "$SRC/old.mpg" | grep -c N/A)" -ge 5 ] ||
    fail "test bug: every frame of old.mpg has a PTS of its own"
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 600 44100 4)" -c:v wmv2 -b:v 400k -c:a wmav2 "$SRC/old.wmv"
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 880 44100 4)" -c:v libtheora -q:v 6 -c:a libvorbis "$SRC/film.ogv"
mkvmerge -q -o "$SRC/zlib.mkv" --compression 0:zlib --compression 1:zlib "$W/talk.mp4" ||
    fail "mkvmerge could not make zlib.mkv"
[ "$(mkvinfo "$SRC/zlib.mkv" | grep -c 'Content compression')" = 2 ] || fail "test bug: mkvmerge did not compress zlib.mkv"

# A DVD's picture: 720x480 interlaced MPEG-2 (top field first) with AC-3.
ff -f lavfi -i "testsrc2=size=720x480:rate=60000/1001:duration=4,interlace=scan=tff" -f lavfi -i "$(tone 440 48000 4)" \
    -c:v mpeg2video -b:v 6M -flags +ilme+ildct -top 1 -bf 2 -c:a ac3 -f dvd "$SRC/dvd.vob"

GOOD=(talk.mkv lecture.webm show.avi annexb.avi divx.avi xvid.avi clip.flv cam.ts old.mpg old.wmv film.ogv zlib.mkv dvd.vob)
PASSTHROUGH=(talk.mkv clip.flv cam.ts zlib.mkv)
# Transcoded and compared picture by picture with the source: frames demuxed again, and pictures shown
# one sample late (MPEG-4 B-frames in AVI).
PIECES=(old.mpg old.wmv film.ogv divx.avi xvid.avi)
declare -A REFUSED=([bframes.avi]='B-frames')
for rel in "${!REFUSED[@]}"; do EXPECT_LOG+=("^hlsfs: .*$(ere_quote "$rel"): "); done

# --- the index: every sample's (pos, size) holds exactly the demuxer's frame -------------------------------
for rel in "${GOOD[@]}"; do
    out=$("$SCAN_FRAMES" "$SRC/$rel" 2>&1) || fail "'$rel': $out"
    SCAN_FRAMES_SKEW=1 "$SCAN_FRAMES" "$SRC/$rel" > /dev/null 2>&1 &&
        fail "test bug: scan_frames finds '$rel' right even when it compares each frame with the next"
done

# --- through the mount -------------------------------------------------------------------------------------
mount_hlsfs "$SRC" "$MNT"
start_caddy "$MNT"

is_passthrough() { local p; for p in "${PASSTHROUGH[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

check_good() {
    local rel=$1 v=$MNT/$1 out pl seg f key rest want got first
    plays_whole_and_exact "$rel"
    frame_hashes "$SRC/$rel" > "$T/src.md5"
    [ -s "$T/src.md5" ] || fail "test bug: '$rel' decodes to no frames"
    while IFS= read -r pl; do
        while IFS= read -r seg; do
            read -r key rest < <(segment_times "$seg")
            [ "$key" = 1 ] || fail "'${seg#"$MNT"/}': its first video packet is not a keyframe"
        done < <(segments_of "$pl")
        frame_hashes "$pl" > "$T/hls.md5"
        want=$(wc -l < "$T/src.md5") got=$(wc -l < "$T/hls.md5")
        [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': decodes to $got video frames, the source to $want"
        # AAC and MP3 are carried as they are, in every variant: every frame once.
        case $pl in */audio-*) continue ;; esac
        case $(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$SRC/$rel") in
            aac|mp3)
                want=$(audio_packets "$SRC/$rel") got=$(audio_packets "$pl")
                [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': carries ${got:-no} audio frames, the source $want" ;;
        esac
    done < <(variant_playlists "$v")
    if is_passthrough "$rel"; then
        pl=$(passthrough_pl "$v")
        [ -n "$pl" ] || fail "'$rel': H.264 with an avcC and AAC, but no variant passes it through (no iframes.m3u8)"
        frame_hashes "$pl" > "$T/hls.md5"
        if ! cmp -s "$T/src.md5" "$T/hls.md5"; then
            first=$(cmp "$T/src.md5" "$T/hls.md5" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p' || true)
            fail "'${pl#"$MNT"/}': decoded picture ${first:-?} differs from the source's (passthrough must not alter frames)"
        fi
    else
        [ -z "$(passthrough_pl "$v")" ] || fail "'$rel' is not H.264 with an avcC, yet a variant claims to pass it through"
    fi
    # Transcoded from frames demuxed again: every picture where the source shows it (a frame shown out
    # of order, or another frame's bytes, would be tens of dB off).
    if [[ " ${PIECES[*]} " == *" $rel "* ]]; then
        pl=$(variant_playlists "$v" | grep -v '/audio-' | tail -n 1)
        ffmpeg -nostdin -v error -i "$pl" -i "$SRC/$rel" -lavfi \
            "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]psnr=stats_file=$T/psnr.log" -f null - ||
            fail "'$rel': ffmpeg could not compare its pictures with the source's"
        worst=$(sed -n 's/.*psnr_avg:\([0-9.inf]*\).*/\1/p' "$T/psnr.log" | sort -g | sed -n 1p)
        [ "$(wc -l < "$T/psnr.log")" = "$(wc -l < "$T/src.md5")" ] ||
            fail "'$rel': compared $(wc -l < "$T/psnr.log") pictures, the source has $(wc -l < "$T/src.md5")"
        awk -v w="$worst" 'BEGIN { exit !(w == "inf" || w >= 28) }' ||
            fail "'${pl#"$MNT"/}': a picture is ${worst} dB from the source's (out of order or not its bytes)"
    fi
}
for rel in "${GOOD[@]}"; do soft check_good "$rel"; done

# An MPEG-PS clock starts where its muxer's did (here 0.5 s before the first frame): the playlists start
# at the first frame, so their EXTINF add up to the frames' span (frames x frame duration), not that plus
# the lead.
check_ps_span() {
    local rel=$1 n rate fd first sum pl
    n=$(frame_hashes "$SRC/$rel" | wc -l)
    rate=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of default=nk=1:nw=1 "$SRC/$rel" | sed -n 1p)
    fd=$(fcalc "1 / ($rate)")
    first=$(ffprobe -v error -select_streams v:0 -show_entries stream=start_time -of default=nk=1:nw=1 "$SRC/$rel" | sed -n 1p)
    ftrue "$first >= 0.1" || fail "test bug: '$rel' starts at $first s, not after a lead"
    while IFS= read -r pl; do
        sum=$(playlist_extinfs "$pl" | awk '{ s += $1 } END { printf "%.6f", s }')
        ftrue "($sum - $n * $fd) <= $fd && ($n * $fd - $sum) <= $fd" ||
            fail "'${pl#"$MNT"/}': EXTINF add up to $sum s, its $n frames span $(fcalc "$n * $fd") s"
    done < <(variant_playlists "$MNT/$rel")
}
for rel in old.mpg dvd.vob; do soft check_ps_span "$rel"; done

# An audio rendition names its language as RFC 8216 asks (an RFC 5646 tag: "fr", not the track's "fre"),
# in words, and its channels.
check_audio_language() {
    local line
    line=$(grep '^#EXT-X-MEDIA:TYPE=AUDIO' "$MNT/lecture.webm/master.m3u8" | sed -n 1p)
    [[ $line == *'NAME="French",LANGUAGE="fr",'* && $line == *',CHANNELS="2",'* ]] ||
        fail "lecture.webm's French Opus track: want NAME=\"French\",LANGUAGE=\"fr\" and CHANNELS, got: $line"
}
soft check_audio_language

# Interlaced pictures are deinterlaced before they are scaled: the 480p rung of the 480i DVD picture is
# progressive frame by frame (idet), where the source is combed.
idet_counts() {
    ffmpeg -nostdin -v info -i "$1" -map 0:v:0 -vf idet -f null - 2>&1 |
        sed -n 's/.*Single frame detection: TFF: *\([0-9]*\) *BFF: *\([0-9]*\) *Progressive: *\([0-9]*\).*/\1 \2 \3/p' | tail -n 1
}
check_deinterlaced() {
    local tff bff prog
    read -r tff bff prog < <(idet_counts "$SRC/dvd.vob")
    [ "${tff:-0}" -gt $((9 * (${bff:-0} + ${prog:-0}))) ] || fail "test bug: idet finds dvd.vob not interlaced ($tff TFF, $bff BFF, $prog progressive)"
    [ -f "$MNT/dvd.vob/480p/index.m3u8" ] || fail "dvd.vob has no 480p rung: $(ls "$MNT/dvd.vob" | tr '\n' ' ')"
    read -r tff bff prog < <(idet_counts "$MNT/dvd.vob/480p/index.m3u8")
    [ "${prog:-0}" -gt $((9 * (${tff:-0} + ${bff:-0}))) ] ||
        fail "dvd.vob/480p is combed: idet finds $tff TFF, $bff BFF and $prog progressive frames"
}
soft check_deinterlaced

check_refused() {
    local rel=$1 d=$MNT/$1 got text
    got=$(ls -A "$d" | tr '\n' ' ')
    [ "$got" = "error.txt " ] || fail "'$rel' holds [$got], want only error.txt"
    text=$(cat "$d/error.txt")
    [ "$(grep -c . "$d/error.txt")" = 1 ] || fail "'$rel/error.txt' is not one line: $text"
    [[ $text == *"${REFUSED[$rel]}"* ]] || fail "'$rel/error.txt' should say '${REFUSED[$rel]}': $text"
    [ "$(grep -cF "$rel: " "$DAEMON_LOG")" = 1 ] || fail "'$rel': want one log line, got: $(grep -F "$rel" "$DAEMON_LOG" | tr '\n' '|')"
}
for rel in "${!REFUSED[@]}"; do soft check_refused "$rel"; done

# --- two mounts, own caches, opposite reading orders: the same bytes ---------------------------------------
same_on_second_mount
umount_hlsfs "$MNT"
pass
