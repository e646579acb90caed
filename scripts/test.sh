#!/usr/bin/env bash
# The one test command: installs dependencies, builds, runs the unit tests (meson) and the integration
# tests (tests/run.sh, which gets this script's arguments), then the integration tests again against a
# sanitizer build. Its last line is "N passed, M failed" over all of them.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
build=build
unit_pass=0 unit_fail=0 int_pass=0 int_fail=0

finish() {
	echo "$((unit_pass + int_pass)) passed, $((unit_fail + int_fail)) failed"
	[ $((unit_fail + int_fail)) -eq 0 ]
	exit
}

# A step that fails before any test ran still counts as one failure, so the summary never reads as a pass.
abort() {
	echo "test.sh: $*" >&2
	unit_fail=$((unit_fail + 1))
	finish
}

scripts/install-deps.sh || abort "installing dependencies failed"

if [ -f "$build/meson-private/coredata.dat" ]; then
	# An existing build tree: regenerate it for the current meson.build, or start over when meson cannot
	# (for example after a meson upgrade).
	meson setup --reconfigure "$build" || meson setup --wipe "$build" ||
		abort "meson setup failed"
else
	rm -rf "$build"
	meson setup "$build" || abort "meson setup failed"
fi
ninja -C "$build" || abort "build failed"

# Unit tests. Counts come from meson's own log, one JSON object per test.
testlog=$build/meson-logs/testlog.json
rm -f "$testlog"
meson test -C "$build" --print-errorlogs
meson_rc=$?
if [ -f "$testlog" ]; then
	read -r unit_pass unit_fail < <(python3 - "$testlog" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r != "SKIP":
        bad += 1
print(ok, bad)
PY
	) || unit_fail=1
fi
# meson failing with no failed test in its log (a crash, a broken test definition) is still a failure.
if [ "$meson_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; then
	unit_fail=1
fi
echo "unit tests: $unit_pass passed, $unit_fail failed"

# Integration tests through real mounts.
if [ ! -x tests/run.sh ]; then
	echo "test.sh: tests/run.sh is missing or not executable" >&2
	int_fail=1
	finish
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Runs tests/run.sh with the given environment and adds its counts to the integration totals.
integration() {
	env "$@" tests/run.sh "${run_args[@]}" </dev/null 2>&1 | tee "$out"
	local rc=${PIPESTATUS[0]} summary
	summary=$(tail -n 1 "$out")
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		int_pass=$((int_pass + BASH_REMATCH[1])) int_fail=$((int_fail + BASH_REMATCH[2]))
		if [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ]; then
			echo "test.sh: tests/run.sh exited $rc" >&2
			int_fail=$((int_fail + 1))
		fi
	else
		echo "test.sh: tests/run.sh did not end with an \"N passed, M failed\" line" >&2
		int_fail=$((int_fail + 1))
	fi
}
run_args=("$@")
integration HLSFS="$PWD/$build/hlsfs"

# The whole suite once more against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
# daemon: any report fails the test that caused it (a report is an unexpected line on the daemon's
# stderr, and ASan's exit status is not 0). HLSFS_SANITIZE=0 skips this pass.
if [ "${HLSFS_SANITIZE:-1}" = 1 ]; then
	asan=build-asan
	if [ -f "$asan/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$asan" -Db_sanitize=address,undefined >/dev/null ||
			meson setup --wipe "$asan" -Db_sanitize=address,undefined >/dev/null
	else
		rm -rf "$asan"
		meson setup "$asan" -Db_sanitize=address,undefined >/dev/null
	fi
	if ninja -C "$asan" >/dev/null; then
		# The unit tests that stress threads (the cache's recency buffer, single flight, the
		# persistent index's writer thread) once more:
		# a write past a buffer is a report here, where the plain build might only miscount.
		echo "== threaded unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
		if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			meson test -C "$asan" --print-errorlogs cache store; then
			unit_pass=$((unit_pass + 1))
		else
			unit_fail=$((unit_fail + 1))
		fi
		echo "== the suite again, under AddressSanitizer and UndefinedBehaviorSanitizer"
		integration HLSFS="$PWD/$asan/hlsfs" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	else
		echo "test.sh: the sanitizer build failed" >&2
		int_fail=$((int_fail + 1))
	fi
fi
# A short libFuzzer run of every harness over the pure modules (scripts/fuzz.sh 3600 is the long run).
# It counts as one test. HLSFS_FUZZ_SECONDS sets the time per harness (0 skips it).
fuzz_seconds=${HLSFS_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
	echo "== fuzzing, $fuzz_seconds s per harness"
	if scripts/fuzz.sh "$fuzz_seconds"; then
		int_pass=$((int_pass + 1))
	else
		echo "test.sh: fuzzing found a failure (see above)" >&2
		int_fail=$((int_fail + 1))
	fi
fi
finish
