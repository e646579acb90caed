#!/usr/bin/env bash
# Benchmarks remote sources (a link file NAME.mp4.url, bytes fetched in 1 MiB range requests and kept in the
# block cache) against what setups without them do: download the whole file first, then serve it locally.
# The archive is a real nginx on 127.0.0.1 (range requests, sendfile; optionally rate-limited), serving one
# 1 GB+ 1920x1080 H.264 + AAC MP4 in two layouts: faststart (moov at the start) and moov at the end
# (ffmpeg's default). For each layout, side by side in the same run:
#
#   (a) time to first segment, cold: mount on a fresh, empty cache_dir, then read master.m3u8, the variant
#       playlist it names and that playlist's first segment (seg-00000.ts), against the baseline: `curl -o`
#       of the whole file, then a mount of the downloaded copy (fresh cache_dir) and the same three reads;
#   (b) the bytes fetched for (a): requests and body bytes in nginx's access log, hlsfs_remote_requests_total
#       and hlsfs_remote_bytes_total (the two must agree), as MB and as % of the file;
#   (c) sequential read: mount on a fresh cache_dir, the playlists, then every segment of the passthrough
#       variant in order, against `curl -o /dev/null` of the whole file from the same server: MB/s of source
#       bytes (the file's size over the seconds), requests and bytes fetched;
#   (d) the read of (c) again on a remount on the cache_dir (c) left (everything from the block cache; only
#       the 1-byte identity probe should reach the archive), against a remount of the baseline's downloaded
#       copy on its cache_dir, read the same way.
#
# Usage:  bench/remote.sh           (from a built tree; run as root or as a user who may mount FUSE)
# Environment:
#   BENCH_SIZE_MB     the video is at least this many MB (10^6 bytes; default 1100): a 32 s clip (libx264
#                     ultrafast, 20 Mbit/s) is encoded once and repeated with -stream_loop -c copy; kept
#   BENCH_RATE        an archive rate in nginx units (k = KiB/s, m = MiB/s), e.g. 50m, to model a slower
#                     archive; default unlimited. nginx's limit_rate alone does not do it: it lets every
#                     response send its first second's worth at full speed, so 1 MiB range requests are never
#                     slowed (with 50m hlsfs read the file at 150 MB/s). So the rate is both limit_rate (what
#                     the whole-file downloads see) and limit_req pacing requests to rate / 1 MiB per second,
#                     delayed, never refused (what hlsfs's 1 MiB block requests see)
#   BENCH_REPEAT      rounds of (a) and (b); each figure is the median (default 3)
#   BENCH_SEQ_REPEAT  rounds of (c) and (d) (default BENCH_REPEAT)
#   BENCH_CACHE       where generated videos are kept and each run's scratch folder goes (default bench/cache)
#   HLSFS             the binary to measure (default build/hlsfs, built with ninja when not set)
# All mounts use ladder=none (no transcoded rungs) and cache_passthrough=no (segments are remuxed on every
# read, so (d) reads the block cache, not cached segments). Nothing drops the page cache: the archive's file,
# the downloaded copy and the block cache are all as warm as the run left them, on both sides; but each timed
# step starts after a `sync`, so the writeback of what the step before wrote (the 1 GB+ downloaded copy,
# the block cache) is not charged to it. Byte counts are checked against stat (hlsfs_bytes_served_total
# against the segments' sizes), seg-00000.ts must be the same bytes remote and local, and nginx's log must
# agree with hlsfs's counters. Exit 1 when a check fails.
# Everything the run made (mounts, nginx, scratch folder with its copies and caches) is removed on exit,
# Ctrl-C included.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
size_mb=${BENCH_SIZE_MB:-1100}
rate=${BENCH_RATE:-}
repeat=${BENCH_REPEAT:-3}
seq_repeat=${BENCH_SEQ_REPEAT:-$repeat}
need_whole size_mb repeat seq_repeat
if [ -n "$rate" ] && ! [[ $rate =~ ^[1-9][0-9]*[kKmM]?$ ]]; then
	echo "bench: BENCH_RATE must be an nginx rate such as 50m or 500k (bytes per second)" >&2
	exit 1
fi
rate_bps=0
rate_rpm=0
if [ -n "$rate" ]; then
	case $rate in
	*[kK]) rate_bps=$((${rate%?} * 1024)) ;;
	*[mM]) rate_bps=$((${rate%?} * 1048576)) ;;
	*) rate_bps=$rate ;;
	esac
	# Requests per minute such that 1 MiB requests come at rate_bps (nginx takes r/s or r/m, whole numbers).
	rate_rpm=$(((rate_bps * 60 + 524288) / 1048576))
	[ "$rate_rpm" -ge 1 ] || rate_rpm=1
fi
ensure_hlsfs
need_cmds ffmpeg nginx curl fusermount3 mountpoint awk cmp

# --- The video: one clip, encoded once, repeated (no re-encoding) until the file has size_mb MB.
use_cache
media=$cache/remote-bench
mkdir -p "$media"
clip=$media/clip-1080p30-32s.mp4
gen_testsrc "$clip" 32 ultrafast 20 -keyint_min 60 -sc_threshold 0
clip_bytes=$(stat -c %s "$clip")
copies=$(((size_mb * 1000000 + clip_bytes - 1) / clip_bytes))
declare -A file=([fast]=$media/faststart-${size_mb}MB.mp4 [end]=$media/moovend-${size_mb}MB.mp4)
declare -A what=([fast]="faststart" [end]="moov at end")
layouts=(fast end)
for l in "${layouts[@]}"; do
	[ -f "${file[$l]}" ] && continue
	echo "bench: generating ${file[$l]} ($copies x the clip, -c copy; done once)" >&2
	flags=()
	[ "$l" = fast ] && flags=(-movflags +faststart)
	ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop $((copies - 1)) -i "$clip" -c copy \
		"${flags[@]}" -f mp4 "${file[$l]}.part"
	mv "${file[$l]}.part" "${file[$l]}"
done
src_bytes=$(stat -c %s "${file[fast]}")
if [ "$(stat -c %s "${file[end]}")" != "$src_bytes" ] || [ "$src_bytes" -lt $((size_mb * 1000000)) ]; then
	echo "bench: the generated files have unexpected sizes; remove $media and run again" >&2
	exit 1
fi
# Where the moov box sits (walks the top-level boxes; reported, and checks the two layouts really differ).
moov_at() {
	local f=$1 off=0 n t total
	total=$(stat -c %s "$f")
	while [ "$off" -lt "$total" ]; do
		read -r n t < <(od -An -N8 -j "$off" -t u1 "$f" |
			awk '{ printf "%d %c%c%c%c\n", (($1 * 256 + $2) * 256 + $3) * 256 + $4, $5, $6, $7, $8 }')
		if [ "$n" = 1 ]; then
			n=$(od -An -N8 -j $((off + 8)) -t u1 "$f" |
				awk '{ v = 0; for (i = 1; i <= 8; i++) v = v * 256 + $i; printf "%.0f\n", v }')
		fi
		if [ "$t" = moov ]; then
			echo "$off $n"
			return 0
		fi
		[ "$n" -ge 8 ] || break
		off=$((off + n))
	done
	echo "- -"
}
declare -A moov_off moov_len
for l in "${layouts[@]}"; do
	read -r "moov_off[$l]" "moov_len[$l]" < <(moov_at "${file[$l]}")
done
if [ "${moov_off[fast]}" = - ] || [ "${moov_off[end]}" = - ] ||
	[ "${moov_off[fast]}" -gt $((src_bytes / 2)) ] || [ "${moov_off[end]}" -lt $((src_bytes / 2)) ]; then
	echo "bench: moov found at ${moov_off[fast]} (faststart) and ${moov_off[end]} (moov at end): not the layouts wanted" >&2
	exit 1
fi

# --- Scratch folder, servers, mounts, and their cleanup.
scratch remote-run
ng=$run/nginx
mkdir -p "$ng/tmp"
ngpid=''
cleanup_hooks=(stop_nginx)

stop_nginx() {
	[ -n "$ngpid" ] || return 0
	kill -TERM "$ngpid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$ngpid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$ngpid" 2>/dev/null || true
	wait "$ngpid" 2>/dev/null || true
	ngpid=''
}
# nginx serving $media, every request logged with its body bytes.
port=''
for _ in 1 2 3; do
	p=$(free_port)
	cat >"$ng/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 64; }
http {
    default_type application/octet-stream;
    log_format bench '\$request_method \$status \$body_bytes_sent "\$http_range" \$connection';
    ${rate:+limit_req_zone \$binary_remote_addr zone=archive:1m rate=${rate_rpm}r/m;}
    access_log $ng/access.log bench;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    sendfile on;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$p;
        root $media;
        autoindex off;
        ${rate:+limit_rate $rate;}
        ${rate:+limit_req zone=archive burst=1000000;}
        ${rate:+limit_req_log_level warn;}
    }
}
EOF
	nginx -p "$ng" -c "$ng/nginx.conf" -e "$ng/error.log" >"$ng/stdout.log" 2>&1 </dev/null &
	ngpid=$!
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 2 -r 0-0 "http://127.0.0.1:$p/${file[fast]##*/}"; then port=$p; break; fi
		kill -0 "$ngpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] && break
	stop_nginx
	grep -qi 'address already in use' "$ng/error.log" 2>/dev/null || break
done
if [ -z "$port" ]; then
	echo "bench: nginx did not start: $(tail -n 3 "$ng/error.log" 2>/dev/null | tr '\n' ' ')" >&2
	exit 1
fi
touch "$ng/access.log"
declare -A url
for l in "${layouts[@]}"; do
	url[$l]=http://127.0.0.1:$port/$(basename "${file[$l]}")
	mkdir -p "$run/link-$l" "$run/local-$l"
	printf '%s\n' "${url[$l]}" >"$run/link-$l/video.mp4.url"
	if [ "$(curl -s -o /dev/null -w '%{http_code}' -r 0-0 "${url[$l]}")" != 206 ]; then
		echo "bench: nginx does not answer a range request for ${url[$l]}" >&2
		exit 1
	fi
done

# mount_it SOURCE CACHE_DIR: start the daemon in the foreground, wait until it answers.
mount_it() { mount_hlsfs "$hlsfs" "$1" "cache_dir=$2,ladder=none,cache_passthrough=no"; }

# uris PLAYLIST: sets the array uri to the playlist's URI lines (no process started: this runs timed).
uris() {
	local line
	uri=()
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		[ -n "$line" ] && [ "${line:0:1}" != '#' ] && uri+=("$line")
	done <"$1"
	return 0
}
log_mark() { wc -l <"$ng/access.log"; }
# log_since MARK WANT: "requests bytes probes" that nginx logged after line MARK (probes: 1-byte requests
# for bytes=0-0); waits (2 s at most) until it logged WANT requests: nginx writes a line once the response
# is sent, a moment after the client has it.
log_since() {
	local n
	for _ in $(seq 40); do
		n=$(($(log_mark) - $1))
		[ "$n" -ge "$2" ] && break
		sleep 0.05
	done
	tail -n +$(($1 + 1)) "$ng/access.log" |
		awk '{ n++; b += $3; if ($4 == "\"bytes=0-0\"") p++ } END { printf "%d %d %d\n", n, b, p }'
}
# counters: "requests bytes served misses" from the mount's stats.
counters() {
	echo "$(stat_of hlsfs_remote_requests_total) $(stat_of hlsfs_remote_bytes_total)" \
		"$(stat_of hlsfs_bytes_served_total) $(stat_of hlsfs_remote_block_misses_total)"
}
# agree WHAT NGINX_REQ NGINX_BYTES PROBES HLSFS_REQ HLSFS_BYTES: nginx's log and hlsfs's counters must
# agree. hlsfs reads only the headers of its 1-byte identity probe (it stops the transfer at the body), so
# hlsfs_remote_bytes_total may count one byte fewer per probe than nginx sent.
agree() {
	if [ "$2" != "$5" ] || [ "$6" -gt "$3" ] || [ "$6" -lt $(($3 - $4)) ]; then
		echo "bench: $1: nginx logged $2 requests, $3 bytes; hlsfs counted $5 requests, $6 bytes" >&2
		status=1
	fi
}

# first_segment DIR: master.m3u8, the first variant it names, that variant's first segment (to /dev/null).
# Sets seg0 to the segment's path.
first_segment() {
	cat -- "$1/master.m3u8" >"$run/master.m3u8"
	uris "$run/master.m3u8"
	variant=$1/${uri[0]}
	cat -- "$variant" >"$run/variant.m3u8"
	uris "$run/variant.m3u8"
	seg0=${variant%/*}/${uri[0]}
	cat -- "$seg0" >/dev/null
}
# every_segment DIR: the playlists, then every segment of the first variant in order (to /dev/null).
# Sets segs to the segments' paths.
every_segment() {
	cat -- "$1/master.m3u8" >"$run/master.m3u8"
	uris "$run/master.m3u8"
	variant=$1/${uri[0]}
	cat -- "$variant" >"$run/variant.m3u8"
	uris "$run/variant.m3u8"
	segs=("${uri[@]/#/${variant%/*}/}")
	cat -- "${segs[@]}" >/dev/null
}
# served_ok WHAT SERVED: the daemon served as many segment bytes as stat says the segments have.
served_ok() {
	local want
	want=$(sizes "${segs[@]}")
	if [ "$2" != "$want" ]; then
		echo "bench: $1: hlsfs served $2 bytes of segments, stat says $want" >&2
		status=1
	fi
	seg_bytes=$want
}

declare -A a_ours a_base b_req b_bytes b_hbytes c_ours c_curl c_req c_bytes c_cpu d_ours d_local d_req d_bytes \
	d_cpu
for l in "${layouts[@]}"; do
	a_ours[$l]='' a_base[$l]='' b_req[$l]='' b_bytes[$l]='' b_hbytes[$l]='' c_ours[$l]='' c_curl[$l]='' c_req[$l]=''
	c_bytes[$l]='' c_cpu[$l]='' d_ours[$l]='' d_local[$l]='' d_req[$l]='' d_bytes[$l]='' d_cpu[$l]=''
done
nseg=0
seg_bytes=0
rounds=$((repeat > seq_repeat ? repeat : seq_repeat))
for ((round = 1; round <= rounds; round++)); do
	for l in "${layouts[@]}"; do
		rc=$run/rcache-$l
		lc=$run/lcache-$l
		copy=$run/local-$l/video.mp4
		if [ "$round" -le "$repeat" ]; then
			# (a) + (b), hlsfs: mount on an empty cache_dir, first segment.
			rm -rf "$rc"
			m=$(log_mark)
			sync
			t=$EPOCHREALTIME
			mount_it "$run/link-$l" "$rc"
			first_segment "$mnt/video.mp4"
			a_ours[$l]+=" $(since "$t")"
			read -r hreq hbytes served _ < <(counters)
			read -r nreq nbytes probes < <(log_since "$m" "$hreq")
			agree "${what[$l]}, first segment" "$nreq" "$nbytes" "$probes" "$hreq" "$hbytes"
			b_req[$l]+=" $nreq" b_bytes[$l]+=" $nbytes" b_hbytes[$l]+=" $hbytes"
			if [ "$served" != "$(stat -c %s "$seg0")" ]; then
				echo "bench: ${what[$l]}: hlsfs served $served bytes for ${seg0#"$mnt"/}, stat says $(stat -c %s "$seg0")" >&2
				status=1
			fi
			cat -- "$seg0" >"$run/seg0-remote"
			seg0_rel=${seg0#"$mnt"/}
			unmount_checked
			# (a) baseline: download the whole file, then mount the copy on an empty cache_dir.
			rm -rf "$lc" "$copy"
			sync
			t=$EPOCHREALTIME
			curl -sSf -o "$copy" "${url[$l]}"
			mount_it "$run/local-$l" "$lc"
			first_segment "$mnt/video.mp4"
			a_base[$l]+=" $(since "$t")"
			if [ "$(stat -c %s "$copy")" != "$src_bytes" ]; then
				echo "bench: curl downloaded $(stat -c %s "$copy") bytes of $src_bytes" >&2
				status=1
			fi
			# Segment names carry a version of the source's identity (a remote's URL and ETag, a
			# copy's mtime): the same segment is the same path less its version.
			if [ "$(unversion_name "${seg0#"$mnt"/}")" != "$(unversion_name "$seg0_rel")" ] ||
				! cmp -s "$seg0" "$run/seg0-remote"; then
				echo "bench: ${what[$l]}: the first segment differs between the remote and the local mount" >&2
				status=1
			fi
			unmount_checked
		fi
		if [ "$round" -le "$seq_repeat" ]; then
			[ -f "$copy" ] || curl -sSf -o "$copy" "${url[$l]}"
			# (c) hlsfs: every segment through a mount on an empty cache_dir.
			rm -rf "$rc"
			m=$(log_mark)
			sync
			t=$EPOCHREALTIME
			mount_it "$run/link-$l" "$rc"
			every_segment "$mnt/video.mp4"
			c_ours[$l]+=" $(since "$t")"
			c_cpu[$l]+=" $(cpu_of "$pid" 2)"
			read -r hreq hbytes served _ < <(counters)
			read -r nreq nbytes probes < <(log_since "$m" "$hreq")
			agree "${what[$l]}, sequential read" "$nreq" "$nbytes" "$probes" "$hreq" "$hbytes"
			c_req[$l]+=" $nreq" c_bytes[$l]+=" $nbytes"
			served_ok "${what[$l]}, sequential read" "$served"
			nseg=${#segs[@]}
			unmount_checked
			# (c) baseline: the whole file with curl, to /dev/null.
			m=$(log_mark)
			sync
			t=$EPOCHREALTIME
			curl -sSf -o /dev/null "${url[$l]}"
			c_curl[$l]+=" $(since "$t")"
			read -r _ nbytes _ < <(log_since "$m" 1)
			if [ "$nbytes" != "$src_bytes" ]; then
				echo "bench: curl of ${url[$l]}: nginx sent $nbytes bytes of $src_bytes" >&2
				status=1
			fi
			# (d) hlsfs: remount on the cache_dir (c) left, every segment again.
			m=$(log_mark)
			sync
			t=$EPOCHREALTIME
			mount_it "$run/link-$l" "$rc"
			every_segment "$mnt/video.mp4"
			d_ours[$l]+=" $(since "$t")"
			d_cpu[$l]+=" $(cpu_of "$pid" 2)"
			read -r hreq hbytes served misses < <(counters)
			read -r nreq nbytes probes < <(log_since "$m" "$hreq")
			agree "${what[$l]}, remount" "$nreq" "$nbytes" "$probes" "$hreq" "$hbytes"
			d_req[$l]+=" $nreq" d_bytes[$l]+=" $nbytes"
			served_ok "${what[$l]}, remount" "$served"
			if [ "$misses" != 0 ]; then
				echo "bench: ${what[$l]}, remount: $misses blocks were fetched again, not read from the block cache" >&2
				status=1
			fi
			unmount_checked
			rm -rf "$rc"
			# (d) baseline: remount of the downloaded copy on its cache_dir, every segment.
			if [ ! -d "$lc" ]; then
				mount_it "$run/local-$l" "$lc"
				stat -- "$mnt/video.mp4/master.m3u8" >/dev/null
				unmount_checked
			fi
			sync
			t=$EPOCHREALTIME
			mount_it "$run/local-$l" "$lc"
			every_segment "$mnt/video.mp4"
			d_local[$l]+=" $(since "$t")"
			read -r _ _ served _ < <(counters)
			served_ok "${what[$l]}, local copy" "$served"
			unmount_checked
		fi
	done
done

show_log "$log" || status=1
if [ -s "$ng/error.log" ]; then
	echo "bench: nginx logged:" >&2
	sed 's/^/  /' "$ng/error.log" | head -n 20 >&2
fi

# shellcheck disable=SC2086  # the lists are space-separated on purpose
med() { median $1; }
cpu=$(cpu_model)
ngv=$(nginx -v 2>&1 | sed 's/.*nginx\///')
if [ -n "$rate" ]; then
	rate_word="$(awk -v b="$rate_bps" 'BEGIN { printf "%.1f MB/s", b / 1e6 }'): limit_rate $rate and limit_req"
	rate_word+=" ${rate_rpm}r/m (1 MiB requests at $(awk -v r="$rate_rpm" 'BEGIN { printf "%.1f MB/s", r * 1048576 / 60e6 }'))"
else
	rate_word="unlimited (no limit_rate)"
fi
echo
echo "hlsfs remote benchmark: (a)/(b) median of $repeat rounds, (c)/(d) median of $seq_repeat"
echo "machine: $cpu, $(nproc) CPUs; page cache not dropped (archive, copies and block cache warm)"
echo "archive: nginx $ngv on 127.0.0.1, range requests, sendfile; rate: $rate_word"
echo "video: $copies x $(basename "$clip") (-c copy), 1920x1080 30 fps H.264 + AAC, $(mb "$src_bytes") MB;" \
	"faststart: moov at byte ${moov_off[fast]}; moov at end: at $(mb "${moov_off[end]}") MB, $(mb "${moov_len[end]}") MB"
echo "mount: ladder=none, cache_passthrough=no; passthrough variant $nseg segments, $(mb "$seg_bytes") MB"
echo
awk -v src="$src_bytes" \
	-v fo="$(med "${a_ours[fast]}")" -v fb="$(med "${a_base[fast]}")" \
	-v eo="$(med "${a_ours[end]}")" -v eb="$(med "${a_base[end]}")" '
function row(name, o, b) { printf "%-14s %14.3f %20.3f %8s\n", name, o, b, (o > 0 ? sprintf("%.1fx", b / o) : "-") }
BEGIN {
	printf "(a) time to first segment, seconds: mount (empty cache_dir) + master.m3u8 + variant + seg-00000.ts\n"
	printf "%-14s %14s %20s %8s\n", "layout", "hlsfs remote", "curl whole + local", "ratio"
	row("faststart", fo, fb)
	row("moov at end", eo, eb)
	printf "(ratio = curl whole + local / hlsfs remote: above 1, hlsfs plays sooner)\n\n"
}'
awk -v src="$src_bytes" \
	-v fr="$(med "${b_req[fast]}")" -v fn="$(med "${b_bytes[fast]}")" -v fh="$(med "${b_hbytes[fast]}")" \
	-v er="$(med "${b_req[end]}")" -v en="$(med "${b_bytes[end]}")" -v eh="$(med "${b_hbytes[end]}")" '
function row(name, r, n, h) {
	printf "%-14s %9d %11.1f %11.1f %10.2f%% %16.1f\n", name, r, n / 1e6, h / 1e6, 100 * n / src, src / 1e6
}
BEGIN {
	printf "(b) bytes fetched for the first segment\n"
	printf "%-14s %9s %11s %11s %11s %16s\n", "layout", "requests", "MB (nginx)", "MB (hlsfs)", "% of file", "curl whole, MB"
	row("faststart", fr, fn, fh)
	row("moov at end", er, en, eh)
	printf "(requests and MB (nginx): the access log; MB (hlsfs): hlsfs_remote_bytes_total; they must agree)\n\n"
}'
awk -v src="$src_bytes" \
	-v fo="$(med "${c_ours[fast]}")" -v fc="$(med "${c_curl[fast]}")" -v fr="$(med "${c_req[fast]}")" \
	-v fn="$(med "${c_bytes[fast]}")" -v fu="$(med "${c_cpu[fast]}")" \
	-v eo="$(med "${c_ours[end]}")" -v ec="$(med "${c_curl[end]}")" -v er="$(med "${c_req[end]}")" \
	-v en="$(med "${c_bytes[end]}")" -v eu="$(med "${c_cpu[end]}")" '
function mbs(s) { return s > 0 ? src / 1e6 / s : 0 }
function row(name, o, c, r, n, u) {
	printf "%-14s %8.3f %8.1f %6.2f %9d %10.1f %8.3f %8.1f %7s\n", name, o, mbs(o), u, r, n / 1e6, c, mbs(c),
		(o > 0 ? sprintf("%.2fx", c / o) : "-")
}
BEGIN {
	printf "(c) sequential read, fresh cache: mount + playlists + every segment, against curl -o /dev/null\n"
	printf "%-14s %8s %8s %6s %9s %10s %8s %8s %7s\n", "layout", "hlsfs s", "MB/s", "CPU s", "requests", "MB fetched", "curl s", "MB/s", "ratio"
	row("faststart", fo, fc, fr, fn, fu)
	row("moov at end", eo, ec, er, en, eu)
	printf "(MB/s: the source file'"'"'s bytes over the seconds; CPU s: the daemon'"'"'s, user + system;\n"
	printf " ratio = curl s / hlsfs s: below 1, hlsfs is slower)\n\n"
}'
awk -v src="$src_bytes" \
	-v fo="$(med "${d_ours[fast]}")" -v fl="$(med "${d_local[fast]}")" -v fr="$(med "${d_req[fast]}")" \
	-v fn="$(med "${d_bytes[fast]}")" -v fu="$(med "${d_cpu[fast]}")" \
	-v eo="$(med "${d_ours[end]}")" -v el="$(med "${d_local[end]}")" -v er="$(med "${d_req[end]}")" \
	-v en="$(med "${d_bytes[end]}")" -v eu="$(med "${d_cpu[end]}")" '
function mbs(s) { return s > 0 ? src / 1e6 / s : 0 }
function row(name, o, l, r, n, u) {
	printf "%-14s %8.3f %8.1f %6.2f %9d %10d %8.3f %8.1f %7s\n", name, o, mbs(o), u, r, n, l, mbs(l),
		(o > 0 ? sprintf("%.2fx", l / o) : "-")
}
BEGIN {
	printf "(d) the read of (c) on a remount on the same cache_dir, against a remount of the downloaded copy\n"
	printf "%-14s %8s %8s %6s %9s %10s %8s %8s %7s\n", "layout", "hlsfs s", "MB/s", "CPU s", "requests", "bytes", "local s", "MB/s", "ratio"
	row("faststart", fo, fl, fr, fn, fu)
	row("moov at end", eo, el, er, en, eu)
	printf "(requests, bytes: fetched from the archive; ratio = local s / hlsfs s: above 1, hlsfs is faster)\n"
}'
exit $status
