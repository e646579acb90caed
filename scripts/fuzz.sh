#!/usr/bin/env bash
# Fuzzes the pure modules with libFuzzer (harnesses in tests/fuzz/, see tests/fuzz/README.md):
# builds every harness with ASan and UBSan, replays the saved reproducers in tests/fuzz/regressions/,
# then runs each harness for SECONDS on its corpus and prints, per harness, the executions, the final
# coverage (libFuzzer's cov: and ft:) and the crashes, grouped by what failed. Exits 1 when a harness
# did not build, a reproducer still fails, or a run found a crash, leak, timeout or out-of-memory.
#
#   scripts/fuzz.sh                 # 60 s per harness (about 6 minutes)
#   scripts/fuzz.sh 10              # a quick look
#   FUZZ_SECONDS=300 scripts/fuzz.sh
#   scripts/fuzz.sh 3600            # long run: an hour per harness, e.g. nightly; the corpus in
#                                   # build-fuzz/corpus/ is kept and grows from run to run
#   scripts/fuzz.sh 600 plan codec  # only these harnesses
#
# Runs use libFuzzer's fork mode with crashes ignored, so one known bug does not end a run: every
# distinct failure is collected under build-fuzz/artifacts/NAME/. Reproduce one with
#   build-fuzz/fuzz_NAME build-fuzz/artifacts/NAME/crash-...
# Environment: FUZZ_SECONDS (default 60), CC (default clang), FUZZ_CFLAGS (extra compiler flags),
# FUZZ_OUT (default build-fuzz). Needs clang and its libFuzzer runtime; on Debian the runtime
# (libclang-rt-14-dev) is installed here when missing.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
seconds=${1:-${FUZZ_SECONDS:-60}}
[ $# -gt 0 ] && shift
case $seconds in
'' | *[!0-9]*)
	echo "usage: scripts/fuzz.sh [SECONDS] [NAME...]" >&2
	exit 2
	;;
esac
all=(naming codec plan index_blob config tsread webvtt)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
out=${FUZZ_OUT:-build-fuzz}
export FUZZ_OUT=$out
cc=${CC:-clang}

# Per harness: the longest input, and a dictionary if it has one.
max_len() {
	case $1 in
	naming) echo 256 ;;
	config) echo 1024 ;;
	codec) echo 4096 ;;
	plan) echo 8192 ;;
	index_blob) echo 16384 ;;
	esac
}

# The toolchain: clang that links -fsanitize=fuzzer. The runtime is a separate Debian package.
fuzzer_links() {
	local dir
	dir=$(mktemp -d) || return 1
	printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$dir/t.c"
	"$cc" -fsanitize=fuzzer,address,undefined "$dir/t.c" -o "$dir/t" >/dev/null 2>&1
	local rc=$?
	rm -rf "$dir"
	return $rc
}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found; install clang (apt-get install clang)" >&2
	exit 1
fi
if ! fuzzer_links; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "fuzz: $cc cannot link -fsanitize=fuzzer and there is no apt-get to install its runtime" >&2
		exit 1
	fi
	ver=$("$cc" -dumpversion 2>/dev/null | cut -d. -f1)
	pkg=libclang-rt-${ver:-14}-dev
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo)
		else
			echo "fuzz: $pkg is missing and this is not root; install it and run again" >&2
			exit 1
		fi
	fi
	echo "fuzz: installing $pkg (the libFuzzer runtime)" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" </dev/null >&2
	if ! fuzzer_links; then
		echo "fuzz: $cc still cannot link -fsanitize=fuzzer after installing $pkg" >&2
		exit 1
	fi
fi

status=0
declare -A built=()
for n in "${names[@]}"; do
	if tests/fuzz/build.sh "$n" >/dev/null; then
		built[$n]=1
	else
		echo "fuzz: fuzz_$n did not build" >&2
		status=1
	fi
done
tests/fuzz/make-corpus.sh "$out/corpus" >/dev/null || {
	echo "fuzz: making the seed corpus failed" >&2
	exit 1
}

# What failed, in one line: the property, or the sanitizer's summary, of a replayed input.
signature() {
	"$out/fuzz_$1" -timeout=60 -rss_limit_mb=3072 "$2" 2>&1 | grep -m1 -E 'property failed|^SUMMARY: [A-Za-z]+Sanitizer|ERROR: libFuzzer: (out-of-memory|timeout)' |
		sed -e 's/^==[0-9]*== *//' -e 's/ (BuildId[^)]*)//' -e 's/ in $//' || true
}

# Saved reproducers must pass; one that still fails is a bug not fixed yet.
shopt -s nullglob
for n in "${names[@]}"; do
	[ -n "${built[$n]:-}" ] || continue
	for f in tests/fuzz/regressions/"$n"-*; do
		if ! "$out/fuzz_$n" -runs=1 "$f" >"$out/regression.log" 2>&1; then
			echo "REGRESSION $f still fails: $(signature "$n" "$f")"
			status=1
		fi
	done
done

# Columns: executions, and cov/ft from the run's last status line (fork mode counts coverage its
# own way); then cov/ft/inputs of the whole corpus replayed once in the usual mode, comparable
# from run to run; then crashes.
fmt='%-11s %11s %7s %7s | %7s %7s %7s | %s\n'
printf "$fmt" harness executions cov ft cov ft inputs crashes
for n in "${names[@]}"; do
	if [ -z "${built[$n]:-}" ]; then
		printf "$fmt" "$n" - - - - - - "no build"
		continue
	fi
	art=$out/artifacts/$n
	log=$out/logs/$n.log
	rm -rf "$art"
	mkdir -p "$art" "$out/logs" "$out/corpus/$n"
	dict=()
	[ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
	"$out/fuzz_$n" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-max_total_time="$seconds" -max_len="$(max_len "$n")" -timeout=60 -rss_limit_mb=3072 \
		-artifact_prefix="$art/" "${dict[@]}" "$out/corpus/$n" >"$log" 2>&1
	rc=$?
	# fork mode's status lines: "#EXECS: cov: C ft: F corp: ... oom/timeout/crash: O/T/C ..."
	last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1)
	[ -n "$last" ] || last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	found=("$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*)
	crashes=${#found[@]}
	if [ "$crashes" -eq 0 ] && [ $rc -ne 0 ]; then
		crashes="rc=$rc"
	fi
	# the corpus as it now stands, replayed once (inputs of earlier runs included)
	init=$("$out/fuzz_$n" -runs=0 -max_len="$(max_len "$n")" -timeout=60 -rss_limit_mb=3072 "$out/corpus/$n" 2>&1 |
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' | tail -1)
	ccov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$init")
	cft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$init")
	cin=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$init")
	printf "$fmt" "$n" "${execs:--}" "${cov:--}" "${ft:--}" "${ccov:--}" "${cft:--}" "${cin:--}" "$crashes"
	if [ "$crashes" != 0 ]; then
		status=1
		# one line per distinct failure, with how many inputs hit it and the smallest of them
		declare -A count=() smallest=()
		for f in "${found[@]}"; do
			sig=$(signature "$n" "$f")
			[ -n "$sig" ] || sig="$(basename "$f" | cut -d- -f1) (does not reproduce alone)"
			count[$sig]=$((${count[$sig]:-0} + 1))
			if [ -z "${smallest[$sig]:-}" ] || [ "$(stat -c %s "$f")" -lt "$(stat -c %s "${smallest[$sig]}")" ]; then
				smallest[$sig]=$f
			fi
		done
		for sig in "${!count[@]}"; do
			f=${smallest[$sig]}
			echo "  ${count[$sig]} x $sig"
			echo "      smallest: $f ($(stat -c %s "$f") bytes): $(head -c 48 "$f" | od -An -tx1 | tr -d ' \n')"
		done
		unset count smallest
		[ "$rc" -ne 0 ] && [ ${#found[@]} -eq 0 ] && tail -20 "$log" | sed 's/^/      /'
	fi
done
exit $status
