#!/usr/bin/env bash
# t-nginx: nginx (sendfile on, HLS MIME types) serving the mount: playlists and segments come back whole
# with Content-Length from stat and the right Content-Type, Range requests get 206 with exactly the right
# bytes, and ffmpeg plays over HTTP.
source "$(dirname "$0")/lib.sh"

need nginx curl ffmpeg
mount_library
start_nginx "$MNT"
http_suite "$HTTP_PORT" nginx 1
grep -q ' 206 ' "$T/nginx/access.log" || fail "nginx access log shows no 206 response"
stop_servers
umount_hlsfs "$MNT"
pass
