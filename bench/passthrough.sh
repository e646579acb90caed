#!/usr/bin/env bash
# Benchmarks passthrough serving: mount, listing, cold and warm reads of every segment, against reading the
# source file (the floor) and against packaging it with ffmpeg (what users run today). One run, one file.
#
# Environment: BENCH_DURATION  seconds of test video (default 600; the file is generated once and kept)
#              BENCH_CACHE     folder for the generated video and the run's scratch files (default bench/cache)
#              BENCH_REPEAT    rounds, each from a fresh mount; the median is shown (default 3)
#              HLSFS           the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
duration=${BENCH_DURATION:-600}
repeat=${BENCH_REPEAT:-3}
need_whole duration repeat
ensure_hlsfs

use_cache
src_dir=$cache/source-${duration}s
video=$src_dir/testsrc2-1080p30.mp4
gen_testsrc "$video" "$duration" veryfast 6 -movflags +faststart

scratch run
mkdir -p "$run/hlsfs-cache" "$run/ffmpeg"

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
status=0
src_bytes=$(stat -c %s "$video")
declare -a t_mount=() t_ls=() t_cold=() t_warm=() cpu_cold=() t_cat_cold=() t_cat_warm=() t_ffmpeg=()

# Each round starts from a fresh mount and a dropped page cache; the table shows the median of the rounds.
# Reads go straight to /dev/null: a pipe would cost more than the reads it measures.
for ((round = 1; round <= repeat; round++)); do
	# 1. Mount (the binary and its libraries load cold too) and list every file with its size.
	drop_caches
	t=$EPOCHREALTIME
	mount_hlsfs "$hlsfs" "$src_dir" "cache_dir=$run/hlsfs-cache"
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
	seg_bytes=$(sizes "${segs[@]}")

	# 2. Every segment once, cold, then again, warm.
	drop_caches
	cpu0=$(cpu_of "$pid")
	t=$EPOCHREALTIME
	cat -- "${segs[@]}" >/dev/null
	t_cold+=("$(since "$t")")
	cpu_cold+=("$(cpu_since "$pid" "$cpu0")")
	t=$EPOCHREALTIME
	cat -- "${segs[@]}" >/dev/null
	t_warm+=("$(since "$t")")

	# Untimed: the bytes a read returns must be as many as stat said (web servers send that length).
	got=$(cat -- "${segs[@]}" | wc -c)
	if [ "$got" != "$seg_bytes" ]; then
		echo "bench: read $got bytes of segments but stat said $seg_bytes" >&2
		status=1
	fi
	unmount_checked

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
show_log "$log" || true # reported, not failed
cold_word=cold
[ $can_drop = 1 ] || cold_word="first read after mounting (page cache not dropped: not permitted)"
cpu=$(cpu_model)
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
