# shellcheck shell=bash
# bench/lib.sh: the helpers every benchmark in bench/ shares. A benchmark sources it right after
# `set -euo pipefail`; sourcing it moves to the checkout's root and sets
#   repo   the checkout (also the working directory)
#   cache  BENCH_CACHE (default bench/cache): generated videos and scratch folders
#   hlsfs  HLSFS (default build/hlsfs): the binary measured
# It defines functions only; nothing is started, built or trapped until the benchmark calls for it
# (ensure_hlsfs, use_cache, scratch). Messages start with "$bench_tag:" (default "bench").
# Unlike tests/lib.sh it does not fail on the first error or judge the results: each benchmark keeps its
# own checks and sets status=1 for a failed one.

cd "$(dirname "$0")/.." || exit 1
repo=$PWD
cache=${BENCH_CACHE:-$repo/bench/cache}
hlsfs=${HLSFS:-$repo/build/hlsfs}
bench_tag=${bench_tag:-bench}
status=0 # 1 once a check failed; the benchmark exits with it

# --- Set-up ------------------------------------------------------------------------------------------------

# die MESSAGE: say "$bench_tag: MESSAGE" on stderr and exit 1.
die() { echo "$bench_tag: $*" >&2; exit 1; }

# need_cmds CMD...: every CMD must be installed.
need_cmds() { local c; for c in "$@"; do command -v "$c" >/dev/null || die "$c is not installed"; done; }

# need_whole VAR...: each named variable must hold a whole number above 0 (BENCH_VAR, as it is set).
need_whole() {
	local v
	for v in "$@"; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v^^} must be a whole number above 0"; done
}

# ensure_hlsfs: unless HLSFS is set, (re)build build/hlsfs of this checkout; the binary must be executable.
ensure_hlsfs() {
	if [ -z "${HLSFS:-}" ]; then
		[ -f build/build.ninja ] || meson setup build >/dev/null
		ninja -C build >/dev/null
	fi
	[ -x "$hlsfs" ] || die "$hlsfs is not executable"
}

# build_base REV DIR: build hlsfs of git revision REV (its committed tree) in DIR; the binary is DIR/build/hlsfs.
build_base() {
	mkdir -p "$2"
	git -C "$repo" archive "$1" | tar -x -C "$2"
	(cd "$2" && meson setup build >/dev/null && ninja -C build hlsfs >/dev/null) || die "$1 does not build"
}

# base_revision: base, the revision to compare with (BENCH_BASE, default HEAD~1), and base_rev, its short hash.
base_revision() {
	base=${BENCH_BASE:-HEAD~1}
	base_rev=$(git -C "$repo" rev-parse --short "$base") || die "no revision $base"
}

# build_base_bin: build base_rev (base_revision) in $run/base (scratch made it); base_bin is its hlsfs.
build_base_bin() {
	echo "$bench_tag: building $base ($base_rev) in a temporary folder" >&2
	build_base "$base_rev" "$run/base"
	base_bin=$run/base/build/hlsfs
}

# use_cache: create the cache folder and make $cache an absolute path.
use_cache() { mkdir -p "$cache"; cache=$(realpath "$cache"); }

# --- Generated videos --------------------------------------------------------------------------------------

# gen OUT FFMPEG-ARGS...: make OUT (an MP4) with ffmpeg unless it exists; written to OUT.part, then renamed.
gen() {
	local out=$1
	shift
	[ -f "$out" ] && return 0
	echo "$bench_tag: generating $out (done once)" >&2
	mkdir -p "$(dirname "$out")"
	ffmpeg -nostdin -hide_banner -loglevel error -y "$@" -f mp4 "$out.part"
	mv "$out.part" "$out"
}

# gen_testsrc OUT SECONDS PRESET MBITS [ARGS...]: gen a 1920x1080 30 fps testsrc2 + 440 Hz AAC video, libx264
# High PRESET at MBITS Mbit/s (VBV of twice that), a keyframe every 2 s, ARGS added to the output's options.
gen_testsrc() {
	local out=$1 seconds=$2 preset=$3 mbits=$4
	shift 4
	gen "$out" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
		-t "$seconds" -c:v libx264 -preset "$preset" -profile:v high -pix_fmt yuv420p -g 60 "$@" \
		-b:v "${mbits}M" -maxrate "${mbits}M" -bufsize "$((2 * mbits))M" -c:a aac -b:a 128k -ac 2
}

# gen_first_byte_sources DIR: 8 s of 1080p30 H.264 High 10, 1080p30 HEVC Main 10 and 2160p30 HEVC, each with
# AAC and a keyframe every 2 s, in DIR/h264-10, DIR/hevc-10, DIR/hevc-4k (first-byte.sh, ttff.sh); and 8 s of
# 1080p30 H.264 High 8-bit at 3 Mbit/s (a web video's rate), which is passed through, in DIR/h264-8 (ttff.sh).
gen_first_byte_sources() {
	local src_root=$1 tone=sine=frequency=440:sample_rate=48000
	gen "$src_root/h264-8/h264-1080p.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 8 \
		-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 60 -b:v 3M -maxrate 3.5M -bufsize 7M -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/h264-10/h264-1080p-10bit.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 8 \
		-c:v libx264 -preset veryfast -profile:v high10 -pix_fmt yuv420p10le -g 60 -b:v 6M -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/hevc-10/hevc-1080p-10bit.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 8 \
		-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error:keyint=60:min-keyint=60 \
		-b:v 6M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/hevc-4k/hevc-2160p.mp4" -f lavfi -i testsrc2=size=3840x2160:rate=30 -f lavfi -i $tone -t 8 \
		-c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=error:keyint=60:min-keyint=60 \
		-b:v 20M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
}

# gen_playback_sources DIR: 30 s of 2160p30 HEVC and of 1080p30 HEVC Main 10, each with AAC and a keyframe every
# 2 s, in DIR/hevc-4k and DIR/hevc-10, 30 s of 2160p30 HEVC with B-frames and one keyframe in DIR/hevc-4k-gop30,
# and 30 s of 1080p30 H.264 High 10 with B-frames and one keyframe in DIR/h264-10-gop30, and a copy of it whose
# SPS does not give its reorder depth in DIR/h264-nodepth (tests/tools/no_reorder.py) (playback.sh).
gen_playback_sources() {
	local src_root=$1 tone=sine=frequency=440:sample_rate=48000
	gen "$src_root/hevc-4k/hevc-2160p-30s.mp4" -f lavfi -i testsrc2=size=3840x2160:rate=30 -f lavfi -i $tone -t 30 \
		-c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=error:keyint=60:min-keyint=60 \
		-b:v 20M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/hevc-10/hevc-1080p-10bit-30s.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 30 \
		-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error:keyint=60:min-keyint=60 \
		-b:v 8M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/hevc-4k-gop30/hevc-2160p-gop30s.mp4" -f lavfi -i testsrc2=size=3840x2160:rate=30 -f lavfi -i $tone \
		-t 30 -c:v libx265 -preset ultrafast -pix_fmt yuv420p \
		-x265-params log-level=error:keyint=900:min-keyint=900:scenecut=0:bframes=3 \
		-b:v 20M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/h264-10-gop30/h264-1080p-10bit-gop30s.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi \
		-i $tone -t 30 -c:v libx264 -preset veryfast -profile:v high10 -pix_fmt yuv420p10le -g 900 -keyint_min 900 \
		-sc_threshold 0 -bf 3 -b:v 6M -c:a aac -b:a 128k -ac 2 -movflags +faststart
	local nd=$src_root/h264-nodepth/h264-1080p-10bit-gop30s-nodepth.mp4
	if [ ! -f "$nd" ]; then
		mkdir -p "${nd%/*}"
		cp "$src_root/h264-10-gop30/h264-1080p-10bit-gop30s.mp4" "$nd.part" &&
			python3 "$(dirname "${BASH_SOURCE[0]}")/../tests/tools/no_reorder.py" "$nd.part" &&
			mv "$nd.part" "$nd" || die "could not make $nd"
	fi
}

# gen_seek_sources DIR: 60 s of 1080p30 H.264 High 10 and HEVC Main 10 with B-frames and a keyframe every 30 s,
# each with AAC, in DIR/h264-10 and DIR/hevc-10 (seek.sh, ttff.sh).
gen_seek_sources() {
	local src_root=$1 tone=sine=frequency=440:sample_rate=48000
	gen "$src_root/h264-10/h264-1080p-10bit-gop30s.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 60 \
		-c:v libx264 -preset veryfast -profile:v high10 -pix_fmt yuv420p10le -g 900 -keyint_min 900 \
		-sc_threshold 0 -bf 3 -b:v 6M -c:a aac -b:a 128k -ac 2 -movflags +faststart
	gen "$src_root/hevc-10/hevc-1080p-10bit-gop30s.mp4" -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i $tone -t 60 \
		-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le \
		-x265-params log-level=error:keyint=900:min-keyint=900:scenecut=0:bframes=3 \
		-b:v 6M -tag:v hvc1 -c:a aac -b:a 128k -ac 2 -movflags +faststart
}


# --- Scratch folder, mounts and cleanup --------------------------------------------------------------------

pid=''          # the daemon mounted on $mnt, '' when none
unmount_wait=5  # seconds unmount waits for the daemon to exit before it kills it
exit_wait=0     # the longest wait from fusermount3 -u to a daemon's exit so far, seconds
each_log=0      # 1: every mount has a $log of its own, which unmount_checked checks
keep_failed=0   # 1: a run that exits non-zero keeps its scratch folder (and says where)
cleanup_hooks=() # commands the exit trap runs first (servers to stop), before it unmounts

# scratch PREFIX [PARENT]: a new scratch folder run=PARENT/PREFIX.XXXXXX (PARENT default $cache) with the
# mount point mnt=$run/mnt and the daemon log log=$run/hlsfs.log; on exit (Ctrl-C too) cleanup_hooks run,
# the daemon is unmounted and the folder removed (unless something is still mounted there).
scratch() {
	run=$(mktemp -d "${2:-$cache}/$1.XXXXXX")
	mnt=$run/mnt
	log=$run/hlsfs.log
	mkdir -p "$mnt"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # called by the EXIT trap
bench_cleanup() {
	local rc=$? h
	set +e
	for h in "${cleanup_hooks[@]}"; do $h; done
	unmount
	if [ "$keep_failed" = 1 ] && [ "$rc" != 0 ]; then
		echo "$bench_tag: scratch kept in $run" >&2
	elif ! mountpoint -q "$mnt"; then
		rm -rf "$run"
	fi
}

# mount_hlsfs BIN SOURCE OPTIONS: BIN -f -o OPTIONS SOURCE $mnt in the background (stderr appended to $log),
# pid its pid; returns once $mnt is mounted, exits 1 (showing the log) if the daemon died first.
mount_hlsfs() {
	"$1" -f -o "$3" "$2" "$mnt" 2>>"$log" </dev/null &
	pid=$!
	until mountpoint -q "$mnt"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			pid=''
			cat "$log" >&2
			die "hlsfs exited before mounting"
		fi
		sleep 0.005
	done
}

# unmount: fusermount3 -u $mnt, wait up to unmount_wait s for the daemon to exit (then kill it); its status.
unmount() {
	[ -n "$pid" ] || return 0
	local t=$EPOCHREALTIME rc=0 i
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
	for ((i = 0; i < unmount_wait * 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	pid=''
	exit_wait=$(awk -v a="$t" -v b="$EPOCHREALTIME" -v m="$exit_wait" 'BEGIN { d = b - a; printf "%.1f", (d > m ? d : m) }')
	return $rc
}

# unmount_checked: unmount; status=1 (and a message) unless the daemon exited 0 and, with each_log=1 (every
# mount logs to a $log of its own), logged nothing.
unmount_checked() {
	local rc=0
	unmount || rc=$?
	if [ "$rc" != 0 ]; then
		echo "$bench_tag: hlsfs exited with status $rc after unmounting" >&2
		status=1
	fi
	# shellcheck disable=SC2034  # status is read by the benchmark
	if [ "$each_log" = 1 ] && ! show_log "$log"; then status=1; fi
}

# mark_failed: keeps a failure (status=1) that happened in a subshell ($(...), read < <(...)), where the
# status is lost; exit_status reads the mark.
mark_failed() { [ "$status" = 0 ] || : > "$run/failed"; }
# exit_status: the status a benchmark exits with, counting failures marked in subshells.
exit_status() { if [ -e "$run/failed" ]; then echo 1; else echo "$status"; fi; }

# show_log FILE: say what the daemon logged in FILE (its first 20 lines); status 1 when it logged anything.
show_log() {
	grep -qv '^$' "$1" 2>/dev/null || return 0
	echo "$bench_tag: hlsfs logged:" >&2
	sed 's/^/  /' "$1" | head -n 20 >&2
	return 1
}

# check_size FILE BYTES: a read of FILE must have returned as many bytes as stat says; status=1 otherwise.
check_size() {
	local want
	want=$(stat -c %s "$1")
	if [ "$2" != "$want" ]; then
		echo "$bench_tag: reading ${1#"$mnt"/} returned $2 bytes, stat said $want" >&2
		# shellcheck disable=SC2034  # status is read by the benchmark
		status=1
	fi
}

# check_decodes FILE: FILE (a segment read through the mount) must decode without a message and hold
# at least one picture; otherwise the benchmark says so and will exit 1.
check_decodes() {
	local out frames
	out=$(ffmpeg -nostdin -hide_banner -v error -i "$1" -f null - 2>&1)
	frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1" |
		grep -m 1 .)
	if [ -n "$out" ] || ! [ "${frames:-0}" -gt 0 ] 2>/dev/null; then
		echo "$bench_tag: ${1#"$mnt"/} does not decode cleanly (${frames:-0} pictures): $(head -n 1 <<<"$out")" >&2
		# shellcheck disable=SC2034  # status is read by the benchmark
		status=1
	fi
}

# --- Measures ----------------------------------------------------------------------------------------------

# since T0: seconds since T0 (an $EPOCHREALTIME); no process is started between the two clock readings.
since() { local end=$EPOCHREALTIME; awk -v a="$1" -v b="$end" 'BEGIN { printf "%.3f", b - a }'; }

# median V...: the middle value (the lower of the two middle ones for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ratio A B [NONE]: A / B with two decimals; NONE (default -) when B is not above 0.
ratio() { awk -v a="$1" -v b="$2" -v n="${3:--}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "%s", n }'; }

# mb BYTES: megabytes (10^6 bytes), one decimal.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# sizes FILE...: the sum of their sizes (stat).
sizes() { stat -c %s -- "$@" | awk '{ s += $1 } END { print s }'; }

# cpu_of PID [DIGITS]: CPU seconds (user + system) PID has used so far, all its threads, DIGITS decimals (3).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" -v f="%.${2:-3}f" '{ printf f, ($14 + $15) / hz }' "/proc/$1/stat"; }

# cpu_since PID CPU0 [DIGITS]: CPU seconds PID has used since cpu_of gave CPU0.
cpu_since() { awk -v a="$2" -v b="$(cpu_of "$1")" -v f="%.${3:-3}f" 'BEGIN { printf f, b - a }'; }

# hwm_kb PID: the peak resident set size (VmHWM) of PID, kB.
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }

# stat_of KEY: KEY's value in the mount's .hlsfs/stats.
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$mnt/.hlsfs/stats"; }

# cpu_model: the CPU's model name, for the machine line of a report.
cpu_model() { grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'; }

# loadavg: the 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# free_port: a TCP port on which nothing listens now (a server that loses the race retries with another).
free_port() {
	local p used
	used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	while :; do
		p=$((20000 + RANDOM % 40000))
		grep -qx "$(printf '%04X' "$p")" <<<"$used" || break
	done
	printf '%s\n' "$p"
}

# serve_root DIR: Caddy serving DIR (file_server) on 127.0.0.1:$port in the background, stopped by the exit
# trap; returns once it answers. Its log is $run/caddy.log.
serve_root() {
	port=$(free_port)
	cat > "$run/Caddyfile" <<EOF
{
	admin off
	auto_https off
}
http://127.0.0.1:$port {
	root * $1
	file_server
}
EOF
	caddy run --config "$run/Caddyfile" --adapter caddyfile >"$run/caddy.log" 2>&1 &
	caddy_pid=$!
	cleanup_hooks+=(stop_caddy)
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0; sleep 0.05; done
	die "caddy did not answer on port $port: $(tail -n 3 "$run/caddy.log")"
}
# shellcheck disable=SC2317  # called by the EXIT trap
stop_caddy() { kill "$caddy_pid" 2>/dev/null; wait "$caddy_pid" 2>/dev/null; }

# time_file FILE: "SECONDS_TO_FIRST_64K SECONDS_TO_LAST_BYTE BYTES" of reading FILE (open included).
time_file() {
	python3 - "$1" <<'PY'
import os, sys, time
t0 = time.monotonic()
fd = os.open(sys.argv[1], os.O_RDONLY)
b = os.read(fd, 1 << 16)
t1 = time.monotonic()
n = len(b)
while b:
    b = os.read(fd, 1 << 20)
    n += len(b)
t2 = time.monotonic()
os.close(fd)
print("%.3f %.3f %d" % (t1 - t0, t2 - t0, n))
PY
}

# time_cmd FIRST CMD...: "SECONDS_TO_FIRST SECONDS_TO_LAST_BYTE BYTES CPU_SECONDS" of CMD's stdout, where
# SECONDS_TO_FIRST is when it had written FIRST bytes (1: its first byte); exits 1 if CMD fails.
time_cmd() {
	python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
first = int(sys.argv[1])
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
fd = p.stdout.fileno()
n, t1 = 0, None
while True:
    c = os.read(fd, 1 << 20)
    if not c:
        break
    n += len(c)
    if t1 is None and n >= first:
        t1 = time.monotonic()
t2 = time.monotonic()
rc = p.wait()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if rc != 0 or n == 0:
    sys.exit("command failed (status %d, %d bytes): %s" % (rc, n, " ".join(sys.argv[2:])))
print("%.3f %.3f %d %.3f" % ((t1 or t2) - t0, t2 - t0, n, ru.ru_utime + ru.ru_stime))
PY
}

# unversion_name PATH: PATH with a segment name's version cut out (seg-00042-3fa9c01b.ts -> seg-00042.ts).
unversion_name() { sed 's/\(seg-[0-9]\{5,\}\)-[0-9a-f]\{8\}\.ts$/\1.ts/' <<<"$1"; }
