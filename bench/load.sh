#!/usr/bin/env bash
# Load test: Caddy serves an hlsfs mount on 127.0.0.1 (a free port) and wrk hammers it with a mixed working
# set (master playlists, media playlists, whole segments and Range requests of several videos), first with
# the default cache settings, then with a small cache (cache_max=8M, cache_passthrough=yes) that must evict
# all the time because the working set is about 60 MB. Prints one table: requests/s, p50/p99 latency,
# errors (any status other than 200/206, socket errors, bodies shorter than Content-Length), a size check on
# a sample of URLs (curl Content-Length and body = stat size and bytes of the mount), the daemon's peak RSS
# (VmHWM) before and after the load, and the cache evictions. Exits 1 when any error or mismatch was seen.
#
# Run from a built tree:
#   bench/load.sh                       # 60 s per phase, 200 connections
#   BENCH_SECONDS=20 bench/load.sh      # shorter
# Environment: BENCH_SECONDS (per phase, default 60), BENCH_CONNECTIONS (default 200), BENCH_THREADS (wrk
# threads, default: the number of CPUs, at most 8), BENCH_CACHE (where the generated videos are kept and
# scratch goes, default bench/cache), HLSFS (the binary; default build/hlsfs, built if missing).
# Needs caddy, curl, ffmpeg, fusermount3 and wrk (installed with apt-get when missing and run as root).
# All traffic goes to 127.0.0.1.
set -euo pipefail
export LC_ALL=C.UTF-8

bench_tag=load
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
seconds=${BENCH_SECONDS:-60}
connections=${BENCH_CONNECTIONS:-200}
cpus=$(nproc)
threads=${BENCH_THREADS:-$((cpus < 8 ? cpus : 8))}
need_whole seconds connections threads

if ! command -v wrk > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        echo "load: installing wrk" >&2
        apt-get install -y wrk > /dev/null 2>&1 || { apt-get update > /dev/null 2>&1 && apt-get install -y wrk > /dev/null 2>&1; } ||
            { echo "load: apt-get install wrk failed" >&2; exit 1; }
    else
        echo "load: wrk is not installed (apt-get install wrk)" >&2
        exit 1
    fi
fi
need_cmds caddy curl ffmpeg fusermount3 wrk
ensure_hlsfs

# --- media: 8 videos of 20 s, 640x360 at about 3 Mbit/s (2 MB segments), ~60 MB of segments in all -------
use_cache
media=$cache/load-media-v1
if [ ! -f "$media/.complete" ]; then
    echo "load: generating the test videos in $media (done once)" >&2
    rm -rf "$media"
    mkdir -p "$media"
    for i in 1 2 3 4 5 6 7 8; do
        ffmpeg -nostdin -hide_banner -v error -y \
            -f lavfi -i "testsrc2=size=640x360:rate=30:duration=20,noise=alls=20:allf=t,hue=h=$((i * 40))" \
            -f lavfi -i "sine=f=$((200 + i * 50)):d=20" \
            -c:v libx264 -preset ultrafast -b:v 3000k -maxrate 3000k -bufsize 6000k -g 60 -pix_fmt yuv420p \
            -c:a aac -b:a 96k "$media/video$i.mp4"
    done
    touch "$media/.complete"
fi

scratch load-run
keep_failed=1     # a failed run keeps its scratch folder: logs, wrk output, samples
unmount_wait=15
caddy_pid=
cleanup_hooks=(stop_caddy)

# mount_phase NAME [OPTIONS]: hlsfs on $mnt with its own cache folder and log, OPTIONS (a,b=c) added.
mount_phase() {
    local name=$1
    log=$run/daemon-$name.log
    mount_hlsfs "$hlsfs" "$media" "ladder=none,cache_dir=$run/cache-$name${2:+,$2}"
    ls -lR "$mnt" > /dev/null  # every file's size: indexes built, as a server's first stat would
}

# unmount_phase NAME: unmount; the daemon's exit status goes to daemon_rc[NAME].
unmount_phase() {
    local rc=0
    unmount || rc=$?
    daemon_rc[$1]=$rc
}

start_caddy() {
    local try
    mkdir -p "$run/caddy"
    for try in 1 2 3; do
        port=$(free_port)
        cat > "$run/caddy/Caddyfile" <<EOF
{
	admin off
	auto_https off
	storage file_system $run/caddy/data
}
http://127.0.0.1:$port {
	root * $mnt
	@playlist path *.m3u8
	header @playlist Content-Type application/vnd.apple.mpegurl
	@segment path *.ts
	header @segment Content-Type video/mp2t
	file_server
}
EOF
        HOME=$run/caddy XDG_DATA_HOME=$run/caddy XDG_CONFIG_HOME=$run/caddy \
            caddy run --config "$run/caddy/Caddyfile" --adapter caddyfile > "$run/caddy.log" 2>&1 < /dev/null &
        caddy_pid=$!
        local end=$((SECONDS + 10))
        while [ "$SECONDS" -lt "$end" ]; do
            if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then return 0; fi
            kill -0 "$caddy_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$caddy_pid" 2>/dev/null; wait "$caddy_pid" 2>/dev/null || true
        caddy_pid=
    done
    echo "load: caddy did not start: $(tail -n 3 "$run/caddy.log")" >&2
    exit 1
}

stop_caddy() {
    [ -n "$caddy_pid" ] || return 0
    kill "$caddy_pid" 2>/dev/null || true
    wait "$caddy_pid" 2>/dev/null || true
    caddy_pid=
}


# --- the working set and the wrk script (built from the first mount; both phases plan the same files) ----
declare -A daemon_rc=()
mount_phase default
(cd "$mnt" && find . -type f \( -name '*.m3u8' -o -name 'seg-*.ts' \) -printf '%P %s\n' | sort) > "$run/files"
working_set=$(awk '{ s += $2 } END { printf "%.1f", s / 1048576 }' "$run/files")
awk '
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    BEGIN { print "local reqs = {" }
    {
        p = "/" $1; n = $2
        if (p ~ /\.m3u8$/) { print "  {" q(p) "}," ; next }
        # whole segments weigh as much as the four ranges of the same segment together
        for (i = 0; i < 4; i++) print "  {" q(p) "},"
        print "  {" q(p) ", \"bytes=0-187\", 188},"
        print "  {" q(p) ", \"bytes=1000-66535\", 65536},"
        m = int(n / 2); print "  {" q(p) ", \"bytes=" m "-" (m + 131071) "\", 131072},"
        print "  {" q(p) ", \"bytes=-500\", 500},"
    }
    END { print "}" }' "$run/files" > "$run/load.lua"
cat >> "$run/load.lua" <<'LUA'
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("seed", #threads)
end
function init(args)
  math.randomseed(os.time() + seed * 7919)
  s200, s206, other, short = 0, 0, 0, 0
end
function request()
  local r = reqs[math.random(#reqs)]
  if r[2] then
    return wrk.format("GET", r[1], { Range = r[2] })
  end
  return wrk.format("GET", r[1])
end
function response(status, headers, body)
  if status == 200 then s200 = s200 + 1
  elseif status == 206 then s206 = s206 + 1
  else other = other + 1 end
  local cl = tonumber(headers["Content-Length"] or headers["content-length"] or "")
  if cl == nil or cl ~= #body then short = short + 1 end
end
function done(summary, latency, requests)
  local a = { s200 = 0, s206 = 0, other = 0, short = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(a) do a[k] = a[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d s200=%d s206=%d other=%d short=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    a.s200, a.s206, a.other, a.short, e.connect, e.read, e.write, e.timeout, e.status))
end
LUA

# size_check NAME: for a sample of URLs (every playlist, 24 segments, 8 ranges), curl's Content-Length and
# body against the file in the mount. Prints "checked/mismatched".
size_check() {
    local name=$1 n=0 bad=0 rel size u hdr cl got
    while read -r rel size; do
        u=http://127.0.0.1:$port/$rel
        hdr=$(curl -s --max-time 60 -D - -o "$run/body" "$u") || { bad=$((bad + 1)); n=$((n + 1)); echo "load: $name: curl $u failed" >&2; continue; }
        cl=$(tr -d '\r' <<<"$hdr" | awk 'tolower($1) == "content-length:" { print $2 }' | tail -n 1)
        got=$(stat -c %s "$mnt/$rel")
        if [ "$cl" != "$got" ] || [ "$size" != "$got" ] || ! cmp -s "$run/body" "$mnt/$rel"; then
            bad=$((bad + 1))
            echo "load: $name: $rel: Content-Length '$cl', stat $got, planned $size, body $(stat -c %s "$run/body") bytes$(cmp -s "$run/body" "$mnt/$rel" || echo ', bytes differ')" >&2
        fi
        n=$((n + 1))
    done < <({ grep '\.m3u8 ' "$run/files"; grep '\.ts ' "$run/files" | shuf -n 24; })
    while read -r rel size; do
        local from=$((size / 3)) to=$((size / 3 + 200000))
        [ "$to" -lt "$size" ] || to=$((size - 1))
        hdr=$(curl -s --max-time 60 -D - -o "$run/body" -H "Range: bytes=$from-$to" "http://127.0.0.1:$port/$rel") || { bad=$((bad + 1)); n=$((n + 1)); continue; }
        if ! grep -q '^HTTP/[0-9.]* 206' <<<"$hdr" ||
            ! dd if="$mnt/$rel" iflag=skip_bytes,count_bytes skip="$from" count=$((to - from + 1)) status=none | cmp -s - "$run/body"; then
            bad=$((bad + 1))
            echo "load: $name: Range $from-$to of $rel: not a 206 with the file's bytes" >&2
        fi
        n=$((n + 1))
    done < <(grep '\.ts ' "$run/files" | shuf -n 8)
    echo "$n/$bad"
}

declare -A res=()
# phase NAME LABEL: load, then the checks, on the mount that is up now.
phase() {
    local name=$1
    start_caddy
    local hwm0 ev0
    hwm0=$(hwm_kb "$pid")
    ev0=$(stat_of hlsfs_cache_evictions_total)
    echo "load: $name: wrk -t$threads -c$connections -d${seconds}s over $(wc -l < "$run/files") files ($working_set MB) on 127.0.0.1:$port" >&2
    # Sampled while the load runs: the cache folder's disk use and the daemon's own cache-bytes gauge.
    rm -f "$run/sampling"
    : > "$run/samples-$name"
    (
        while [ ! -e "$run/sampling" ]; do
            printf '%s %s\n' "$(du -sk "$run/cache-$name" 2>/dev/null | cut -f1)" "$(stat_of hlsfs_cache_bytes 2>/dev/null)" >> "$run/samples-$name"
            sleep 0.5
        done
    ) &
    local sampler=$!
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 30s -s "$run/load.lua" "http://127.0.0.1:$port" > "$run/wrk-$name.txt" 2>&1 ||
        { echo "load: wrk failed: $(tail -n 3 "$run/wrk-$name.txt")" >&2; exit 1; }
    : > "$run/sampling"
    wait "$sampler" || true
    local hwm1 ev1 line
    hwm1=$(hwm_kb "$pid")
    ev1=$(stat_of hlsfs_cache_evictions_total)
    line=$(grep '^RESULT ' "$run/wrk-$name.txt") || { echo "load: wrk printed no result: $(tail -n 5 "$run/wrk-$name.txt")" >&2; exit 1; }
    local sc
    sc=$(size_check "$name")
    res[$name]="$line hwm0=$hwm0 hwm1=$hwm1 evictions=$((ev1 - ev0)) sizecheck=$sc $(awk '
        $1 != "" { if (n++ == 0 || $1 > du) du = $1 }
        $2 != "" { if (m++ == 0 || $2 < gmin) gmin = $2; if (m == 1 || $2 > gmax) gmax = $2 }
        END { printf "dumax=%d gaugemin=%d gaugemax=%d", du, gmin, gmax }' "$run/samples-$name")"
    stop_caddy
}

phase default
unmount_phase default

mount_phase evicting cache_max=8M,cache_passthrough=yes
phase evicting
unmount_phase evicting

# --- the table ----------------------------------------------------------------------------------------------
field() { tr ' ' '\n' <<<"${res[$1]}" | awk -F= -v k="$2" '$1 == k { print $2 }'; }
status=0
printf '\nhlsfs load: %s, %s CPUs, %s; wrk %s threads, %s connections, %s s per phase; working set %s MB in %s files (8 videos)\n' \
    "$(uname -r)" "$cpus" "$(cpu_model)" "$threads" "$connections" "$seconds" \
    "$working_set" "$(wc -l < "$run/files")"
printf '%-36s %9s %9s %9s %9s %10s %8s %12s %12s %10s\n' phase 'req/s' 'MB/s' 'p50 ms' 'p99 ms' errors 'size chk' 'RSS before' 'RSS after' evictions
for name in default evicting; do
    case $name in
        default) label="default (cache_passthrough=no)" ;;
        evicting) label="cache_max=8M, cache_passthrough=yes" ;;
    esac
    req=$(field "$name" requests); dur=$(field "$name" duration_us); bytes=$(field "$name" bytes)
    errors=$(( $(field "$name" other) + $(field "$name" short) + $(field "$name" connect) + $(field "$name" read) + \
        $(field "$name" write) + $(field "$name" timeout) + $(field "$name" status) ))
    sc=$(field "$name" sizecheck)
    printf '%-36s %9.0f %9.1f %9.2f %9.2f %10s %8s %9.1f MiB %8.1f MiB %10s\n' "$label" \
        "$(awk -v r="$req" -v d="$dur" 'BEGIN { print r / (d / 1e6) }')" \
        "$(awk -v b="$bytes" -v d="$dur" 'BEGIN { print b / 1048576 / (d / 1e6) }')" \
        "$(awk -v v="$(field "$name" p50_us)" 'BEGIN { print v / 1000 }')" \
        "$(awk -v v="$(field "$name" p99_us)" 'BEGIN { print v / 1000 }')" \
        "$errors" "$(if [ "${sc#*/}" = 0 ]; then echo "${sc%/*} ok"; else echo "${sc#*/}/${sc%/*} bad"; fi)" \
        "$(awk -v v="$(field "$name" hwm0)" 'BEGIN { print v / 1024 }')" \
        "$(awk -v v="$(field "$name" hwm1)" 'BEGIN { print v / 1024 }')" \
        "$(field "$name" evictions)"
    [ "$errors" = 0 ] || status=1
    [ "${sc#*/}" = 0 ] || status=1
    [ "${daemon_rc[$name]}" = 0 ] || { echo "load: $name: hlsfs exited with status ${daemon_rc[$name]}" >&2; status=1; }
done
printf '(errors: statuses other than 200/206, bodies not matching Content-Length, socket errors and timeouts; size chk: URLs of the sample checked by curl, Content-Length and bytes)\n'
for name in default evicting; do
    printf '%s: %s\n' "$name" "$(field "$name" s200) x 200, $(field "$name" s206) x 206, $(field "$name" other) other; socket errors connect $(field "$name" connect) read $(field "$name" read) write $(field "$name" write) timeout $(field "$name" timeout); cache folder at most $(field "$name" dumax) KiB (sampled), hlsfs_cache_bytes from $(field "$name" gaugemin) to $(field "$name" gaugemax)"
    if [ -s "$run/daemon-$name.log" ]; then
        status=1
        echo "load: $name: the daemon logged $(wc -l < "$run/daemon-$name.log") line(s) (a clean run logs none), first: $(head -n 1 "$run/daemon-$name.log")" >&2
        sed -E 's/[0-9a-f]{32}/KEY/g; s|/[^ ]*/|.../|g' "$run/daemon-$name.log" | sort | uniq -c | sort -rn | head -n 3 >&2
    fi
done
if [ "$(field evicting dumax)" -gt 8192 ]; then
    echo "load: evicting: the cache folder reached $(field evicting dumax) KiB, over cache_max=8M" >&2
    status=1
fi
if [ "$(field evicting gaugemin)" -lt 0 ]; then
    echo "load: evicting: hlsfs_cache_bytes went negative ($(field evicting gaugemin)): the cache's byte accounting drifted" >&2
    status=1
fi
[ "$status" = 0 ] || echo "load: FAILED: see the errors above" >&2
exit "$status"
