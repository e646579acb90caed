#!/usr/bin/env bash
# t-caddy: a real Caddy serving the mount: playlists and segments come back whole with Content-Length
# from stat, Range requests get 206 with exactly the right bytes, and ffmpeg plays over HTTP.
source "$(dirname "$0")/lib.sh"

need caddy curl ffmpeg
mount_library
start_caddy "$MNT"
http_suite "$HTTP_PORT" caddy 0
stop_servers
umount_hlsfs "$MNT"
pass
