#!/usr/bin/env bash
# t-containers: videos in Matroska (mkvmerge, laced audio), WebM, AVI and FLV are served: each index names
# exactly the demuxer's frames, each tree plays through Caddy and is exact and deterministic, H.264 with an
# avcC passes through unchanged; MPEG-TS and compressed Matroska frames are refused with one error.txt line.
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
    -cpu-used 8 -g 50 -c:a libopus -b:a 64k "$SRC/lecture.webm"
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 550 44100 6)" -c:v mpeg4 -q:v 5 -g 50 -c:a libmp3lame -b:a 128k \
    "$SRC/show.avi"
# H.264 as AVI stores it: Annex B with start codes, no avcC; our muxer cannot pass it through. AVI gives
# decode times only, so B-frames (whose presentation order the index cannot know) are refused.
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 500 44100 6)" -c:v libx264 -bf 0 -g 50 -pix_fmt yuv420p \
    -c:a libmp3lame "$SRC/annexb.avi"
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 500 44100 4)" -c:v libx264 -bf 2 -g 50 -pix_fmt yuv420p \
    -c:a libmp3lame "$SRC/bframes.avi"
ff -f lavfi -i "$(pic 30 6)" -f lavfi -i "$(tone 660 44100 6)" -c:v libx264 -profile:v main -g 60 \
    -pix_fmt yuv420p -c:a aac -b:a 96k "$SRC/clip.flv"
# Refused until they are supported: frames in pieces, frames compressed.
ff -f lavfi -i "$(pic 30 6)" -f lavfi -i "$(tone 770 48000 6)" -c:v libx264 -g 60 -pix_fmt yuv420p -c:a aac \
    "$SRC/cam.ts"
mkvmerge -q -o "$SRC/zlib.mkv" --compression 1:zlib "$W/talk.mp4" || fail "mkvmerge could not make zlib.mkv"

GOOD=(talk.mkv lecture.webm show.avi annexb.avi clip.flv)
PASSTHROUGH=(talk.mkv clip.flv)
declare -A REFUSED=([cam.ts]='MPEG-TS' [zlib.mkv]='compressed' [bframes.avi]='B-frames')
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

frame_hashes() {
    ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -fps_mode passthrough -f framemd5 - | grep -v '^#' | awk -F, '{print $NF}'
}
audio_packets() {
    ffprobe -v error -select_streams a:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1" |
        sed '/^$/d' | sed -n 1p
}
is_passthrough() { local p; for p in "${PASSTHROUGH[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

check_good() {
    local rel=$1 v=$MNT/$1 out pl seg f key rest want got first
    [ -f "$v/master.m3u8" ] || fail "'$rel' has no master.m3u8: $(cat "$v/error.txt" 2>/dev/null || ls -A "$v" | tr '\n' ' ')"
    out=$(timeout 120 ffmpeg -nostdin -v error -i "http://127.0.0.1:$HTTP_PORT/$(urlpath "$rel")/master.m3u8" \
        -map 0 -f null - 2>&1) || fail "'$rel': ffmpeg over HTTP (Caddy) failed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"
    [ -z "$out" ] || fail "'$rel': ffmpeg over HTTP (Caddy) printed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"
    while IFS= read -r -d '' f; do
        want=$(stat -c %s "$f")
        got=$(wc -c < "$f")
        [ "$want" = "$got" ] || fail "'${f#"$MNT"/}': stat says $want bytes, reading gives $got"
    done < <(every_file "$v")
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
}
# The passthrough variant is the one with an I-frame playlist (rungs have none).
passthrough_pl() { local d; for d in "$1"/*p; do [ -f "$d/iframes.m3u8" ] && printf '%s\n' "$d/index.m3u8"; done; true; }
for rel in "${GOOD[@]}"; do soft check_good "$rel"; done

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
tree_sums "$MNT" > "$T/sums-1"
mkdir -p "$T/mnt2"
mount_hlsfs "$SRC" "$T/mnt2"
REVERSE=1 tree_sums "$T/mnt2" > "$T/sums-2"
cmp -s "$T/sums-1" "$T/sums-2" ||
    fail "two mounts differ: $(diff "$T/sums-1" "$T/sums-2" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
umount_hlsfs "$T/mnt2"
umount_hlsfs "$MNT"
pass
