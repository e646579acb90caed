#!/usr/bin/env bash
# Benchmarks passthrough serving: mount, listing, cold and warm reads of every segment, against reading the
# source file (the floor) and against packaging it with ffmpeg (what users run today). One run, one file.
#
# Environment: BENCH_DURATION  seconds of test video (default 600; the file is generated once and kept)
#              BENCH_CACHE     folder for the generated video and the run's scratch files (default bench/cache)
#              BENCH_REPEAT    rounds, each from a fresh mount; the median is shown (default 3)
#              HLSFS           the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
duration=${BENCH_DURATION:-600}
cache=${BENCH_CACHE:-$repo/bench/cache}
hlsfs=${HLSFS:-$repo/build/hlsfs}
repeat=${BENCH_REPEAT:-3}
if ! [[ $duration =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: BENCH_DURATION must be a whole number of seconds" >&2
	exit 1
fi
if ! [[ $repeat =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: BENCH_REPEAT must be a whole number above 0" >&2
	exit 1
fi

if [ -z "${HLSFS:-}" ]; then
	if [ ! -f build/build.ninja ]; then
		meson setup build >/dev/null
	fi
	ninja -C build >/dev/null
fi
[ -x "$hlsfs" ] || { echo "bench: $hlsfs is not executable" >&2; exit 1; }

mkdir -p "$cache"
cache=$(realpath "$cache")
src_dir=$cache/source-${duration}s
video=$src_dir/testsrc2-1080p30.mp4
if [ ! -f "$video" ]; then
	echo "bench: generating $video (${duration} s of 1920x1080 30 fps H.264 + AAC; done once)" >&2
	mkdir -p "$src_dir"
	ffmpeg -nostdin -hide_banner -loglevel error -y \
		-f lavfi -i testsrc2=size=1920x1080:rate=30 \
		-f lavfi -i sine=frequency=440:sample_rate=48000 \
		-t "$duration" -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 \
		-b:v 6M -maxrate 6M -bufsize 12M -c:a aac -b:a 128k -ac 2 -movflags +faststart \
		-f mp4 "$video.part"
	mv "$video.part" "$video"
fi

run=$(mktemp -d "$cache/run.XXXXXX")
mnt=$run/mnt
mkdir -p "$mnt" "$run/hlsfs-cache" "$run/ffmpeg"
pid=''
unmount() {
	[ -n "$pid" ] || return 0
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill "$pid" 2>/dev/null
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	pid=''
	return $rc
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	set +e
	unmount
	mountpoint -q "$mnt" || rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Seconds since $1 (an $EPOCHREALTIME); no process is started between the two clock readings.
since() { local end=$EPOCHREALTIME; awk -v a="$1" -v b="$end" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# "Cold" means the kernel page cache was dropped first (needs root); otherwise it only means "first read".
can_drop=0
if sync && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
	can_drop=1
fi
drop_caches() {
	if [ $can_drop = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	fi
}
# CPU seconds (user + system) used so far by a process, all its threads included.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }

status=0
src_bytes=$(stat -c %s "$video")
declare -a t_mount=() t_ls=() t_cold=() t_warm=() cpu_cold=() t_cat_cold=() t_cat_warm=() t_ffmpeg=()

# Each round starts from a fresh mount and a dropped page cache; the table shows the median of the rounds.
# Reads go straight to /dev/null: a pipe would cost more than the reads it measures.
for ((round = 1; round <= repeat; round++)); do
	# 1. Mount (the binary and its libraries load cold too) and list every file with its size.
	drop_caches
	t=$EPOCHREALTIME
	"$hlsfs" -f -o "cache_dir=$run/hlsfs-cache" "$src_dir" "$mnt" 2>>"$run/hlsfs.log" &
	pid=$!
	until mountpoint -q "$mnt"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			pid=''
			cat "$run/hlsfs.log" >&2
			echo "bench: hlsfs exited before mounting" >&2
			exit 1
		fi
		sleep 0.005
	done
	t_mount+=("$(since "$t")")
	t=$EPOCHREALTIME
	ls -lR "$mnt" >"$run/ls.txt"
	t_ls+=("$(since "$t")")

	mapfile -t segs < <(find "$mnt" -name '*.ts' | sort)
	if [ ${#segs[@]} -eq 0 ]; then
		cat "$run/ls.txt" "$run/hlsfs.log" >&2
		echo "bench: no segments in the mount" >&2
		exit 1
	fi
	seg_bytes=$(stat -c %s -- "${segs[@]}" | awk '{ s += $1 } END { print s }')

	# 2. Every segment once, cold, then again, warm.
	drop_caches
	cpu0=$(cpu_of "$pid")
	t=$EPOCHREALTIME
	cat -- "${segs[@]}" >/dev/null
	t_cold+=("$(since "$t")")
	cpu_cold+=("$(awk -v a="$cpu0" -v b="$(cpu_of "$pid")" 'BEGIN { printf "%.3f", b - a }')")
	t=$EPOCHREALTIME
	cat -- "${segs[@]}" >/dev/null
	t_warm+=("$(since "$t")")

	# Untimed: the bytes a read returns must be as many as stat said (web servers send that length).
	got=$(cat -- "${segs[@]}" | wc -c)
	if [ "$got" != "$seg_bytes" ]; then
		echo "bench: read $got bytes of segments but stat said $seg_bytes" >&2
		status=1
	fi
	if ! unmount; then
		echo "bench: hlsfs did not exit cleanly after unmounting" >&2
		status=1
	fi

	# 3. The floor: the source file itself, cold then warm.
	drop_caches
	t=$EPOCHREALTIME
	cat -- "$video" >/dev/null
	t_cat_cold+=("$(since "$t")")
	t=$EPOCHREALTIME
	cat -- "$video" >/dev/null
	t_cat_warm+=("$(since "$t")")

	# 4. What users run today: package the whole file with ffmpeg (output left in the page cache, not synced).
	rm -rf "$run/ffmpeg"
	mkdir "$run/ffmpeg"
	drop_caches
	t=$EPOCHREALTIME
	ffmpeg -nostdin -hide_banner -loglevel error -i "$video" -c copy -f hls -hls_time 6 \
		-hls_playlist_type vod -hls_segment_filename "$run/ffmpeg/seg-%05d.ts" "$run/ffmpeg/index.m3u8"
	t_ffmpeg+=("$(since "$t")")
done
nseg=${#segs[@]}
ff_nseg=$(find "$run/ffmpeg" -name '*.ts' | wc -l)
ff_bytes=$(find "$run/ffmpeg" -name '*.ts' -printf '%s\n' | awk '{ s += $1 } END { print s }')

# 5. Report.
if grep -qv '^$' "$run/hlsfs.log"; then
	echo "bench: hlsfs logged:" >&2
	sed 's/^/  /' "$run/hlsfs.log" >&2
fi
cold_word=cold
[ $can_drop = 1 ] || cold_word="first read after mounting (page cache not dropped: not permitted)"
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
echo
echo "hlsfs passthrough benchmark: $(basename "$video"), ${duration} s, $(mb "$src_bytes") MB"
echo "machine: $cpu, $(nproc) CPUs; cold = $cold_word; median of $repeat rounds"
echo "segments: hlsfs $nseg, $(mb "$seg_bytes") MB; ffmpeg $ff_nseg, $(mb "$ff_bytes") MB"
echo "hlsfs daemon CPU during the cold read: $(median "${cpu_cold[@]}") s"
echo
awk -v seg="$seg_bytes" -v src="$src_bytes" -v ff="$ff_bytes" \
	-v mount="$(median "${t_mount[@]}")" -v ls="$(median "${t_ls[@]}")" \
	-v cold="$(median "${t_cold[@]}")" -v warm="$(median "${t_warm[@]}")" \
	-v ccold="$(median "${t_cat_cold[@]}")" -v cwarm="$(median "${t_cat_warm[@]}")" \
	-v ffm="$(median "${t_ffmpeg[@]}")" '
function mbs(bytes, s) { return s > 0 ? sprintf("%.1f", bytes / 1e6 / s) : "-" }
function row(what, s, bytes, base, ratio) {
	printf "%-36s %8.3f %8s  %-24s %s\n", what, s, (bytes > 0 ? mbs(bytes, s) : "-"), base, ratio
}
function x(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
	printf "%-36s %8s %8s  %-24s %s\n", "what", "seconds", "MB/s", "compared with", "ratio"
	row("hlsfs: mount", mount, 0, "", "")
	row("hlsfs: ls -lR", ls, 0, "", "")
	row("hlsfs: read every segment, cold", cold, seg, "", "")
	row("hlsfs: read every segment, warm", warm, seg, "hlsfs cold", x(warm, cold))
	row("cat source, cold (floor)", ccold, src, "hlsfs cold", x(ccold, cold))
	row("cat source, warm (floor)", cwarm, src, "hlsfs warm", x(cwarm, warm))
	row("ffmpeg -c copy -f hls, whole file", ffm, ff, "hlsfs mount+ls+cold", x(ffm, mount + ls + cold))
	print ""
	print "ratio = its seconds / the seconds it is compared with (below 1: faster than that hlsfs figure)"
}'
exit $status
