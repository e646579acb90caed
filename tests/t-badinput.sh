#!/usr/bin/env bash
# t-badinput: unusable input is reported, not half-served: a file whose moov is cut off, an empty or an
# audio-only file is a folder holding only error.txt (one sentence) and one log line naming it; an MP4 cut
# in its mdat is served up to where it ends, the source's frames, with one log line; a text file is not shown; a missing
# SOURCE or a bad option is one stderr line, status 1, nothing mounted; and the mount keeps answering.
source "$(dirname "$0")/lib.sh"

mount_library
ref=$(cat "$MNT/bframes.mp4/master.m3u8")

check_bad() {
    local rel=$1 d got text lines
    d=$MNT/$rel
    [ -d "$d" ] || fail "'$rel' is not a directory in the mount"
    got=$(ls -A "$d" | tr '\n' ' ')
    [ "$got" = "error.txt " ] || fail "'$rel' holds [$got], want only error.txt"
    [ ! -e "$d/master.m3u8" ] || fail "'$rel/master.m3u8' can be looked up though the file is unusable"
    text=$(cat "$d/error.txt") || fail "reading '$rel/error.txt' failed"
    [ "$(wc -c < "$d/error.txt")" = "$(stat -c %s "$d/error.txt")" ] || fail "'$rel/error.txt': stat size differs from its content"
    lines=$(grep -c . "$d/error.txt" || true)
    [ "$lines" = 1 ] || fail "'$rel/error.txt' has $lines non-empty lines, want one sentence: $(tr '\n' '|' < "$d/error.txt")"
    [[ $text =~ [[:alpha:]]{3} ]] || fail "'$rel/error.txt' says nothing: '$text'"
    [ "${#text}" -le 400 ] || fail "'$rel/error.txt' is ${#text} characters, not one sentence"
    case $rel in
        audio-only.mp4) [[ ${text,,} == *video* ]] || fail "'$rel/error.txt' should say there is no video stream: '$text'" ;;
    esac
    cat "$d/error.txt" > /dev/null; stat "$d/error.txt" > /dev/null; ls "$d" > /dev/null
}
while IFS= read -r rel; do soft check_bad "$rel"; done < <(bad_videos)

while IFS= read -r rel; do
    [ ! -e "$MNT/$rel" ] || fail "'$rel' (not a video) is visible in the mount"
    if ls -A "$MNT/$(dirname "$rel")" | grep -xF "$(basename "$rel")" > /dev/null; then fail "'$rel' is listed"; fi
done < <(media_hidden_list)

# Bad command lines, each against a fresh mount point: one line on stderr, status 1, nothing mounted.
bad_cli() { soft _bad_cli "$@"; }
_bad_cli() { # _bad_cli WHAT ARGS...
    local what=$1; shift
    local m=$T/mnt-bad rc=0
    mkdir -p "$m"
    timeout 10 "$HLSFS" "$@" > "$T/cli.out" 2> "$T/cli.err" || rc=$?
    if mountpoint -q "$m"; then fusermount3 -uz "$m"; fail "$what: hlsfs mounted $m anyway"; fi
    [ "$rc" != 124 ] || fail "$what: hlsfs did not exit within 10 s"
    [ "$rc" = 1 ] || fail "$what: hlsfs exited $rc, want 1 (stderr: $(head -n 2 "$T/cli.err" | tr '\n' ' '))"
    local n
    n=$(grep -c . "$T/cli.err" || true)
    [ "$n" = 1 ] || fail "$what: $n lines on stderr, want exactly one: $(head -n 3 "$T/cli.err" | tr '\n' '|')"
    [ ! -s "$T/cli.out" ] || fail "$what: printed on stdout: $(head -n 1 "$T/cli.out")"
}
bad_cli "missing SOURCE (foreground)" -f "$T/no-such-source" "$T/mnt-bad"
bad_cli "missing SOURCE (daemon)" "$T/no-such-source" "$T/mnt-bad"
grep -q 'no-such-source' "$T/cli.err" || fail "the missing-SOURCE message does not name the path: $(cat "$T/cli.err")"
bad_cli "unknown -o option" -f -o no_such_option=1 "$SRC" "$T/mnt-bad"
bad_cli "unknown -o option (daemon)" -o no_such_option=1 "$SRC" "$T/mnt-bad"
bad_cli "unknown flag" -f --no-such-flag "$SRC" "$T/mnt-bad"
bad_cli "non-numeric segment" -f -o segment=abc "$SRC" "$T/mnt-bad"
bad_cli "segment=0 (range is 1 to 60)" -f -o segment=0 "$SRC" "$T/mnt-bad"
bad_cli "segment=61 (range is 1 to 60)" -f -o segment=61 "$SRC" "$T/mnt-bad"
: > "$T/plain-file"
bad_cli "SOURCE is a file" -f "$T/plain-file" "$T/mnt-bad"
bad_cli "no mount point" -f "$SRC"

# A faststart MP4 cut in the middle of its mdat (a download or copy cut short) is served up to where it ends:
# its passthrough decodes without a message to the last frame the file holds, those frames are the source's,
# and the EXTINFs add up to them.
check_cut() {
    local rel=truncated-mdat.mp4 pl n want got total
    [ -f "$MNT/$rel/master.m3u8" ] || fail "'$rel' is not served: [$(ls -A "$MNT/$rel" | tr '\n' ' ')] $(cat "$MNT/$rel/error.txt" 2>/dev/null)"
    pl=$(passthrough_pl "$MNT/$rel")
    [ -n "$pl" ] || fail "'$rel': no passthrough variant"
    got=$(ffmpeg -nostdin -v error -i "$pl" -map 0 -f null - 2>&1 | head -n 3)
    [ -z "$got" ] || fail "'$rel': its passthrough does not decode cleanly: $got"
    frame_hashes "$pl" > "$T/cut.md5"
    n=$(wc -l < "$T/cut.md5")
    frame_hashes "$SRC/faststart.mp4" > "$T/whole.md5"
    want=$(wc -l < "$T/whole.md5")
    [ "$n" -ge $((want / 3)) ] && [ "$n" -lt "$want" ] || fail "'$rel': serves $n frames; the whole file has $want, its first half holds some"
    head -n "$n" "$T/whole.md5" > "$T/src.md5"
    cmp -s "$T/src.md5" "$T/cut.md5" || fail "'$rel': its frames are not the first $n frames of faststart.mp4"
    total=$(playlist_extinfs "$pl" | awk '{ s += $1 } END { printf "%.3f\n", s }')
    ftrue "($total - $n / 30) < 0.04 && ($n / 30 - $total) < 0.04" || fail "'$rel': EXTINFs add up to $total s for $n frames at 30 fps"
}
soft check_cut

# After all that the mount still answers, with the same bytes.
timeout 10 mountpoint -q "$MNT" || fail "the mount no longer answers"
[ "$(timeout 10 cat "$MNT/bframes.mp4/master.m3u8")" = "$ref" ] || fail "the master playlist changed or cannot be read any more"
timeout 10 ls "$MNT" > /dev/null || fail "listing the mount root fails"

umount_hlsfs "$MNT"

# One log line per unusable file (invariant 6 and "log a failure once"), even though each was read and
# listed several times.
while IFS= read -r rel; do soft logged_once "$DAEMON_LOG" "$(basename "$rel")"; done < <(bad_videos; media_cut_list)
pass
