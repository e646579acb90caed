#!/usr/bin/env bash
# t-growing-ts: an MPEG-TS written in real time (ffmpeg -re, H.264 + AAC, MediaMTX's recordFormat mpegts
# layout and naming) is served while it grows, through Caddy: EVENT without ENDLIST with a segment within
# 15 s, growing only at its end, master unchanged; every listed segment keeps its bytes at every poll, once
# finished and on a fresh mount (its frame cut short at the end of what is written is never in one);
# Content-Length = bytes of every response; ENDLIST (still EVENT, nothing else changed) within 30 s of the writer's end; ffmpeg plays the
# finished tree without a message. An FLV file being written (its muxer goes back to its head when it
# finishes) is only error.txt saying it is served once finished, and is a video folder once its writer closes
# it (a Matroska file is served while written: t-growing-mkv). Prints the latency from a boundary keyframe being
# written to its segment being listed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/growing-lib.sh"

need ffmpeg ffprobe curl md5sum
LIVE=live/cam_2-door             # MediaMTX: recordings/<path>/<date>_<time>.ts
REC=2026-12-05_17-00-00-000000.ts
FLV=2026-12-05_17-00-00-000000.flv
mkdir -p "$SRC/$LIVE" "$SRC/obs"
ENC=(-c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 64k)
SRCS=(-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000)

mount_hlsfs "$SRC" "$MNT" -o growing_idle=3
start_caddy "$MNT"
URL=http://127.0.0.1:$HTTP_PORT/$LIVE/$REC
W=$T/work
mkdir -p "$W"

# --- the writers: 25 s of 2 s GOPs in MPEG-TS, each packet written out at once; and an FLV file -------------
T0=$(date +%s.%N)
ffmpeg -nostdin -v error -re "${SRCS[@]}" -t 25 "${ENC[@]}" -flush_packets 1 -f mpegts "$SRC/$LIVE/$REC" \
    2> "$W/writer.log" &
WRITER=$!
_track_pid "$WRITER"
ffmpeg -nostdin -v error -re "${SRCS[@]}" -t 8 "${ENC[@]}" -flush_packets 1 -f flv "$SRC/obs/$FLV" \
    2> "$W/flv.log" &
FLVW=$!
_track_pid "$FLVW"

# The FLV file, once something is written: a note, never a playlist, while it is written.
wait_until 10 test -s "$SRC/obs/$FLV" || fail "the FLV writer wrote nothing"
sleep 2
[ -e "$MNT/obs/$FLV/master.m3u8" ] && fail "an FLV file being written is served as a video: $(ls "$MNT/obs/$FLV")"
note=$(cat "$MNT/obs/$FLV/error.txt" 2>&1) || fail "no error.txt for an FLV file being written: $note"
case $note in *"being written"*"once it is finished"*) ;; *) fail "error.txt of an FLV file being written: $note" ;; esac

grow_follow "$URL" 240p "$WRITER" "$T0" "$W"
grow_report growing-ts "a 2 s GOP; every packet written at once"

# The FLV writer ended long ago: its folder is a video.
wait "$FLVW" || fail "the FLV writer failed: $(head -c 300 "$W/flv.log")"
_forget_pid "$FLVW"
wait_until 10 test -f "$MNT/obs/$FLV/master.m3u8" ||
    fail "the finished FLV file is not a video folder: $(cat "$MNT/obs/$FLV/error.txt" 2>&1)"

# --- finished: the same bytes, here and on a fresh mount; ffmpeg plays it ----------------------------------
grow_finished "$URL" 240p "$W"
stop_servers
umount_hlsfs "$MNT"
mkdir -p "$T/mnt2"
mount_hlsfs "$SRC" "$T/mnt2" -o growing_idle=0
grow_fresh "$T/mnt2/$LIVE/$REC/240p" "$W/pl" 4
umount_hlsfs "$T/mnt2"
pass
