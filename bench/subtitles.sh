#!/usr/bin/env bash
# Measures what subtitles and scrubbing previews cost the listing and the first segment, against a baseline
# binary (by default one built from BENCH_BASE_REF, main), side by side in the same run on the same files:
#
#   (a) `ls -lR` of a library of BENCH_COPIES short videos, half of them with a sidecar NAME.en.srt, on a
#       first mount (empty cache_dir: every video indexed; this binary also makes each video's preview
#       sheets, as `ls -l thumbs/` stats them);
#   (b) `ls -lR` again on a remount on the cache_dir (a) left (indexes and sheets from the cache);
#   (c) `ls -l` of every video folder alone on a first mount (what a file manager or a web index does);
#   (d) first segment: a fresh mount, then master.m3u8, the variant playlist and its first segment of one video.
#
# Usage:  bench/subtitles.sh            (from a built tree; as root or a user who may mount FUSE)
# Environment:
#   BENCH_COPIES    videos in the library (default 100)
#   BENCH_REPEAT    rounds; each figure is the median (default 3)
#   BENCH_BASE_REF  git ref the baseline is built from (default main), or BASE_HLSFS=/path/to/hlsfs
#   HLSFS           the binary measured (default build/hlsfs, built with ninja when not set)
# Prints one table: seconds for each binary and the ratio this/baseline. Exit 1 when a mount fails.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
copies=${BENCH_COPIES:-100}
repeat=${BENCH_REPEAT:-3}
need_whole copies repeat
ensure_hlsfs
scratch hlsfs-bench-subs "${TMPDIR:-/tmp}"
work=$run

if [ -z "${BASE_HLSFS:-}" ]; then
	build_base "${BENCH_BASE_REF:-main}" "$work/base"
	BASE_HLSFS=$work/base/build/hlsfs
fi
[ -x "$BASE_HLSFS" ] || die "need $BASE_HLSFS"

mkdir -p "$work/src"
ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=60 \
	-f lavfi -i sine=frequency=440:sample_rate=48000:duration=60 -c:v libx264 -preset veryfast -g 50 \
	-pix_fmt yuv420p -c:a aac "$work/one.mp4"
for i in $(seq 1 "$copies"); do
	cp "$work/one.mp4" "$work/src/v$i.mp4"
	if [ $((i % 2)) = 0 ]; then
		printf '1\n00:00:01,000 --> 00:00:03,000\nHello\n\n2\n00:00:30,000 --> 00:00:33,000\nWorld\n' > "$work/src/v$i.en.srt"
	fi
done

mount_it() { mount_hlsfs "$1" "$work/src" "cache_dir=$2,ladder=none"; }  # BINARY CACHE
umount_it() { unmount || true; }
secs() { local a b; a=$(date +%s.%N); "$@" > /dev/null; b=$(date +%s.%N); awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'; }
ls_folders() { for d in "$mnt"/*.mp4; do ls -l "$d"; done; }
first_segment() {
	cat "$mnt/v1.mp4/master.m3u8"
	local seg
	seg=$(grep -m1 '^seg-' "$mnt/v1.mp4/360p/index.m3u8")
	cat "$mnt/v1.mp4/360p/$seg"
}

declare -A r
for round in $(seq 1 "$repeat"); do
	for who in base this; do
		bin=$hlsfs
		[ "$who" = base ] && bin=$BASE_HLSFS
		c=$work/cache-$who-$round
		mount_it "$bin" "$c"
		r[a,$who]+=" $(secs ls -lR "$mnt")"
		umount_it
		mount_it "$bin" "$c"
		r[b,$who]+=" $(secs ls -lR "$mnt")"
		umount_it
		mount_it "$bin" "$c-2"
		r[c,$who]+=" $(secs ls_folders)"
		umount_it
		mount_it "$bin" "$c-3"
		r[d,$who]+=" $(secs first_segment)"
		umount_it
	done
done

echo "machine: $(nproc) CPUs, $(uname -r); $copies videos of 60 s 640x360 (half with a sidecar .srt), $repeat rounds, medians"
printf '%-44s %10s %10s %8s\n' step "base (s)" "this (s)" ratio
for k in a b c d; do
	case $k in
		a) label="ls -lR, first mount" ;;
		b) label="ls -lR, remount on its cache" ;;
		c) label="ls -l of each video folder, first mount" ;;
		d) label="first segment (playlists + seg 0)" ;;
	esac
	# shellcheck disable=SC2086  # the rounds' figures are space-separated
	b=$(median ${r[$k,base]})
	# shellcheck disable=SC2086
	t=$(median ${r[$k,this]})
	printf '%-44s %10s %10s %8s\n' "$label" "$b" "$t" "$(ratio "$t" "$b" 0.00)"
done
