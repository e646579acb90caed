#!/usr/bin/env bash
# t-browser-subs: subtitles in a real browser. Headless Chromium opens contrib/player (hls.js) on an MP4 with
# an English mov_text track and a cp1252 sidecar NAME.fr.srt, served with the mount by Caddy;
# tests/browser/subs.mjs checks that hls.js and <video> expose two subtitle tracks and that, with French
# chosen and the video seeked into a cue, the active cue's text is the source's (UTF-8, accents intact) and
# starts where the source's does (within 40 ms).
source "$(dirname "$0")/lib.sh"
source "$TESTS_DIR/browser-lib.sh"

need ffmpeg caddy curl
browser_ready

W=$T/work
mkdir -p "$W"
cat > "$W/en.srt" <<'SRT'
1
00:00:01,000 --> 00:00:04,000
Hello world
SRT
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=640x360:rate=30:duration=12 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=12 -i "$W/en.srt" -map 0 -map 1 -map 2 \
    -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 -c:a aac -c:s mov_text \
    -metadata:s:s:0 language=eng "$SRC/film.mp4" || fail "ffmpeg could not generate the test video"
printf '1\r\n00:00:02,000 --> 00:00:05,500\r\nCaf\xe9 cr\xe8me \xe0 la fran\xe7aise\r\n' > "$SRC/film.fr.srt"

mount_hlsfs "$SRC" "$MNT" -o ladder=none
[ -d "$MNT/film.mp4/subs-fr" ] || fail "no subs-fr in the mount: $(ls "$MNT/film.mp4" | tr '\n' ' ')"

player_dir "$T/player"
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
	@subtitles {
		path *.vtt
		file
	}
	header @subtitles Content-Type "text/vtt; charset=utf-8"
	redir /player /player/
	handle_path /player/* {
		root * $T/player
		file_server
	}
EOF
)
start_caddy "$MNT" "$site"

url="http://127.0.0.1:$HTTP_PORT/player/?v=film.mp4"
expect='{"tracks": [{"lang": "en"}, {"lang": "fr"}], "lang": "fr", "seek": 3.0,
  "text": "Café crème à la française", "start": 2.0, "tolerance": 0.04}'
run_browser "browser subtitles" 120 "$T/subs.log" subs.mjs --url "$url" --expect "$expect" \
    --screenshot "$T/subs.png"
stop_servers
umount_hlsfs "$MNT"
pass
