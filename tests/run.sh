#!/usr/bin/env bash
# tests/run.sh: runs the integration tests (tests/t-*.sh) one after another, each under a time limit, and
# reports PASS/FAIL per test with the reason and the daemon's log tail. Last line: "N passed, M failed".
#
# Usage: tests/run.sh [FILTER...]   runs the tests whose name contains any FILTER (all without one).
# Environment: HLSFS (daemon to test), HLSFS_TEST_TIMEOUT (seconds per test, default 300), HLSFS_KEEP=1
# (keep every test's temp folder), and the HLSFS_MEDIA_CACHE of lib.sh.
set -uo pipefail
export LC_ALL=C.UTF-8

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
limit=${HLSFS_TEST_TIMEOUT:-300}

tests=()
for t in "$here"/t-*.sh; do
    name=$(basename "$t" .sh)
    if [ $# -gt 0 ]; then
        keep=0
        for f in "$@"; do [[ $name == *"$f"* ]] && keep=1; done
        [ "$keep" = 1 ] || continue
    fi
    tests+=("$t")
done
if [ ${#tests[@]} = 0 ]; then
    echo "run.sh: no test matches: $*" >&2
    exit 2
fi

run_root=$(mktemp -d "${TMPDIR:-/tmp}/hlsfs-run.XXXXXX")
passed=0 failed=0 current=

# Whatever a test left behind (it was killed before its own trap could run): lazy-unmount every mount
# under its folder and end the processes it recorded, checking each still runs from that folder.
sweep() {
    local dir=$1 m p
    while IFS= read -r m; do
        [ -n "$m" ] && fusermount3 -uz "$m" 2>/dev/null
    done < <(awk -v t="$dir/" '{ p = $5; gsub(/\\040/, " ", p); if (index(p "/", t) == 1) print p }' /proc/self/mountinfo | sort -r)
    while IFS= read -r p; do
        [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || continue
        if tr '\0' ' ' < "/proc/$p/cmdline" | grep -F -- "$dir/" > /dev/null; then
            kill -KILL "$p" 2>/dev/null
        fi
    done < <(cat "$dir"/*/pids 2>/dev/null)
}

summary() {
    printf '%s passed, %s failed\n' "$passed" "$failed"
}

on_signal() {
    trap - INT TERM
    if [ -n "$current" ]; then
        kill -TERM "$current" 2>/dev/null
        wait "$current" 2>/dev/null
    fi
    for d in "$run_root"/*/; do [ -d "$d" ] && sweep "${d%/}"; done
    echo "interrupted; test folders in $run_root" >&2
    summary
    exit 130
}
trap on_signal INT TERM HUP

# Generate the media once, outside every test's time limit.
if ! (source "$here/media.sh" && media_ensure > /dev/null); then
    echo "run.sh: generating the test media failed" >&2
fi

for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    dir=$run_root/$name
    mkdir -p "$dir"
    start=$SECONDS
    HLSFS_TEST_ROOT=$dir timeout -k 10 "$limit" bash "$t" > "$dir.out" 2>&1 < /dev/null &
    current=$!
    rc=0
    wait "$current" || rc=$?
    current=
    secs=$((SECONDS - start))
    sweep "$dir"
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %s (%ss)\n' "$name" "$secs"
        [ "${HLSFS_KEEP:-0}" = 1 ] || rm -rf "$dir" "$dir.out"
        continue
    fi
    failed=$((failed + 1))
    reason=$(cat "$dir"/*/.failed 2>/dev/null | sed -n 1p)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        reason="timed out after ${limit}s${reason:+ ($reason)}"
    fi
    [ -n "$reason" ] || reason="exited $rc without a reason; last output: $(tail -n 1 "$dir.out")"
    printf 'FAIL %s (%ss): %s\n' "$name" "$secs" "$reason"
    for log in "$dir"/*/daemon-*.log; do
        [ -s "$log" ] || continue
        printf '    --- %s (last 10 lines)\n' "${log#"$run_root"/}"
        tail -n 10 "$log" | cut -c1-300 | sed 's/^/    | /'
    done
    printf '    --- output: %s\n' "$dir.out"
done

if [ "$failed" = 0 ] && [ "${HLSFS_KEEP:-0}" != 1 ]; then rm -rf "$run_root"; else echo "test folders: $run_root" >&2; fi
summary
[ "$failed" = 0 ]
