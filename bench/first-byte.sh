#!/usr/bin/env bash
# Benchmarks a cold transcoded segment: how soon its first byte and its whole arrive through the mount,
# against the ffmpeg CLI making the same span at the same rung with all its threads, and against another
# build of hlsfs (by default the previous commit), side by side in the same run.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/first-byte.sh
#     BENCH_BASE=main BENCH_REPEAT=5 bench/first-byte.sh
#
# It generates, once, three 8 s sources under bench/cache/first-byte-source/: 1080p30 H.264 High 10
# (transcode-only), 1080p30 HEVC Main 10 and 2160p30 HEVC (libx265 ultrafast, open GOPs, a keyframe every
# 2 s), each with AAC. For each source and each binary: a fresh mount on an empty cache_dir (workers=1,
# prefetch=0), master.m3u8 read, then the first segment of the first variant it lists: seconds to its first
# 64 KiB and to its last byte (open included), and the daemon's CPU seconds. ffmpeg then makes the same
# span (the segment's EXTINF) at that rung: scale to its height, libx264 veryfast at its rate with a VBV
# of that rate, a keyframe every 2 s, no B-frames, AAC, MPEG-TS to a pipe, default threads. Medians of
# BENCH_REPEAT rounds; ratios: hlsfs / ffmpeg and hlsfs / base (below 1: hlsfs is faster). Each segment
# read must then decode without a message (ffmpeg -v error), outside the timing.
# The base build is made from the committed tree of BENCH_BASE (default HEAD~1, `git archive`) in the
# scratch folder. Every segment read is checked against its stat size, and each daemon must exit 0 with
# an empty log; otherwise the script says so and exits 1. The machine may be shared: figures are
# reported, not asserted. Needs ffmpeg (with libx265), python3, fusermount3, git, tar, meson, ninja.
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
need_cmds ffmpeg ffprobe python3 fusermount3 git tar meson ninja
ensure_hlsfs
base_revision

use_cache
src_root=$cache/first-byte-source
gen_first_byte_sources "$src_root"

scratch first-byte-run
each_log=1        # every mount logs to a file of its own, which must stay empty
unmount_wait=120  # the daemon may finish generations in flight before it exits

build_base_bin

# mount_fresh BIN SRC_DIR NAME: mount SRC_DIR with BIN on $mnt, a new cache folder $run/NAME.
mount_fresh() {
	local bin=$1 src=$2 name=$3
	rm -rf "${run:?}/$name"
	log=$run/$name.log
	mount_hlsfs "$bin" "$src" "cache_dir=$run/$name,ladder=$ladder,workers=1,prefetch=0"
}

# measure BIN DIR NAME: one cold first segment of the first variant; prints "FIRST WHOLE CPU VARIANT EXTINF".
measure() {
	local bin=$1 dir=$2 name=$3 video master variant seg t cpu0 cpu extinf
	mount_fresh "$bin" "$dir" "$name"
	video=$(ls "$mnt")
	master=$mnt/$video/master.m3u8
	variant=$(grep -v '^#' "$master" | sed '/^$/d' | head -n 1)
	variant=${variant%%/*}
	extinf=$(sed -n 's/^#EXTINF:\([^,]*\),.*/\1/p' "$mnt/$video/$variant/index.m3u8" | head -n 1)
	seg=$mnt/$video/$variant/$(grep -m 1 '^seg-' "$mnt/$video/$variant/index.m3u8")  # versioned or not (an older base)
	cpu0=$(cpu_of "$pid")
	t=$(time_file "$seg")
	cpu=$(cpu_since "$pid" "$cpu0" 2)
	set -- $t
	check_size "$seg" "$3"
	check_decodes "$seg"
	unmount_checked
	echo "$1 $2 $cpu $variant $extinf"
}

printf 'machine: %s, %s CPUs, load %s; hlsfs %s vs base %s (%s); %s rounds, medians\n' "$(uname -m)" "$(nproc)" \
	"$(loadavg)" "$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)" "$base" "$base_rev" "$repeat"
printf '%-22s %-6s | %-17s | %-17s | %-17s | %-11s | %-11s\n' source rung "hlsfs first/whole" "base first/whole" \
	"ffmpeg first/whole" "whole/ffmpeg" "whole/base"
for dir in "$src_root"/h264-10 "$src_root"/hevc-10 "$src_root"/hevc-4k; do
	name=$(basename "$dir")
	hf=() hw=() hc=() bf=() bw=() ff=() fw=()
	for r in $(seq "$repeat"); do
		# measure runs in this shell (not in a <(...) subshell), so its checks reach $status.
		measure "$hlsfs" "$dir" "$name-new-$r" > "$run/measured"
		read -r a b c variant extinf < "$run/measured"
		hf+=("$a") hw+=("$b") hc+=("$c")
		measure "$base_bin" "$dir" "$name-base-$r" > "$run/measured"
		read -r a b c _ _ < "$run/measured"
		bf+=("$a") bw+=("$b")
		h=${variant%p}
		kbps=$(tr '/' '\n' <<<"$ladder" | awk -F: -v h="$h" '$1 == h { print $2 }')
		read -r a b _ _ < <(time_cmd 65536 ffmpeg -nostdin -hide_banner -loglevel error -i "$(ls "$dir"/*.mp4)" -t "$extinf" \
			-vf "scale=-2:$h" -pix_fmt yuv420p -c:v libx264 -preset veryfast -profile:v main -b:v "${kbps}k" \
			-maxrate "${kbps}k" -bufsize "${kbps}k" -g 60 -bf 0 -c:a aac -b:a 128k -ac 2 -f mpegts -)
		ff+=("$a") fw+=("$b")
	done
	mhf=$(median "${hf[@]}") mhw=$(median "${hw[@]}") mbf=$(median "${bf[@]}") mbw=$(median "${bw[@]}")
	mff=$(median "${ff[@]}") mfw=$(median "${fw[@]}")
	printf '%-22s %-6s | %7s / %7s | %7s / %7s | %7s / %7s | %11s | %11s\n' "$name" "$variant" "$mhf" "$mhw" "$mbf" "$mbw" \
		"$mff" "$mfw" "$(ratio "$mhw" "$mfw")" "$(ratio "$mhw" "$mbw")"
	printf '%-22s %-6s   first byte/base %s, first byte/ffmpeg %s, hlsfs CPU-seconds %s\n' "" "" "$(ratio "$mhf" "$mbf")" \
		"$(ratio "$mhf" "$mff")" "$(median "${hc[@]}")"
done
exit "$status"
