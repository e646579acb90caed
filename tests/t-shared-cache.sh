#!/usr/bin/env bash
# t-shared-cache: -o shared_cache= lets several nodes transcode a rung segment once. Node A (its own cache,
# workers=2) makes the 240p segments and puts them in a shared folder; node B (another cache, workers=1)
# serves the same bytes without transcoding (hlsfs_generations_total 0, every segment a shared hit); a torn
# and a bit-flipped object are detected and ignored (node C transcodes those itself, same bytes, one log
# line); a shared folder that disappears never fails a read; the same through an S3 bucket (s3rver).
source "$(dirname "$0")/lib.sh"

need ffmpeg cmp node npm curl
need_hlsfs

COMMON=ladder=240:200,segment=2,cache_passthrough=no
make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=640x360:rate=25:duration=6 -f lavfi -i sine=f=440:d=6 \
    -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p -c:a aac -b:a 64k
SHARED=$T/shared
mkdir -p "$SHARED"

# rung_segments MNT: the paths of the 240p segments, in playlist order.
rung_segments() { segments_of "$1/v.mp4/240p/index.m3u8"; }
# read_rung MNT OUT: every 240p segment read into OUT/ under its own name.
read_rung() {
    local s
    mkdir -p "$2"
    while IFS= read -r s; do
        cat "$s" > "$2/$(basename "$s")" || fail "reading ${s#"$T"/} failed"
        [ "$(stat -c %s "$2/$(basename "$s")")" = "$(stat -c %s "$s")" ] || fail "${s#"$T"/}: read size differs from stat size"
    done < <(rung_segments "$1")
}
# stat_is MNT NAME OP VALUE: the counter compares so (for wait_until, which expands its arguments once).
stat_is() { [ "$(stat_of "$1" "$2")" "$3" "$4" ]; }
same_bytes() {  # same_bytes DIR-A DIR-B WHAT
    diff -r -q "$1" "$2" > /dev/null || fail "$3: the 240p segments differ: $(diff -r -q "$1" "$2" | head -n 1)"
}

# --- settings it refuses, each with one line naming the option ---------------------------------------------------
mkdir -p "$T/never"
for bad in "shared_cache=$T/missing,cache_dir=$T/c0|not a folder" "shared_cache=$SHARED|needs cache_dir" \
    "shared_cache=https://example.org/x,cache_dir=$T/c0|must be s3://" "shared_cache=s3://b/p,cache_dir=$T/c0|no S3 endpoint" \
    "shared_cache=relative/dir,cache_dir=$T/c0|absolute folder path"; do
    rc=0
    out=$(timeout 10 "$HLSFS" -f "$SRC" "$T/never" -o "${bad%%|*}" 2>&1) || rc=$?
    [ "$rc" = 1 ] || fail "hlsfs -o ${bad%%|*} exited $rc, want 1 (a refused setting)"
    [[ $out == "hlsfs: shared_cache="*"${bad#*|}"* ]] || fail "hlsfs -o ${bad%%|*} said '$out', want a line naming shared_cache and '${bad#*|}'"
done

# --- node A makes and uploads --------------------------------------------------------------------------------
mkdir -p "$T/mnt-a" "$T/mnt-b" "$T/mnt-c" "$T/mnt-d"
mount_hlsfs "$SRC" "$T/mnt-a" -o "$COMMON,workers=2,cache_dir=$T/cache-a,shared_cache=$SHARED"
N=$(rung_segments "$T/mnt-a" | wc -l)
[ "$N" -ge 3 ] || fail "test bug: the 240p rung has $N segments, want at least 3"
read_rung "$T/mnt-a" "$T/a"
wait_until 20 stat_is "$T/mnt-a" hlsfs_shared_uploads_total = "$N" ||
    fail "node A uploaded $(stat_of "$T/mnt-a" hlsfs_shared_uploads_total) of its $N transcoded segments to the shared folder"
[ "$(stat_of "$T/mnt-a" hlsfs_generations_total)" = "$N" ] ||
    fail "node A generated $(stat_of "$T/mnt-a" hlsfs_generations_total) segments, want $N (the 240p ones)"
[ "$(stat_of "$T/mnt-a" hlsfs_shared_errors_total)" = 0 ] || fail "node A counted shared store errors"
nobj=$(find "$SHARED" -type f -name '*.ts' | wc -l)
[ "$nobj" = "$N" ] || fail "the shared folder holds $nobj objects, want $N"
[ -z "$(find "$SHARED" -name '*.tmp')" ] || fail "the shared folder holds temporary files after the uploads"

# --- node B: same bytes, nothing transcoded ---------------------------------------------------------------------
mount_hlsfs "$SRC" "$T/mnt-b" -o "$COMMON,workers=1,cache_dir=$T/cache-b,shared_cache=$SHARED"
read_rung "$T/mnt-b" "$T/b"
same_bytes "$T/a" "$T/b" "node B (from the shared folder)"
g=$(stat_of "$T/mnt-b" hlsfs_generations_total)
h=$(stat_of "$T/mnt-b" hlsfs_shared_hits_total)
[ "$g" = 0 ] || fail "node B generated $g segments though node A had put all $N in the shared folder"
[ "$h" = "$N" ] || fail "node B took $h segments from the shared folder, want $N"
say "shared-cache: node A transcoded $N, node B 0 (hits $h)"
umount_hlsfs "$T/mnt-b"

# --- damaged objects: one cut short, one with a flipped byte; node C ignores them ------------------------------
mapfile -t OBJ < <(find "$SHARED" -type f -name '*.ts' | sort)
truncate -s $(($(stat -c %s "${OBJ[0]}") / 2)) "${OBJ[0]}"
pos=$(($(stat -c %s "${OBJ[1]}") / 2))
byte=$(od -An -tu1 -j "$pos" -N 1 "${OBJ[1]}" | tr -d ' ')
printf "\\x$(printf %02x $((255 - byte)))" | dd of="${OBJ[1]}" bs=1 seek="$pos" conv=notrunc status=none
EXPECT_LOG+=("^hlsfs: shared_cache $(ere_quote "$SHARED"): reading [0-9a-f]{32} failed")
mount_hlsfs "$SRC" "$T/mnt-c" -o "$COMMON,workers=1,cache_dir=$T/cache-c,shared_cache=$SHARED"
CLOG=$DAEMON_LOG
read_rung "$T/mnt-c" "$T/c"
same_bytes "$T/a" "$T/c" "node C (two shared objects damaged)"
[ "$(stat_of "$T/mnt-c" hlsfs_shared_damaged_total)" = 2 ] ||
    fail "node C found $(stat_of "$T/mnt-c" hlsfs_shared_damaged_total) damaged objects, want 2"
[ "$(stat_of "$T/mnt-c" hlsfs_generations_total)" = 2 ] ||
    fail "node C generated $(stat_of "$T/mnt-c" hlsfs_generations_total) segments, want 2 (the damaged ones)"
umount_hlsfs "$T/mnt-c"
logged_once "$CLOG" "shared_cache"

# --- a shared folder that goes away: reads go on, one log line ---------------------------------------------------
mkdir -p "$T/gone"
EXPECT_LOG+=("^hlsfs: shared_cache $(ere_quote "$T/gone"): writing [0-9a-f]{32} failed")
mount_hlsfs "$SRC" "$T/mnt-d" -o "$COMMON,workers=1,cache_dir=$T/cache-d,shared_cache=$T/gone"
rmdir "$T/gone"
read_rung "$T/mnt-d" "$T/d"
same_bytes "$T/a" "$T/d" "node D (shared folder gone)"
wait_until 10 stat_is "$T/mnt-d" hlsfs_shared_errors_total -ge 1 ||
    fail "node D counted no shared store error though its shared folder is gone"
umount_hlsfs "$T/mnt-d"
logged_once "$DAEMON_LOG" "shared_cache"

# --- the same through an S3 bucket (s3rver checks SigV4) -------------------------------------------------------
S3RVER_VERSION=3.7.1
NPMDIR=${HLSFS_NPM_CACHE:-${TMPDIR:-/tmp}/hlsfs-test-npm}/s3rver-$S3RVER_VERSION
S3RVER_JS=$NPMDIR/node_modules/s3rver/bin/s3rver.js
if [ ! -f "$S3RVER_JS" ]; then
    mkdir -p "$NPMDIR"
    (
        flock 9
        [ -f "$S3RVER_JS" ] || npm install --prefix "$NPMDIR" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >&2
    ) 9>"$NPMDIR.lock" || fail "npm install s3rver@$S3RVER_VERSION into $NPMDIR failed"
fi
mkdir -p "$T/s3data"
for _ in 1 2 3; do
    port=$(free_port)
    if start_server "$port" "$T/s3rver.log" "$T/s3rver.log" \
        node "$S3RVER_JS" -d "$T/s3data" -a 127.0.0.1 -p "$port" --configure-bucket segs --no-vhost-buckets; then
        S3_PORT=$port
        break
    fi
done
[ -n "${S3_PORT:-}" ] || fail "s3rver did not start"
cat > "$T/s3.ini" <<EOF
s3_endpoint=http://127.0.0.1:$S3_PORT
s3_region=us-east-1
s3_access_key=S3RVER
s3_secret_key=S3RVER
EOF
mkdir -p "$T/mnt-e" "$T/mnt-f"
mount_hlsfs "$SRC" "$T/mnt-e" -o "$COMMON,workers=2,cache_dir=$T/cache-e,config=$T/s3.ini,shared_cache=s3://segs/cluster/"
read_rung "$T/mnt-e" "$T/e"
same_bytes "$T/a" "$T/e" "node E (S3)"
wait_until 20 stat_is "$T/mnt-e" hlsfs_shared_uploads_total = "$N" ||
    fail "node E uploaded $(stat_of "$T/mnt-e" hlsfs_shared_uploads_total) of $N segments to s3://segs/cluster (errors: $(stat_of "$T/mnt-e" hlsfs_shared_errors_total))"
umount_hlsfs "$T/mnt-e"
mount_hlsfs "$SRC" "$T/mnt-f" -o "$COMMON,workers=1,cache_dir=$T/cache-f,config=$T/s3.ini,shared_cache=s3://segs/cluster"
read_rung "$T/mnt-f" "$T/f"
same_bytes "$T/a" "$T/f" "node F (from S3)"
[ "$(stat_of "$T/mnt-f" hlsfs_generations_total)" = 0 ] ||
    fail "node F generated $(stat_of "$T/mnt-f" hlsfs_generations_total) segments though node E had put all $N in the bucket"
[ "$(stat_of "$T/mnt-f" hlsfs_shared_hits_total)" = "$N" ] || fail "node F took $(stat_of "$T/mnt-f" hlsfs_shared_hits_total) of $N segments from the bucket"
umount_hlsfs "$T/mnt-f"
stop_servers
umount_hlsfs "$T/mnt-a"
pass
