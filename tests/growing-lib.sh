# tests/growing-lib.sh: what t-growing* share: follow a recording being written through an HTTP server while
# it grows, then check its finished tree against the segments listed while it grew. Sourced after lib.sh.
#
#   grow_follow URL VARIANT WRITER_PID T0 DIR   poll until the variant playlist has ENDLIST (see below)
#   grow_report LABEL                           print the figures and check the first segment came in 15 s
#   grow_finished URL VARIANT                   ffmpeg plays the master; every listed segment kept its bytes
#   grow_fresh DIR                              a fresh mount's variant folder DIR lists the same bytes

# grow_get URL FILE: fetch through the server; prints the status; Content-Length must equal the bytes.
grow_get() {
    local r st cl
    r=$(http_get "$1" "$2")
    st=$(cut -f1 <<<"$r")
    cl=$(cut -f3 <<<"$r")
    if [ "$st" = 200 ] && [ "$cl" != "$(stat -c %s "$2")" ]; then
        fail "$1: Content-Length $cl but $(stat -c %s "$2") bytes came"
    fi
    printf '%s\n' "$st"
}

# grow_follow URL VARIANT WRITER_PID T0 DIR: polls URL/VARIANT/index.m3u8 (and the master) while the writer
# (a tracked pid, started at T0 = date +%s.%N, writing in real time) runs and after, until the playlist has
# ENDLIST. Fails when: no playlist 15 s after T0; a playlist other than EVENT; an EVENT playlist changes
# anywhere but at its end, its TARGETDURATION included, also when ENDLIST comes (RFC 8216 6.2.1); the
# master changes while it grows; iframes.m3u8 is not EVENT; ENDLIST while the writer writes; a listed
# segment is not served or changes its bytes; no ENDLIST 30 s after the writer ended; the whole run past
# 80 s. Sets: HASH[seg] (md5 of every listed segment), SEEN[seg] (listed while growing),
# GROW_FIRST (s from T0 to the first listed segment), GROW_LAT (s from each listed segment's end keyframe
# being written, in real time, to its listing), GROW_POLLS, GROW_ENDED (s from the writer's end to ENDLIST),
# and DIR/pl: the final playlist (EVENT with ENDLIST).
_grow_exited() { ! kill -0 "$1" 2>/dev/null; }
# _grow_still_growing PLAYLIST-URL DIR: whether the variant playlist, fetched again, is still without ENDLIST.
_grow_still_growing() {
    [ "$(grow_get "$1" "$2/again")" = 200 ] && [ "$(playlist_tag "$2/again" EXT-X-PLAYLIST-TYPE)" = EVENT ] &&
        ! grep -q '^#EXT-X-ENDLIST' "$2/again"
}
declare -A HASH=() SEEN=()
GROW_FIRST='' GROW_POLLS=0 GROW_ENDED='' GROW_LAT=()
grow_follow() {
    local url=$1 var=$2 writer=$3 t0=$4 w=$5
    local prev='' master='' t_done='' saw_event=0 now el st type live n k end seg d h
    while :; do
        now=$(date +%s.%N)
        el=$(fcalc "$now - $t0")
        if [ -z "$t_done" ] && ! kill -0 "$writer" 2>/dev/null; then
            wait "$writer" || fail "the writer failed: $(head -c 300 "$w/writer.log")"
            _forget_pid "$writer"
            t_done=$now
        fi
        [ -n "$t_done" ] && ftrue "$now - $t_done > 30" && fail "no ENDLIST 30 s after the writer finished"
        ftrue "$el > 80" && fail "the test ran past 80 s"
        GROW_POLLS=$((GROW_POLLS + 1))
        st=$(grow_get "$url/$var/index.m3u8" "$w/pl")
        if [ "$st" != 200 ]; then
            ftrue "$el > 15" && fail "no variant playlist 15 s after the writer started (HTTP $st)"
            sleep 0.3
            continue
        fi
        [ "$(grow_get "$url/master.m3u8" "$w/master")" = 200 ] || fail "no master.m3u8 beside index.m3u8"
        type=$(playlist_tag "$w/pl" EXT-X-PLAYLIST-TYPE)
        [ "$type" = EVENT ] || fail "playlist type '$type', want EVENT from the first poll to the last: $(tr '\n' ' ' < "$w/pl")"
        saw_event=1
        # Only lines at its end are ever added, ENDLIST included; the master never changes while it grows.
        if [ -n "$prev" ]; then
            n=$(stat -c %s "$w/prev")
            [ "$(stat -c %s "$w/pl")" -ge "$n" ] && cmp -s -n "$n" "$w/prev" "$w/pl" ||
                fail "the recording's playlist changed before its end: $(diff "$w/prev" "$w/pl" | tr '\n' ' ')"
        fi
        cp "$w/pl" "$w/prev"
        prev=1
        live=0
        grep -q '^#EXT-X-ENDLIST' "$w/pl" || live=1
        if [ "$live" = 1 ]; then
            if [ -z "$master" ]; then cp "$w/master" "$w/master0"; master=1; fi
            # The master and iframes.m3u8 are fetched after the playlist: the recording may have
            # ended between them (then its master is the finished file's). Only a recording still
            # growing after them is held to them.
            if ! cmp -s "$w/master" "$w/master0"; then
                _grow_still_growing "$url/$var/index.m3u8" "$w" || continue
                fail "master.m3u8 changed while the recording grows"
            fi
            if [ "$(grow_get "$url/$var/iframes.m3u8" "$w/if")" = 200 ] &&
                [ "$(playlist_tag "$w/if" EXT-X-PLAYLIST-TYPE)" != EVENT ]; then
                _grow_still_growing "$url/$var/index.m3u8" "$w" || continue
                fail "iframes.m3u8 is not EVENT while growing"
            fi
        else
            if [ "$(grow_get "$url/$var/iframes.m3u8" "$w/if")" = 200 ]; then
                [ "$(playlist_tag "$w/if" EXT-X-PLAYLIST-TYPE)" = EVENT ] && grep -q '^#EXT-X-ENDLIST' "$w/if" ||
                    fail "iframes.m3u8 of the ended recording is not EVENT with ENDLIST: $(head -n 6 "$w/if" | tr '\n' ' ')"
            fi
            if [ -z "$t_done" ]; then
                # The writer closes the file (inotify tells at once) a moment before its process
                # exits; a loaded machine can make that moment a poll long.
                wait_until 2 _grow_exited "$writer" || fail "the playlist ended while the writer was still writing"
                wait "$writer" || fail "the writer failed: $(head -c 300 "$w/writer.log")"
                _forget_pid "$writer"
                t_done=$(date +%s.%N)
            fi
        fi
        # Every segment listed: hashed, and the same bytes at every poll.
        k=0 end=0
        while IFS= read -r seg; do
            d=$(playlist_extinfs "$w/pl" | sed -n "$((k + 1))p")
            end=$(fcalc "$end + $d")
            [ "$(grow_get "$url/$var/$seg" "$w/seg")" = 200 ] || fail "$seg is listed but not served"
            h=$(md5sum < "$w/seg" | cut -c1-32)
            if [ -z "${HASH[$seg]:-}" ]; then
                HASH[$seg]=$h
                if [ "$live" = 1 ]; then
                    [ -n "$GROW_FIRST" ] || GROW_FIRST=$el
                    GROW_LAT+=("$(fcalc "$el - $end")")   # since its ending keyframe was written (real time)
                    SEEN[$seg]=1
                fi
            elif [ "${HASH[$seg]}" != "$h" ]; then
                fail "$seg changed its bytes after it was listed"
            fi
            k=$((k + 1))
        done < <(playlist_uris "$w/pl")
        grep -q '^#EXT-X-ENDLIST' "$w/pl" && break
        sleep 0.4
    done
    [ "$saw_event" = 1 ] || fail "the recording was never served as an EVENT playlist"
    GROW_ENDED=$(fcalc "$(date +%s.%N) - $t_done")
}

# grow_report LABEL NOTE: the figures of grow_follow; fails when the first segment came after 15 s or fewer
# than two were listed while growing.
grow_report() {
    [ -n "$GROW_FIRST" ] && ftrue "$GROW_FIRST <= 15" ||
        fail "the first segment was listed ${GROW_FIRST:-never} s after the writer started (want 15 at most)"
    [ "${#SEEN[@]}" -ge 2 ] || fail "only ${#SEEN[@]} segments were listed while growing (want the playlist to grow)"
    local mean
    mean=$(printf '%s\n' "${GROW_LAT[@]}" | awk '{ s += $1 } END { if (NR) printf "%.2f", s / NR }')
    say "$1: first segment listed ${GROW_FIRST}s after the start; ${#SEEN[@]} segments listed while growing;" \
        "ENDLIST ${GROW_ENDED}s after the writer finished; $GROW_POLLS polls"
    say "$1: keyframe written -> segment listed, seconds: ${GROW_LAT[*]} (mean $mean; $2)"
}

# grow_finished URL VARIANT DIR: ffmpeg plays the finished master without a message, and every segment listed
# while growing is still served with the bytes it had.
grow_finished() {
    local url=$1 var=$2 w=$3 out seg
    out=$(ffmpeg -nostdin -v error -i "$url/master.m3u8" -f null - 2>&1) ||
        fail "ffmpeg cannot play the finished recording: $out"
    [ -z "$out" ] || fail "ffmpeg plays the finished recording with messages: $(head -c 300 <<<"$out")"
    for seg in "${!SEEN[@]}"; do
        [ "$(grow_get "$url/$var/$seg" "$w/seg")" = 200 ] || fail "$seg is gone once finished"
        [ "$(md5sum < "$w/seg" | cut -c1-32)" = "${HASH[$seg]}" ] || fail "$seg differs once the recording finished"
    done
}

# grow_fresh VARDIR PLAYLIST MIN: on a fresh mount of the finished file (VARDIR: its variant folder), segment
# N of its playlist has the bytes of segment N of PLAYLIST (the final one of the first mount; names differ
# between mounts: they carry the source's version), and there are at least MIN of them.
grow_fresh() {
    local dir=$1 pl=$2 min=$3 n=0 seg ours h
    while IFS= read -r seg; do
        ours=$(playlist_uris "$dir/index.m3u8" | sed -n "$((n + 1))p")
        [ -n "$ours" ] || fail "a fresh mount lists fewer segments than the finished recording ($n)"
        h=$(md5sum < "$dir/$ours" | cut -c1-32) || fail "$ours unreadable on a fresh mount"
        [ "$h" = "${HASH[$seg]}" ] || fail "segment $n ($seg) differs on a fresh mount of the finished file ($ours)"
        n=$((n + 1))
    done < <(playlist_uris "$pl")
    [ "$(playlist_uris "$dir/index.m3u8" | wc -l)" = "$n" ] ||
        fail "a fresh mount lists $(playlist_uris "$dir/index.m3u8" | wc -l) segments, the finished recording $n"
    [ "$n" -ge "$min" ] || fail "only $n segments in the finished recording"
}
