#!/usr/bin/env bash
# t-growing: a fragmented MP4 written in real time (ffmpeg -re, MediaMTX's layout and naming) is served
# while it grows, through Caddy: its variant playlist is EVENT without ENDLIST with a segment within 15 s of
# the start, grows, only ever gains lines at its end; the master does not change; every segment listed keeps
# its bytes, and equals the same segment once finished and on a fresh mount; Content-Length = bytes of every
# response; ENDLIST (still EVENT, nothing else changed) within 30 s of the writer's end (inotify sees its close); ffmpeg plays the finished
# tree without a message. Finished recordings beside it are video folders as any file. Prints the latency
# from a boundary keyframe being encoded to its segment being listed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/growing-lib.sh"

need ffmpeg ffprobe curl md5sum
LIVE=live/cam_1-front            # MediaMTX: recordings/<path>/<date>_<time>.mp4
REC=2026-12-05_16-00-00-000000.mp4
mkdir -p "$SRC/$LIVE"
ENC=(-c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 64k
     -movflags +frag_keyframe+empty_moov)
SRCS=(-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000)

# Earlier recordings of the same path, finished (one per recordSegmentDuration).
for t in 15-00-00-000000 15-30-00-000000 15-45-12-123456; do
    ffmpeg -nostdin -v error -y "${SRCS[@]}" -t 2 "${ENC[@]}" -f mp4 "$SRC/$LIVE/2026-12-05_$t.mp4" ||
        fail "ffmpeg could not make a finished recording"
done
touch -d '-1 hour' "$SRC/$LIVE"/*.mp4

mount_hlsfs "$SRC" "$MNT" -o growing_idle=3
start_caddy "$MNT"
URL=http://127.0.0.1:$HTTP_PORT/$LIVE/$REC
W=$T/work
mkdir -p "$W"

# --- the writer: 25 s of 2 s GOPs, each fragment flushed as MediaMTX does -----------------------------------
T0=$(date +%s.%N)
ffmpeg -nostdin -v error -re "${SRCS[@]}" -t 25 "${ENC[@]}" -flush_packets 1 -f mp4 "$SRC/$LIVE/$REC" \
    2> "$W/writer.log" &
WRITER=$!
_track_pid "$WRITER"

grow_follow "$URL" 240p "$WRITER" "$T0" "$W"
grow_report growing "a 2 s GOP: ffmpeg writes the fragment holding a keyframe at the next one"

# --- finished: the same bytes, here and on a fresh mount; ffmpeg plays it ----------------------------------
grow_finished "$URL" 240p "$W"
stop_servers
umount_hlsfs "$MNT"
mkdir -p "$T/mnt2"
mount_hlsfs "$SRC" "$T/mnt2" -o growing_idle=0
grow_fresh "$T/mnt2/$LIVE/$REC/240p" "$W/pl" 4

# --- MediaMTX's layout: every recording of the path a video folder beside the others -----------------------
listing=$(ls "$T/mnt2/$LIVE")
[ "$(wc -l <<<"$listing")" = 4 ] || fail "want 4 recordings in $LIVE, got: $(tr '\n' ' ' <<<"$listing")"
for f in "$T/mnt2/$LIVE"/*.mp4; do
    [ -f "$f/master.m3u8" ] || fail "$(basename "$f") is not a video folder: $(ls "$f" | tr '\n' ' ')"
    grep -q '^#EXT-X-ENDLIST' "$f/240p/index.m3u8" || fail "$(basename "$f") is not a finished playlist"
done
umount_hlsfs "$T/mnt2"
pass
