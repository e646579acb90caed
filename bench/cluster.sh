#!/usr/bin/env bash
# Cluster load: the same simulated viewers (tests/tools/viewers.py: master, variant playlist, segments in
# order with ABR switches, every body checked against Content-Length) against, in one run:
#   single   one node (hlsfs + Caddy from contrib/Caddyfile), viewers straight at it: the baseline;
#   lb       two nodes behind nginx (contrib/nginx-lb.conf) without its cache: every request reaches a node;
#   lbcache  the same with the tier's cache, as shipped.
# Two nodes on one machine share its cores, so "lb" measures the tier's overhead and spread, not a second
# machine's capacity; "lbcache" shows what the cache tier takes off the nodes. Prints one table: requests/s,
# MiB/s, segments/s, real-time viewer equivalents (segments/s x segment duration: how many viewers watching
# at playback pace that rate serves), failures and length mismatches, requests that reached each node, and
# the ratio of each row's requests/s to the single node's. Exits 1 when any failure or mismatch was seen.
#
# Run from a built tree:  bench/cluster.sh
# Environment: BENCH_SECONDS (per phase, default 20), BENCH_VIEWERS (default 16), BENCH_PACE (seconds between
# a viewer's segments, default 0.05: 40 times playback speed for 2 s segments), HLSFS (the binary).
set -uo pipefail
HLSFS_TEST_ROOT=${BENCH_CACHE:-$(cd "$(dirname "$0")" && pwd)/cache}
export HLSFS_TEST_ROOT
mkdir -p "$HLSFS_TEST_ROOT"
# tests/lib.sh: mounts, servers and cleanup (nothing is left mounted or running on exit)
source "$(dirname "$0")/../tests/lib.sh"
set +e
trap - ERR

seconds=${BENCH_SECONDS:-20}
viewers=${BENCH_VIEWERS:-16}
pace=${BENCH_PACE:-0.05}
need caddy nginx curl ffmpeg python3
need_hlsfs
OPTS=ladder=240:200,segment=2,cache_passthrough=no,prefetch=2
for i in 1 2 3 4; do
    make_video "$SRC/v$i.mp4" -f lavfi -i "testsrc2=size=640x360:rate=25:duration=20,noise=alls=15:allf=t" \
        -f lavfi -i "sine=f=$((300 + 100 * i)):d=20" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac -b:a 64k
done
mkdir -p "$T/a" "$T/b" "$T/shared"
mount_hlsfs "$SRC" "$T/a" -o "$OPTS,workers=2,cache_dir=$T/cache-a,shared_cache=$T/shared"
mount_hlsfs "$SRC" "$T/b" -o "$OPTS,workers=2,cache_dir=$T/cache-b,shared_cache=$T/shared"
read_all "$T/a"
read_all "$T/b"   # warm both: the rungs come from the shared store
start_contrib_caddy "$T/a" a
PA=$HTTP_PORT
start_contrib_caddy "$T/b" b
PB=$HTTP_PORT
start_lb lb "$PA" "$PB" '/proxy_cache/d'
PLB=$LB_PORT
start_lb lbcache "$PA" "$PB"
PLC=$LB_PORT

status=0
base=
printf '%-8s %8s %9s %9s %8s %10s %8s %8s %8s %8s %7s\n' phase viewers 'req/s' 'MiB/s' 'segs/s' 'rt-viewers' failed lenbad 'to-A' 'to-B' ratio
for phase in single lb lbcache; do
    case $phase in single) port=$PA ;; lb) port=$PLB ;; lbcache) port=$PLC ;; esac
    python3 "$TESTS_DIR/tools/viewers.py" --base "http://127.0.0.1:$port" --videos v1.mp4,v2.mp4,v3.mp4,v4.mp4 \
        --viewers "$viewers" --seconds "$seconds" --pace "$pace" --out "$T/$phase.json" || status=1
    read -r req mib segs fails bad secs < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print(r["requests"], r["bytes"] / 1048576, r["segments"], r["failures"], r["length_mismatches"], r["seconds"])' "$T/$phase.json")
    toa=-; tob=-
    if [ "$phase" != single ]; then
        toa=$(grep -c "127.0.0.1:$PA" "$T/$phase/access.log")
        tob=$(grep -c "127.0.0.1:$PB" "$T/$phase/access.log")
    fi
    rps=$(fcalc "$req / $secs")
    [ -n "$base" ] || base=$rps
    printf '%-8s %8s %9.1f %9.1f %8.1f %10.0f %8s %8s %8s %8s %7.2f\n' "$phase" "$viewers" "$rps" "$(fcalc "$mib / $secs")" \
        "$(fcalc "$segs / $secs")" "$(fcalc "$segs / $secs * 2")" "$fails" "$bad" "$toa" "$tob" "$(fcalc "$rps / $base")"
    [ "$fails" = 0 ] && [ "$bad" = 0 ] || status=1
done
stop_servers
umount_hlsfs "$T/b"
umount_hlsfs "$T/a"
[ "$status" = 0 ] || { echo "cluster: failures or length mismatches seen" >&2; exit 1; }
_FINISHED=1
exit 0
