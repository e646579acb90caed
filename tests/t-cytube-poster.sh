#!/usr/bin/env bash
# t-cytube-poster: with base_url, every video directory holds a cytube.json that CyTube's custom-media
# format accepts (checked field by field from calzoneman/sync docs/custom-media.md), whose manifest URL,
# resolved against a real Caddy serving the mount, is playable HLS; and poster.jpg is a valid JPEG in the
# video's display aspect ratio whose stat size equals the bytes read, the same bytes after a remount that
# indexes nothing again (it is made when first asked for, then kept with the index).
source "$(dirname "$0")/lib.sh"

need caddy curl ffmpeg ffprobe python3
BASE=https://video.example.org/hls
mount_library -o "ladder=none,base_url=$BASE,cache_dir=$T/kept"
start_caddy "$MNT"

# The manifest, as CyTube checks it; prints the master playlist's path below BASE.
cat > "$T/cytube_check.py" <<'PY'
import json, sys, re, urllib.parse
doc = open(sys.argv[1], 'rb').read()
base = sys.argv[2]
def bad(msg):
    print(msg); sys.exit(1)
if len(doc) >= 100 * 1024:
    bad("larger than 100 KiB")
m = json.loads(doc.decode('utf-8'))
if not isinstance(m.get('title'), str) or not m['title']:
    bad("title must be a non-empty string")
if not isinstance(m.get('duration'), (int, float)) or isinstance(m.get('duration'), bool) or m['duration'] < 0:
    bad("duration must be a number >= 0")
if m.get('live', False) is not False:
    bad("live must be false")
src = m.get('sources')
if not isinstance(src, list) or not src:
    bad("sources must be a non-empty array")
qualities = {240, 360, 480, 540, 720, 1080, 1440, 2160}
types = {'application/x-mpegURL', 'video/mp4', 'video/webm', 'video/ogg', 'audio/aac', 'audio/ogg', 'audio/mpeg',
         'application/dash+xml', 'rtmp/flv'}
for s in src:
    u = urllib.parse.urlparse(s.get('url', ''))
    if u.scheme != 'https' or not u.hostname or re.fullmatch(r'[0-9.]+', u.hostname) or ':' in (u.hostname or ''):
        bad("source url must be https with a host name: %r" % s.get('url'))
    if s.get('contentType') not in types:
        bad("contentType %r is not one CyTube accepts" % s.get('contentType'))
    if s.get('quality') not in qualities:
        bad("quality %r is not in CyTube's set" % s.get('quality'))
if 'thumbnail' in m and not str(m['thumbnail']).startswith('https://'):
    bad("thumbnail must be https")
if 'textTracks' in m:
    bad("textTracks present but this library has no subtitles")
url = src[0]['url']
if not url.startswith(base + '/') or not url.endswith('/master.m3u8'):
    bad("url %r is not under base_url" % url)
print(url[len(base):])
PY
checked=0
while IFS= read -r rel; do
    dir=$MNT/$rel
    [ -f "$dir/master.m3u8" ] || continue
    [ -f "$dir/cytube.json" ] || fail "$rel: no cytube.json although base_url is set"
    path=$(python3 "$T/cytube_check.py" "$dir/cytube.json" "$BASE") || fail "$rel: cytube.json: $path"
    # The same path through the web server: the URL CyTube would fetch, served by Caddy here.
    code=$(curl -s -o "$T/m.m3u8" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT$path")
    [ "$code" = 200 ] || fail "$rel: $path through Caddy answered $code"
    cmp -s "$T/m.m3u8" "$dir/master.m3u8" || fail "$rel: $path through Caddy is not the mount's master.m3u8"
    out=$(timeout 120 ffmpeg -nostdin -v error -i "http://127.0.0.1:$HTTP_PORT$path" -map 0 -f null - 2>&1) ||
        fail "$rel: ffmpeg could not play $path: $out"
    [ -z "$out" ] || fail "$rel: ffmpeg reported errors playing $path: $(head -n 2 <<<"$out")"
    dur=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration"])' "$dir/cytube.json")
    src_dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SRC/$rel")
    ftrue "($dur - $src_dur) < 0.1 && ($src_dur - $dur) < 0.1" || fail "$rel: cytube.json duration $dur, source $src_dur"

    # poster.jpg: a JPEG of the display aspect ratio, stat size == bytes read.
    p=$dir/poster.jpg
    [ -f "$p" ] || fail "$rel: no poster.jpg"
    [ "$(stat -c %s "$p")" = "$(wc -c < "$p")" ] || fail "$rel: poster.jpg stat size differs from the bytes read"
    [ "$(head -c 2 "$p" | od -An -tx1 | tr -d ' \n')" = ffd8 ] || fail "$rel: poster.jpg does not start like a JPEG"
    read -r codec pw ph < <(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$p" | tr ',' ' ')
    [ "$codec" = mjpeg ] || fail "$rel: poster.jpg decodes as $codec, not JPEG"
    read -r vw vh sar < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,sample_aspect_ratio \
        -of csv=p=0 "$SRC/$rel" | tr ',' ' ')
    case $sar in ''|N/A|0:1) sar=1:1 ;; esac
    ftrue "(($pw / $ph) - ($vw * ${sar%:*} / ${sar#*:} / $vh)) < 0.02 && (($vw * ${sar%:*} / ${sar#*:} / $vh) - ($pw / $ph)) < 0.02" ||
        fail "$rel: poster.jpg is ${pw}x$ph, the video ${vw}x$vh (SAR $sar)"
    md5sum < "$p" | sed "s|-\$|$rel|" >> "$T/posters"
    checked=$((checked + 1))
done < <(good_videos)
[ "$checked" -gt 0 ] || fail "no video was checked"
say "cytube-poster: $checked videos: cytube.json valid and playable through Caddy, poster.jpg right"
stop_servers
umount_hlsfs "$MNT"

# poster.jpg is made when first asked for and kept with the index: a remount on the same cache_dir
# serves the same bytes without indexing any video again.
mount_hlsfs "$SRC" "$MNT" -o "ladder=none,base_url=$BASE,cache_dir=$T/kept"
while read -r sum rel; do
    [ "$(md5sum < "$MNT/$rel/poster.jpg" | cut -d' ' -f1)" = "$sum" ] || fail "$rel: poster.jpg differs after a remount"
done < "$T/posters"
[ "$(stat_of "$MNT" hlsfs_index_builds_total)" = 0 ] ||
    fail "the remount indexed $(stat_of "$MNT" hlsfs_index_builds_total) videos again, want 0 (all from the persistent index)"
umount_hlsfs "$MNT"
pass
