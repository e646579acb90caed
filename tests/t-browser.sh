#!/usr/bin/env bash
# t-browser: a real browser plays the mount: headless Chromium opens contrib/player (hls.js) served with the
# mount by Caddy, and tests/browser/play.mjs checks playback, decoded frames, quality switching and the end.
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/browser-lib.sh"

VIDEO="talks/Café – talk 1.mp4" # a folder, spaces and non-ASCII: the player must encode the path
DURATION=20

need ffmpeg caddy curl node npm

browser_ready

# 20 s of 640x360 at 30 fps, H.264 High with B-frames and a keyframe every 2 s, stereo AAC.
mkdir -p "$SRC/$(dirname "$VIDEO")"
_ff -f lavfi -i "$(_video 640x360 30 "$DURATION")" -f lavfi -i "$(_tone2 "$DURATION" 48000)" \
    -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -crf 28 -g 60 -keyint_min 60 -sc_threshold 0 \
    -c:a aac -b:a 96k "$SRC/$VIDEO" || fail "ffmpeg could not generate the test video"

# A second, transcoded level (320x180) when this hlsfs has a ladder, so the quality switch is exercised;
# without one the video has a single level and play.mjs skips the switch.
opts=()
if "$HLSFS" --help 2>&1 | grep -q 'ladder='; then opts=(-o ladder=180:200); fi
mount_hlsfs "$SRC" "$MNT" "${opts[@]}"
[ -f "$MNT/$VIDEO/master.m3u8" ] || fail "no master.m3u8 for '$VIDEO' in the mount"

# The player page beside the mount, as contrib/player/README.md describes.
player_dir "$T/player"

# Caddy with the HLS MIME types of contrib/Caddyfile, the mount at / and the player at /player/.
site=$(cat <<EOF
	@playlist {
		path *.m3u8
		file
	}
	header @playlist Content-Type application/vnd.apple.mpegurl
	@segment {
		path *.ts
		file
	}
	header @segment Content-Type video/mp2t
	redir /player /player/
	handle_path /player/* {
		root * $T/player
		file_server
	}
EOF
)
start_caddy "$MNT" "$site"

url="http://127.0.0.1:$HTTP_PORT/player/?v=$(urlpath "$VIDEO")"
run_browser "browser playback of '$VIDEO'" 120 "$T/play.log" play.mjs --url "$url" \
    --screenshot "$T/player.png" --duration "$DURATION"

stop_servers
umount_hlsfs "$MNT"
pass
