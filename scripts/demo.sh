#!/usr/bin/env bash
# Shows hlsfs end to end: builds it, mounts a folder of videos and serves the mount over HTTP with Caddy,
# with the web player of contrib/player at /player/.
# Usage: scripts/demo.sh [FOLDER]   (no folder: a 30-second test video is generated). Ctrl-C stops it all.
set -euo pipefail

cd "$(dirname "$0")/.."
port=${PORT:-8080}

# Build quietly; show the output only when something fails.
quiet() {
	local out
	out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; echo "demo: '$*' failed" >&2; exit 1; }
}
scripts/install-deps.sh
if [ -f build/meson-private/coredata.dat ]; then
	quiet meson setup --reconfigure build
else
	quiet meson setup build
fi
quiet ninja -C build

work=$(mktemp -d "${TMPDIR:-/tmp}/hlsfs-demo.XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt" "$work/cache"
hlsfs_pid='' caddy_pid=''

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	trap - EXIT INT TERM
	set +e
	if [ -n "$caddy_pid" ]; then
		kill "$caddy_pid" 2>/dev/null
		wait "$caddy_pid" 2>/dev/null
	fi
	if [ -n "$hlsfs_pid" ]; then
		# Unmounting makes the daemon exit; a busy mount is detached lazily rather than left behind.
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$hlsfs_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$hlsfs_pid" 2>/dev/null
		wait "$hlsfs_pid" 2>/dev/null
	fi
	mountpoint -q "$mnt" || rm -rf "$work"
	echo "demo: stopped, mount removed"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ $# -ge 1 ]; then
	src=$(realpath "$1")
	[ -d "$src" ] || { echo "demo: $1 is not a folder" >&2; exit 1; }
	path=/
else
	src=$work/videos
	mkdir -p "$src"
	echo "demo: generating a 30-second 1280x720 H.264 + AAC test video"
	ffmpeg -nostdin -hide_banner -loglevel error \
		-f lavfi -i testsrc2=size=1280x720:rate=30 \
		-f lavfi -i sine=frequency=440:sample_rate=48000 \
		-t 30 -c:v libx264 -profile:v high -preset veryfast -pix_fmt yuv420p -g 60 \
		-c:a aac -b:a 128k -ac 2 -movflags +faststart "$src/demo.mp4"
	path=/demo.mp4/master.m3u8
fi

build/hlsfs -f -o "cache_dir=$work/cache" "$src" "$mnt" &
hlsfs_pid=$!
for _ in $(seq 100); do
	mountpoint -q "$mnt" && break
	kill -0 "$hlsfs_pid" 2>/dev/null || { hlsfs_pid=''; echo "demo: hlsfs exited before mounting" >&2; exit 1; }
	sleep 0.1
done
mountpoint -q "$mnt" || { echo "demo: $mnt is not mounted after 10 s" >&2; exit 1; }

# The web player: contrib/player/index.html beside hls.min.js from the npm package hls.js, fetched once into
# a cache folder. Without npm or the registry the demo goes on without the player.
hlsjs_version=1.7.4
hlsjs_cache=${XDG_CACHE_HOME:-$HOME/.cache}/hlsfs-player/hls.js-$hlsjs_version
hlsjs=$hlsjs_cache/node_modules/hls.js/dist/hls.min.js
if [ ! -f "$hlsjs" ] && command -v npm >/dev/null 2>&1; then
	echo "demo: fetching hls.js $hlsjs_version for the web player into $hlsjs_cache"
	mkdir -p "$hlsjs_cache"
	npm install --prefix "$hlsjs_cache" --no-audit --no-fund --no-save --loglevel=error "hls.js@$hlsjs_version" >&2 </dev/null ||
		echo "demo: npm install hls.js failed; serving without the web player" >&2
fi
player='' player_routes=''
if [ -f "$hlsjs" ]; then
	player=$work/player
	mkdir -p "$player"
	cp contrib/player/index.html "$hlsjs" "$player/"
	player_routes="	redir /player /player/
	handle_path /player/* {
		root * $player
		file_server
	}"
fi

# The same headers as contrib/Caddyfile, on the loopback address only.
cat > "$work/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}

http://127.0.0.1:$port {
	root * $mnt
	@playlist {
		path *.m3u8
		file
	}
	header @playlist {
		Content-Type application/vnd.apple.mpegurl
		Cache-Control "public, max-age=60"
	}
	@segment {
		path *.ts
		file
	}
	header @segment {
		Content-Type video/mp2t
		Cache-Control "public, max-age=31536000, immutable"
	}
	header Access-Control-Allow-Origin *
$player_routes
	file_server browse
}
CADDY
caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
caddy_pid=$!
for _ in $(seq 50); do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
	kill -0 "$caddy_pid" 2>/dev/null || { caddy_pid=''; cat "$work/caddy.log" >&2; echo "demo: caddy failed (port $port taken? set PORT)" >&2; exit 1; }
	sleep 0.1
done

if [ "$path" = / ]; then
	hint="Each video is a folder there; open its master.m3u8 in mpv, VLC or an hls.js page."
else
	hint="Open it in mpv, VLC or an hls.js page, for example: mpv http://127.0.0.1:$port$path"
fi
if [ -z "$player" ]; then
	player_msg="(The web player is off: hls.js could not be fetched with npm.)"
elif [ "$path" = / ]; then
	player_msg="Web player: http://127.0.0.1:$port/player/?v=PATH (PATH of a video under $src)"
else
	player_msg="Web player: http://127.0.0.1:$port/player/?v=demo.mp4"
fi
cat <<MSG

  $src is mounted as HLS on $mnt
  and served at:

    http://127.0.0.1:$port$path

  $hint
  $player_msg
  Ctrl-C stops the server and unmounts.

MSG

# Returns on Ctrl-C (the trap exits) or when either process dies.
wait -n "$hlsfs_pid" "$caddy_pid" || true
echo "demo: hlsfs or caddy exited unexpectedly" >&2
exit 1
