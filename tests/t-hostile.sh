#!/usr/bin/env bash
# t-hostile: damaged MP4s (tests/hostile/gen.py: truncations, overflowing box sizes, absurd sample tables,
# timescales, picture sizes, avcC, thousands of tracks, a ~100 MB moov, random moov flips) never crash,
# hang or lie: each is either a folder holding only a one-line error.txt or a full tree whose every file
# reads back exactly its stat size (or fails with a logged EIO), and the mount keeps answering.
#
# Environment: HLSFS (another daemon, e.g. an AddressSanitizer build), HOSTILE_ONLY (comma-separated
# gen.py case patterns, to check a few cases), HOSTILE_LADDER_CASES (the cases of the second pass, which
# uses the default ladder). Prints a table of every case's outcome at the end.
source "$(dirname "$0")/lib.sh"

need python3 ffmpeg timeout fusermount3 stat
need_hlsfs

# For a sanitizer build: reports go to the daemon log, which is checked per case and at exit. Leak checking
# stays on (a leak makes the daemon exit non-zero at unmount); ASAN_OPTIONS=detect_leaks=0 turns it off.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

GEN=$TESTS_DIR/hostile/gen.py
BIG=moov-100mb-free
SAN_RE='AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error|Segmentation|Assertion|SUMMARY: '
OUT=$T/outcomes.tsv
PASS_NAME=none
: > "$OUT"

rm_big() { rm -f "$SRC/$BIG.mp4"; }
TABLE_DONE=0
print_table() {
    [ "$TABLE_DONE" = 0 ] && [ -s "$OUT" ] || return 0
    TABLE_DONE=1
    {
        printf '\n%-26s %-8s %-10s %6s  %s\n' CASE LADDER OUTCOME LS_MS DETAIL
        awk -F'\t' '{ printf "%-26s %-8s %-10s %6s  %s\n", $1, $4, $2, $3, $5 }' "$OUT"
        printf '\n%-12s %-8s %5s %5s %9s %8s %5s %9s\n' GROUP LADDER CASES tree tree-EIO error.txt FAIL SANITIZER
        awk -F'\t' '{
            split($1, a, "-"); g = a[1]
            if (g == "trunc") g = g "-" a[2]
            if (g ~ /^size[0-9]*$/) g = "size"
            k = g SUBSEP $4
            if (!(k in seen)) { seen[k] = 1; order[++n] = k }
            c[k, $2]++; t[k]++
        } END {
            for (i = 1; i <= n; i++) {
                split(order[i], kk, SUBSEP)
                printf "%-12s %-8s %5d %5d %9d %8d %5d %9d\n", kk[1], kk[2], t[order[i]], c[order[i], "tree"],
                    c[order[i], "tree-EIO"], c[order[i], "error.txt"], c[order[i], "FAIL"] + c[order[i], "CRASH"],
                    c[order[i], "SANITIZER"]
            }
        }' "$OUT"
        printf '\n'
        for p in none default; do
            awk -F'\t' -v p="$p" '$4 == p { n[$2]++; t++ } END { if (t) {
                printf "pass ladder=%s: %d cases:", p, t; for (k in n) printf " %s %d", k, n[k]; printf "\n" } }' "$OUT"
        done
        printf 'time: %d s; daemon: %s\n' "$((SECONDS - START))" "$HLSFS"
    } >&2
}
# The big file goes whatever happens (lib's EXIT trap still runs, with the test's status).
trap 'rc=$?; trap - ERR; set +e; print_table; rm_big; (exit $rc); _cleanup' EXIT
START=$SECONDS

# The corpus: every case but the big one first, the ~100 MB one last (a sparse file).
gen_args=(--base "$T/base")
[ -z "${HOSTILE_ONLY:-}" ] || gen_args+=(--only "$HOSTILE_ONLY")
python3 "$GEN" "${gen_args[@]}" --skip-big "$SRC" || fail "gen.py could not write the corpus"
python3 "$GEN" "${gen_args[@]}" --big-only "$SRC" || fail "gen.py could not write $BIG"
mapfile -t CASES < <(python3 "$GEN" --base "$T/base" --list | cut -f1)
[ "${#CASES[@]}" -gt 100 ] || fail "gen.py lists only ${#CASES[@]} cases"

ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# bounded SECS CMD...: CMD under `timeout -k 2 SECS` (which signals its whole process group), its stdout
# in $T/b.out and stderr in $T/b.err. A reader whose FUSE request the daemon has taken but never answers
# cannot be killed, not even by SIGKILL, so this shell stops waiting 4 s after the limit and leaves it
# behind (the unmount at the end then fails, and lib's cleanup aborts the mount). Status: CMD's, or 124
# when it did not finish in time.
bounded() {
    local secs=$1 pid end
    shift
    # (in a subshell whose stderr is dropped: bash's "Killed" job notice would land in the test output)
    { timeout -k 2 "$secs" "$@" > "$T/b.out" 2> "$T/b.err"; } 2> /dev/null &
    pid=$!
    end=$(($(ms_now) + secs * 1000 + 4000))
    while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
        if [ "$(ms_now)" -ge "$end" ]; then
            printf '%s\n' "$pid" >> "$T/stuck"
            return 124
        fi
        sleep 0.01
    done
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" != 137 ] || rc=124   # killed by timeout -k
    return "$rc"
}

# count_bytes FILE: the number of bytes a read of FILE returns (status: cat's, with pipefail); for bounded.
count_bytes() { local n; n=$(cat -- "$1" | wc -c) || return $?; echo "$n"; }

daemon_alive() {
    kill -0 "$DAEMON_PID" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$DAEMON_PID/stat" 2>/dev/null)" != Z ]
}

# log_since N: the daemon log from line N+1 on.
log_since() { tail -n "+$(($1 + 1))" "$DAEMON_LOG"; }
log_lines() { wc -l < "$DAEMON_LOG"; }

# record NAME OUTCOME LS_MS DETAIL
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$PASS_NAME" "$(printf '%s' "$4" | tr '\t\n' '  ' | cut -c1-90)" >> "$OUT"; }

# cfail REASON: fail this case, recording it in the table.
cfail() { record "$CUR" FAIL "${LS_MS:--}" "$*"; fail "$*"; }

# read_check REL FILE: stat size = bytes read; a failed read (not a hang) is allowed when the daemon logs
# it. Sets READ_HOW to ok or eio.
read_check() {
    local rel=$1 f=$2 size n rc=0 before
    bounded 10 stat -c %s -- "$f" || rc=$?
    [ "$rc" != 124 ] || cfail "$rel: stat of '${f#"$MNT"/}' hung (> 10 s)"
    [ "$rc" = 0 ] || cfail "$rel: stat of '${f#"$MNT"/}' failed: $(head -c 200 "$T/b.err")"
    size=$(cat "$T/b.out")
    before=$(log_lines)
    bounded 20 bash -c "set -o pipefail; $(declare -f count_bytes); count_bytes \"\$1\"" _ "$f" || rc=$?
    [ "$rc" != 124 ] || cfail "$rel: reading '${f#"$MNT"/}' hung (> 20 s)"
    if [ "$rc" != 0 ]; then
        grep -q 'Input/output error' "$T/b.err" ||
            cfail "$rel: reading '${f#"$MNT"/}' failed with something else than EIO: $(head -c 200 "$T/b.err")"
        # invariant 6: one log line naming the file and the reason
        wait_until 3 eval 'log_since "$before" | grep -qF -- "$rel"' ||
            cfail "$rel: reading '${f#"$MNT"/}' failed (EIO) but the daemon logged no line naming the file"
        READ_HOW=eio
        return 0
    fi
    n=$(cat "$T/b.out")
    [ "$n" = "$size" ] || cfail "$rel: '${f#"$MNT"/}': stat says $size bytes, a read returned $n"
    READ_HOW=ok
}

# read_text REL FILE WHAT: FILE's content into TEXT (bounded, 20 s), or the case fails.
read_text() {
    local rc=0
    bounded 20 cat -- "$2" || rc=$?
    [ "$rc" != 124 ] || cfail "$1: reading $3 hung (> 20 s)"
    [ "$rc" = 0 ] || cfail "$1: reading $3 failed: $(head -c 200 "$T/b.err")"
    TEXT=$(cat "$T/b.out")
}

# check_case NAME: the video folder of one case answers in time and is error.txt only or a full tree.
# Nothing here touches the mount but through bounded: a hung request must not hang the test.
check_case() {
    local name=$1 rel=$1.mp4 d=$MNT/$1.mp4 listing rc=0 t0 ls_ms
    CUR=$name
    t0=$(ms_now)
    bounded 10 ls -A -- "$d" || rc=$?
    ls_ms=$(($(ms_now) - t0))
    LS_MS=$ls_ms
    [ "$rc" != 124 ] || cfail "$rel: ls of its folder hung (> 10 s)"
    [ "$rc" = 0 ] || cfail "$rel: ls of its folder failed (status $rc): $(head -c 200 "$T/b.err")"
    listing=$(cat "$T/b.out")
    [ -n "$listing" ] || cfail "$rel: its folder is empty (neither error.txt nor a tree)"

    if [ "$listing" = error.txt ]; then
        local e=$d/error.txt text lines
        read_check "$rel" "$e"
        [ "$READ_HOW" = ok ] || cfail "$rel: reading error.txt failed"
        read_text "$rel" "$e" error.txt
        text=$TEXT
        [ -n "$text" ] || cfail "$rel: error.txt is empty"
        lines=$(printf '%s\n' "$text" | grep -c .) || true
        [ "$lines" = 1 ] || cfail "$rel: error.txt has $lines non-empty lines, want one: $(printf '%s' "$text" | tr '\n' '|' | cut -c1-200)"
        grep -qF -- "$rel" "$DAEMON_LOG" || cfail "$rel: shown as error.txt but the daemon logged no line naming it"
        record "$name" error.txt "$ls_ms" "${text#"$rel cannot be served: "}"
        return 0
    fi

    # A full tree: master.m3u8, every variant it lists with its index.m3u8, every segment listed, no error.txt.
    case $'\n'$listing$'\n' in *$'\n'error.txt$'\n'*) cfail "$rel: error.txt next to other files: $(tr '\n' ' ' <<<"$listing")" ;; esac
    case $'\n'$listing$'\n' in *$'\n'master.m3u8$'\n'*) ;; *) cfail "$rel: a tree without master.m3u8: $(tr '\n' ' ' <<<"$listing")" ;; esac
    local files v pl seg nv=0 nseg=0 master
    rc=0
    bounded 10 find "$d" -type f || rc=$?
    [ "$rc" != 124 ] || cfail "$rel: listing its tree hung (> 10 s)"
    [ "$rc" = 0 ] || cfail "$rel: listing its tree failed: $(head -c 200 "$T/b.err")"
    files=$(cat "$T/b.out")
    read_text "$rel" "$d/master.m3u8" master.m3u8
    master=$TEXT
    while IFS= read -r v; do
        [ -n "$v" ] || continue
        nv=$((nv + 1))
        pl=$d/$v
        grep -qxF -- "$pl" <<<"$files" || cfail "$rel: master.m3u8 lists '$v', which is not in the tree"
        read_text "$rel" "$pl" "$v"
        while IFS= read -r seg; do
            [ -n "$seg" ] || continue
            nseg=$((nseg + 1))
            grep -qxF -- "$(dirname "$pl")/$seg" <<<"$files" || cfail "$rel: '$v' lists '$seg', which is not in the tree"
        done < <(grep -v -e '^#' -e '^[[:space:]]*$' <<<"$TEXT" | tr -d '\r')
    done < <(grep -v -e '^#' -e '^[[:space:]]*$' <<<"$master" | tr -d '\r')
    [ "$nv" -gt 0 ] || cfail "$rel: master.m3u8 lists no variant"
    [ "$nseg" -gt 0 ] || cfail "$rel: no variant lists a segment"

    local f eio=() n=0
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        n=$((n + 1))
        read_check "$rel" "$f"
        [ "$READ_HOW" = ok ] || eio+=("${f#"$d"/}")
    done <<<"$files"
    if [ "${#eio[@]}" = 0 ]; then
        record "$name" tree "$ls_ms" "$n files, $nv variants, $nseg segments"
    else
        record "$name" tree-EIO "$ls_ms" "EIO on ${#eio[@]} of $n: ${eio[*]}"
    fi
}

# check_pass NAME...: check_case for each, then the daemon must be alive with a clean sanitizer record.
check_pass() {
    local name
    for name in "$@"; do
        [ -e "$SRC/$name.mp4" ] || continue
        local before
        before=$(log_lines)
        soft check_case "$name"
        if ! daemon_alive; then
            record "$name" CRASH - "the daemon died: $(log_since "$before" | grep -m1 -E "$SAN_RE" | cut -c1-200)"
            fail "the daemon died while checking $name.mp4 (pass $PASS_NAME): $(log_since "$before" | grep -E "$SAN_RE|hlsfs:" | tail -n 3 | tr '\n' ' ' | cut -c1-400)"
        fi
        # A sanitizer report that did not stop the daemon (UBSan goes on): noted, the other cases still run.
        if log_since "$before" | grep -qE "$SAN_RE"; then
            record "$name" SANITIZER - "$(log_since "$before" | grep -m1 -E "$SAN_RE")"
            soft fail "a sanitizer or assertion report while checking $name.mp4 (pass $PASS_NAME): $(log_since "$before" | grep -m2 -E "$SAN_RE" | tr '\n' ' ' | cut -c1-400)"
        fi
    done
    bounded 10 ls "$MNT" || fail "the mount root no longer answers after the $PASS_NAME pass"
    daemon_alive || fail "the daemon is not alive after the $PASS_NAME pass"
}

# Log lines are expected here (each damaged file is reported): lib's rule that every stderr line is an
# expected "hlsfs: " line does not apply. Sanitizer reports are checked per case (check_pass) and at exit
# (finish_mount); any other stray line is printed as a note.
check_daemon_log() {
    local stray
    stray=$(grep -v -e '^hlsfs: ' -e '^$' "$1" | grep -vE "$SAN_RE" | grep -v '^ *#[0-9]' | head -n 3) || true
    [ -z "$stray" ] || say "t-hostile: note: daemon stderr holds lines not from its logger ($PASS_NAME pass): $stray"
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# wait_idle PID SECS: wait (SECS at most) until the daemon has used no CPU for a second: a request that
# outlived its reader (an ls that timed out while the daemon went on indexing) keeps the mount busy, and
# fusermount3 -u would then fail with EBUSY for a reason already reported.
wait_idle() {
    local pid=$1 end=$((SECONDS + $2)) a b
    b=$(cpu_ticks "$pid")
    while [ "$SECONDS" -lt "$end" ]; do
        sleep 1
        a=$b
        b=$(cpu_ticks "$pid")
        [ "$((b - a))" -gt 2 ] || return 0
    done
    say "t-hostile: the daemon is still busy after $2 s; unmounting anyway"
}

# finish_mount: unmount; the daemon exits 0 within 10 s (umount_hlsfs) and reported nothing new at exit.
finish_mount() {
    local before
    before=$(log_lines)
    wait_idle "$DAEMON_PID" 60
    umount_hlsfs "$MNT"
    if log_since "$before" | grep -qE "$SAN_RE"; then
        record "(exit)" SANITIZER - "$(log_since "$before" | grep -m1 -E "$SAN_RE")"
        fail "sanitizer report at daemon exit ($PASS_NAME pass): $(log_since "$before" | grep -m2 -E "$SAN_RE" | tr '\n' ' ' | cut -c1-400)"
    fi
}


# Pass 1: every case, passthrough only.
PASS_NAME=none
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-none,ladder=none"
check_pass "${CASES[@]}"
finish_mount
rm_big

# Pass 2: a handful with the default ladder (the huge picture sizes and aspect ratios, the avcC cases that
# need transcoding, the odd timings), on a fresh cache.
LADDER_CASES=${HOSTILE_LADDER_CASES:-base-end,avc1-16384,dims-16384-both,avcc-sps-bigpic,pasp-absurd,pasp-thin,avcc-missing,ctts-negative,stts-delta-zero,mdhd-ts1-video}
IFS=, read -r -a lcases <<<"$LADDER_CASES"
SRC2=$T/src-ladder
mkdir -p "$SRC2"
for c in "${lcases[@]}"; do [ ! -e "$SRC/$c.mp4" ] || cp -p "$SRC/$c.mp4" "$SRC2/"; done
PASS_NAME=default
mount_hlsfs "$SRC2" "$MNT" -o "cache_dir=$T/cache-default"
check_pass "${lcases[@]}"
finish_mount

print_table
pass
