#!/usr/bin/env bash
# t-cluster: two hlsfs nodes over one archive (separate mounts, cache folders and workers=), each behind its
# own Caddy (contrib/Caddyfile), and nginx in front as load balancer and cache tier (contrib/nginx-lb.conf:
# upstream + proxy_cache + proxy_next_upstream). (1) Both trees hash identically, every file, the
# transcoded 240p rung included. (2) With shared_cache, the cluster transcodes each rung segment once (node A
# makes them all, node B none: both nodes' stats). (3) Simulated viewers (tools/viewers.py: master, variant
# playlist, segments in order, ABR switches) see 0 failed requests and 0 Content-Length mismatches while
# node A is killed with SIGKILL mid-run and later restarted, but for requests it was answering at that
# instant (cut short: no tier can resend an answer whose headers are out). (4) A source replaced under that load gets new
# segment URLs, and no URL ever gives two different bodies.
source "$(dirname "$0")/lib.sh"

need caddy nginx curl ffmpeg python3 sha256sum fusermount3
need_hlsfs
nv=$(nginx -V 2>&1)
case $nv in *without-http_upstream*|*without-http_proxy*) fail "this nginx lacks the proxy or upstream module: $nv" ;; esac

OPTS=ladder=240:200,segment=2,cache_passthrough=no
LOAD_SECS=${HLSFS_CLUSTER_LOAD_SECS:-24}
VIEWERS=${HLSFS_CLUSTER_VIEWERS:-16}
x264=(-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac -b:a 48k)
make_video "$SRC/a.mp4" -f lavfi -i testsrc2=size=640x360:rate=25:duration=10 -f lavfi -i sine=f=440:d=10 "${x264[@]}"
mkdir -p "$SRC/films"
make_video "$SRC/films/b c.mp4" -f lavfi -i testsrc=size=640x360:rate=25:duration=8,noise=alls=25:allf=t -f lavfi -i sine=f=660:d=8 "${x264[@]}"
make_video "$T/new-b.mp4" -f lavfi -i smptebars=size=640x360:rate=25:duration=8,noise=alls=25:allf=t -f lavfi -i sine=f=880:d=8 "${x264[@]}"
MA=$T/mnt-a
MB=$T/mnt-b
mkdir -p "$MA" "$MB" "$T/shared"

# --- (1) the two nodes' trees, each made by its own transcodes -----------------------------------------------
mount_hlsfs "$SRC" "$MA" -o "$OPTS,workers=2,prefetch=2,cache_dir=$T/cache-a1"
mount_hlsfs "$SRC" "$MB" -o "$OPTS,workers=1,prefetch=0,cache_dir=$T/cache-b1"
tree_sums "$MA" > "$T/sums-a"
REVERSE=1 tree_sums "$MB" > "$T/sums-b"
NRUNG=$(grep -c '/240p/seg-.*\.ts$' "$T/sums-a" || true)
[ "$NRUNG" -ge 8 ] || fail "test bug: $NRUNG transcoded 240p segments in the tree, want at least 8"
if ! diff -q "$T/sums-a" "$T/sums-b" > /dev/null; then
    differ=$(differing_files "$T/sums-a" "$T/sums-b" | tr '\n' ' ')
    fail "the two nodes give different bytes for: $differ"
fi
say "cluster: both nodes' trees identical ($(wc -l < "$T/sums-a") files, $NRUNG transcoded rung segments)"
umount_hlsfs "$MB"
umount_hlsfs "$MA"

# --- (2) shared_cache: node A transcodes, node B takes them ----------------------------------------------------
mount_a() { mount_hlsfs "$SRC" "$MA" -o "$OPTS,workers=2,prefetch=2,cache_dir=$T/cache-a2,shared_cache=$T/shared"; PID_A=$DAEMON_PID; }
mount_a
mount_hlsfs "$SRC" "$MB" -o "$OPTS,workers=1,prefetch=1,cache_dir=$T/cache-b2,shared_cache=$T/shared"
stat_is() { [ "$(stat_of "$1" "$2")" "$3" "$4" ]; }
read_all "$MA"
wait_until 20 stat_is "$MA" hlsfs_shared_uploads_total = "$NRUNG" ||
    fail "node A put $(stat_of "$MA" hlsfs_shared_uploads_total) of its $NRUNG rung segments in the shared store"
tree_sums "$MB" > "$T/sums-b2"
diff -q "$T/sums-a" "$T/sums-b2" > /dev/null || fail "node B (shared store) differs from (1): $(differing_files "$T/sums-a" "$T/sums-b2" | head -n 2 | tr '\n' ' ')"
ga=$(stat_of "$MA" hlsfs_generations_total)
gb=$(stat_of "$MB" hlsfs_generations_total)
hb=$(stat_of "$MB" hlsfs_shared_hits_total)
[ "$ga" = "$NRUNG" ] || fail "node A generated $ga segments, want its $NRUNG rung segments"
[ "$gb" = 0 ] || fail "node B generated $gb segments though node A had shared all $NRUNG"
[ "$hb" = "$NRUNG" ] || fail "node B took $hb segments from the shared store, want $NRUNG"
say "cluster: shared store: $NRUNG rung segments transcoded once for the cluster (node A $ga, node B $gb, B's hits $hb)"

# --- the HTTP tiers: a Caddy per node, nginx in front ------------------------------------------------------------
start_contrib_caddy "$MA" a
PA=$HTTP_PORT
start_contrib_caddy "$MB" b
PB=$HTTP_PORT
# The shipped tier, and the same without its cache (every request reaches a node: the failover under load).
start_lb lb "$PA" "$PB"
PL=$LB_PORT
start_lb lbdirect "$PA" "$PB" '/proxy_cache/d'
PD=$LB_PORT
for port in "$PL" "$PD"; do
    curl -s -o "$T/m.m3u8" "http://127.0.0.1:$port/a.mp4/master.m3u8" || fail "the load balancer did not answer"
    cmp -s "$T/m.m3u8" "$MA/a.mp4/master.m3u8" || fail "the load balancer's a.mp4/master.m3u8 differs from the mount's"
done

# --- (3) and (4): viewers through the load balancer; node A killed and restarted; b c.mp4 replaced -------------
VPIDS=()
OLD_B=$(playlist_uris "$MB/films/b c.mp4/240p/index.m3u8" | sed -n 1p)
for lb in lb lbdirect; do
    port=$PL
    [ "$lb" = lbdirect ] && port=$PD
    python3 "$TESTS_DIR/tools/viewers.py" --base "http://127.0.0.1:$port" --videos "a.mp4,films/b c.mp4" \
        --viewers "$VIEWERS" --seconds "$LOAD_SECS" --pace 0.05 --out "$T/viewers-$lb.json" 2> "$T/viewers-$lb.err" &
    VPIDS+=($!)
    _track_pid "$!"
done
sleep 5
KILLED_AT=$(date +%s.%N)
kill -KILL "$PID_A"
t_kill=$SECONDS
say "cluster: node A (pid $PID_A) killed with SIGKILL under load"
sleep 2
# A node whose mount is dead answers 503 (contrib/Caddyfile), never 404: the tier asks the other node.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/a.mp4/master.m3u8")
[ "$code" = 503 ] || fail "node A's Caddy answered $code for a file of its dead mount, want 503"
fusermount3 -uz "$MA" 2> /dev/null || true
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/a.mp4/master.m3u8")
[ "$code" = 503 ] || fail "node A's Caddy answered $code for a file of its unmounted (empty) folder, want 503"
sleep 3
unset "_DMNT[$PID_A]"
mount_a
say "cluster: node A restarted after $((SECONDS - t_kill)) s"
sleep 3
# A segment of the old version still being made (a viewer's open file, a prefetch) when the file is
# replaced is refused with EIO and one log line, never served from the new bytes.
EXPECT_LOG+=('b c\.mp4: the source (cannot be read or )?changed since it was indexed; not serving (audio )?segment')
cp -p "$T/new-b.mp4" "$SRC/films/.b c.mp4.part"
mv -f "$SRC/films/.b c.mp4.part" "$SRC/films/b c.mp4"
say "cluster: films/b c.mp4 replaced under load"
for p in "${VPIDS[@]}"; do
    wait "$p" || fail "a viewers' script failed: $(tail -n 3 "$T"/viewers-*.err | tr '\n' ' ')"
    _forget_pid "$p"
done

# The replaced video's names now, on both nodes.
NEW_B=$(playlist_uris "$MB/films/b c.mp4/240p/index.m3u8" | sed -n 1p)
[ "$NEW_B" != "$OLD_B" ] || fail "after the replacement films/b c.mp4 still lists $OLD_B"
[ "$(playlist_uris "$MA/films/b c.mp4/240p/index.m3u8" | sed -n 1p)" = "$NEW_B" ] || fail "the two nodes list different names for the replaced video"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PB/films/b%20c.mp4/240p/$OLD_B")
[ "$code" = 404 ] || fail "the old name $OLD_B answered $code from node B, want 404"

for lb in lb lbdirect; do
    J=$T/viewers-$lb.json
    j() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$J" "$1"; }
    req=$(j 'r["requests"]')
    [ "$req" -ge 200 ] || fail "$lb: the viewers made only $req requests in $LOAD_SECS s"
    # A request node A was answering when it was killed may be cut short: once its headers are sent,
    # no tier can take it to the other node (a player asks again). Only those are let pass: started
    # before the kill, ended after it and within 3 s, no more than there are viewers.
    cut=$(j "[c for c in r['cut'] if c[0] <= $KILLED_AT + 0.05 and $KILLED_AT - 0.05 <= c[1] <= $KILLED_AT + 3]")
    ncut=$(j "len([c for c in r['cut'] if c[0] <= $KILLED_AT + 0.05 and $KILLED_AT - 0.05 <= c[1] <= $KILLED_AT + 3])")
    [ "$ncut" -le "$VIEWERS" ] || fail "$lb: $ncut requests cut short at the kill, more than the $VIEWERS viewers had in flight"
    [ "$ncut" = 0 ] || say "cluster: $lb: $ncut requests in flight on node A cut short by its kill: $cut"
    [ "$(j 'r["failures"]')" = "$ncut" ] || fail "$lb: $(j 'r["failures"]') viewer requests failed ($ncut of them cut short by the kill): $(j 'r["failure_samples"][:3]')"
    nshort=$(j "len([c for c in r['cut'] if c[0] <= $KILLED_AT + 0.05 and $KILLED_AT - 0.05 <= c[1] <= $KILLED_AT + 3 and 'IncompleteRead' in c[2]])")
    [ "$(j 'r["length_mismatches"]')" = "$nshort" ] || fail "$lb: $(j 'r["length_mismatches"]') answers had a body of another length than Content-Length ($nshort of them cut short by the kill)"
    [ "$(j 'len(r["mixed"])')" = 0 ] || fail "$lb: URLs gave two different bodies (mixed bytes): $(j 'r["mixed"][:3]')"
    vers=$(j '" ".join(sorted({n.rsplit("-", 1)[1] for n in r["seen"].get("films/b%20c.mp4", [])}))')
    [[ " $vers " == *" ${OLD_B##*-} "* && " $vers " == *" ${NEW_B##*-} "* ]] ||
        fail "$lb: the viewers did not get segments of both versions of the replaced video (saw [$vers]; old ${OLD_B##*-}, new ${NEW_B##*-})"
    log=$T/$lb/access.log
    ua=$(awk -v p="127.0.0.1:$PA" 'index($1, p)' "$log" | wc -l)
    ub=$(awk -v p="127.0.0.1:$PB" 'index($1, p)' "$log" | wc -l)
    hits=$(awk '$3 == "HIT"' "$log" | wc -l)
    retried=$(awk 'index($1, ",")' "$log" | wc -l)
    say "cluster: $lb: $VIEWERS viewers, $req requests ($(j 'r["segments"]') segments, $(j 'round(r["bytes"] / 1048576, 1)') MiB) in $(j 'r["seconds"]') s: 0 failed, 0 length mismatches, $(j 'r["gone"]') 404s of replaced names ($(j 'r["gone_502"]') of them 502s: no other node up), $(j 'r["reconnects"]') keep-alive reconnects; $hits answered from the tier's cache, $ua sent to node A, $ub to node B, $retried retried on the other node"
done
[ "$(awk 'index($1, ",")' "$T/lbdirect/access.log" | wc -l)" -ge 1 ] ||
    fail "no request was retried on the other node while node A was down: the failover was not exercised"

stop_servers
umount_hlsfs "$MB"
umount_hlsfs "$MA"
pass
