#!/usr/bin/env bash
# t-browser-growing: a recording still being written plays in a real browser. ffmpeg -re writes a fragmented
# MP4 (H.264 + AAC, MediaMTX's recordings/<path>/<date>_<time>.mp4) into a mount with growing_idle=3 served by
# Caddy from contrib/Caddyfile (its /player/ block on); once its variant playlist is EVENT with a segment,
# headless Chromium opens contrib/player (hls.js) on it twice: at hls.js's default start (near the live end)
# and with start=0, and a third time once it has 4 segments (a viewer joining under way, who must start 3
# target durations behind the end). tests/browser/growing.mjs checks each page starts playing where it
# should without a fatal error while hls.js holds the playlist as live EVENT, reloads it, fetches the new
# segments, plays well past the end the playlist had at the start, gets no playlist over 1.5 s older than
# the server's (cache lifetimes), and once the writer has finished sees ENDLIST and plays to the end (the
# late viewer after a seek near it). Prints the seconds from the writer's start to the first frame playing,
# and how far past the first-loaded end each page played.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/browser-lib.sh"

need ffmpeg caddy curl
browser_ready

LIVE=live/cam1                   # MediaMTX: recordings/<path>/<date>_<time>.mp4
REC=$(date -u +%Y-%m-%d_%H-%M-%S-000000).mp4
SECONDS_WRITTEN=40
mkdir -p "$SRC/recordings/$LIVE"

mount_hlsfs "$SRC" "$MNT" -o growing_idle=3
player_dir "$T/player"
start_contrib_caddy "$MNT" web "$T/player"
V=recordings/$LIVE/$REC
BASE=http://127.0.0.1:$HTTP_PORT/$V
W=$T/work
mkdir -p "$W"

# --- the writer: 40 s in real time, 2 s GOPs, each fragment flushed as MediaMTX does -------------------------
T0=$(date +%s.%N)
ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t "$SECONDS_WRITTEN" -c:v libx264 -preset ultrafast -profile:v main -g 50 -keyint_min 50 -sc_threshold 0 \
    -pix_fmt yuv420p -c:a aac -b:a 64k -movflags +frag_keyframe+empty_moov -flush_packets 1 -f mp4 \
    "$SRC/$V" 2> "$W/writer.log" &
WRITER=$!
_track_pid "$WRITER"

# --- as soon as the master lists and the variant playlist is EVENT with a segment, the browser opens it ------
variant=
while :; do
    el=$(fcalc "$(date +%s.%N) - $T0")
    ftrue "$el > 20" && fail "no EVENT playlist with a segment 20 s after the writer started (variant '$variant')"
    kill -0 "$WRITER" 2>/dev/null || fail "the writer ended early: $(head -c 300 "$W/writer.log")"
    if [ "$(http_get "$BASE/master.m3u8" "$W/master" | cut -f1)" = 200 ]; then
        variant=$(playlist_uris "$W/master" | sed -n 1p)
        if [ -n "$variant" ] && [ "$(http_get "$BASE/$variant" "$W/pl" | cut -f1)" = 200 ] &&
            [ "$(playlist_tag "$W/pl" EXT-X-PLAYLIST-TYPE)" = EVENT ] && [ -n "$(playlist_uris "$W/pl")" ]; then
            break
        fi
    fi
    sleep 0.2
done
say "growing: EVENT playlist with $(playlist_uris "$W/pl" | wc -l) segment(s) ${el}s after the writer started" \
    "(TARGETDURATION $(playlist_tag "$W/pl" EXT-X-TARGETDURATION))"

url="http://127.0.0.1:$HTTP_PORT/player/?v=$(urlpath "$V")"
run_browser "a growing recording in the browser" 120 "$T/growing.log" growing.mjs --url "$url" \
    --variant "$BASE/$variant" --t0 "$T0" --late 4 \
    --max 80 --screenshot "$T/growing.png"

wait "$WRITER" || fail "the writer failed: $(head -c 300 "$W/writer.log")"
_forget_pid "$WRITER"
stop_servers
umount_hlsfs "$MNT"
pass
