#!/usr/bin/env bash
# Benchmarks a player's emergency down-switch on a cold transcode-only video: hls.js aborts a segment that
# loads too slowly and asks for the same span on a lower rung. On a fresh mount with the default options
# (workers=2, prefetch=2), a reader takes the first 100 KB of the tallest rung's segment N and closes it (the
# aborted request; that segment goes on being made), then the 360p rung's segment N is read whole: the bench
# prints how long that took (what the player waits for after switching down), and when every generation
# under way had ended, for this build and another (BENCH_BASE), round by round. N is the segment at 40% of
# the video, so every segment read is a cold one in the middle of a playback.
#
# How to run it, from a built tree (the script runs ninja itself unless HLSFS is set):
#
#     bench/switch-down.sh
#     BENCH_BASE=main BENCH_REPEAT=5 bench/switch-down.sh
#
# Sources: those of bench/playback.sh (generated once under bench/cache/playback-source/): 30 s of 2160p30
# HEVC and of 1080p30 HEVC Main 10, a keyframe every 2 s. The segment read whole is checked against its stat
# size, and each daemon must exit 0 with an empty log; otherwise the script says so and exits 1. The machine
# may be shared: figures are reported, not asserted. Needs ffmpeg (with libx265), python3, fusermount3, git,
# tar, meson, ninja.
#
# Environment: BENCH_CACHE   where the sources and scratch folders go (default bench/cache)
#              BENCH_REPEAT  rounds; the median is shown (default 3)
#              BENCH_BASE    the git revision to compare with (default HEAD~1)
#              BENCH_SOURCES the rows (default "hevc-4k hevc-10"; any playback.sh source)
#              HLSFS         the binary to measure (default build/hlsfs, built if missing)
set -euo pipefail
export LC_ALL=C.UTF-8

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
repeat=${BENCH_REPEAT:-3}
ladder=1080:5000/720:2800/480:1400/360:800
need_whole repeat
need_cmds ffmpeg python3 fusermount3 git tar meson ninja
ensure_hlsfs
base_revision

use_cache
src_root=$cache/playback-source
gen_playback_sources "$src_root"

scratch switch-down-run
each_log=1        # every mount logs to a file of its own, which must stay empty
unmount_wait=120  # the daemon may finish generations in flight before it exits

build_base_bin

# measure BIN DIR NAME: one abandoned top-rung segment, then the 360p one; prints "LOW IDLE TOP SEGMENT".
measure() {
	local bin=$1 dir=$2 name=$3 out
	rm -rf "${run:?}/$name"
	log=$run/$name.log
	mount_hlsfs "$bin" "$dir" "cache_dir=$run/$name,ladder=$ladder"
	out=$(python3 - "$mnt" <<'PY'
import os, sys, time
mnt = sys.argv[1]
video = sorted(os.listdir(mnt))[0]
root = f'{mnt}/{video}'
open(f'{root}/master.m3u8').read()
rungs = sorted((d for d in os.listdir(root) if d.endswith('p') and d[:-1].isdigit()), key=lambda d: int(d[:-1]))
top, low = rungs[-1], rungs[0]
def segments(rung):
    return [l for l in open(f'{root}/{rung}/index.m3u8').read().splitlines() if l and not l.startswith('#')]
st, sl = segments(top), segments(low)
n = len(st) * 2 // 5
with open(f'{root}/{top}/{st[n]}', 'rb') as f:
    f.read(100000)
t0 = time.monotonic()
path, got = f'{root}/{low}/{sl[n]}', 0
with open(path, 'rb') as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        got += len(b)
t_low = time.monotonic() - t0
if got != os.stat(path).st_size:
    print(f'short {sl[n]} {got} {os.stat(path).st_size}')
    sys.exit(1)
def in_flight():
    for l in open(f'{mnt}/.hlsfs/stats'):
        if l.startswith('hlsfs_generations_in_flight '):
            return int(l.split()[1])
    return 0
while in_flight():
    time.sleep(0.02)
print('%.3f %.3f %s %d' % (t_low, time.monotonic() - t0, top, n))
PY
) || { echo "$bench_tag: $name: $out" >&2; status=1; out='- - - -'; }
	unmount_checked
	echo "$out"
}

printf 'machine: %s, %s CPUs, load %s; hlsfs %s vs base %s (%s); %s rounds, medians; defaults (workers=2, prefetch=2)\n' \
	"$(uname -m)" "$(nproc)" "$(loadavg)" "$(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)" "$base" \
	"$base_rev" "$repeat"
printf '%-8s %-14s | %-5s | %22s | %22s\n' source "left, then" build "360p segment s (x)" "all idle s (x)"
for name in ${BENCH_SOURCES:-hevc-4k hevc-10}; do
	dir=$src_root/$name
	[ -d "$dir" ] || die "no source $name (BENCH_SOURCES)"
	nl=() ni=() bl=() bi=()
	for r in $(seq "$repeat"); do
		measure "$hlsfs" "$dir" "$name-new-$r" > "$run/measured"
		read -r a b top seg < "$run/measured"
		nl+=("$a") ni+=("$b")
		measure "$base_bin" "$dir" "$name-base-$r" > "$run/measured"
		read -r a b _ _ < "$run/measured"
		bl+=("$a") bi+=("$b")
	done
	mnl=$(median "${nl[@]}") mbl=$(median "${bl[@]}") mni=$(median "${ni[@]}") mbi=$(median "${bi[@]}")
	printf '%-8s %-14s | %-5s | %22s | %22s\n' "$name" "$top seg $seg" this "$mnl ($(ratio "$mnl" "$mbl"))" \
		"$mni ($(ratio "$mni" "$mbi"))"
	printf '%-8s %-14s | %-5s | %22s | %22s\n' "" "" base "$mbl (${bl[*]})" "$mbi"
done
exit "$status"
