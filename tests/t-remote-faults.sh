#!/usr/bin/env bash
# t-remote-faults: link files to an archive that misbehaves (tests/tools/httpfault.py): a few 500s or 429s
# are retried into the right bytes; persistent 500s, a hanging server and bodies cut short fail the read
# with EIO within a bound and cache nothing wrong; one read costs at most remote_retries+1 requests, whatever
# mix of 503s, broken transfers and short bodies it meets; 404/403 become error.txt naming the status; a
# replaced object (new ETag) fails reads until revalidation makes it a new identity; a server ignoring Range
# never yields wrong bytes; credentials never reach logs.
source "$(dirname "$0")/lib.sh"

need python3 curl ffmpeg cmp dd
need_hlsfs

TIMEOUT=2
RETRIES=2
COMMON=ladder=none,segment=4,prefetch=0,remote_timeout=$TIMEOUT,remote_retries=$RETRIES

# start_httpfault ROOT: serve ROOT with tests/tools/httpfault.py on 127.0.0.1; sets HTTP_PORT, FAULT_LOG.
FAULT_LOG=$T/httpfault.log
start_httpfault() {
    local root=$1 port
    for _ in 1 2 3; do
        port=$(free_port)
        if start_server "$port" "$T/httpfault.out" "$T/httpfault.out" \
            python3 "$TESTS_DIR/tools/httpfault.py" --root "$root" --port "$port" --log "$FAULT_LOG"; then
            HTTP_PORT=$port
            return 0
        fi
    done
    fail "httpfault.py did not start: $(tail -n 3 "$T/httpfault.out" | tr '\n' ' ')"
}
# fault QUERY: switch the server's fault mode (GET /__fault?QUERY).
fault() {
    curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$HTTP_PORT/__fault?$1" || fail "httpfault.py refused /__fault?$1"
}
now() { date +%s.%N; }

# --- media: one 24 s video (moov at the end, about 12 MB: 12 blocks, 6 segments), a copy per scenario --------
WWW=$T/www
mkdir -p "$WWW" "$T/local"
_ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=24,noise=alls=20:allf=t" -f lavfi -i "sine=f=440:d=24" \
    -c:v libx264 -preset ultrafast -crf 30 -g 30 -keyint_min 30 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 64k "$T/local/v.mp4" || fail "ffmpeg could not generate the test video"
SCEN=(retry500 persist500 retry429 hang closemid budget norange forbidden etag)
# Each scenario its own URL (its own identity and cached blocks); hard links share the bytes.
for s in "${SCEN[@]}"; do ln "$T/local/v.mp4" "$WWW/$s.mp4"; done

# Reference: the local mount's files of v.mp4, and the paths of its segments.
mkdir -p "$T/mnt-ref" "$T/ref"
mount_hlsfs "$T/local" "$T/mnt-ref" -o "$COMMON"
# Segment names carry the source's version, which differs between the local file and each remote URL: the
# reference is kept under names without it (unversion), and a mount's own names come from its playlist.
(cd "$T/mnt-ref/v.mp4" && find . -type d -printf '%P\n' | while IFS= read -r d; do mkdir -p "$T/ref/$d"; done
 find . -type f -printf '%P\n' | while IFS= read -r f; do
     case $f in *.m3u8) unversion < "$f" > "$T/ref/$f" ;; *) cp "$f" "$T/ref/$(unversion <<<"$f")" ;; esac
 done) || fail "copying v.mp4's tree out of the local mount failed"
PL=$(variant_playlists "$T/mnt-ref/v.mp4" | sed -n 1p)
mapfile -t SEGS < <(segments_of "$PL" | sed "s|^$T/mnt-ref/v.mp4/||" | unversion)
PL=${PL#"$T/mnt-ref/v.mp4/"}
umount_hlsfs "$T/mnt-ref"
[ "${#SEGS[@]}" -ge 5 ] || fail "the 24 s test video has ${#SEGS[@]} segments of 4 s, want at least 5"

start_httpfault "$WWW"
BASE=http://127.0.0.1:$HTTP_PORT
for s in "${SCEN[@]}"; do printf '%s/%s.mp4\n' "$BASE" "$s" > "$SRC/$s.mp4.url"; done
printf '%s/missing.mp4\n' "$BASE" > "$SRC/missing.mp4.url"
printf 'http://user:secret@127.0.0.1:%s/missing-creds.mp4?token=hunter2\n' "$HTTP_PORT" > "$SRC/creds.mp4.url"
mkdir -p "$T/src-etag"
mv "$SRC/etag.mp4.url" "$T/src-etag/"

# Failures these scenarios provoke, one log line each naming the file.
for s in persist500 hang closemid budget norange forbidden missing creds etag; do EXPECT_LOG+=("^hlsfs: .*$s\\.mp4"); done

# read_seg DIR K: read segment K of the video folder DIR into $T/got (stderr in $T/got.err); sets RC and
# SECS (elapsed seconds).
read_seg() {
    local t0
    t0=$(now)
    RC=0
    local seg
    seg=$(segment_path "$1/$PL" "$2")
    timeout 120 dd if="$seg" of="$T/got" bs=1M 2> "$T/got.err" || RC=$?
    SECS=$(fcalc "$(now) - $t0")
}
# recovered: the archive serves normally again. A block whose fetch failed fails again at once for 1 s
# (so the kernel's second READ of a failed page costs no second round of tries): wait that out.
recovered() {
    fault "mode=none"
    sleep 1.2
}

# expect_ok DIR K WHAT: segment K reads whole and equal to the local mount's.
expect_ok() {
    read_seg "$1" "$2"
    [ "$RC" = 0 ] || fail "$3: reading ${1#"$T"/}/${SEGS[$2]} failed (status $RC after ${SECS}s): $(grep -v records "$T/got.err" | head -n 1)"
    cmp -s "$T/got" "$T/ref/${SEGS[$2]}" || fail "$3: ${1#"$T"/}/${SEGS[$2]} read without error but its bytes differ from the local mount's"
}
# expect_eio DIR K WHAT MAXSECS: reading segment K fails with EIO within MAXSECS seconds.
expect_eio() {
    read_seg "$1" "$2"
    [ "$RC" != 124 ] || fail "$3: reading ${1#"$T"/}/${SEGS[$2]} still hung after 120 s"
    [ "$RC" != 0 ] || fail "$3: reading ${1#"$T"/}/${SEGS[$2]} succeeded, want EIO$(cmp -s "$T/got" "$T/ref/${SEGS[$2]}" || echo ' (and its bytes are WRONG)')"
    grep -q 'Input/output error' "$T/got.err" ||
        fail "$3: reading ${1#"$T"/}/${SEGS[$2]} failed, but not with EIO: $(grep -v records "$T/got.err" | head -n 1)"
    ftrue "$SECS <= $4" || fail "$3: reading ${1#"$T"/}/${SEGS[$2]} took ${SECS}s to fail, want at most $4 s"
}
# expect_ok_or_eio DIR K WHAT: reading segment K gives the local mount's bytes or fails with EIO, never
# other bytes.
expect_ok_or_eio() {
    read_seg "$1" "$2"
    if [ "$RC" = 0 ]; then
        cmp -s "$T/got" "$T/ref/${SEGS[$2]}" || fail "$3: ${1#"$T"/}/${SEGS[$2]} read without error but with WRONG bytes"
    else
        grep -q 'Input/output error' "$T/got.err" || fail "$3: the read of ${1#"$T"/}/${SEGS[$2]} failed, but not with EIO: $(grep -v records "$T/got.err" | head -n 1)"
    fi
}
# expect_tree DIR WHAT: every file of the video folder DIR equals the local mount's.
expect_tree() {
    local f
    (cd "$T/ref" && find . -type f | sort) > "$T/ref.list"
    (cd "$1" && find . -type f | unversion | sort) > "$T/got.list"
    diff -q "$T/ref.list" "$T/got.list" > /dev/null ||
        fail "$2: ${1#"$T"/} lists other files than the local mount: $(diff "$T/ref.list" "$T/got.list" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
    while IFS= read -r f; do
        timeout 120 cat "$1/$f" > "$T/got" 2> "$T/got.err" || fail "$2: reading ${1#"$T"/}/${f#./} failed: $(head -n 1 "$T/got.err")"
        case $f in *.m3u8) unversion < "$T/got" > "$T/got.u" && mv "$T/got.u" "$T/got" ;; esac
        cmp -s "$T/got" "$T/ref/$(unversion <<<"$f")" || fail "$2: ${1#"$T"/}/${f#./} differs from the local mount's"
    done < <(cd "$1" && find . -type f | sort)
}
# requests_for PATH STATUS: how many requests for PATH the server answered with STATUS.
requests_for() { awk -v p="$1" -v s="$2" '$2 == p && $4 == s' "$FAULT_LOG" | grep -c . || true; }
# log_names NAME: the daemon log lines naming NAME.
log_names() { grep -F -- "$1" "$DLOG" || true; }
# error_text NAME: the folder NAME holds only error.txt; prints its text.
error_text() {
    local got
    got=$(ls -A "$MNT/$1" | tr '\n' ' ')
    [ "$got" = "error.txt " ] || fail "'$1' holds [$got], want only error.txt"
    cat "$MNT/$1/error.txt" || fail "reading $1/error.txt failed"
}

mount_hlsfs "$SRC" "$MNT" -o "$COMMON,remote_revalidate=3600,cache_dir=$CACHE"
DLOG=$DAEMON_LOG

# --- a few 500s (from the first request on: identity, index, blocks) are retried into the right bytes ---
fault "mode=status500&count=2&path=/retry500.mp4"
expect_ok "$MNT/retry500.mp4" 0 "two 500s then normal service"
expect_ok "$MNT/retry500.mp4" 1 "two 500s then normal service"
n=$(requests_for /retry500.mp4 500)
[ "$n" = 2 ] || fail "test bug: httpfault answered $n requests for /retry500.mp4 with 500, want 2"
[ -z "$(log_names retry500)" ] || fail "a read that succeeded after retries logged: $(log_names retry500 | head -n 1)"

# --- 429 likewise (after indexing: the block fetches meet them) ---------------------------------------------
cat "$MNT/retry429.mp4/master.m3u8" "$MNT/retry429.mp4/$PL" > /dev/null || fail "retry429.mp4: reading the playlists failed"
fault "mode=status429&count=2&path=/retry429.mp4"
expect_ok "$MNT/retry429.mp4" 2 "two 429s then normal service"
n=$(requests_for /retry429.mp4 429)
[ "$n" = 2 ] || fail "two 429s were set up for /retry429.mp4 but the daemon met $n of them (reading segment 2 should fetch its blocks)"
[ -z "$(log_names retry429)" ] || fail "a read that succeeded after retries logged: $(log_names retry429 | head -n 1)"
retries=$(stat_of "$MNT" hlsfs_remote_retries_total)
[ "$retries" -ge 4 ] || fail "hlsfs_remote_retries_total is $retries after two 500s and two 429s were retried, want >= 4"

# --- persistent 500: EIO within the bound, logged with the status; then service again, right bytes ----------
# Bound: (retries+1) tries answered at once, backoff 0.25 + 0.5 s (+50% jitter), plenty of slack.
cat "$MNT/persist500.mp4/master.m3u8" "$MNT/persist500.mp4/$PL" > /dev/null || fail "persist500.mp4: reading the playlists failed"
fault "mode=status500&path=/persist500.mp4"
expect_eio "$MNT/persist500.mp4" 1 "persistent 500" 15
say "remote-faults: persistent 500: EIO after ${SECS}s"
n=$(requests_for /persist500.mp4 500)
[ "$n" -ge $((RETRIES + 1)) ] || fail "persistent 500: the read failed after $n request(s), want $((RETRIES + 1)) (remote_retries=$RETRIES)"
log_names persist500 | grep -q 500 || fail "persistent 500: no daemon log line names persist500.mp4 and the status 500: $(log_names persist500 | head -n 1)"
recovered
expect_ok "$MNT/persist500.mp4" 1 "after the 500s stopped"
expect_tree "$MNT/persist500.mp4" "after the 500s stopped"

# --- a hanging server: EIO within (retries+1)*timeout + backoff; the mount answers meanwhile ---------------
# The kernel asks a second time for a page whose read failed; the daemon answers that second READ at once
# from its memory of the failure, so one read(2) costs one round of tries (about 7 s here; bound 12 s).
cat "$MNT/hang.mp4/master.m3u8" "$MNT/hang.mp4/$PL" > /dev/null || fail "hang.mp4: reading the playlists failed"
fault "mode=hang&path=/hang.mp4"
bound=12
( expect_eio "$MNT/hang.mp4" 1 "hanging server" "$bound"; printf '%s\n' "$SECS" > "$T/hang.secs" ) &
reader=$!
sleep 1
t0=$(now)
timeout 5 ls "$MNT/.hlsfs" > /dev/null || fail "while a read hangs on the archive, ls $MNT/.hlsfs does not answer within 5 s"
timeout 5 cat "$MNT/.hlsfs/stats" > /dev/null || fail "while a read hangs on the archive, .hlsfs/stats does not answer within 5 s"
timeout 5 cat "$MNT/retry500.mp4/master.m3u8" > /dev/null || fail "while a read hangs on the archive, another video's master does not answer within 5 s"
ftrue "$(now) - $t0 < 5" || fail "while a read hangs on the archive, the mount took $(fcalc "$(now) - $t0")s to answer three small reads"
wait "$reader" || fail "hanging server: see the check above"
[ -e "$T/.failed" ] && exit 1
say "remote-faults: hanging server: EIO after $(cat "$T/hang.secs")s (remote_timeout=$TIMEOUT, remote_retries=$RETRIES: the contract's (retries+1)*timeout + backoff is about $(( (RETRIES + 1) * TIMEOUT + 1 )) s; bound $bound s)"
timeout 5 cat "$MNT/.hlsfs/stats" > /dev/null || fail "after a read failed on a hanging archive, .hlsfs/stats does not answer"
log_names hang.mp4 | grep -q . || fail "hanging server: the daemon logged nothing naming hang.mp4"
recovered
expect_ok "$MNT/hang.mp4" 1 "after the hang ended"

# --- bodies cut short: a failure or (after a retry) the right bytes; never wrong ones; nothing wrong kept -----
cat "$MNT/closemid.mp4/master.m3u8" "$MNT/closemid.mp4/$PL" > /dev/null || fail "closemid.mp4: reading the playlists failed"
fault "mode=close_mid_body&count=1&path=/closemid.mp4"
expect_ok_or_eio "$MNT/closemid.mp4" 1 "one body cut short"
[ "$(requests_for /closemid.mp4 206)$(requests_for /closemid.mp4 200)" != 00 ] || fail "test bug: no GET of /closemid.mp4 reached the server"
# Every body cut short: segment 4 lies in blocks nobody fetched yet, so the read must fail.
fault "mode=short&path=/closemid.mp4"
expect_eio "$MNT/closemid.mp4" 4 "every body cut short" 15
recovered
expect_tree "$MNT/closemid.mp4" "after bodies were cut short"

# --- one retry budget per read: remote_retries+1 requests at most for one range, whatever the mix of -------
# failures. A short body (a Content-Length below the range, the connection fine) met after a 503 or a
# broken transfer used to start a fresh round of retries: up to (retries+1)^2 requests.
cat "$MNT/budget.mp4/master.m3u8" "$MNT/budget.mp4/$PL" > /dev/null || fail "budget.mp4: reading the playlists failed"
k=1
for mix in status503,short_length close_mid_body,short_length; do
    mark=$(wc -l < "$FAULT_LOG")
    fault "mode=$mix&path=/budget.mp4"
    expect_eio "$MNT/budget.mp4" "$k" "faults in turn ($mix)" 15
    # Requests per range since the mark; the identity probe (bytes=0-0) is not a read.
    read -r most range < <(tail -n +"$((mark + 1))" "$FAULT_LOG" |
        awk '$1 == "GET" && $2 == "/budget.mp4" && $3 != "bytes=0-0" { n[$3]++ }
             END { m = 0; r = "-"; for (x in n) if (n[x] > m) { m = n[x]; r = x } print m, r }')
    [ "$most" -ge 1 ] || fail "test bug: no read of /budget.mp4 reached the server under $mix"
    [ "$most" -le $((RETRIES + 1)) ] ||
        fail "faults in turn ($mix): one read asked the archive for $range $most times, want at most $((RETRIES + 1)) (remote_retries=$RETRIES)"
    say "remote-faults: $mix: $most requests for $range, EIO after ${SECS}s"
    recovered
    k=4
done
expect_tree "$MNT/budget.mp4" "after the faults in turn"

# --- a server that ignores Range (200 with the whole file): never taken as a block, never wrong bytes -------
cat "$MNT/norange.mp4/master.m3u8" "$MNT/norange.mp4/$PL" > /dev/null || fail "norange.mp4: reading the playlists failed"
fault "mode=norange&path=/norange.mp4"
expect_ok_or_eio "$MNT/norange.mp4" 3 "Range ignored (200, whole file)"
[ "$(requests_for /norange.mp4 200)" -ge 1 ] || fail "test bug: no request of /norange.mp4 was answered 200 while Range was ignored"
recovered
expect_tree "$MNT/norange.mp4" "after Range was ignored"

# --- 404 and 403: error.txt naming the status -------------------------------------------------------------
fault "mode=status403&path=/forbidden.mp4"
text=$(error_text forbidden.mp4)
[[ $text == *403* ]] || fail "forbidden.mp4 (archive answers 403): error.txt should name the status 403: '$text'"
recovered
text=$(error_text missing.mp4)
[[ $text == *404* ]] || fail "missing.mp4 (archive answers 404): error.txt should name the status 404: '$text'"
log_names missing.mp4 | grep -q 404 || fail "missing.mp4: no daemon log line names it and the status 404: $(log_names missing.mp4 | head -n 1)"

# --- credentials in a link never reach error.txt or the log ------------------------------------------------
text=$(error_text creds.mp4)
[[ $text == *404* ]] || fail "creds.mp4 (archive answers 404): error.txt should name the status 404: '$text'"
[ "$(requests_for /missing-creds.mp4 404)" -ge 1 ] || fail "test bug: the link with credentials never reached the server"
for secret in secret hunter2; do
    [[ $text != *"$secret"* ]] || fail "creds.mp4/error.txt shows the link's credentials ('$secret'): '$text'"
    if grep -F -- "$secret" "$DLOG" > /dev/null; then fail "the daemon log shows the link's credentials ('$secret'): $(grep -m1 -F -- "$secret" "$DLOG")"; fi
done

errors=$(stat_of "$MNT" hlsfs_remote_errors_total)
[ "$errors" -ge 3 ] || fail "hlsfs_remote_errors_total is $errors after reads failed on 500s, a hang and short bodies, want >= 3"
umount_hlsfs "$MNT"
for secret in secret hunter2; do
    if grep -F -- "$secret" "$DLOG" > /dev/null; then fail "the daemon log shows the link's credentials ('$secret'): $(grep -m1 -F -- "$secret" "$DLOG")"; fi
done

# --- a replaced object (new ETag) mid-way: EIO until revalidation, then a new identity with right bytes ------
REVAL=5
mkdir -p "$T/mnt-etag" "$T/cache-etag"
mount_hlsfs "$T/src-etag" "$T/mnt-etag" -o "$COMMON,remote_revalidate=$REVAL,cache_dir=$T/cache-etag"
DLOG=$DAEMON_LOG
E=$T/mnt-etag/etag.mp4
t0=$(now)
cat "$E/master.m3u8" "$E/$PL" > /dev/null || fail "etag.mp4: reading the playlists failed"
expect_ok "$E" 0 "before the object was replaced"
builds0=$(stat_of "$T/mnt-etag" hlsfs_index_builds_total)
fault "mode=etag&etag=replaced-1&path=/etag.mp4"
expect_eio "$E" 3 "the object's ETag changed" 15
ftrue "$(now) - $t0 < $REVAL" ||
    fail "test too slow: the changed-ETag read ended $(fcalc "$(now) - $t0")s after the first lookup, beyond remote_revalidate=$REVAL"
sleep $((REVAL + 1))
expect_ok "$E" 3 "after revalidation (the replaced object is a new identity)"
builds1=$(stat_of "$T/mnt-etag" hlsfs_index_builds_total)
[ "$builds1" -gt "$builds0" ] ||
    fail "after the ETag changed and remote_revalidate=$REVAL s passed, hlsfs_index_builds_total is still $builds1: the new version was not indexed as a new identity"
expect_tree "$E" "after revalidation"
log_names etag.mp4 | grep -q . || fail "the changed-ETag read failed without a daemon log line naming etag.mp4"
umount_hlsfs "$T/mnt-etag"

stop_servers
pass
