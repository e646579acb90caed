#!/usr/bin/env bash
# t-versioned: segment names carry the source's version. Through the recipes of contrib/ (Caddy and nginx,
# each started from the file shipped there): versioned segments are immutable for a year, playlists have a
# short lifetime and are compressed; a source replaced under load (written aside, mv'd over) gets new
# segment names while master.m3u8 and <height>p/index.m3u8 keep theirs; the old names answer 404 (with no
# long cache lifetime) and the unversioned spelling is no file.
source "$(dirname "$0")/lib.sh"

need caddy nginx curl ffmpeg gzip
need_hlsfs

x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac -b:a 48k)
make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=320x180:rate=25:duration=24 -f lavfi -i sine=f=440:d=24 "${x264[@]}"
make_video "$T/new.mp4" -f lavfi -i smptebars=size=320x180:rate=25:duration=20 -f lavfi -i sine=f=880:d=20 "${x264[@]}"
mount_hlsfs "$SRC" "$MNT" -o ladder=none,segment=1

# --- Caddy from contrib/Caddyfile (its site address and root replaced) --------------------------------------
start_contrib_caddy "$MNT" node
CPORT=$HTTP_PORT

# --- nginx with contrib/nginx.conf included in its http block ------------------------------------------------
d=$T/nginx
mkdir -p "$d"
for _ in 1 2 3; do
    NPORT=$(free_port)
    sed -e "s|listen 8080;|listen 127.0.0.1:$NPORT;|" -e '/listen \[::\]:8080;/d' -e "s|root /srv/hls;|root $MNT;|" \
        "$REPO_DIR/contrib/nginx.conf" > "$d/hlsfs.conf"
    nginx_conf "$d" 1 64 "    include /etc/nginx/mime.types;
    include $d/hlsfs.conf;"
    if start_server "$NPORT" "$d/stdout.log" "$d/error.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"; then
        break
    fi
    NPORT=
done
[ -n "$NPORT" ] || fail "nginx did not start with contrib/nginx.conf: $(tail -n 3 "$d/error.log" | tr '\n' ' ')"

# head_of PORT PATH [CURL ARGS]: "STATUS|CACHE-CONTROL|CONTENT-ENCODING" of a GET; the body goes to $T/body.
head_of() {
    local port=$1 path=$2
    shift 2
    curl -s --max-time 20 -D "$T/hdr" -o "$T/body" "$@" "http://127.0.0.1:$port/$path" || fail "curl $path failed"
    awk 'BEGIN { IGNORECASE = 1 } /^HTTP\// { st = $2; cc = ""; ce = "" } { sub(/\r$/, "") }
        tolower($0) ~ /^cache-control:/ { sub(/^[^:]*: */, ""); cc = $0 }
        tolower($0) ~ /^content-encoding:/ { sub(/^[^:]*: */, ""); ce = $0 }
        END { printf "%s|%s|%s\n", st, cc, ce }' "$T/hdr"
}

# check_headers PORT SERVER SEG: the cache headers and compression of the recipes.
check_headers() {
    local port=$1 srv=$2 seg=$3 got
    got=$(head_of "$port" v.mp4/master.m3u8)
    [ "${got%%|*}" = 200 ] || fail "$srv: master.m3u8 gave $got"
    [[ $got == *"max-age=1|"* ]] || fail "$srv: master.m3u8 Cache-Control is not 1 s: $got"
    got=$(head_of "$port" v.mp4/180p/index.m3u8 -H 'Accept-Encoding: gzip')
    [[ $got == "200|"*"max-age=1|gzip" ]] || fail "$srv: 180p/index.m3u8 with Accept-Encoding gzip gave '$got', want 200, max-age=1, gzip"
    gzip -dc < "$T/body" | cmp -s - "$MNT/v.mp4/180p/index.m3u8" || fail "$srv: the gzipped playlist is not the playlist"
    got=$(head_of "$port" "v.mp4/180p/$seg" -H 'Accept-Encoding: gzip')
    [ "$got" = "200|public, max-age=31536000, immutable|" ] || fail "$srv: $seg gave '$got', want 200, immutable, not compressed"
    cmp -s "$T/body" "$MNT/v.mp4/180p/$seg" || fail "$srv: $seg body differs from the mount's"
}

PL=$MNT/v.mp4/180p/index.m3u8
playlist_uris "$PL" > "$T/old.names"
OLD0=$(sed -n 1p "$T/old.names")
check_headers "$CPORT" caddy "$OLD0"
check_headers "$NPORT" nginx "$OLD0"
ver=$(segment_version "$PL")
for bad in "seg-00000.ts" "seg-0-$ver.ts" "seg-000000-$ver.ts" "seg-00000-$(tr a-f A-F <<<"$ver").ts"; do
    [ ! -e "$MNT/v.mp4/180p/$bad" ] || fail "the non-canonical name 180p/$bad is a file"
done
cp "$MNT/v.mp4/180p/$OLD0" "$T/old0.ts"

# --- replace the source under load: a reader fetches the playlist and its first segment over and over -------
cat > "$T/viewer.sh" <<'EOF'
# viewer.sh PORT STOP OUT: GET the playlist, then its first segment, until STOP exists; one line per round:
# "TIME ok NAME HASH" (200 and the body's length = Content-Length), "TIME gone NAME" (404: the playlist was
# older than the replacement) or "TIME bad ...".
port=$1 stop=$2 out=$3
while [ ! -e "$stop" ]; do
    pl=$(curl -s --max-time 10 "http://127.0.0.1:$port/v.mp4/180p/index.m3u8") || { echo "$(date +%s.%N) bad playlist" >> "$out"; continue; }
    seg=$(printf '%s\n' "$pl" | grep -v '^#' | sed -n 1p)
    r=$(curl -s --max-time 10 -o "$out.body" -w '%{http_code} %{size_download} %header{content-length}' "http://127.0.0.1:$port/v.mp4/180p/$seg")
    set -- $r
    if [ "$1" = 200 ] && [ "$2" = "$3" ]; then
        echo "$(date +%s.%N) ok $seg $(sha256sum < "$out.body" | cut -c1-16)" >> "$out"
    elif [ "$1" = 404 ]; then
        echo "$(date +%s.%N) gone $seg" >> "$out"
    else
        echo "$(date +%s.%N) bad $seg $r" >> "$out"
    fi
done
EOF
( bash "$T/viewer.sh" "$CPORT" "$T/stop" "$T/viewer-caddy" ) &
V1=$!
_track_pid "$V1"
( bash "$T/viewer.sh" "$NPORT" "$T/stop" "$T/viewer-nginx" ) &
V2=$!
_track_pid "$V2"
sleep 1
cp -p "$T/new.mp4" "$SRC/.v.mp4.part"
TR=$(date +%s.%N)
mv -f "$SRC/.v.mp4.part" "$SRC/v.mp4"
version_changed() { [ "$(segment_version "$PL")" != "$ver" ]; }
wait_until 5 version_changed || fail "5 s after the replacement the playlist still lists version $ver"
sleep 1.5
: > "$T/stop"
wait "$V1" "$V2" || true
_forget_pid "$V1"
_forget_pid "$V2"

playlist_uris "$PL" > "$T/new.names"
NEW0=$(sed -n 1p "$T/new.names")
[ -z "$(comm -12 <(sort "$T/old.names") <(sort "$T/new.names"))" ] ||
    fail "the replaced source reuses segment names: $(comm -12 <(sort "$T/old.names") <(sort "$T/new.names") | head -n 2 | tr '\n' ' ')"
[ -f "$MNT/v.mp4/master.m3u8" ] || fail "master.m3u8 lost its name after the replacement"
for srv in caddy nginx; do
    port=$CPORT
    [ "$srv" = nginx ] && port=$NPORT
    got=$(head_of "$port" "v.mp4/180p/$OLD0")
    [ "${got%%|*}" = 404 ] || fail "$srv: the old name $OLD0 gave $got after the replacement, want 404"
    [[ $got != *immutable* ]] || fail "$srv: the 404 of $OLD0 is marked immutable: $got"
    check_headers "$port" "$srv" "$NEW0"
    cmp -s "$T/body" "$T/old0.ts" && fail "$srv: the new first segment has the old bytes"
    f=$T/viewer-$srv
    [ -s "$f" ] || fail "$srv: the viewer made no request"
    # A playlist keeps its name and changes size at a replacement: for up to attr_timeout (1 s) the kernel
    # may still hold its old size while an open gives the new text, and the server's Content-Length (from
    # fstat) is then wrong. Known and tolerated in that window only (see README, Limitations); a segment,
    # whose name is versioned, must never fail.
    bad=$(awk -v tr="$TR" '$2 == "bad" && !($3 == "playlist" && $1 >= tr && $1 <= tr + 2)' "$f" | head -n 1)
    [ -z "$bad" ] || fail "$srv: a viewer request failed during the replacement: $bad"
    window=$(awk '$2 == "bad"' "$f" | wc -l)
    # each name always gave the same bytes: never a mix of old and new under one name
    bad=$(awk '$2 == "ok" { if (($3 in h) && h[$3] != $4) print $3; h[$3] = $4 }' "$f" | head -n 1)
    [ -z "$bad" ] || fail "$srv: $bad gave two different bodies during the replacement"
    grep -q " ok $OLD0 " "$f" && grep -q " ok $NEW0 " "$f" ||
        fail "$srv: the viewer did not see both the old and the new first segment ($(cut -d' ' -f2,3 "$f" | sort | uniq -c | head -n 4 | tr '\n' ' '))"
    say "versioned: $srv viewer: $(grep -c ' ok ' "$f") ok, $(grep -c ' gone ' "$f" || true) gone (404 of an old name), $window playlist read(s) cut in the 1 s attribute window"
done
umount_hlsfs "$MNT"
# The recipes' guard: a node whose mount is gone (here: unmounted, an empty folder) answers 503, never 404,
# so that a load balancer asks another node.
for port in "$CPORT" "$NPORT"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v.mp4/master.m3u8")
    [ "$code" = 503 ] || fail "with the mount gone, port $port answered $code for v.mp4/master.m3u8, want 503"
done
stop_servers
pass
