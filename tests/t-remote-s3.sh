#!/usr/bin/env bash
# t-remote-s3: s3://BUCKET/PREFIX as SOURCE against s3rver (a fake S3 from npm, which checks SigV4
# signatures): the tree is the videos under the prefix (not beside it, not a sibling prefix that shares its
# first letters), byte-identical to a local mount of the same files; with s3rver gone, a remount on the same
# cache_dir still lists the tree and reads the cached segments.
source "$(dirname "$0")/lib.sh"
# shellcheck source=remote-lib.sh
source "$(dirname "$0")/remote-lib.sh"

need node npm curl ffmpeg cmp sha256sum
need_hlsfs

COMMON=ladder=none,segment=4,prefetch=0,remote_timeout=2,remote_retries=1
S3RVER_VERSION=3.7.1
KEY=S3RVER      # s3rver's built-in credentials
SECRET=S3RVER

# --- s3rver, installed once into a cache folder outside the checkout ----------------------------------------
NPMDIR=${HLSFS_NPM_CACHE:-${TMPDIR:-/tmp}/hlsfs-test-npm}/s3rver-$S3RVER_VERSION
S3RVER_JS=$NPMDIR/node_modules/s3rver/bin/s3rver.js
if [ ! -f "$S3RVER_JS" ]; then
    mkdir -p "$NPMDIR"
    (
        flock 9
        if [ ! -f "$S3RVER_JS" ]; then
            npm install --prefix "$NPMDIR" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >&2
        fi
    ) 9>"$NPMDIR.lock" ||
        fail "npm install s3rver@$S3RVER_VERSION into $NPMDIR failed (this test needs the npm registry once; see the output above)"
    [ -f "$S3RVER_JS" ] || fail "s3rver missing from $NPMDIR after npm install"
fi

# start_s3rver: s3rver on 127.0.0.1 with bucket 'vids', data in $T/s3data; sets S3_PORT.
start_s3rver() {
    local port
    mkdir -p "$T/s3data"
    for _ in 1 2 3; do
        port=$(free_port)
        if start_server "$port" "$T/s3rver.log" "$T/s3rver.log" \
            node "$S3RVER_JS" -d "$T/s3data" -a 127.0.0.1 -p "$port" --configure-bucket vids --no-vhost-buckets; then
            S3_PORT=$port
            return 0
        fi
    done
    fail "s3rver did not start: $(tail -n 3 "$T/s3rver.log" | tr '\n' ' ')"
}
# s3_put FILE KEY: upload FILE as object KEY of bucket vids (SigV4 by curl).
s3_put() {
    local code
    code=$(curl -s -o "$T/put.out" -w '%{http_code}' --max-time 30 --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$KEY:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$1" \
        "http://127.0.0.1:$S3_PORT/vids/$(urlpath "$2")") || true
    [ "$code" = 200 ] || fail "uploading $2 to s3rver gave status $code: $(head -c 300 "$T/put.out")"
}

# --- objects: two videos under lib/ (one a folder down, with a space), the rest must not be shown -----------
MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
LOCAL=$T/local
mkdir -p "$LOCAL/films"
cp "$MEDIA/lib/bframes.mp4" "$LOCAL/a.mp4"
cp "$MEDIA/lib/clip.mov" "$LOCAL/films/a b.mov"
VIDEOS=("a.mp4" "films/a b.mov")
start_s3rver
s3_put "$LOCAL/a.mp4" "lib/a.mp4"
s3_put "$LOCAL/films/a b.mov" "lib/films/a b.mov"
s3_put "$MEDIA/lib/notes.txt" "lib/notes.txt"
s3_put "$MEDIA/lib/LOUD.MP4" "other/outside.mp4"
s3_put "$MEDIA/lib/LOUD.MP4" "library/sibling.mp4"   # shares "lib" but is not under lib/

cat > "$T/s3.ini" <<EOF
s3_endpoint=http://127.0.0.1:$S3_PORT
s3_region=us-east-1
s3_access_key=$KEY
s3_secret_key=$SECRET
EOF

check_tree() {
    local m=$1 when=$2 got
    got=$(ls -A "$m" | sort | tr '\n' '|') || fail "$when: ls of the mount failed"
    [ "$got" = "a.mp4|films|" ] || fail "$when: the mount root lists [$got], want [a.mp4|films|] (the videos under lib/ only)"
    got=$(ls -A "$m/films" | tr '\n' '|') || fail "$when: ls of films failed"
    [ "$got" = "a b.mov|" ] || fail "$when: films lists [$got], want [a b.mov|]"
}

# Reference: a local mount of the same files.
local_reference "$LOCAL" "$COMMON"

# --- online -------------------------------------------------------------------------------------------------
mount_hlsfs "s3://vids/lib" "$MNT" -o "$COMMON,config=$T/s3.ini,cache_dir=$CACHE"
check_tree "$MNT" "s3://vids/lib"
same_as_local "$MNT" "s3://vids/lib"
umount_hlsfs "$MNT"
if grep -F -- "$SECRET" "$DAEMON_LOG" > /dev/null; then fail "the daemon log shows the S3 secret key"; fi

# --- s3rver gone: a remount on the same cache_dir lists from the cache and reads cached segments ---------
stop_servers
EXPECT_LOG+=('^hlsfs: .*(127\.0\.0\.1|s3://vids|a\.mp4|a b\.mov)')
mount_hlsfs "s3://vids/lib" "$MNT" -o "$COMMON,config=$T/s3.ini,cache_dir=$CACHE"
check_tree "$MNT" "s3rver away, remount on the same cache_dir"
same_as_local "$MNT" "s3rver away, remount on the same cache_dir"
umount_hlsfs "$MNT"
pass
