#!/usr/bin/env bash
# Benchmarks the transcoded ladder: how soon a cold rung segment arrives, how many segments a mount makes
# per minute, and how much of each rung is padding.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/ladder.sh
#
# It generates, once, a 60 s 1920x1080 30 fps H.264 (libx264, about 6 Mbit/s) + AAC test video and a
# static one (SMPTE bars, CRF 23) under bench/cache/ladder-source/, then with the default ladder:
#   1. a cold 720p segment from the middle of the video (fresh cache_dir, prefetch=0): time to its first
#      byte and to the whole segment, against ffmpeg doing the same work (seek, 6 s, scale to 720p, libx264
#      veryfast at 2800k with a 2800k VBV, no B-frames, audio copied, MPEG-TS) with -threads 1 and with
#      ffmpeg's default threads; ratio = hlsfs seconds / ffmpeg seconds; median of BENCH_REPEAT rounds;
#   2. segments per minute sustained with workers=2 and prefetch=2: the 720p segments read one after the
#      other from a fresh cache_dir, for BENCH_SUSTAIN seconds of wall time or every segment, whichever
#      comes first;
#   3. padding: the share of null-packet (PID 0x1FFF) bytes in all segments of every rung, for those two
#      videos, a film-grain-like one (noise over moving content) and a lecture's slides (a new picture every
#      10 s), and every video of BENCH_CORPUS when it is set; then over every padded variant together.
# Every segment read is checked against its stat size, and each daemon must exit 0 with an empty log;
# otherwise the script says so and exits 1. Needs ffmpeg, ffprobe, python3, fusermount3.
#
# Environment: BENCH_CACHE    where the videos and scratch folders go (default bench/cache)
#              BENCH_REPEAT   rounds of the cold-segment figures; the median is shown (default 3)
#              BENCH_SUSTAIN  seconds of the sustained read at most (default 60)
#              BENCH_CORPUS   a folder of your own videos whose padding is measured too (default none)
#              HLSFS          the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-3}
sustain=${BENCH_SUSTAIN:-60}
corpus=${BENCH_CORPUS:-}
need_whole repeat sustain
need_cmds ffmpeg ffprobe python3 fusermount3
ensure_hlsfs

use_cache
src_root=$cache/ladder-source
# Each video in its own folder: a mount shows only the video it measures.
moving=$src_root/moving/testsrc2-1080p30-60s.mp4
static=$src_root/static/smptebars-1080p30-60s.mp4
grain=$src_root/grain/grain-1080p30-30s.mp4
slides=$src_root/slides/slides-1080p30-60s.mp4
gen_testsrc "$moving" 60 veryfast 6 -movflags +faststart
gen "$static" -f lavfi -i smptehdbars=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
	-t 60 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 \
	-crf 23 -maxrate 6M -bufsize 12M -c:a aac -b:a 128k -ac 2 -movflags +faststart

# For the padding figures only: film-grain-like noise over moving content (hard to compress, the rate
# control's worst case), and a lecture's slides (a new picture every 10 s, nothing moving in between).
gen "$grain" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
	-t 30 -vf noise=alls=12:allf=t+u -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 \
	-crf 20 -maxrate 12M -bufsize 24M -c:a aac -b:a 128k -ac 2 -movflags +faststart
gen "$slides" -f lavfi -i testsrc2=size=1920x1080:rate=0.1 -f lavfi -i sine=frequency=440:sample_rate=48000 \
	-t 60 -vf fps=30 -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 \
	-crf 23 -maxrate 6M -bufsize 12M -c:a aac -b:a 128k -ac 2 -movflags +faststart
if [ -n "$corpus" ] && [ ! -d "$corpus" ]; then
	echo "bench: BENCH_CORPUS=$corpus is not a folder" >&2
	exit 1
fi

scratch ladder-run
each_log=1        # every mount logs to a file of its own, which must stay empty
unmount_wait=120  # the daemon may finish generations in flight before it exits
load_start=$(loadavg)

# mount_fresh SRC_DIR NAME OPTIONS: mount SRC_DIR on $mnt with a new cache folder $run/NAME and OPTIONS.
mount_fresh() {
	local src=$1 name=$2 opts=$3
	rm -rf "${run:?}/$name"
	log=$run/$name.log
	mount_hlsfs "$hlsfs" "$src" "cache_dir=$run/$name,$opts"
}
# segs_of PLAYLIST: its segment paths, one a line.
segs_of() { local d; d=$(dirname "$1"); grep -v '^#' "$1" | tr -d '\r' | sed '/^$/d' | sed "s|^|$d/|"; }
# extinf_of PLAYLIST: its EXTINF durations, one a line.
extinf_of() { sed -n 's/^#EXTINF:\([^,]*\),.*/\1/p' "$1"; }

name=$(basename "$moving")
video=$mnt/$name

# 1. A cold 720p segment from the middle, against ffmpeg doing the same work.
declare -a h_first=() h_all=() h_cpu=() f1_first=() f1_all=() f1_cpu=() fd_first=() fd_all=() fd_cpu=()
for ((round = 1; round <= repeat; round++)); do
	mount_fresh "$(dirname "$moving")" "cold-$round" "workers=2,prefetch=0"
	ls -lR "$mnt" >/dev/null # indexing and stat are not what is measured here
	pl=$video/720p/index.m3u8
	if [ ! -f "$pl" ]; then
		echo "bench: no 720p rung in $(ls "$video" | tr '\n' ' ')" >&2
		exit 1
	fi
	mapfile -t segs < <(segs_of "$pl")
	mapfile -t durs < <(extinf_of "$pl")
	mid=$((${#segs[@]} / 2))
	seg=${segs[$mid]}
	seg_start=$(printf '%s\n' "${durs[@]:0:$mid}" | awk '{ s += $1 } END { printf "%.3f", s }')
	seg_dur=${durs[$mid]}
	cpu0=$(cpu_of "$pid")
	read -r a b n < <(time_file "$seg")
	h_cpu+=("$(cpu_since "$pid" "$cpu0")")
	check_size "$seg" "$n"
	h_first+=("$a") h_all+=("$b")
	seg_bytes=$n
	unmount_checked

	ff=(ffmpeg -nostdin -hide_banner -loglevel error -ss "$seg_start" -t "$seg_dur" -i "$moving"
		-c:v libx264 -preset veryfast -b:v 2800k -maxrate 2800k -bufsize 2800k -bf 0)
	read -r a b n c < <(time_cmd 1 "${ff[@]}" -threads 1 -vf scale=1280:720 -c:a copy -f mpegts -)
	f1_first+=("$a") f1_all+=("$b") f1_cpu+=("$c")
	ff1_bytes=$n
	read -r a b n c < <(time_cmd 1 "${ff[@]}" -vf scale=1280:720 -c:a copy -f mpegts -)
	fd_first+=("$a") fd_all+=("$b") fd_cpu+=("$c")
done
seg_name=${seg#"$mnt"/}

# 2. Sustained: the 720p segments in order, workers=2, prefetch=2, fresh cache.
mount_fresh "$(dirname "$moving")" sustained "workers=2,prefetch=2"
ls -lR "$mnt" >/dev/null
mapfile -t segs < <(segs_of "$video/720p/index.m3u8")
mapfile -t durs < <(extinf_of "$video/720p/index.m3u8")
cpu0=$(cpu_of "$pid")
t0=$EPOCHREALTIME
nread=0 media=0 elapsed=0
for s in "${segs[@]}"; do
	n=$(cat -- "$s" | wc -c)
	check_size "$s" "$n"
	media=$(awk -v a="$media" -v b="${durs[$nread]}" 'BEGIN { printf "%.3f", a + b }')
	nread=$((nread + 1))
	elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
	awk -v e="$elapsed" -v l="$sustain" 'BEGIN { exit !(e >= l) }' && break
done
sus_cpu=$(cpu_since "$pid" "$cpu0")
sus_total=${#segs[@]}
unmount_checked

# 3. Padding of every rung, over every segment, for both videos (two readers at a time, workers=2).
# null_bytes SEG...: "TOTAL NULL" bytes over the segments (null = packets on PID 0x1FFF).
null_bytes() {
	python3 - "$@" <<'PY'
import sys
total = null = 0
for path in sys.argv[1:]:
    d = open(path, "rb").read()
    total += len(d)
    for i in range(0, len(d) - 187, 188):
        if ((d[i + 1] & 0x1F) << 8 | d[i + 2]) == 0x1FFF:
            null += 188
print(total, null)
PY
}
declare -a pad_rows=()
# pad_video NAME SRC V: a row per variant of the mounted video folder V (its source file SRC).
pad_video() {
	local name=$1 src=$2 v=$3 src_kbps d h tot nul bw abw
	src_kbps=$(ffprobe -v error -select_streams v:0 -show_entries stream=bit_rate -of csv=p=0 "$src" | awk '{ printf "%d", $1 / 1000 }')
	for d in "$v"/*/; do
		d=${d%/}
		h=$(basename "$d")
		[ -f "$d/index.m3u8" ] || continue
		mapfile -t segs < <(segs_of "$d/index.m3u8")
		# read them all (two at a time), then count; sizes checked on the way
		printf '%s\0' "${segs[@]}" | xargs -0 -n 1 -P 2 sh -c 'n=$(wc -c < "$1") && [ "$n" = "$(stat -c %s "$1")" ] || { echo "bench: short read of $1" >&2; exit 1; }' _ ||
			status=1
		read -r tot nul < <(null_bytes "${segs[@]}")
		bw=$(grep -B1 "^$h/index.m3u8" "$v/master.m3u8" | sed -n 's/.*[:,]BANDWIDTH=\([0-9]*\).*/\1/p')
		abw=$(grep -B1 "^$h/index.m3u8" "$v/master.m3u8" | sed -n 's/.*AVERAGE-BANDWIDTH=\([0-9]*\).*/\1/p')
		pad_rows+=("$name ${src_kbps:-0} $h ${#segs[@]} $tot $nul ${bw:--} ${abw:--}")
	done
}
for src in "$moving" "$static" "$grain" "$slides"; do
	mount_fresh "$(dirname "$src")" "pad-$(basename "$(dirname "$src")")" "workers=2,prefetch=0"
	pad_video "$(basename "$(dirname "$src")")" "$src" "$mnt/$(basename "$src")"
	unmount_checked
done
# BENCH_CORPUS: every video of that folder (and below) too, named by its file (first 20 characters).
if [ -n "$corpus" ]; then
	mount_fresh "$corpus" pad-corpus "workers=2,prefetch=0"
	while IFS= read -r -d '' m; do
		rel=${m#"$mnt"/}
		rel=${rel%/master.m3u8}
		name=$(basename "$rel" | tr ' ' '_' | cut -c1-20)
		pad_video "$name" "$corpus/$rel" "$mnt/$rel"
	done < <(find "$mnt" -name master.m3u8 -print0 | sort -z)
	unmount_checked
fi

# 4. Report.
cpu=$(cpu_model)
echo
echo "hlsfs ladder benchmark: $(basename "$moving") (60 s, 1920x1080 30 fps, ~6 Mbit/s) and $(basename "$static")"
echo "machine: $cpu, $(nproc) CPUs; load average $load_start at the start, $(loadavg) at the end"
echo "default ladder; median of $repeat rounds; longest wait for a daemon to exit after fusermount3 -u: $exit_wait s"
echo
echo "1. cold 720p segment $seg_name (${seg_dur} s from ${seg_start} s; hlsfs: fresh cache_dir, prefetch=0; $seg_bytes bytes, ffmpeg -threads 1 wrote $ff1_bytes)"
awk -v hf="$(median "${h_first[@]}")" -v ha="$(median "${h_all[@]}")" -v hc="$(median "${h_cpu[@]}")" \
	-v af="$(median "${f1_first[@]}")" -v aa="$(median "${f1_all[@]}")" -v ac="$(median "${f1_cpu[@]}")" \
	-v bf="$(median "${fd_first[@]}")" -v ba="$(median "${fd_all[@]}")" -v bc="$(median "${fd_cpu[@]}")" '
function x(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
BEGIN {
	printf "%-40s %11s %11s %8s   %-14s %-14s\n", "what", "first byte", "whole (s)", "CPU (s)", "ratio first", "ratio whole"
	printf "%-40s %11.3f %11.3f %8.3f\n", "hlsfs 720p segment, cold", hf, ha, hc
	printf "%-40s %11.3f %11.3f %8.3f   %-14s %-14s\n", "ffmpeg same work, -threads 1", af, aa, ac, x(hf, af), x(ha, aa)
	printf "%-40s %11.3f %11.3f %8.3f   %-14s %-14s\n", "ffmpeg same work, default threads", bf, ba, bc, x(hf, bf), x(ha, ba)
	print "ratio = hlsfs seconds / ffmpeg seconds (above 1: hlsfs slower)"
}'
echo
echo "2. sustained, 720p segments read in order, workers=2, prefetch=2, fresh cache_dir"
awk -v n="$nread" -v tot="$sus_total" -v e="$elapsed" -v m="$media" -v c="$sus_cpu" 'BEGIN {
	printf "%d of %d segments (%.1f s of video) in %.1f s: %.1f segments/minute, %.2fx real time; hlsfs CPU %.1f s\n",
		n, tot, m, e, n * 60 / e, m / e, c
}'
echo
echo "3. padding (null packets) per rung, every segment"
printf '%s\n' "${pad_rows[@]}" | awk '
BEGIN { printf "%-20s %10s %-6s %5s %11s %11s %9s %12s %12s\n", "video", "src video", "rung", "segs", "bytes", "null bytes", "padding", "BANDWIDTH", "AVG-BW" }
{ printf "%-20s %5d kb/s %-6s %5d %11d %11d %8.1f%% %12s %12s\n", $1, $2, $3, $4, $5, $6, ($5 > 0 ? 100 * $6 / $5 : 0), $7, $8
  if ($6 > 0) { tb += $5; tn += $6 } }
END { if (tb > 0) printf "every padded (transcoded) variant together: %.1f%% of %d bytes are padding\n", 100 * tn / tb, tb }'
echo "(a passthrough variant has no padding; its row is the control; a rung no lighter than its source is left out)"
exit $status
