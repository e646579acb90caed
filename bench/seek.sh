#!/usr/bin/env bash
# Benchmarks a cold seek into a long GOP: the transcoded segment that ends at the second keyframe of a
# source whose keyframes are 30 s apart (24 to 30 s: the decoder must start at the keyframe at 0 s, 24 s
# before it), through the mount, against another build of hlsfs (by default the previous commit), side by
# side in the same run.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/seek.sh
#     BENCH_BASE=main BENCH_REPEAT=5 bench/seek.sh
#
# It generates, once, two 60 s sources under bench/cache/seek-source/ with a keyframe every 30 s and
# B-frames, both transcode-only (so the segment grid is not the keyframes'): 1080p30 H.264 High 10
# (libx264 veryfast, B-pyramid) and 1080p30 HEVC Main 10 (libx265 ultrafast), each with AAC. For each source and each binary: a fresh mount on an empty cache_dir
# (workers=1, prefetch=0), master.m3u8 read, then the segment ending at 30 s (found by its EXTINFs) of the
# 360p rung (transcoded; its encode is cheap, so decoding the GOP up to the segment is most of the work):
# seconds to its first 64 KiB and to its last byte (open included), and the daemon's CPU seconds. Medians
# of BENCH_REPEAT rounds; ratio hlsfs / base (below 1: hlsfs is faster). Both builds must give the same
# bytes for the segment (a faster seek may not change a picture); every segment read is checked against
# its stat size, and each daemon must exit 0 with an empty log; otherwise the script says so and exits 1.
# The machine may be shared: figures are reported, not asserted. Needs ffmpeg (with libx265), python3,
# fusermount3, git, tar, meson, ninja.
#
# Environment: BENCH_CACHE   where the sources and scratch folders go (default bench/cache)
#              BENCH_REPEAT  rounds; the median is shown (default 3)
#              BENCH_BASE    the git revision to compare with (default HEAD~1)
#              HLSFS         the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-3}
ladder=1080:5000/720:2800/480:1400/360:800
need_whole repeat
need_cmds ffmpeg python3 fusermount3 git tar meson ninja sha256sum
ensure_hlsfs
base_revision

use_cache
src_root=$cache/seek-source
gen_seek_sources "$src_root"

scratch seek-run
each_log=1        # every mount logs to a file of its own, which must stay empty
unmount_wait=120  # the daemon may finish generations in flight before it exits

build_base_bin

# measure BIN DIR NAME: the 360p segment ending at 30 s, cold; prints "FIRST WHOLE CPU VARIANT SEGMENT SHA".
measure() {
	local bin=$1 dir=$2 name=$3 video variant pl seg t cpu0 cpu sum
	rm -rf "${run:?}/$name"
	log=$run/$name.log
	mount_hlsfs "$bin" "$dir" "cache_dir=$run/$name,ladder=$ladder,workers=1,prefetch=0"
	video=$(ls "$mnt")
	cat "$mnt/$video/master.m3u8" > /dev/null
	variant=360p  # a transcoded rung, where decoding is most of the work
	pl=$mnt/$video/$variant/index.m3u8
	# The segment that ends at the keyframe at 30 s, found by its EXTINFs: a transcode-only video starts
	# with shorter segments, so it is not the fifth.
	seg=$(awk -F'[:,]' '/^#EXTINF:/ { d = $2; next } /^seg-/ { t += d; if (t > 29.9 && t < 30.1) { print; exit } }' "$pl")
	[ -n "$seg" ] || { echo "$bench_tag: $name: no segment ends at 30 s in $variant/index.m3u8" >&2; status=1; unmount_checked; echo "- - - - - -"; return; }
	cpu0=$(cpu_of "$pid")
	t=$(time_file "$mnt/$video/$variant/$seg")
	cpu=$(cpu_since "$pid" "$cpu0" 2)
	set -- $t
	check_size "$mnt/$video/$variant/$seg" "$3"
	sum=$(sha256sum < "$mnt/$video/$variant/$seg" | cut -c1-16)
	unmount_checked
	echo "$1 $2 $cpu $variant $(unversion_name "$seg") $sum"
}

printf 'machine: %s, %s CPUs, load %s; hlsfs %s vs base %s (%s); %s rounds, medians\n' "$(uname -m)" "$(nproc)" \
	"$(loadavg)" "$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)" "$base" "$base_rev" "$repeat"
printf '%-10s %-6s %-13s | %-17s | %-17s | %-10s | %-10s | %-9s\n' source rung segment "hlsfs first/whole" \
	"base first/whole" "whole/base" "first/base" "CPU/base"
for dir in "$src_root"/h264-10 "$src_root"/hevc-10; do
	name=$(basename "$dir")
	hf=() hw=() hc=() bf=() bw=() bc=()
	for r in $(seq "$repeat"); do
		# measure runs in this shell (not in a <(...) subshell), so its checks reach $status.
		measure "$hlsfs" "$dir" "$name-new-$r" > "$run/measured"
		read -r a b c variant seg sum_new < "$run/measured"
		hf+=("$a") hw+=("$b") hc+=("$c")
		measure "$base_bin" "$dir" "$name-base-$r" > "$run/measured"
		read -r a b c _ _ sum_base < "$run/measured"
		bf+=("$a") bw+=("$b") bc+=("$c")
		if [ "$sum_new" != "$sum_base" ]; then
			echo "bench: $name $variant/$seg: this build's bytes differ from the base's" >&2
			status=1
		fi
	done
	mhf=$(median "${hf[@]}") mhw=$(median "${hw[@]}") mbf=$(median "${bf[@]}") mbw=$(median "${bw[@]}")
	mhc=$(median "${hc[@]}") mbc=$(median "${bc[@]}")
	printf '%-10s %-6s %-13s | %7s / %7s | %7s / %7s | %10s | %10s | %9s\n' "$name" "$variant" "$seg" "$mhf" "$mhw" \
		"$mbf" "$mbw" "$(ratio "$mhw" "$mbw")" "$(ratio "$mhf" "$mbf")" "$(ratio "$mhc" "$mbc")"
done
exit "$status"
