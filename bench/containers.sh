#!/usr/bin/env bash
# Benchmarks containers without a sample table against MP4, in one run on the same film: a 30 s
# 1920x1080 30 fps H.264 + AAC clip encoded once, repeated with -stream_loop -c copy into MP4, Matroska and
# MPEG-TS (the same frames in each), and when mkvmerge is there the Matroska file again with every frame
# compressed with zlib (its frames are demuxed again when a segment is read, demuxread.h). For each container, from a fresh mount on an empty cache_dir:
#   index: seconds until the video folder is listed (the index built), and the bytes the daemon read to
#          build it (rchar of /proc/PID/io: every pread, page cache or not), as MB and as % of the file;
#   remux: every segment of the passthrough variant read once (cache_passthrough=no: remuxed on the read),
#          MB/s of segment bytes, and the ratio against MP4 in the same run.
# The source file is read once before each step, so every container is measured from a warm page cache
# (CPU and read volume, not the disk). Local sources only.
#
# Usage:  bench/containers.sh       (from a built tree; as a user who may mount FUSE)
# Environment:
#   BENCH_DURATION  seconds of film (default 7200; rounded up to whole clips)
#   BENCH_CACHE     where the generated files are kept and the run's scratch folder goes (default bench/cache)
#   HLSFS           the binary to measure (default build/hlsfs, built with ninja when not set)
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
duration=${BENCH_DURATION:-7200}
need_whole duration
ensure_hlsfs

use_cache
media=$cache/containers
mkdir -p "$media"
clip=$media/clip-1080p30-30s.mp4
gen_testsrc "$clip" 30 ultrafast 6 -keyint_min 60 -sc_threshold 0
copies=$(((duration + 29) / 30))
kinds=(mp4 mkv ts)
for k in "${kinds[@]}"; do
	f=$media/film-${copies}x30s.$k
	[ -f "$f" ] && continue
	echo "bench: generating $f ($copies x the clip, -c copy; done once)" >&2
	ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop $((copies - 1)) -i "$clip" -c copy "$f.part.$k"
	mv "$f.part.$k" "$f"
done
# The same Matroska with every frame compressed (zlib): its frames are demuxed again when read.
if command -v mkvmerge >/dev/null; then
	f=$media/film-${copies}x30s.zlib.mkv
	if [ ! -f "$f" ]; then
		echo "bench: generating $f (mkvmerge --compression zlib; done once)" >&2
		mkvmerge -q -o "$f.part.mkv" --compression 0:zlib --compression 1:zlib "$media/film-${copies}x30s.mkv"
		mv "$f.part.mkv" "$f"
	fi
	kinds+=(zlib.mkv)
fi

scratch containers-run
mkdir -p "$run/src"

rchar() { awk '$1 == "rchar:" { print $2 }' "/proc/$pid/io"; }

printf '%s, %s cores, film of %d s (%d x 30 s), local files\n' "$(uname -n)" "$(nproc)" $((copies * 30)) "$copies"
printf '%-8s %10s %9s %11s %8s | %10s %9s %9s %8s\n' container "file MB" "index s" "index MB" "% file" \
	"segs MB" "remux s" "MB/s" "vs MP4"
declare -A mbs
for k in "${kinds[@]}"; do
	f=$media/film-${copies}x30s.$k
	rm -rf "$run/src" "$run/cache"
	mkdir -p "$run/src" "$run/cache"
	ln "$f" "$run/src/film.$k" 2>/dev/null || cp "$f" "$run/src/film.$k"
	size=$(stat -c %s "$f")
	mount_hlsfs "$hlsfs" "$run/src" "cache_dir=$run/cache,ladder=none,cache_passthrough=no"
	cat "$f" >/dev/null  # every container from a warm page cache: CPU and read volume, not disk
	r0=$(rchar)
	t0=$EPOCHREALTIME
	ls "$mnt/film.$k" >/dev/null
	idx_s=$(since "$t0")
	r1=$(rchar)
	[ -f "$mnt/film.$k/master.m3u8" ] || { echo "bench: film.$k: $(cat "$mnt/film.$k/error.txt" 2>/dev/null)" >&2; exit 1; }
	pl=''
	for d in "$mnt/film.$k"/*p; do [ -f "$d/iframes.m3u8" ] && pl=$d; done
	[ -n "$pl" ] || { echo "bench: film.$k has no passthrough variant" >&2; exit 1; }
	mapfile -t segs < <(grep -v '^#' "$pl/index.m3u8" | tr -d '\r')
	want=0
	for s in "${segs[@]}"; do want=$((want + $(stat -c %s "$pl/$s"))); done
	cat "$f" >/dev/null
	t0=$EPOCHREALTIME
	got=$(cd "$pl" && cat "${segs[@]}" | wc -c)
	rm_s=$(since "$t0")
	[ "$got" = "$want" ] || { echo "bench: film.$k: read $got bytes, stat said $want" >&2; exit 1; }
	unmount || true
	mbs[$k]=$(awk -v b="$got" -v s="$rm_s" 'BEGIN { printf "%.1f", b / 1e6 / s }')
	printf '%-8s %10.1f %9s %11.1f %7.1f%% | %10.1f %9s %9s %8s\n' "$k" "$(awk -v b="$size" 'BEGIN { print b / 1e6 }')" \
		"$idx_s" "$(awk -v b=$((r1 - r0)) 'BEGIN { print b / 1e6 }')" \
		"$(awk -v b=$((r1 - r0)) -v s="$size" 'BEGIN { print 100 * b / s }')" \
		"$(awk -v b="$got" 'BEGIN { print b / 1e6 }')" "$rm_s" "${mbs[$k]}" \
		"$(awk -v a="${mbs[$k]}" -v b="${mbs[mp4]}" 'BEGIN { printf "%.2f", a / b }')"
done
