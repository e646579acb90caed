#!/usr/bin/env bash
# Benchmarks the start of a cold transcode-only video as a player plays it: on a fresh mount with the
# default options (workers=2, prefetch=2), master.m3u8 and the first variant it lists are read, then, after
# BENCH_GAP seconds (a player's set-up and round trip before its first segment request), that variant's
# segments in order, each asked for as soon as the one before has arrived (as hls.js and video.js fetch
# while their buffer is not full). Times count from the read of master.m3u8. Playback is taken to start when the first segment has arrived and
# to need segment k when the ones before it have played; the bench prints when the first segment arrived,
# the time the player would have waited for later ones (stalls, summed), and when the last one arrived,
# for this build and another (BENCH_BASE), round by round.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/playback.sh
#     BENCH_BASE=main BENCH_REPEAT=3 bench/playback.sh
#
# Sources (generated once under bench/cache/playback-source/): 30 s of 2160p30 HEVC and of 1080p30 HEVC
# Main 10 (libx265 ultrafast, a keyframe every 2 s), 30 s of 2160p30 HEVC and of 1080p30 H.264 High 10
# (libx264 veryfast) with one keyframe (each segment after the first starts inside that GOP), each with AAC,
# and (h264-nodepth, only when asked for) that H.264 one with its SPS's reorder depth cleared. Every segment read is checked against its
# stat size, and each daemon must exit 0 with an empty log; otherwise the script says so and exits 1. The
# machine may be shared: figures are reported, not asserted. Needs ffmpeg (with libx265), python3,
# fusermount3, git, tar, meson, ninja.
#
# Environment: BENCH_CACHE   where the sources and scratch folders go (default bench/cache)
#              BENCH_REPEAT  rounds; the median is shown (default 3)
#              BENCH_BASE    the git revision to compare with (default HEAD~1)
#              BENCH_GAP     seconds between the playlist read and the first segment request
#                            (default 0.1: hls.js 1.7.4 in headless Chromium on the same machine)
#              BENCH_SOURCES the rows (default "hevc-4k hevc-10 hevc-4k-gop30
#                            h264-10-gop30"; also h264-nodepth)
#              HLSFS         the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-3}
gap=${BENCH_GAP:-0.1}
ladder=1080:5000/720:2800/480:1400/360:800
need_whole repeat
[[ $gap =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_GAP must be seconds (0.1), not '$gap'"
need_cmds ffmpeg python3 fusermount3 git tar meson ninja
ensure_hlsfs
base_revision

use_cache
src_root=$cache/playback-source
gen_playback_sources "$src_root"

scratch playback-run
each_log=1        # every mount logs to a file of its own, which must stay empty
unmount_wait=120  # the daemon may finish generations in flight before it exits

build_base_bin

# measure BIN DIR NAME: one cold playback of the first variant; prints "FIRST STALL LAST VARIANT DURATIONS".
measure() {
	local bin=$1 dir=$2 name=$3 out
	rm -rf "${run:?}/$name"
	log=$run/$name.log
	mount_hlsfs "$bin" "$dir" "cache_dir=$run/$name,ladder=$ladder"
	out=$(python3 - "$mnt" "$gap" <<'PY'
import os, sys, time
mnt, gap = sys.argv[1], float(sys.argv[2])
video = sorted(os.listdir(mnt))[0]
t0 = time.monotonic()
master = open(f'{mnt}/{video}/master.m3u8').read()
variant = [l for l in master.splitlines() if l and not l.startswith('#')][0]
segs, durs, dur = [], [], None
for l in open(f'{mnt}/{video}/{variant}').read().splitlines():
    if l.startswith('#EXTINF:'):
        dur = float(l[8:].split(',')[0])
    elif l and not l.startswith('#'):
        segs.append(l)
        durs.append(dur)
folder = os.path.dirname(f'{mnt}/{video}/{variant}')
time.sleep(gap)
arrived = []
for s in segs:
    path, n = f'{folder}/{s}', 0
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            n += len(b)
    arrived.append(time.monotonic() - t0)
    if n != os.stat(path).st_size:
        print(f'short {s} {n} {os.stat(path).st_size}')
        sys.exit(1)
clock, stall = arrived[0], 0.0
for k in range(1, len(segs)):
    clock += durs[k - 1]
    if arrived[k] > clock:
        stall += arrived[k] - clock
        clock = arrived[k]
print('%.3f %.3f %.3f %s %s' % (arrived[0], stall, arrived[-1], variant.split('/')[0],
                                ','.join('%g' % d for d in durs)))
PY
) || { echo "$bench_tag: $name: $out" >&2; status=1; out='- - - - -'; }
	unmount_checked
	echo "$out"
}

printf 'machine: %s, %s CPUs, load %s; hlsfs %s vs base %s (%s); %s rounds, medians; defaults (workers=2, prefetch=2); %s s from playlist to first request\n' \
	"$(uname -m)" "$(nproc)" "$(loadavg)" "$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)" "$base" \
	"$base_rev" "$repeat" "$gap"
printf '%-13s %-5s | %-6s | %21s | %21s | %s\n' source rung build "first segment s (x)" "stalls s" "last segment s (x)"
for name in ${BENCH_SOURCES:-hevc-4k hevc-10 hevc-4k-gop30 h264-10-gop30}; do
	dir=$src_root/$name
	[ -d "$dir" ] || die "no source $name (BENCH_SOURCES)"
	nf=() ns=() nl=() bf=() bs=() bl=()
	for r in $(seq "$repeat"); do
		measure "$hlsfs" "$dir" "$name-new-$r" > "$run/measured"
		read -r a b c variant durs < "$run/measured"
		nf+=("$a") ns+=("$b") nl+=("$c")
		measure "$base_bin" "$dir" "$name-base-$r" > "$run/measured"
		read -r a b c bvariant bdurs < "$run/measured"
		bf+=("$a") bs+=("$b") bl+=("$c")
	done
	mnf=$(median "${nf[@]}") mbf=$(median "${bf[@]}") mnl=$(median "${nl[@]}") mbl=$(median "${bl[@]}")
	printf '%-13s %-5s | %-6s | %21s | %21s | %s\n' "$name" "$variant" this "$mnf ($(ratio "$mnf" "$mbf"))" \
		"$(median "${ns[@]}") (${ns[*]})" "$mnl ($(ratio "$mnl" "$mbl"))"
	printf '%-13s %-5s | %-6s | %21s | %21s | %s\n' "" "$bvariant" base "$mbf" "$(median "${bs[@]}") (${bs[*]})" "$mbl"
	printf '%-13s %-5s   segments: this %s; base %s\n' "" "" "$durs" "$bdurs"
done
exit "$status"
