#!/usr/bin/env bash
# Benchmarks what a viewer sees in hls.js (headless Chromium, contrib/player) on a fresh mount: the time
# from opening the page to the first frame playing, and to a picture of at least 720 lines, for the master
# as hlsfs writes it ("listed") and for the same master with the 360p, 720p or 1080p folder listed first
# instead (hls.js takes the first variant's BANDWIDTH, at most 5 Mbit/s, as its first bandwidth estimate
# and starts with the best variant within it; Safari starts with the first one), in hls.js and video.js.
# Then a cold seek, made as soon as the first frame plays, to 90% of a 60 s video whose keyframes are 30 s
# apart. With BENCH_BASE, that revision's build also plays the master as it lists it, and makes the seek,
# round by round, and the ratios are printed. Everything through Caddy.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/ttff.sh
#     BENCH_REPEAT=3 bench/ttff.sh
#     BENCH_SOURCES=h264-8 BENCH_SEEK=0 BENCH_REPEAT=3 bench/ttff.sh
#
# Sources (generated once under bench/cache/, shared with first-byte.sh and seek.sh): 8 s of 1080p30
# H.264 High at 3 Mbit/s (h264-8, passed through), H.264 High 10 (h264-10), HEVC Main 10 (hevc-10) and
# 2160p30 HEVC (hevc-4k) (transcode-only, so every variant is a rung), and 60 s of 1080p30 HEVC Main 10
# with a keyframe every 30 s. For each source and each first variant: a fresh mount on an empty cache_dir
# (default options, as a user mounts it, with the ladder below), a fresh browser profile; the variant
# lists are rewritten in a copy of the master beside the mount (its URIs pointing into the mount), so the
# bytes served are hlsfs's own. Medians of BENCH_REPEAT rounds (default 1).
# The machine may be shared: figures are reported, not asserted; a run that fails to play says so and the
# script exits 1. Needs chromium (Debian's), node with tests/browser's npm packages (npm install --prefix
# tests/browser), caddy, ffmpeg (with libx265), python3, fusermount3.
#
# Environment: BENCH_CACHE   where the sources and scratch folders go (default bench/cache)
#              BENCH_REPEAT  rounds; the median is shown (default 1)
#              BENCH_SOURCES the 8 s sources to start (default "h264-8 h264-10 hevc-10 hevc-4k"; none: only the seek)
#              BENCH_SEEK    0 leaves out the cold seek (default 1)
#              BENCH_BASE    a git revision whose build also plays the listed masters and makes the seek,
#                            round by round (default none)
#              BENCH_PLAYERS the players (default "hls.js video.js"; video.js is installed under BENCH_CACHE)
#              BENCH_FIRSTS  the rows: which variant is listed first (default "listed 360p 720p 1080p")
#              HLSFS         the binary to measure (default build/hlsfs, built if missing)
#              CHROMIUM      the browser (default /usr/bin/chromium)
set -euo pipefail
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-1}
ladder=1080:5000/720:2800/480:1400/360:800
need_whole repeat
need_cmds ffmpeg python3 fusermount3 caddy node curl
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "no $chromium (apt-get install chromium)"
[ -f "$repo/tests/browser/node_modules/playwright-core/package.json" ] &&
	[ -f "$repo/tests/browser/node_modules/hls.js/dist/hls.min.js" ] ||
	die "tests/browser's npm packages are missing (npm install --prefix tests/browser)"
ensure_hlsfs

use_cache
fb=$cache/first-byte-source
gen_first_byte_sources "$fb"
sk=$cache/seek-source
gen_seek_sources "$sk"

scratch ttff-run
each_log=1
unmount_wait=120

# The web root: the player, the rewritten masters, and the mount (a link, the same path across remounts).
www=$run/www
mkdir -p "$www/player" "$www/alt"
cp "$repo/contrib/player/index.html" "$repo/tests/browser/node_modules/hls.js/dist/hls.min.js" "$www/player/"
ln -s "$mnt" "$www/m"
# video.js (its VHS engine plays HLS through MSE), installed once under the cache; a page of its own.
players=${BENCH_PLAYERS:-hls.js video.js}
vjs_version=8.24.1
if [[ " $players " == *" video.js "* ]]; then
	vjs=$cache/npm/node_modules/video.js/dist
	if [ ! -f "$vjs/video.min.js" ]; then
		echo "bench: installing video.js $vjs_version under $cache/npm (done once)" >&2
		npm install --prefix "$cache/npm" --no-audit --no-fund --no-save --loglevel=error "video.js@$vjs_version" >&2 </dev/null ||
			die "npm install video.js failed"
	fi
	mkdir -p "$www/player-vjs"
	cp "$vjs/video.min.js" "$vjs/video-js.min.css" "$www/player-vjs/"
	cat > "$www/player-vjs/index.html" <<'EOF'
<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="video-js.min.css"></head>
<body>
<video id="v" class="video-js" muted playsinline width="1280" height="720"></video>
<script src="video.min.js"></script>
<script>
  window.playerState = {};
  const player = videojs('v', { autoplay: 'muted', muted: true, html5: { vhs: { overrideNative: true } } });
  player.on('error', () => { const e = player.error(); window.playerState.fatalError = { message: e ? e.code + ' ' + e.message : 'error' }; });
  player.src({ src: new URLSearchParams(location.search).get('src'), type: 'application/x-mpegURL' });
</script>
</body></html>
EOF
fi
serve_root "$www"

# rewrite MASTER VIDEO FIRST OUT: MASTER with the variant whose folder is FIRST listed first (as-is when
# FIRST is "listed"), every URI pointing into the mount's VIDEO folder.
rewrite() {
	python3 - "$@" <<'PY'
import re, sys
master, video, first, out = sys.argv[1:5]
lines = open(master).read().splitlines()
head, variants, i = [], [], 0
while i < len(lines):
    l = lines[i]
    if l.startswith('#EXT-X-STREAM-INF'):
        variants.append((l, lines[i + 1]))
        i += 2
        continue
    head.append(l)
    i += 1
pre = '../m/' + video + '/'
head = [re.sub(r'URI="([^"]+)"', lambda m: 'URI="%s%s"' % (pre, m.group(1)), l) for l in head]
if first != 'listed':
    pick = [v for v in variants if v[1].split('/')[0] == first]
    if not pick:
        sys.exit(2)
    variants = pick + [v for v in variants if v not in pick]
with open(out, 'w') as f:
    f.write('\n'.join(head + [x for v in variants for x in (v[0], pre + v[1])]) + '\n')
PY
}

# play PLAYER DIR FIRST [SEEK]: one cold start of DIR's video in PLAYER (hls.js or video.js) with FIRST listed
# first; prints the JSON line.
play() {
	local player=$1 dir=$2 first=$3 seek=${4:-} video out name page=player
	[ "$player" = hls.js ] || page=player-vjs
	rm -rf "$run/cache" "$run/profile" && mkdir -p "$run/profile"
	log=$run/hlsfs-$(basename "$dir")-$first.log
	: > "$log"
	mount_hlsfs "${bin:-$hlsfs}" "$dir" "cache_dir=$run/cache,ladder=$ladder"
	video=$(ls "$mnt")
	name=$(basename "$dir")-$first.m3u8
	if ! rewrite "$mnt/$video/master.m3u8" "$video" "$first" "$www/alt/$name"; then
		unmount_checked
		status=1
		mark_failed
		echo '{"first": null}'
		return
	fi
	out=$(node "$repo/bench/ttff.mjs" --chromium "$chromium" --profile "$run/profile" \
		--url "http://127.0.0.1:$port/$page/index.html?src=/alt/$name" ${seek:+--seek "$seek" --good-within 0}) ||
		{ echo "bench: $player, $(basename "$dir"), $first first: the player failed" >&2; status=1; out='{"first": null}'; }
	unmount_checked
	mark_failed  # run in $(...)
	echo "$out"
}

field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"; }

printf 'machine: %s, %s CPUs, load %s; hlsfs %s; %s round(s), medians; hls.js %s, video.js %s in %s\n' "$(uname -m)" \
	"$(nproc)" "$(loadavg)" "$(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet || echo +dirty)" "$repeat" \
	"$(node -p "require('$repo/tests/browser/node_modules/hls.js/package.json').version")" "$vjs_version" \
	"$("$chromium" --version 2>/dev/null | head -n 1)"
# listed_first DIR: the folder of the variant hlsfs lists first for DIR's video (a mount of its own).
listed_first() {
	local v
	rm -rf "$run/cache"
	log=$run/hlsfs-listed.log
	: > "$log"  # what this mount's daemon logs, once
	mount_hlsfs "$hlsfs" "$1" "cache_dir=$run/cache,ladder=$ladder"
	v=$(ls "$mnt")
	grep -v '^#' "$mnt/$v/master.m3u8" | sed '/^$/d' | head -n 1 | cut -d/ -f1
	unmount_checked
	mark_failed  # run in $(...)
}

if [ -n "${BENCH_BASE:-}" ]; then
	base_revision
	build_base_bin
fi
printf '%-8s %-10s %-14s | %9s | %9s | %-13s' player source first "frame s" "720p+ s" "first picture"
[ -z "${BENCH_BASE:-}" ] && echo || printf '| %-24s | %s\n' "base $base_rev frame s, 720p+" "frame/base"
for name in ${BENCH_SOURCES:-h264-8 h264-10 hevc-10 hevc-4k}; do
	[ "$name" != none ] || continue
	dir=$fb/$name
	[ -d "$dir" ] || die "no source $name (one of h264-8 h264-10 hevc-10 hevc-4k)"
	lf=$(listed_first "$dir")
	for pair in $(for p in $players; do for f in ${BENCH_FIRSTS:-listed 360p 720p 1080p}; do echo "$p/$f"; done; done); do
		player=${pair%/*} first=${pair#*/}
		[ "$first" != "$lf" ] || continue  # the master as listed already starts there
		f=() g=() h="" f0=() g0=() h0=""
		for _ in $(seq "$repeat"); do
			out=$(play "$player" "$dir" "$first")
			if [ "$(field "$out" first)" != - ]; then
				f+=("$(field "$out" first)")
				g+=("$(field "$out" good)")
				h=$(field "$out" height)
			fi
			[ -n "${BENCH_BASE:-}" ] && [ "$first" = listed ] || continue
			out=$(bin=$base_bin play "$player" "$dir" "$first")
			[ "$(field "$out" first)" != - ] || continue
			f0+=("$(field "$out" first)")
			g0+=("$(field "$out" good)")
			h0=$(field "$out" height)
		done
		row=$first
		[ "$first" != listed ] || row="listed ($lf)"
		[ "${#f[@]}" -gt 0 ] || { printf '%-8s %-10s %-14s | %9s | %9s |\n' "$player" "$name" "$row" - -; continue; }
		mg=$(median "${g[@]/#-/999}")  # a round without a 720p+ picture counts as slowest
		[ "$mg" = 999 ] && mg=-
		printf '%-8s %-10s %-14s | %9s | %9s | %-13s' "$player" "$name" "$row" "$(median "${f[@]}")" "$mg" "${h}p"
		if [ "${#f0[@]}" -gt 0 ]; then
			mg0=$(median "${g0[@]/#-/999}")
			[ "$mg0" = 999 ] && mg0=-
			printf '| %-24s | %s\n' "$(median "${f0[@]}"), $mg0 (${h0}p)" "$(ratio "$(median "${f[@]}")" "$(median "${f0[@]}")")"
		else
			echo
		fi
	done
done
[ "${BENCH_SEEK:-1}" = 1 ] || exit "$(exit_status)"
# The seek is made as soon as the first frame plays, to 90%: past what hls.js buffers (30 s) and what the
# mount prepares ahead (prefetch) by then, so that it is cold, while the segments after the start are
# still being made. With BENCH_BASE, the same for that revision's build, round by round.
seek_at=0.9
printf '\ncold seek to %s%% of %s (keyframes 30 s apart) at the first frame, the master as listed:\n' \
	"$(awk -v f="$seek_at" 'BEGIN { print f * 100 }')" "$(ls "$sk/hevc-10")"
s=() sb=()
for _ in $(seq "$repeat"); do
	out=$(bin=$hlsfs play hls.js "$sk/hevc-10" listed "$seek_at")
	[ "$(field "$out" seek)" != - ] && s+=("$(field "$out" seek)")
	if [ -n "${BENCH_BASE:-}" ]; then
		out=$(bin=$base_bin play hls.js "$sk/hevc-10" listed "$seek_at")
		[ "$(field "$out" seek)" != - ] && sb+=("$(field "$out" seek)")
	fi
done
[ "${#s[@]}" -gt 0 ] && printf 'seek to playing: %s s (median of %d: %s)\n' "$(median "${s[@]}")" "${#s[@]}" "${s[*]}"
[ "${#sb[@]}" -gt 0 ] && printf 'base %s (%s): %s s (median of %d: %s); ratio %s\n' "$base" "$base_rev" "$(median "${sb[@]}")" \
	"${#sb[@]}" "${sb[*]}" "$(ratio "$(median "${s[@]}")" "$(median "${sb[@]}")")"
exit "$(exit_status)"
