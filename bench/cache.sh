#!/usr/bin/env bash
# Benchmarks the persistent index and the segment cache (cache_dir), in one run, on the same files:
#
#   (a) listing: a library of BENCH_COPIES copies of one short video (each copy is its own source: path and
#       inode), `ls -lR` on a first mount (empty cache_dir: every video indexed from its moov) against a
#       remount on the same cache_dir (every index loaded from LMDB, no video opened);
#   (b) reading: every segment of one 1080p video read in order, with cache_passthrough=yes (segments go
#       through the cache) and cache_passthrough=no (remuxed on every read), side by side:
#         cold   - a fresh, empty cache_dir and the pages of the source (and cache) files dropped;
#         warm   - a fresh mount (the kernel holds no page of the mount's files) on the cache the cold read
#                  left, whose files' pages are warm (yes), or with the source's pages warm (no);
#         direct - `cat` of what the warm read comes from: the cache's segment files (yes), the source (no);
#   (c) peak RSS (VmHWM) of the daemon once the library of (a) is listed, first mount and remount.
#
# Usage:  bench/cache.sh            (from a built tree; run as root or as a user who may mount FUSE)
# Environment:
#   BENCH_COPIES    videos in the listing library (default 200)
#   BENCH_DURATION  seconds of the 1080p video of (b) (default 60; generated once, kept)
#   BENCH_REPEAT    rounds; each figure is the median (default 3)
#   BENCH_CACHE     where generated videos are kept and each run's scratch folder goes (default bench/cache)
#   HLSFS           the binary to measure (default build/hlsfs, built with ninja when not set)
# "Dropped" pages are dropped per file (posix_fadvise DONTNEED via `dd iflag=nocache`), not system-wide,
# so the run does not disturb what else the machine does. The mounts use ladder=none (no transcoded rungs:
# this measures the cache, not the encoder). Reads go to /dev/null; byte counts are checked against stat,
# and the cached and uncached reads must give the same bytes. Exit 1 when a check fails. Everything the run
# made (mounts, scratch folder) is removed on exit, Ctrl-C included.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
copies=${BENCH_COPIES:-200}
duration=${BENCH_DURATION:-60}
repeat=${BENCH_REPEAT:-3}
need_whole copies duration repeat
ensure_hlsfs
need_cmds ffmpeg fusermount3 dd awk sha256sum

use_cache
media=$cache/cache-bench
mkdir -p "$media"
small=$media/small-640x360-10s.mp4
big=$media/testsrc2-1080p30-${duration}s.mp4
gen "$small" -f lavfi -i testsrc2=size=640x360:rate=30:duration=10 \
	-f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 -c:v libx264 -preset veryfast \
	-pix_fmt yuv420p -g 60 -b:v 800k -c:a aac -b:a 96k
gen_testsrc "$big" "$duration" veryfast 6 -movflags +faststart

scratch cache-run
mkdir -p "$run/lib" "$run/one"

# mount_it SOURCE CACHE_DIR OPTIONS: start the daemon in the foreground, wait until it answers.
mount_it() { mount_hlsfs "$hlsfs" "$1" "cache_dir=$2,ladder=none,$3"; }

# drop_pages FILE...: the kernel forgets the (clean) cached pages of these files.
drop_pages() {
	local f
	sync "$@" 2>/dev/null || sync
	for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none 2>/dev/null || true; done
}

# --- The library of (a): one short video, copied.
for ((i = 0; i < copies; i++)); do
	d=$run/lib/folder-$((i % 10))
	mkdir -p "$d"
	cp "$small" "$d/clip-$(printf '%04d' "$i").mp4"
done
mapfile -t lib_files < <(find "$run/lib" -type f)
cp "$big" "$run/one/video.mp4"
big_src=$run/one/video.mp4
big_bytes=$(stat -c %s "$big_src")

declare -a t_ls1=() t_ls2=() hwm1=() hwm2=()
declare -a y_cold=() y_warm=() y_direct=() n_cold=() n_warm=() n_direct=()

for ((round = 1; round <= repeat; round++)); do
	# (a) + (c): first mount on an empty cache_dir, then a remount on it.
	rm -rf "$run/lcache"
	drop_pages "${lib_files[@]}"
	mount_it "$run/lib" "$run/lcache" "cache_passthrough=no"
	t=$EPOCHREALTIME
	ls -lR "$mnt" >"$run/ls-1.txt"
	t_ls1+=("$(since "$t")")
	hwm1+=("$(hwm_kb "$pid")")
	builds=$(stat_of hlsfs_index_builds_total)
	unmount_checked
	drop_pages "${lib_files[@]}" "$run/lcache/index.lmdb"
	mount_it "$run/lib" "$run/lcache" "cache_passthrough=no"
	t=$EPOCHREALTIME
	ls -lR "$mnt" >"$run/ls-2.txt"
	t_ls2+=("$(since "$t")")
	hwm2+=("$(hwm_kb "$pid")")
	opens=$(stat_of hlsfs_source_opens_total)
	loads=$(stat_of hlsfs_index_loads_total)
	unmount_checked
	if [ "$builds" != "$copies" ] || [ "$opens" != 0 ] || [ "$loads" != "$copies" ]; then
		echo "bench: listing $copies videos: first mount built $builds indexes; remount opened $opens sources and loaded $loads indexes" >&2
		status=1
	fi
	if ! cmp -s "$run/ls-1.txt" "$run/ls-2.txt"; then
		echo "bench: ls -lR of the remount differs from the first mount's" >&2
		status=1
	fi

	# (b) One video, every segment in order: cache_passthrough=yes and =no.
	for mode in yes no; do
		rm -rf "$run/bcache"
		drop_pages "$big_src"
		mount_it "$run/one" "$run/bcache" "cache_passthrough=$mode"
		mapfile -t segs < <(find "$mnt" -name '*.ts' | sort)
		seg_bytes=$(sizes "${segs[@]}")
		t=$EPOCHREALTIME
		cat -- "${segs[@]}" >/dev/null
		cold=$(since "$t")
		unmount_checked
		# warm: a fresh mount; the cache files (yes) or the source (no) keep their pages.
		mount_it "$run/one" "$run/bcache" "cache_passthrough=$mode"
		mapfile -t segs < <(find "$mnt" -name '*.ts' | sort)
		t=$EPOCHREALTIME
		cat -- "${segs[@]}" >/dev/null
		warm=$(since "$t")
		if [ "$mode" = yes ]; then
			gens=$(stat_of hlsfs_generations_total)
			misses=$(stat_of hlsfs_cache_misses_total)
			if [ "$gens" != 0 ] || [ "$misses" != 0 ]; then
				echo "bench: the warm cached read generated $gens segments ($misses misses): not all were cached" >&2
				status=1
			fi
		fi
		# Untimed: as many bytes as stat said, and the same bytes in both modes.
		got=$(cat -- "${segs[@]}" | wc -c)
		sum=$(cat -- "${segs[@]}" | sha256sum | cut -d' ' -f1)
		if [ "$got" != "$seg_bytes" ]; then
			echo "bench: cache_passthrough=$mode: read $got bytes of segments, stat said $seg_bytes" >&2
			status=1
		fi
		printf '%s\n' "$sum" >"$run/sum-$mode"
		unmount_checked
		if [ "$mode" = yes ]; then
			mapfile -t cfiles < <(find "$run/bcache/seg" -type f -name '*.ts' | sort)
			cache_bytes=$(sizes "${cfiles[@]}")
			if [ "$cache_bytes" != "$seg_bytes" ]; then
				echo "bench: the cache holds $cache_bytes bytes of segments, the mount $seg_bytes" >&2
				status=1
			fi
			t=$EPOCHREALTIME
			cat -- "${cfiles[@]}" >/dev/null
			y_direct+=("$(since "$t")")
			y_cold+=("$cold")
			y_warm+=("$warm")
		else
			t=$EPOCHREALTIME
			cat -- "$big_src" >/dev/null
			n_direct+=("$(since "$t")")
			n_cold+=("$cold")
			n_warm+=("$warm")
		fi
	done
	if ! cmp -s "$run/sum-yes" "$run/sum-no"; then
		echo "bench: cached and uncached reads gave different bytes" >&2
		status=1
	fi
done
nseg=${#segs[@]}

show_log "$log" || status=1

cpu=$(cpu_model)
echo
echo "hlsfs cache benchmark: median of $repeat rounds"
echo "machine: $cpu, $(nproc) CPUs; page cache dropped per file (fadvise), not system-wide"
echo "(a) library: $copies copies of $(basename "$small") ($(mb "$(stat -c %s "$small")") MB each), 10 folders"
echo "(b) video: $(basename "$big"), $(mb "$big_bytes") MB; $nseg segments, $(mb "$seg_bytes") MB; ladder=none"
echo
awk -v l1="$(median "${t_ls1[@]}")" -v l2="$(median "${t_ls2[@]}")" \
	-v h1="$(median "${hwm1[@]}")" -v h2="$(median "${hwm2[@]}")" -v n="$copies" '
BEGIN {
	printf "%-44s %10s %10s %8s\n", "listing (a) and memory (c)", "first", "remount", "ratio"
	printf "%-44s %10.3f %10.3f %7.1fx\n", "ls -lR of " n " videos, seconds", l1, l2, (l2 > 0 ? l1 / l2 : 0)
	printf "%-44s %10.1f %10.1f %7.2fx\n", "daemon peak RSS (VmHWM) after ls -lR, MB", h1 / 1024, h2 / 1024, (h2 > 0 ? h1 / h2 : 0)
	printf "(ratio = first / remount)\n\n"
}'
awk -v seg="$seg_bytes" -v src="$big_bytes" -v cb="$cache_bytes" \
	-v yc="$(median "${y_cold[@]}")" -v yw="$(median "${y_warm[@]}")" -v yd="$(median "${y_direct[@]}")" \
	-v nc="$(median "${n_cold[@]}")" -v nw="$(median "${n_warm[@]}")" -v nd="$(median "${n_direct[@]}")" '
function mbs(b, s) { return s > 0 ? b / 1e6 / s : 0 }
function r(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
	printf "%-34s %21s   %21s\n", "reading (b), every segment in order", "cache_passthrough=yes", "cache_passthrough=no"
	printf "%-34s %10s %10s   %10s %10s\n", "", "seconds", "MB/s", "seconds", "MB/s"
	printf "%-34s %10.3f %10.1f   %10.3f %10.1f\n", "cold (empty cache, first read)", yc, mbs(seg, yc), nc, mbs(seg, nc)
	printf "%-34s %10.3f %10.1f   %10.3f %10.1f\n", "warm (fresh mount)", yw, mbs(seg, yw), nw, mbs(seg, nw)
	printf "%-34s %10.3f %10.1f   %10.3f %10.1f\n", "direct (cat cache files | source)", yd, mbs(cb, yd), nd, mbs(src, nd)
	printf "%-34s %21s   %21s\n", "warm / direct", r(yw, yd), r(nw, nd)
	printf "%-34s %21s   %21s\n", "cold / warm", r(yc, yw), r(nc, nw)
	printf "%-34s %21s   %21s\n", "warm: yes / no", r(yw, nw), ""
}'
exit $status
