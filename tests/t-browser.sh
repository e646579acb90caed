#!/usr/bin/env bash
# t-browser: a real browser plays the mount: headless Chromium opens contrib/player (hls.js) served with the
# mount by Caddy, and tests/browser/play.mjs checks playback, decoded frames, quality switching and the end.
source "$(dirname "$0")/lib.sh"

BROWSER_DIR=$TESTS_DIR/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
VIDEO="talks/Café – talk 1.mp4" # a folder, spaces and non-ASCII: the player must encode the path
DURATION=20

need ffmpeg caddy curl node npm

# Debian's chromium package only; a browser is never downloaded.
if [ ! -x "$CHROMIUM" ]; then
    [ "$(id -u)" = 0 ] || fail "$CHROMIUM is missing (apt-get install chromium)"
    say "t-browser: installing chromium with apt-get"
    (
        flock 9
        if [ ! -x "$CHROMIUM" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 </dev/null ||
                { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 </dev/null &&
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 </dev/null; }
        fi
    ) 9>/tmp/hlsfs-chromium-install.lock || fail "apt-get install chromium failed"
    [ -x "$CHROMIUM" ] || fail "$CHROMIUM still missing after apt-get install chromium"
fi

if [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
    [ ! -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ]; then
    (
        flock 9
        if [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
            [ ! -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ]; then
            npm install --prefix "$BROWSER_DIR" --no-audit --no-fund --loglevel=error >&2
        fi
    ) 9>"$BROWSER_DIR/.install.lock" || fail "npm install in tests/browser failed"
    [ -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ] || fail "hls.js missing after npm install in tests/browser"
fi

# The browser and its helpers run in their own process groups; stop them (by the pids whose command line
# names this test's profile folder) before lib.sh unmounts and removes $T.
PROFILE=$T/chromium-profile
BROWSER_PID=
stop_browser() {
    local p
    if [ -n "$BROWSER_PID" ]; then
        kill -TERM -- "-$BROWSER_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$BROWSER_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL -- "-$BROWSER_PID" 2>/dev/null
        wait "$BROWSER_PID" 2>/dev/null
        BROWSER_PID=
    fi
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -qF -- "--user-data-dir=$PROFILE" &&
            kill -KILL "${p#/proc/}" 2>/dev/null
    done
    return 0
}
# (errexit and the ERR trap off first: the status handed on to lib.sh's _cleanup may be a failure.)
trap 'rc=$?; trap - ERR; set +e; stop_browser; (exit "$rc"); _cleanup' EXIT

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
mkdir -p "$T/player"
cp "$REPO_DIR/contrib/player/index.html" "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" "$T/player/"

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
mkdir -p "$PROFILE"
# timeout leads its own process group, so stop_browser can end node with it.
timeout -k 5 120 node "$BROWSER_DIR/play.mjs" --url "$url" --profile "$PROFILE" \
    --screenshot "$T/player.png" --duration "$DURATION" --chromium "$CHROMIUM" > "$T/play.log" 2>&1 </dev/null &
BROWSER_PID=$!
rc=0
wait "$BROWSER_PID" || rc=$?
BROWSER_PID=
sed 's/^/  /' "$T/play.log" >&2
shot=
[ ! -f "$T/player.png" ] || shot="; screenshot $T/player.png"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    fail "play.mjs timed out after 120 s ($url$shot)"
elif [ "$rc" != 0 ]; then
    reason=$(sed -n 's/^FAIL: //p' "$T/play.log" | head -n 1)
    fail "browser playback of '$VIDEO': ${reason:-play.mjs exited $rc}${shot:+ (${shot#; })}"
fi
stop_browser

stop_servers
umount_hlsfs "$MNT"
pass
