#!/usr/bin/env bash
# t-scan-table: MP4/MOV audio, and video without B-frames, read from libavformat's sample table (once its
# first packets match it) gives the index every packet through the demuxer gives, sample for sample and
# field for field (tests/unit/scan_frames --table), for AAC with its priming, MP3, AC-3, E-AC-3, ALAC, FLAC
# and Opus in MP4, PCM in MOV (several samples a chunk), two audio tracks, a copy trimmed by an edit list
# (audio before the cut), audio behind an empty edit, 3GP, H.264 with 2-byte NAL lengths (payload then read
# for real), H.264 without B-frames (its video from the table too), and a fragmented MP4 (read packet by
# packet); that the table was used where it should be (its debug line), and each source still plays through
# the mount.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe python3
SCAN_FRAMES=$(dirname "$HLSFS")/tests/unit/scan_frames
[ -x "$SCAN_FRAMES" ] || fail "no $SCAN_FRAMES beside $HLSFS (built by ninja with hlsfs)"

ff() { ffmpeg -nostdin -v error -y "$@" || fail "ffmpeg could not make test media: ffmpeg $*"; }
pic="testsrc2=size=320x240:rate=30:duration=6"
tone() { printf 'sine=frequency=%s:sample_rate=%s:duration=6' "$1" "$2"; }
W=$T/work
mkdir -p "$W"

ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -bf 2 -c:a aac -b:a 96k "$SRC/aac.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 44100)" -c:v libx264 -c:a libmp3lame "$SRC/mp3.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -bf 0 -c:a aac "$SRC/no-bframes.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -c:a ac3 "$SRC/ac3.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -c:a eac3 "$SRC/eac3.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 44100)" -c:v libx264 -c:a alac "$SRC/alac.m4v"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -c:a flac -strict -2 "$SRC/flac.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v libx264 -c:a libopus "$SRC/opus.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -c:v mpeg4 -c:a pcm_s24le "$SRC/pcm.mov"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 48000)" -f lavfi -i "$(tone 660 44100)" -map 0 -map 1 -map 2 \
    -c:v libx264 -c:a aac -metadata:s:a:1 language=fre "$SRC/two-audio.mp4"
ff -f lavfi -i "testsrc2=size=320x240:rate=30:duration=10" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=10" \
    -c:v libx264 -bf 3 -g 90 -c:a aac "$W/long.mp4"
ff -ss 4.5 -i "$W/long.mp4" -c copy "$SRC/trimmed.mp4"
ff -f lavfi -i "$pic" -c:v libx264 "$W/v.mp4"
ff -f lavfi -i "$(tone 440 48000)" -c:a aac "$W/a.m4a"
ff -i "$W/v.mp4" -itsoffset 1.5 -i "$W/a.m4a" -map 0 -map 1 -c copy "$SRC/late-audio.mp4"
ff -f lavfi -i "$pic" -f lavfi -i "$(tone 440 22050)" -c:v libx264 -c:a aac "$SRC/phone.3gp"
python3 "$(dirname "$0")/tools/nal_length.py" "$SRC/aac.mp4" "$SRC/nal2.mp4" 2 || fail "could not make nal2.mp4"
ff -i "$SRC/aac.mp4" -c copy -movflags frag_keyframe+empty_moov "$SRC/fragmented.mp4"

for f in "$SRC"/*; do
    rel=${f##*/}
    out=$("$SCAN_FRAMES" --table "$f" 2> "$T/table.err") ||
        fail "'$rel': $(grep -m3 '^scan_frames' "$T/table.err" || tail -n 3 "$T/table.err")"
    n=$(sed -n 's/.* \([0-9][0-9]*\) samples read from the sample table.*/\1/p' "$T/table.err" | sed -n 1p)
    if [ "$rel" = fragmented.mp4 ]; then
        [ -z "$n" ] || fail "'$rel': a fragmented MP4's audio read from a sample table ($n samples)"
    elif [ "$rel" = no-bframes.mp4 ]; then  # video too: all but the 16 first packets of each track
        all=$(ffprobe -v error -show_entries packet=pos -of csv=p=0 "$f" | grep -c .)
        [ "${n:-0}" = $((all - 32)) ] || fail "'$rel': ${n:-no} of its $all samples read from the sample table, want $((all - 32))"
    else
        [ "${n:-0}" -gt 10 ] || fail "'$rel': its audio was not read from the sample table (${n:-no} samples): $out"
    fi
done

mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE"
for f in "$SRC"/*; do
    rel=${f##*/}
    [ -f "$MNT/$rel/master.m3u8" ] || fail "'$rel' is not served: $(head -c 300 "$MNT/$rel/error.txt" 2>&1)"
    out=$(ffmpeg -nostdin -v error -i "$MNT/$rel/master.m3u8" -map 0 -f null - 2>&1) ||
        fail "'$rel' does not play through the mount: $out"
    # ffmpeg's CLI says the dts of audio that starts well after the video (late-audio.mp4; the hidden frames
    # before the cut in trimmed.mp4's passthrough) is not increasing, for its own `-f hls` copy too
    out=$(grep -v 'non monotonically increasing dts to muxer' <<<"$out" || true)
    [ -z "$out" ] || fail "'$rel' plays with errors: $(head -n 3 <<<"$out")"
done
umount_hlsfs "$MNT"
pass
