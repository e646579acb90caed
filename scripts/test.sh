#!/usr/bin/env bash
# The one test command: installs dependencies, builds, runs the unit tests (meson) and the integration
# tests (tests/run.sh, which gets this script's arguments). Its last line is "N passed, M failed" over both.
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
tests/run.sh "$@" </dev/null 2>&1 | tee "$out"
run_rc=${PIPESTATUS[0]}
summary=$(tail -n 1 "$out")
if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	int_pass=${BASH_REMATCH[1]} int_fail=${BASH_REMATCH[2]}
else
	echo "test.sh: tests/run.sh did not end with an \"N passed, M failed\" line" >&2
	int_fail=1
fi
if [ "$run_rc" -ne 0 ] && [ "$int_fail" -eq 0 ]; then
	echo "test.sh: tests/run.sh exited $run_rc" >&2
	int_fail=1
fi
finish
