# tests/browser-lib.sh: sourced after lib.sh by the tests that drive headless Chromium (t-browser*):
# Debian's chromium and the npm packages of tests/browser installed once, the player page of contrib/player
# in a folder, a node script run under a timeout, and the browser stopped before lib.sh unmounts.

BROWSER_DIR=$TESTS_DIR/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# The browser's --user-data-dir: the processes naming it are this test's browser.
PROFILE=$T/chromium-profile
BROWSER_PID=

# browser_ready: chromium (Debian's package only; a browser is never downloaded) and tests/browser's npm
# packages (playwright-core, hls.js) installed; each install runs once under a lock.
browser_ready() {
    need node npm
    if [ ! -x "$CHROMIUM" ]; then
        [ "$(id -u)" = 0 ] || fail "$CHROMIUM is missing (apt-get install chromium)"
        say "$TEST_NAME: installing chromium with apt-get"
        (
            flock 9
            if [ ! -x "$CHROMIUM" ]; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 </dev/null ||
                    { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 </dev/null &&
                      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 </dev/null; }
            fi
        ) 9>/tmp/hlsfs-chromium-install.lock || fail "apt-get install chromium failed"
        [ -x "$CHROMIUM" ] || fail "$CHROMIUM still missing after apt-get install chromium"
    fi
    if [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
        [ ! -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ]; then
        (
            flock 9
            if [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
                [ ! -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ]; then
                npm install --prefix "$BROWSER_DIR" --no-audit --no-fund --loglevel=error >&2
            fi
        ) 9>"$BROWSER_DIR/.install.lock" || fail "npm install in tests/browser failed"
        [ -f "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" ] || fail "hls.js missing after npm install in tests/browser"
    fi
}

# player_dir DIR: the page of contrib/player and hls.min.js in DIR, as contrib/player/README.md describes.
player_dir() {
    mkdir -p "$1"
    cp "$REPO_DIR/contrib/player/index.html" "$BROWSER_DIR/node_modules/hls.js/dist/hls.min.js" "$1/"
}

# stop_browser: the node script and Chromium gone. They run in their own process groups; what is left is
# found by the pids whose command line names this test's profile folder.
stop_browser() {
    local p
    if [ -n "$BROWSER_PID" ]; then
        kill -TERM -- "-$BROWSER_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$BROWSER_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL -- "-$BROWSER_PID" 2>/dev/null
        wait "$BROWSER_PID" 2>/dev/null
        BROWSER_PID=
    fi
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' < "$p/cmdline"; } 2>/dev/null | grep -qF -- "--user-data-dir=$PROFILE" &&
            kill -KILL "${p#/proc/}" 2>/dev/null
    done
    return 0
}
# The browser goes before lib.sh's _cleanup unmounts and removes $T. (errexit and the ERR trap off first:
# the status handed on to _cleanup may be a failure.)
trap 'rc=$?; trap - ERR; set +e; stop_browser; (exit "$rc"); _cleanup' EXIT

# run_browser WHAT SECONDS LOG SCRIPT ARGS...: node tests/browser/SCRIPT ARGS --profile --chromium under a
# timeout of SECONDS, its output in LOG and echoed indented on stderr. A timeout or a failed check fails the
# test ("WHAT: the script's FAIL line"); a --screenshot FILE among ARGS is named in the message when written.
run_browser() {
    local what=$1 secs=$2 log=$3 script=$4 rc=0 shot='' a='' prev=''
    shift 4
    for a in "$@"; do
        [ "$prev" = --screenshot ] && shot=$a
        prev=$a
    done
    rm -rf "$PROFILE"
    mkdir -p "$PROFILE"
    # timeout leads its own process group, so stop_browser can end node with it.
    timeout -k 5 "$secs" node "$BROWSER_DIR/$script" "$@" --profile "$PROFILE" --chromium "$CHROMIUM" \
        > "$log" 2>&1 </dev/null &
    BROWSER_PID=$!
    wait "$BROWSER_PID" || rc=$?
    BROWSER_PID=
    sed 's/^/  /' "$log" >&2
    [ -n "$shot" ] && [ -f "$shot" ] && shot=" (screenshot $shot)" || shot=
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        stop_browser
        fail "$what: $script timed out after $secs s$shot"
    elif [ "$rc" != 0 ]; then
        stop_browser
        fail "$what: $(sed -n 's/^FAIL: //p' "$log" | head -n 1 | grep . || echo "$script exited $rc")$shot"
    fi
    stop_browser
}
