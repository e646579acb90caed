#!/usr/bin/env bash
# t-growing-mkv: a Matroska file written in real time (ffmpeg -re, H.264 + AAC, OBS's classic .mkv recording:
# its folder and file name pattern, with a space) is served while it grows, up to its last whole Cluster,
# through Caddy: EVENT without ENDLIST with a segment within 15 s, growing only at its end, master unchanged;
# every listed segment keeps its bytes at every poll, once finished (when the muxer rewrites its head: the
# Segment size, SeekHead, Duration and CRC-32s) and on a fresh mount; Content-Length = bytes of every response;
# ENDLIST (still EVENT, nothing else changed) within 30 s of the writer's end; ffmpeg plays the finished tree without a message; cut at 30
# places as if being written, its complete part is indexed as a prefix of the finished file's index, sample
# for sample (unit/scan_prefix). Prints the latency from a boundary keyframe being written to its segment being listed. A Matroska file whose Clusters
# have unknown sizes (a live muxer's), held open for writing, is only error.txt saying it is served once
# finished, and a video folder once closed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/growing-lib.sh"

need ffmpeg ffprobe curl md5sum
SCAN_PREFIX=$(dirname "$HLSFS")/tests/unit/scan_prefix
[ -x "$SCAN_PREFIX" ] || fail "no $SCAN_PREFIX beside $HLSFS (built by ninja with hlsfs)"
OBS=recordings/obs               # OBS: <recording path>/%CCYY-%MM-%DD %hh-%mm-%ss.mkv
REC="2026-12-06 15-00-00.mkv"
mkdir -p "$SRC/$OBS"
ENC=(-c:v libx264 -preset veryfast -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -b:a 64k)
SRCS=(-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000)

mount_hlsfs "$SRC" "$MNT" -o growing_idle=3
start_caddy "$MNT"
URL=http://127.0.0.1:$HTTP_PORT/$OBS/${REC// /%20}
W=$T/work
mkdir -p "$W"

# --- the writer: 25 s of 2 s GOPs (B-frames, as OBS's x264 makes them); a Cluster per GOP, written whole ---
T0=$(date +%s.%N)
ffmpeg -nostdin -v error -re "${SRCS[@]}" -t 25 "${ENC[@]}" -flush_packets 1 -f matroska "$SRC/$OBS/$REC" \
    2> "$W/writer.log" &
WRITER=$!
_track_pid "$WRITER"

grow_follow "$URL" 240p "$WRITER" "$T0" "$W"
grow_report growing-mkv "a 2 s GOP: ffmpeg writes the Cluster holding a GOP at the next keyframe"

# --- cut at 30 places as if being written, its complete part is indexed as a prefix of the finished file's --
out=$("$SCAN_PREFIX" "$SRC/$OBS/$REC" 30 2>&1) || fail "the Matroska file being written: $out"
say "growing-mkv: $out"

# --- a live muxer's Matroska (Clusters of unknown size), held open for writing: only a note while written ---
LIVEMKV=$SRC/$OBS/live.mkv
python3 - "$SRC/$OBS/$REC" "$LIVEMKV" <<'PY' || fail "could not write a Matroska file with Clusters of unknown size"
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
def vint(o):                       # an EBML size: (length, value)
    n = 1
    while not b[o] & (0x80 >> (n - 1)): n += 1
    v = b[o] & (0xff >> n)
    for i in range(1, n): v = v << 8 | b[o + i]
    return n, v
o, n = 0, 0
while o < len(b):                  # every Cluster's size made "unknown" (all ones)
    o = b.find(b'\x1f\x43\xb6\x75', o)
    if o < 0: break
    l, v = vint(o + 4)
    b[o + 4:o + 4 + l] = bytes([(0x80 >> (l - 1)) | (0xff >> l)]) + b'\xff' * (l - 1)
    o, n = o + 4 + l + v, n + 1
assert n >= 4, n
open(sys.argv[2], 'wb').write(b)
PY
exec 3>>"$LIVEMKV"
note=$(cat "$MNT/$OBS/live.mkv/error.txt" 2>&1) || fail "no error.txt for a live Matroska file being written: $note"
case $note in *"being written"*"once it is finished"*) ;; *) fail "error.txt of a live Matroska file being written: $note" ;; esac
exec 3>&-
wait_until 10 test -f "$MNT/$OBS/live.mkv/master.m3u8" ||
    fail "the closed live Matroska file is not a video folder: $(cat "$MNT/$OBS/live.mkv/error.txt" 2>&1)"

# --- finished: the same bytes, here and on a fresh mount; ffmpeg plays it ----------------------------------
grow_finished "$URL" 240p "$W"
stop_servers
umount_hlsfs "$MNT"
mkdir -p "$T/mnt2"
mount_hlsfs "$SRC" "$T/mnt2" -o growing_idle=0
grow_fresh "$T/mnt2/$OBS/$REC/240p" "$W/pl" 4
umount_hlsfs "$T/mnt2"
pass
