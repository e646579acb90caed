# tests/lib.sh: what every integration test sources: a private temp folder, mounting and unmounting hlsfs
# for real, daemon-log checks, HTTP servers, and a cleanup trap that leaves no mount or process behind.
#
# A test script is `source "$(dirname "$0")/lib.sh"`, then checks, then `pass`. It exits 0 on pass and 1 on
# fail, printing `FAIL: <one-line reason>` on stderr (the first failure wins; it is also kept in $T/.failed).
# Environment:
#   HLSFS             the daemon to test (default: build/hlsfs of this checkout)
#   HLSFS_TEST_ROOT   where per-test temp folders go (default $TMPDIR or /tmp); run.sh sets it
#   HLSFS_KEEP        1: keep the temp folder even when the test passes
#   HLSFS_MEDIA_CACHE where generated media is cached (default $TMPDIR/hlsfs-test-media)

set -Eeuo pipefail
export LC_ALL=C.UTF-8

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$TESTS_DIR")
HLSFS=${HLSFS:-$REPO_DIR/build/hlsfs}
TEST_NAME=$(basename "$0" .sh)

# shellcheck source=media.sh
source "$TESTS_DIR/media.sh"

_root=${HLSFS_TEST_ROOT:-${TMPDIR:-/tmp}}
mkdir -p "$_root"
T=$(mktemp -d "$_root/$TEST_NAME.XXXXXX")
SRC=$T/src
MNT=$T/mnt
CACHE=$T/cache
mkdir -p "$SRC" "$MNT" "$CACHE"

# Daemons and servers we started: pid -> mount point / log / kind.
declare -A _DMNT=() _DLOG=()
declare -a _PIDS=()
_NDAEMON=0
_FINISHED=0
# Extended regexes a daemon log line may match without failing the test (see check_daemon_log).
EXPECT_LOG=()

say() { printf '%s\n' "$*" >&2; }

# The first failure wins, even one raised in a subshell (a process substitution's status is lost, so the
# reason is kept in $T/.failed and pass refuses to pass after it).
_record_fail() {
    [ -e "$T/.failed" ] && return 0
    local r
    r=$(printf '%s' "$1" | tr '\n' ' ' | cut -c1-600)
    printf '%s\n' "$r" > "$T/.failed"
    # stderr: a failure inside $(...) must still be seen
    printf 'FAIL: %s\n' "$r" >&2
}

# fail REASON: stop the test now with a one-line reason (inside `soft`, stop only that check).
fail() {
    _FINISHED=1
    if [ -n "${_SOFT:-}" ]; then
        _soft_note "$*"
        exit 1
    fi
    _record_fail "$*"
    exit 1
}

# soft CMD...: run CMD (a function that calls fail) in a subshell; a failure there is noted and the test
# goes on, so one run reports every video that fails, not just the first. pass then fails the test.
_SOFT=
soft() {
    # run as a job and wait, not `( ) || true`: a || context would switch errexit off inside
    ( _SOFT=$BASHPID; _FINISHED=0; "$@" ) &
    wait "$!" || true
}
_soft_note() {
    local r
    r=$(printf '%s' "$1" | tr '\n' ' ' | cut -c1-600)
    printf '%s\n' "$r" >> "$T/.soft"
    printf 'FAIL: %s\n' "$r" >&2
}

pass() {
    _FINISHED=1
    [ -e "$T/.failed" ] && exit 1
    if [ -s "$T/.soft" ]; then
        local n
        n=$(wc -l < "$T/.soft")
        if [ "$n" = 1 ]; then
            _record_fail "$(cat "$T/.soft")"
        else
            _record_fail "$n checks failed: $(head -n 1 "$T/.soft") || $(sed -n 2p "$T/.soft")$([ "$n" -gt 2 ] && echo " || ...")"
        fi
        exit 1
    fi
    printf 'PASS: %s\n' "${1:-$TEST_NAME}"
    exit 0
}

# A command that fails outside of an if/&&/|| fails the test with its line and status.
_on_err() {
    local rc=$1 line=$2 cmd=$3
    [ "$_FINISHED" = 1 ] && return 0
    if [ -n "${_SOFT:-}" ] && [ "$BASHPID" = "$_SOFT" ]; then
        _soft_note "$TEST_NAME line $line: \`$(printf '%s' "$cmd" | cut -c1-200)\` exited $rc"
        exit 1
    fi
    # Inside $(...) or <(...) a failing command is ordinary (grep finding nothing); the caller judges.
    [ "$BASHPID" = "$$" ] || return 0
    _FINISHED=1
    _record_fail "$TEST_NAME line $line: \`$(printf '%s' "$cmd" | cut -c1-200)\` exited $rc"
    exit 1
}
trap '_on_err $? $LINENO "$BASH_COMMAND"' ERR

# Mount points under $T that the kernel still has (mountinfo, so a hung daemon cannot make this hang).
_mounts_under_t() {
    awk -v t="$T/" '{ p=$5; gsub(/\\040/, " ", p); if (index(p "/", t) == 1) print p }' /proc/self/mountinfo
}

_cleanup() {
    local rc=$?
    trap - ERR
    set +e
    local m p i
    # Lazy unmount first: a daemon stuck in a handler cannot then keep a reader blocked.
    while IFS= read -r m; do
        [ -n "$m" ] && fusermount3 -uz "$m" 2>/dev/null
    done < <(_mounts_under_t | sort -r)
    for p in "${_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        kill -TERM "$p" 2>/dev/null
        for i in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$rc" != 0 ]; then
        _record_fail "$TEST_NAME interrupted or died (status $rc)"
    fi
    if [ -n "$(_mounts_under_t)" ]; then
        say "lib: mounts remain under $T; not removing it"
    elif [ "$rc" = 0 ] && [ "${HLSFS_KEEP:-0}" != 1 ]; then
        rm -rf "$T"
    else
        say "lib: kept $T"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# need CMD...: the tools a test uses exist (a missing one is a failure, not a silent pass).
need() {
    local c
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || fail "required tool '$c' is not installed"; done
}

need_hlsfs() {
    [ -x "$HLSFS" ] || fail "no hlsfs binary at $HLSFS (build it: meson setup build && ninja -C build)"
}

# wait_until SECONDS CMD...: poll CMD every 50 ms; status 1 on timeout.
wait_until() {
    local secs=$1; shift
    local end=$((SECONDS + secs)) # SECONDS is whole seconds; add one so the bound is never short
    end=$((end + 1))
    while [ "$SECONDS" -lt "$end" ]; do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

_is_mounted() {
    awk -v m="$1" '{ p=$5; gsub(/\\040/, " ", p); if (p == m) f=1 } END { exit !f }' /proc/self/mountinfo
}

# mount_hlsfs SRC MNT [OPTIONS...]: start `hlsfs -f SRC MNT OPTIONS` in the background and wait (10 s at
# most) until MNT is a mount point that answers. Without a cache_dir option the mount gets its own fresh
# cache folder. Sets DAEMON_PID and DAEMON_LOG.
mount_hlsfs() {
    need_hlsfs
    local src=$1 mnt=$2; shift 2
    local n=$((++_NDAEMON))
    local log=$T/daemon-$n.log
    local extra=()
    case " $* " in
        *cache_dir=*) ;;
        *) mkdir -p "$T/cache-$n"; extra=(-o "cache_dir=$T/cache-$n") ;;
    esac
    "$HLSFS" -f "$src" "$mnt" "${extra[@]}" "$@" 2>"$log" </dev/null &
    local pid=$!
    _track_pid "$pid"
    _DMNT[$pid]=$mnt
    _DLOG[$pid]=$log
    local end=$((SECONDS + 11))
    while ! _is_mounted "$mnt"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            fail "hlsfs exited with status $rc before mounting $mnt: $(tail -n 3 "$log" | tr '\n' ' ')"
        fi
        [ "$SECONDS" -lt "$end" ] || fail "hlsfs did not mount $mnt within 10 s (log: $(tail -n 3 "$log" | tr '\n' ' '))"
        sleep 0.05
    done
    timeout 10 mountpoint -q "$mnt" || fail "mount point $mnt does not answer stat within 10 s"
    DAEMON_PID=$pid
    DAEMON_LOG=$log
}

# Processes we started; also listed in $T/pids so that run.sh can sweep them if this shell is killed.
_track_pid() {
    _PIDS+=("$1")
    printf '%s\n' "$1" >> "$T/pids"
}

_forget_pid() {
    local p keep=()
    for p in "${_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    _PIDS=("${keep[@]}")
}

_pid_of_mount() {
    local p
    for p in "${!_DMNT[@]}"; do
        if [ "${_DMNT[$p]}" = "$1" ]; then printf '%s\n' "$p"; return 0; fi
    done
    return 1
}

# umount_hlsfs MNT: fusermount3 -u, then the daemon must exit with status 0 within 10 s, and its log may
# hold only lines that EXPECT_LOG allows.
umount_hlsfs() {
    local mnt=$1 pid
    pid=$(_pid_of_mount "$mnt") || fail "umount_hlsfs: no daemon of ours serves $mnt"
    local err
    err=$(fusermount3 -u "$mnt" 2>&1) || fail "fusermount3 -u $mnt failed: $err"
    local end=$((SECONDS + 11))
    while kill -0 "$pid" 2>/dev/null; do
        # a zombie is fine: it has exited and waits to be reaped
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
        [ "$SECONDS" -lt "$end" ] || fail "hlsfs (pid $pid) still running 10 s after fusermount3 -u $mnt"
        sleep 0.05
    done
    local rc=0
    wait "$pid" || rc=$?
    unset "_DMNT[$pid]"
    _forget_pid "$pid"
    [ "$rc" = 0 ] || fail "hlsfs exited with status $rc after fusermount3 -u $mnt (log: $(tail -n 3 "${_DLOG[$pid]}" | tr '\n' ' '))"
    check_daemon_log "${_DLOG[$pid]}"
}

# check_daemon_log LOG [ERE...]: every non-empty line of LOG starts with "hlsfs: " and matches one of
# EXPECT_LOG or the extra patterns given; otherwise the test fails naming the first stray line.
check_daemon_log() {
    local log=$1; shift
    local pats=("${EXPECT_LOG[@]}" "$@")
    local line p ok
    while IFS= read -r line || [ -n "$line" ]; do
        [ -n "$line" ] || continue
        ok=0
        if [[ $line == "hlsfs: "* ]]; then
            for p in "${pats[@]}"; do
                if [[ $line =~ $p ]]; then ok=1; break; fi
            done
        fi
        [ "$ok" = 1 ] || fail "unexpected line in daemon stderr ($(basename "$log")): $line"
    done < "$log"
}

# logged_once LOG TEXT: exactly one line of daemon log LOG contains TEXT ("log a failure once"), or the test
# fails quoting what it found.
logged_once() {
    local log=$1 text=$2 n
    n=$(grep -cF -- "$text" "$log" || true)
    [ "$n" = 1 ] || fail "the daemon logged $n lines naming '$text', want exactly one: $(grep -F -- "$text" "$log" | head -n 2 | tr '\n' '|')"
}

# stat_of MNT NAME: the value of counter or gauge NAME in MNT/.hlsfs/stats; the test fails if it is not there.
stat_of() {
    local v
    v=$(awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$1/.hlsfs/stats") ||
        fail "no '$2' in $1/.hlsfs/stats"
    printf '%s\n' "$v"
}

# ere_quote TEXT: TEXT as an extended regex matching itself.
ere_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# setup_library [DEST]: copy the generated media library into DEST (default $SRC) and allow the log lines
# that its unusable, cut short (or transcode-only) files cause (a line naming the file).
MEDIA=
setup_library() {
    local dest=${1:-$SRC}
    need ffmpeg ffprobe jq
    MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
    cp -a "$MEDIA/lib/." "$dest/"
    local rel
    while IFS= read -r rel; do
        EXPECT_LOG+=("^hlsfs: .*$(ere_quote "$(basename "$rel")")")
    done < <(media_bad_list "$MEDIA"; media_cut_list; media_transcode_list "$MEDIA")
}

# make_video OUT FFMPEG-ARGS...: OUT becomes what `ffmpeg FFMPEG-ARGS OUT` writes (quietly, overwriting), or
# the test fails naming OUT.
make_video() {
    local out=$1; shift
    ffmpeg -nostdin -hide_banner -v error -y "$@" "$out" || fail "ffmpeg could not generate $(basename "$out")"
}

# mount_library [OPTIONS...]: setup_library into $SRC and mount it on $MNT.
mount_library() {
    setup_library
    mount_hlsfs "$SRC" "$MNT" "$@"
}

good_videos() { media_good_list; }

# Files DESIGN.md lets a video folder hold besides master.m3u8 and the variant folders.
VIDEO_EXTRAS=(poster.jpg cytube.json thumbs)

# passthrough_playlist VIDEO_DIR REL: the media playlist of the source's own stream (<height>p/index.m3u8).
passthrough_playlist() { printf '%s/%sp/index.m3u8\n' "$1" "$(media_fact "$2" height)"; }
bad_videos() { media_bad_list "$MEDIA"; }

# --- playlists ------------------------------------------------------------------------------------------

# URI lines of a playlist (variants of a master, segments of a media playlist), one a line.
playlist_uris() {
    local out rc=0
    out=$(grep -v -e '^#' -e '^[[:space:]]*$' "$1") || rc=$?
    [ "$rc" -le 1 ] || fail "cannot read playlist '${1#"$MNT"/}'"
    [ -z "$out" ] || printf '%s\n' "$out" | tr -d '\r'
}

# EXTINF durations of a media playlist, one a line.
playlist_extinfs() { sed -n 's/^#EXTINF:\([^,]*\),.*/\1/p' "$1" | tr -d '\r'; }

playlist_tag() { sed -n "s/^#$2:\\(.*\\)/\\1/p" "$1" | sed -n 1p | tr -d '\r'; }

# variant_playlists VIDEO_DIR: paths of the media playlists its master lists, one a line.
variant_playlists() {
    local v=$1 u
    [ -f "$v/master.m3u8" ] || fail "no master.m3u8 in $v"
    while IFS= read -r u; do printf '%s/%s\n' "$v" "$u"; done < <(playlist_uris "$v/master.m3u8")
}

# segments_of PLAYLIST: paths of its segments, one a line.
segments_of() {
    local p=$1 d u
    d=$(dirname "$p")
    while IFS= read -r u; do printf '%s/%s\n' "$d" "$u"; done < <(playlist_uris "$p")
}

# segment_path PLAYLIST N: the path of segment N (from 0) of a media playlist, by the name it lists (segment
# names carry the source's version: seg-00000-1a2b3c4d.ts); fails when it lists fewer.
segment_path() {
    local p=$1 n=$2 u
    u=$(playlist_uris "$p" | sed -n "$((n + 1))p")
    [ -n "$u" ] || fail "'${p#"$MNT"/}' lists no segment $n"
    printf '%s/%s\n' "$(dirname "$p")" "$u"
}

# segment_version PLAYLIST: the version its segment names carry (8 hex digits).
segment_version() {
    local v
    v=$(playlist_uris "$1" | sed -n '1s/^seg-[0-9]\{5,\}-\([0-9a-f]\{8\}\)\.ts$/\1/p')
    [ -n "$v" ] || fail "'${1#"$MNT"/}': its first segment name is not seg-NNNNN-VERSION.ts"
    printf '%s\n' "$v"
}

# unversion: a filter that cuts the version out of segment names (seg-00000-1a2b3c4d.ts -> seg-00000.ts), in
# paths and in playlist text: for comparing the trees of two sources whose identities differ (a remote object
# and a local copy of it) but whose bytes must not.
unversion() { sed 's/\(seg-[0-9]\{5,\}\)-[0-9a-f]\{8\}\.ts/\1.ts/g'; }

# tree_sums DIR: "SHA256  ./PATH" for every file under DIR, sorted by path; REVERSE=1 reads them in
# reverse order. A file that cannot be read fails the test naming it.
tree_sums() {
    local dir=$1 err=$T/.sums.err
    (cd "$dir" && find . -type f -print0 | sort -z ${REVERSE:+-r} | xargs -0 sha256sum | sort -k2) 2> "$err" ||
        fail "reading through the mount failed: $(grep -m1 . "$err" | sed "s|$dir/||")"
}

# frame_hashes MEDIA: the MD5 of each decoded video frame, one a line, in output order.
frame_hashes() {
    ffmpeg -nostdin -v error -i "$1" -map 0:v:0 -fps_mode passthrough -f framemd5 - | grep -v '^#' | awk -F, '{print $NF}'
}

# audio_packets MEDIA: how many packets its first audio stream has.
audio_packets() {
    ffprobe -v error -select_streams a:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$1" |
        sed '/^$/d' | sed -n 1p
}

# passthrough_pl VIDEO_DIR: the passthrough variant's playlist, the one with an I-frame playlist beside it
# (rungs have none); nothing without one.
passthrough_pl() { local d; for d in "$1"/*p; do [ -f "$d/iframes.m3u8" ] && printf '%s\n' "$d/index.m3u8"; done; true; }

# plays_whole_and_exact REL: the video folder $MNT/REL has a master that ffmpeg plays through Caddy
# ($HTTP_PORT) without a message, every stream mapped, and every file reads as many bytes as stat gives.
plays_whole_and_exact() {
    local rel=$1 v=$MNT/$1 out f want got
    [ -f "$v/master.m3u8" ] || fail "'$rel' has no master.m3u8: $(cat "$v/error.txt" 2>/dev/null || ls -A "$v" | tr '\n' ' ')"
    out=$(timeout 120 ffmpeg -nostdin -v error -i "http://127.0.0.1:$HTTP_PORT/$(urlpath "$rel")/master.m3u8" \
        -map 0 -f null - 2>&1) || fail "'$rel': ffmpeg over HTTP (Caddy) failed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"
    [ -z "$out" ] || fail "'$rel': ffmpeg over HTTP (Caddy) printed: $(sed -n 1,2p <<<"$out" | tr '\n' ' ')"
    while IFS= read -r -d '' f; do
        want=$(stat -c %s "$f")
        got=$(wc -c < "$f")
        [ "$want" = "$got" ] || fail "'${f#"$MNT"/}': stat says $want bytes, reading gives $got"
    done < <(every_file "$v")
}

# same_on_second_mount: $SRC mounted again on $T/mnt2 with its own cache and read in the opposite order gives
# every file of $MNT byte for byte (invariant 2); the second mount is unmounted again.
same_on_second_mount() {
    tree_sums "$MNT" > "$T/sums-1"
    mkdir -p "$T/mnt2"
    mount_hlsfs "$SRC" "$T/mnt2"
    REVERSE=1 tree_sums "$T/mnt2" > "$T/sums-2"
    cmp -s "$T/sums-1" "$T/sums-2" ||
        fail "two mounts differ: $(diff "$T/sums-1" "$T/sums-2" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
    umount_hlsfs "$T/mnt2"
}

# differing_files SUMS-A SUMS-B: the paths (without ./) whose lines in two tree_sums listings differ, as
# SUMS-A has them, one a line.
differing_files() { diff "$1" "$2" | sed -n 's/^< [0-9a-f]*  \.\///p' || true; }

# read_all DIR: read every file under DIR once; a file that cannot be read fails the test naming it.
read_all() {
    local err=$T/.read.err
    find "$1" -type f -exec cat {} + > /dev/null 2> "$err" ||
        fail "reading through the mount failed: $(grep -m1 . "$err" | sed "s|$1/||")"
}

# every_file DIR: every regular file under DIR, sorted, NUL-separated.
every_file() { find "$1" -type f -print0 | sort -z; }

# float arithmetic and comparison: fcalc 'EXPR' ; fle A B (A <= B)
fcalc() { awk "BEGIN { printf \"%.6f\\n\", $1 }"; }
ftrue() { awk "BEGIN { exit !($1) }"; }

# --- HTTP servers ---------------------------------------------------------------------------------------

# A TCP port nobody listens on now (servers retry on a lost race).
free_port() {
    local p used
    used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
    while :; do
        p=$((20000 + RANDOM % 40000))
        grep -qx "$(printf '%04X' "$p")" <<<"$used" || break
    done
    printf '%s\n' "$p"
}

_SERVERS=()

# stop_servers: stop the HTTP servers this test started (before unmounting what they serve).
stop_servers() {
    local p i
    for p in "${_SERVERS[@]}"; do
        kill -TERM "$p" 2>/dev/null || continue
        for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
        _forget_pid "$p"
    done
    _SERVERS=()
}

_http_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" ; }

# _server_wait PID PORT LOG: 0 once PORT answers; 1 if the server died of a port clash (try another
# port); fails the test if it died otherwise or did not answer within 10 s.
# _listens_under PID SS_LINES: whether a process ss names (pid=N) is PID or one of its descendants.
_listens_under() {
    local top=$1 p
    for p in $(grep -o 'pid=[0-9]*' <<<"$2" | cut -d= -f2); do
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
            [ "$p" = "$top" ] && return 0
            p=$(sed 's/.*) [A-Za-z] //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)  # its parent
        done
    done
    return 1
}

_server_wait() {
    local pid=$1 port=$2 log=$3 end=$((SECONDS + 11)) owners
    while [ "$SECONDS" -lt "$end" ]; do
        if _http_up "$port"; then
            # Another test's server may hold the port (two suites at once): then this one is not up,
            # whoever answers. ss names the listening socket's process.
            owners=$(ss -Hltnp "sport = :$port" 2>/dev/null || true)
            [ -z "$owners" ] || _listens_under "$pid" "$owners" && return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            _forget_pid "$pid"
            grep -qi 'address already in use' "$log" && return 1
            fail "HTTP server exited at start: $(tail -n 2 "$log" | tr '\n' ' ' | cut -c1-300)"
        fi
        sleep 0.1
    done
    fail "HTTP server did not answer on port $port within 10 s: $(tail -n 2 "$log" | tr '\n' ' ' | cut -c1-300)"
}

# start_server PORT OUT LOG CMD...: CMD in the background as a server of this test (stdout and stderr in OUT,
# ended by stop_servers); 0 once PORT answers, 1 if it lost PORT to another process (try another port);
# the test fails, quoting LOG, if it died otherwise or did not answer within 10 s.
start_server() {
    local port=$1 out=$2 log=$3 pid
    shift 3
    "$@" > "$out" 2>&1 < /dev/null &
    pid=$!
    _track_pid "$pid"
    _SERVERS+=("$pid")
    _server_wait "$pid" "$port" "$log"
}

# start_caddy ROOT [DIRECTIVES]: serve ROOT with Caddy on 127.0.0.1, DIRECTIVES (Caddyfile lines) placed in
# the site block before its file_server; sets HTTP_PORT.
start_caddy() {
    need caddy curl
    local root=$1 site=${2:-} try port
    site=$site${site:+$'\n'}
    mkdir -p "$T/caddy/data" "$T/caddy/config"
    for try in 1 2 3; do
        port=$(free_port)
        cat > "$T/caddy/Caddyfile" <<EOF
{
	admin off
	auto_https off
	storage file_system $T/caddy/data
}
http://127.0.0.1:$port {
	root * $root
${site}	file_server
}
EOF
        if start_server "$port" "$T/caddy.log" "$T/caddy.log" \
            env HOME="$T/caddy" XDG_DATA_HOME="$T/caddy/data" XDG_CONFIG_HOME="$T/caddy/config" \
            caddy run --config "$T/caddy/Caddyfile" --adapter caddyfile; then
            HTTP_PORT=$port
            return 0
        fi
    done
    fail "caddy did not start: $(tail -n 3 "$T/caddy.log" | tr '\n' ' ')"
}

# start_contrib_caddy ROOT NAME [PLAYER]: Caddy from the shipped contrib/Caddyfile (its site address and root
# replaced) serving ROOT on 127.0.0.1, its files under $T/caddy-NAME; with PLAYER (a folder, see player_dir)
# its commented /player/ block switched on for that folder; sets HTTP_PORT.
start_contrib_caddy() {
    need caddy curl
    local root=$1 d=$T/caddy-$2 player=${3:-} port
    mkdir -p "$d/data" "$d/config"
    for _ in 1 2 3; do
        port=$(free_port)
        { printf '{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s/data\n}\n' "$d"
          sed -e "s|^:8080 {|http://:$port {\n\tbind 127.0.0.1|" -e "s|root \* /srv/hls|root * $root|" \
              ${player:+-e "/^\t#redir \/player/,/^\t#}/{s/^\t#/\t/;s|root \* /usr/local/share/hlsfs-player|root * $player|}"} \
              "$REPO_DIR/contrib/Caddyfile"
        } > "$d/Caddyfile"
        if start_server "$port" "$d/caddy.log" "$d/caddy.log" env HOME="$d" XDG_DATA_HOME="$d/data" \
            XDG_CONFIG_HOME="$d/config" caddy run --config "$d/Caddyfile" --adapter caddyfile; then
            HTTP_PORT=$port
            return 0
        fi
    done
    fail "caddy did not start with contrib/Caddyfile: $(tail -n 3 "$d/caddy.log" | tr '\n' ' ')"
}

# nginx_conf DIR WORKERS CONNECTIONS HTTP-LINES: writes DIR/nginx.conf, an nginx in the foreground with its pid,
# logs (DIR/error.log, DIR/access.log, in format $ACCESS_FORMAT when set) and temporary files in DIR, and
# HTTP-LINES inside its http block.
nginx_conf() {
    local d=$1 workers=$2 conns=$3 body=$4
    mkdir -p "$d/tmp"
    cat > "$d/nginx.conf" <<EOF
daemon off;
worker_processes $workers;
user root;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections $conns; }
http {
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
$body
    access_log $d/access.log${ACCESS_FORMAT:+ $ACCESS_FORMAT};
}
EOF
}

# start_lb NAME PORT_A PORT_B [SED]: nginx from contrib/nginx-lb.conf in front of two nodes at 127.0.0.1:PORT_A
# and PORT_B (the shipped addresses replaced, its zone, upstream and cache named NAME, then SED applied), its
# files in $T/NAME, its access log "upstream_addr upstream_status cache_status status bytes uri"; sets LB_PORT.
start_lb() {
    local d=$T/$1 pa=$2 pb=$3 extra=${4:-} port
    mkdir -p "$d/cache"
    for _ in 1 2 3; do
        port=$(free_port)
        sed -e "s|server 10.0.0.11:8080|server 127.0.0.1:$pa|" -e "s|server 10.0.0.12:8080|server 127.0.0.1:$pb|" \
            -e "s|listen 80;|listen 127.0.0.1:$port;|" -e "s|/var/cache/nginx/hlsfs|$d/cache|" -e "s|keys_zone=hlsfs:|keys_zone=$1:|" \
            -e "s|proxy_cache hlsfs;|proxy_cache $1;|" -e "s|upstream hlsfs_nodes|upstream $1_nodes|" \
            -e "s|proxy_pass http://hlsfs_nodes;|proxy_pass http://$1_nodes;|" ${extra:+-e "$extra"} \
            "$REPO_DIR/contrib/nginx-lb.conf" > "$d/lb.conf"
        ACCESS_FORMAT=lb nginx_conf "$d" 2 512 "    include /etc/nginx/mime.types;
    log_format lb '\$upstream_addr \$upstream_status \$upstream_cache_status \$status \$body_bytes_sent \$uri';
    include $d/lb.conf;"
        if start_server "$port" "$d/stdout.log" "$d/error.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"; then
            LB_PORT=$port
            return 0
        fi
    done
    fail "nginx (contrib/nginx-lb.conf) did not start: $(tail -n 3 "$d/error.log" | tr '\n' ' ')"
}

# start_nginx ROOT: serve ROOT with nginx on 127.0.0.1 (sendfile on, HLS MIME types); sets HTTP_PORT.
start_nginx() {
    need nginx curl
    local root=$1 try port d=$T/nginx
    for try in 1 2 3; do
        port=$(free_port)
        nginx_conf "$d" 1 64 "    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
        text/plain txt;
    }
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$port;
        root $root;
        autoindex off;
    }"
        if start_server "$port" "$d/stdout.log" "$d/error.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"; then
            HTTP_PORT=$port
            return 0
        fi
    done
    fail "nginx did not start: $(tail -n 3 "$d/error.log" | tr '\n' ' ')"
}

# urlpath REL: REL with every byte outside [A-Za-z0-9._~/-] percent-encoded.
urlpath() {
    local s=$1 out= c i hex
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._~/-]) out+=$c ;;
            *) printf -v hex '%%%02X' "'$c"; out+=$hex ;;
        esac
    done
    printf '%s\n' "$out"
}

# --- Node linter ----------------------------------------------------------------------------------------

# lint_ready: tests/lint/node_modules installed (npm install when missing).
lint_ready() {
    need node npm
    local d=$TESTS_DIR/lint
    if [ ! -d "$d/node_modules/hls-parser" ]; then
        (
            flock 9
            if [ ! -d "$d/node_modules/hls-parser" ]; then
                npm install --prefix "$d" --no-audit --no-fund --loglevel=error >&2
            fi
        ) 9>"$d/.install.lock" || fail "npm install in tests/lint failed"
    fi
    [ -d "$d/node_modules/hls-parser" ] || fail "hls-parser missing from tests/lint/node_modules after npm install"
}

# --- segment plan ---------------------------------------------------------------------------------------

# frame_dur REL: one video frame of the source, in seconds.
frame_dur() { fcalc "$(media_fact "$1" fps_den) / $(media_fact "$1" fps_num)"; }

# expected_extinfs REL TARGET: the segment durations the design's rule gives for source REL: boundary k is
# the first keyframe at or after k*TARGET on a grid from the first frame, a grid point that would give an
# empty segment is skipped, the last segment ends with the last frame. One duration a line.
expected_extinfs() {
    local rel=$1 target=$2
    media_fact "$rel" keyframes | awk -v t="$target" -v s="$(media_fact "$rel" vstart)" \
        -v e="$(media_fact "$rel" vend)" '
        { k[n++] = $1 + 0 }
        END {
            b[0] = k[0]; nb = 1; i = 0
            for (g = 1; s + g * t < e - 1e-6; g++) {
                thr = s + g * t - 1e-6
                while (i < n && k[i] < thr) i++
                if (i >= n) break
                if (k[i] > b[nb - 1]) b[nb++] = k[i]
            }
            for (j = 0; j < nb; j++) printf "%.6f\n", ((j + 1 < nb) ? b[j + 1] : e) - b[j]
        }'
}

# check_plan PLAYLIST REL TARGET: the playlist's EXTINF list is the plan the rule gives (within 2 ms each:
# 3 decimals plus 90 kHz rounding), and its TARGETDURATION is ceil(max EXTINF).
check_plan() {
    local pl=$1 rel=$2 target=$3
    local got want
    got=$(playlist_extinfs "$pl" | tr '\n' ' ')
    want=$(expected_extinfs "$rel" "$target" | awk '{printf "%.3f ", $1}')
    local ng nw
    ng=$(wc -w <<<"$got"); nw=$(wc -w <<<"$want")
    [ "$ng" = "$nw" ] || fail "$rel (segment=$target): $ng segments [$got] but keyframes on the ${target}s grid give $nw [$want]"
    paste -d' ' <(tr ' ' '\n' <<<"$got" | sed '/^$/d') <(tr ' ' '\n' <<<"$want" | sed '/^$/d') |
        awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 0.002) exit 1 }' ||
        fail "$rel (segment=$target): EXTINF [$got] differs from the keyframe plan [$want] by more than 2 ms"
    local td maxceil
    td=$(playlist_tag "$pl" EXT-X-TARGETDURATION)
    maxceil=$(playlist_extinfs "$pl" | awk 'BEGIN{m=0} {if ($1 > m) m = $1} END {c = int(m); if (c < m) c++; print c}')
    [ "$td" = "$maxceil" ] || fail "$rel (segment=$target): TARGETDURATION $td is not ceil(max EXTINF) = $maxceil"
}

# --- HTTP -----------------------------------------------------------------------------------------------

# http_get URL OUTFILE [CURL ARGS...]: prints "STATUS<TAB>CONTENT-TYPE<TAB>CONTENT-LENGTH<TAB>CONTENT-RANGE".
http_get() {
    local url=$1 out=$2; shift 2
    local hdr=$out.hdr
    curl -s --max-time 30 -D "$hdr" -o "$out" "$@" "$url" || fail "curl $url failed"
    # the last response's headers (curl writes one block per response)
    awk '/^HTTP\// { st = $2; ct = ""; cl = ""; cr = ""; next }
        { sub(/\r$/, "") }
        tolower($0) ~ /^content-type:/ { sub(/^[^:]*: */, ""); ct = $0 }
        tolower($0) ~ /^content-length:/ { sub(/^[^:]*: */, ""); cl = $0 }
        tolower($0) ~ /^content-range:/ { sub(/^[^:]*: */, ""); cr = $0 }
        END { printf "%s\t%s\t%s\t%s\n", st, ct, cl, cr }' "$hdr"
}

# slice FILE OFFSET COUNT: COUNT bytes of FILE from OFFSET.
slice() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }

# http_suite PORT SERVER CHECK_TYPES: over http://127.0.0.1:PORT/ (serving $MNT), for a few videos
# (one with spaces and non-ASCII in its name): the master, media playlist and a segment come back 200 with
# exactly the file's bytes and Content-Length = stat size; Range requests come back 206 with exactly the
# right bytes and Content-Range; with CHECK_TYPES=1 the HLS MIME types; and ffmpeg plays the master over
# HTTP without a message.
http_suite() {
    local port=$1 server=$2 check_types=$3
    local base=http://127.0.0.1:$port
    local w=$T/http-$server
    mkdir -p "$w"
    local rel
    for rel in "bframes.mp4" "Café del Mar – live 1.mp4" "clip.mov"; do
        local v=$MNT/$rel
        local pl seg
        pl=$(variant_playlists "$v" | sed -n 1p)
        seg=$(segments_of "$pl" | while IFS= read -r s; do printf '%s %s\n' "$(stat -c %s "$s")" "$s"; done |
            sort -n | tail -n 1 | cut -d' ' -f2-)
        local f meta status ctype clen want
        for f in "$v/master.m3u8" "$pl" "$seg"; do
            local u=$base/$(urlpath "${f#"$MNT"/}")
            meta=$(http_get "$u" "$w/body")
            IFS=$'\t' read -r status ctype clen _ <<<"$meta"
            [ "$status" = 200 ] || fail "$server: GET $u gave status $status"
            want=$(stat -c %s "$f")
            [ "$clen" = "$want" ] || fail "$server: GET $u Content-Length '$clen', stat size $want"
            cmp -s "$w/body" "$f" || fail "$server: GET $u body differs from the file in the mount"
            if [ "$check_types" = 1 ]; then
                case $f in
                    *.m3u8) [ "${ctype%%;*}" = application/vnd.apple.mpegurl ] || fail "$server: $u served as '$ctype'" ;;
                    *.ts) [ "$ctype" = video/mp2t ] || fail "$server: $u served as '$ctype'" ;;
                esac
            fi
        done
        # Ranges: inside a packet, across a 188-byte packet edge, across the 128 KiB FUSE read size, and a suffix.
        local size u r from to
        size=$(stat -c %s "$seg")
        u=$base/$(urlpath "${seg#"$MNT"/}")
        for r in "1000-66535" "187-376" "131000-131200" "$((size - 300))-$((size - 1))" "-500" "0-0"; do
            if [ "${r#-}" != "$r" ]; then from=$((size - ${r#-})); to=$((size - 1)); else from=${r%-*}; to=${r#*-}; fi
            [ "$to" -lt "$size" ] || to=$((size - 1))
            meta=$(http_get "$u" "$w/range" -H "Range: bytes=$r")
            IFS=$'\t' read -r status ctype clen crange <<<"$meta"
            [ "$status" = 206 ] || fail "$server: Range bytes=$r of $u gave status $status, want 206"
            [ "$crange" = "bytes $from-$to/$size" ] || fail "$server: Range bytes=$r: Content-Range '$crange', want 'bytes $from-$to/$size'"
            [ "$(stat -c %s "$w/range")" = $((to - from + 1)) ] || fail "$server: Range bytes=$r returned $(stat -c %s "$w/range") bytes, want $((to - from + 1))"
            slice "$seg" "$from" $((to - from + 1)) | cmp -s - "$w/range" || fail "$server: Range bytes=$r of $u: wrong bytes"
        done
        # A player over HTTP.
        local out
        out=$(timeout 120 ffmpeg -nostdin -v error -i "$base/$(urlpath "$rel")/master.m3u8" -map 0 -f null - 2>&1) ||
            fail "$server: ffmpeg over HTTP failed for $rel: $(head -n 2 <<<"$out")"
        [ -z "$out" ] || fail "$server: ffmpeg over HTTP printed for $rel: $(head -n 2 <<<"$out")"
    done
}

# segment_times SEG: one line "KEY VSTART VEND ASTART AEND NV ADUR" for an MPEG-TS segment, in 90 kHz ticks:
# KEY is 1 when its first video packet (decode order) is a keyframe; V/A START = smallest PTS, END = largest
# PTS plus that packet's duration (a video packet without a duration counts FRAME_TICKS, the optional
# second argument); NV the number of video packets; ADUR the duration of one audio packet. Audio fields are
# - without audio.
segment_times() {
    local seg=$1 ft=${2:-0}
    ffprobe -v error -show_entries packet=codec_type,pts,duration,flags -of csv=p=0 "$seg" |
        awk -F, -v ft="$ft" '
        $1 == "video" {
            if (nv == 0) key = ($4 ~ /^K/) ? 1 : 0
            d = ($3 ~ /^[0-9]+$/ && $3 > 0) ? $3 : ft
            if (nv == 0 || $2 < vs) vs = $2
            if (nv == 0 || $2 + d > ve) ve = $2 + d
            nv++
        }
        $1 == "audio" {
            if (na == 0) ad = $3
            if (na == 0 || $2 < as) as = $2
            if (na == 0 || $2 + $3 > ae) ae = $2 + $3
            na++
        }
        END {
            if (na == 0) { as = "-"; ae = "-"; ad = "-" }
            printf "%d %d %d %s %s %d %s\n", key, vs, ve, as, ae, nv, ad
        }'
}
