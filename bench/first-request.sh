#!/usr/bin/env bash
# Benchmarks the first requests a player makes for a video nobody has asked for before: master.m3u8, the
# playlist of the variant it lists first, and that playlist's first segment, through Caddy, on a fresh
# mount with an empty cache_dir. Side by side in the same run: the same requests to another build of hlsfs
# (by default the previous commit), and to static files (the same video packaged beforehand with
# `ffmpeg -c copy -f hls`, served by the same Caddy: what hlsfs replaces, and the floor).
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/first-request.sh
#     BENCH_BASE=main BENCH_REPEAT=9 bench/first-request.sh
#
# Sources, generated once under bench/cache/first-request-source/: 60 s and 600 s of 1920x1080 30 fps
# testsrc2, libx264 High (ultrafast) at 6 Mbit/s with a keyframe every 2 s, AAC, moov at the end (ffmpeg's
# default). Each is its own folder, so a mount indexes one video. For each source and each server, per
# round: mount (hlsfs) on an empty cache_dir with default options, then curl the three URLs in turn with
# a new connection each; the figures are milliseconds from curl's start to the last byte
# (time_total), medians of BENCH_REPEAT rounds, and the ratios hlsfs / base and hlsfs / static. Then, on
# the same mount, the passthrough's first segment (what a remuxing server such as nginx-vod-module makes;
# the first variant is a rung when the passthrough is over 5 Mbit/s). Static has no master (ffmpeg writes
# one playlist): its row shows the playlist and the segment. Every body's length
# must equal its Content-Length and every daemon must exit 0 with an empty log; otherwise the script says
# so and exits 1. The machine may be shared: figures are reported, not asserted.
#
# Environment: BENCH_CACHE   where the sources and scratch folders go (default bench/cache)
#              BENCH_REPEAT  rounds; the median is shown (default 5)
#              BENCH_BASE    the git revision to compare with (default HEAD~1)
#              HLSFS         the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-5}
need_whole repeat
need_cmds ffmpeg python3 fusermount3 git tar meson ninja caddy curl
ensure_hlsfs
base_revision

use_cache
src_root=$cache/first-request-source
for s in 60 600; do
	gen_testsrc "$src_root/s$s/video-${s}s.mp4" "$s" ultrafast 6
	# the static baseline: the same video packaged as HLS once (segments of about 6 s, as hlsfs's)
	if [ ! -f "$src_root/static-$s/index.m3u8" ]; then
		rm -rf "$src_root/static-$s.part" && mkdir -p "$src_root/static-$s.part"
		ffmpeg -nostdin -hide_banner -loglevel error -i "$src_root/s$s/video-${s}s.mp4" -c copy -f hls -hls_time 6 \
			-hls_playlist_type vod -hls_segment_filename "$src_root/static-$s.part/seg-%05d.ts" \
			"$src_root/static-$s.part/index.m3u8"
		rm -rf "$src_root/static-$s" && mv "$src_root/static-$s.part" "$src_root/static-$s"
	fi
done

scratch first-request-run
each_log=1
unmount_wait=60
build_base_bin

# The web root: the mount and the static copies (links; the mount point stays the same across remounts).
www=$run/www
mkdir -p "$www"
ln -s "$mnt" "$www/m"
ln -s "$src_root/static-60" "$www/static-60"
ln -s "$src_root/static-600" "$www/static-600"
serve_root "$www"

# get URL: "MILLISECONDS BYTES" of one GET with a new connection; checks the length against Content-Length.
get() {
	local out code ms bytes cl
	out=$(curl -s -o /dev/null -D "$run/headers" -w '%{http_code} %{time_total} %{size_download}' "$1")
	read -r code ms bytes <<<"$out"
	cl=$(tr -d '\r' < "$run/headers" | awk 'tolower($1) == "content-length:" { print $2 }' | tail -n 1)
	if [ "$code" != 200 ] || { [ -n "$cl" ] && [ "$cl" != "$bytes" ]; }; then
		echo "$bench_tag: GET $1 answered $code with $bytes bytes (Content-Length ${cl:-none})" >&2
		status=1
		mark_failed
	fi
	awk -v t="$ms" -v b="$bytes" 'BEGIN { printf "%.1f %d\n", t * 1000, b }'
}

# first_of PLAYLIST_URL: the first URI line of a playlist.
first_of() { curl -s "$1" | grep -v '^#' | sed '/^$/d' | head -n 1; }

# hlsfs_round BIN S: one fresh mount of source S; prints "MASTER_MS PLAYLIST_MS SEGMENT_MS SEGMENT_BYTES VARIANT
# PASSTHROUGH_SEGMENT_MS" (the last: the passthrough's first segment, asked next on the same mount).
hlsfs_round() {
	local bin=$1 s=$2 video base m p g t bytes variant first seg
	rm -rf "$run/cache"
	log=$run/hlsfs-$s-$(basename "$(dirname "$(dirname "$bin")")").log
	: > "$log"  # what this round's daemon logs, once
	mount_hlsfs "$bin" "$src_root/s$s" "cache_dir=$run/cache"
	video=video-${s}s.mp4
	base=http://127.0.0.1:$port/m/$video
	read -r m _ < <(get "$base/master.m3u8")
	variant=$(curl -s "$base/master.m3u8" | grep -v '^#' | sed '/^$/d' | head -n 1)
	read -r p _ < <(get "$base/$variant")
	seg=$(first_of "$base/$variant")
	read -r g bytes < <(get "$base/${variant%/*}/$seg")
	first=${variant%%/*}
	# then the first segment of the passthrough (the tallest variant), as a remuxing server makes it
	variant=$(curl -s "$base/master.m3u8" | awk -F'RESOLUTION=[0-9]+x' '/^#EXT-X-STREAM-INF/ { split($2, a, ","); h = a[1] + 0; getline u; if (h > best) { best = h; uri = u } } END { print uri }')
	seg=$(first_of "$base/$variant")
	read -r t _ < <(get "$base/${variant%/*}/$seg")
	unmount_checked
	mark_failed  # a round runs in a subshell (read < <(...))
	echo "$m $p $g $bytes $first $t"
}

# static_round S: prints "PLAYLIST_MS SEGMENT_MS SEGMENT_BYTES" of the static copy (page cache warm, as the
# source is for hlsfs).
static_round() {
	local base=http://127.0.0.1:$port/static-$1 p g bytes
	read -r p _ < <(get "$base/index.m3u8")
	read -r g bytes < <(get "$base/$(first_of "$base/index.m3u8")")
	mark_failed
	echo "$p $g $bytes"
}

printf 'machine: %s, %s CPUs, load %s; hlsfs %s vs base %s (%s); %s rounds, medians, ms\n' "$(uname -m)" "$(nproc)" \
	"$(loadavg)" "$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)" "$base" "$base_rev" "$repeat"
printf '%-6s %-14s | %8s | %8s | %8s | %8s | %-22s | %s\n' source server master playlist segment "all" \
	"first variant, bytes" "passthrough segment"
for s in 60 600; do
	cat "$src_root/s$s/video-${s}s.mp4" > /dev/null  # the source in the page cache, for every server alike
	declare -a nm=() np=() ng=() nt=() nx=() bm=() bp=() bg=() bt=() bx=() sp=() sg=() st=()
	for _ in $(seq "$repeat"); do
		read -r a b c nbytes nvar d < <(hlsfs_round "$hlsfs" "$s")
		nm+=("$a") np+=("$b") ng+=("$c") nx+=("$d") nt+=("$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { print a + b + c }')")
		read -r a b c bbytes bvar d < <(hlsfs_round "$base_bin" "$s")
		bm+=("$a") bp+=("$b") bg+=("$c") bx+=("$d") bt+=("$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { print a + b + c }')")
		read -r b c sbytes < <(static_round "$s")
		sp+=("$b") sg+=("$c") st+=("$(awk -v b="$b" -v c="$c" 'BEGIN { print b + c }')")
	done
	mnt_all=$(median "${nt[@]}") base_all=$(median "${bt[@]}") static_all=$(median "${st[@]}")
	printf '%-6s %-14s | %8s | %8s | %8s | %8s | %-22s | %s\n' "${s}s" "hlsfs" "$(median "${nm[@]}")" "$(median "${np[@]}")" \
		"$(median "${ng[@]}")" "$mnt_all" "$nvar, $nbytes" "$(median "${nx[@]}")"
	printf '%-6s %-14s | %8s | %8s | %8s | %8s | %-22s | %s\n' "${s}s" "base $base_rev" "$(median "${bm[@]}")" "$(median "${bp[@]}")" \
		"$(median "${bg[@]}")" "$base_all" "$bvar, $bbytes" "$(median "${bx[@]}")"
	printf '%-6s %-14s | %8s | %8s | %8s | %8s | %-22s | %s\n' "${s}s" "static files" - "$(median "${sp[@]}")" \
		"$(median "${sg[@]}")" "$static_all" "ffmpeg -f hls, $sbytes" -
	printf '%-6s %-14s   master hlsfs/base %s, all hlsfs/base %s, all hlsfs/static %s, passthrough segment hlsfs/static %s\n' "" "" \
		"$(ratio "$(median "${nm[@]}")" "$(median "${bm[@]}")")" "$(ratio "$mnt_all" "$base_all")" "$(ratio "$mnt_all" "$static_all")" \
		"$(ratio "$(median "${nx[@]}")" "$(median "${sg[@]}")")"
done
exit "$(exit_status)"
