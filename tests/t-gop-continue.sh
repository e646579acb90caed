#!/usr/bin/env bash
# t-gop-continue: in a GOP longer than a segment, a transcoded segment goes on with the decoder the segment
# before it left (any rung), rather than decoding again from the keyframe; its bytes are those of a decode
# from the keyframe. HEVC with open GOPs (a CRA at 10 s, B-pyramid), VP9, AV1, H.264 High 4:2:2 in MPEG-TS
# (Annex B, B-pyramid, 5 B-frames), each one keyframe per 10 s, and H.264 High 10 with one keyframe in all
# and H.264 High 10 with a keyframe per 10 s whose SPS does not give its reorder depth (VUI
# bitstream_restriction cleared by tools/no_reorder.py, as many hardware and broadcast encoders write it; its
# segments must be the same bytes as those of the untouched source, which x264's depth makes exact: no picture
# lost at a segment's start):
# mount A reads the two rungs' segments in order, alternating rungs, one at a time (each continuation
# counted in hlsfs_decodes_continued_total); mount B reads them from the last segment to the first (no
# segment follows one made before it: nothing continued); mount C reads front to back with the default
# workers and prefetch (segments made ahead take the decoder over while they run). All three give the same
# bytes. A parked decoder nobody takes is freed after 20 s (hlsfs_decoders_parked). A sample that cannot be
# read just past a segment (read only to keep the decoder) does not fail that segment.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

need ffmpeg ffprobe
need_hlsfs
LADDER=240:300/160:200

ladder_source gop-hevc.mp4 -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 -f lavfi -i "$(_tone 20)" \
    -c:v libx265 -preset ultrafast -pix_fmt yuv420p \
    -x265-params log-level=error:keyint=300:min-keyint=300:scenecut=0:open-gop=1:bframes=4:b-pyramid=1 \
    -tag:v hvc1 -c:a aac -b:a 64k -ac 2
ladder_source gop-vp9.webm -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 \
    -c:v libvpx-vp9 -deadline good -cpu-used 8 -row-mt 1 -g 300 -keyint_min 300 -b:v 400k
ladder_source gop-av1.mkv -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 \
    -c:v libsvtav1 -preset 12 -g 300 -b:v 400k
ladder_source gop-h264.ts -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 \
    -c:v libx264 -preset faster -pix_fmt yuv422p10le -g 300 -keyint_min 300 -sc_threshold 0 -bf 5 \
    -x264-params b-pyramid=normal -b:v 400k
src_longgop
ladder_source reorder.mp4 -f lavfi -i testsrc2=size=480x270:rate=30:duration=20 \
    -c:v libx264 -preset faster -pix_fmt yuv420p10le -profile:v high10 -g 300 -keyint_min 300 -sc_threshold 0 \
    -bf 3 -x264-params b-pyramid=normal -b:v 400k
cp "$SRC/reorder.mp4" "$SRC/noreorder.mp4" || fail "could not copy reorder.mp4"
python3 "$(dirname "$0")/tools/no_reorder.py" "$SRC/noreorder.mp4" || fail "could not clear the reorder depth of noreorder.mp4"
VIDEOS=(gop-hevc.mp4 gop-vp9.webm gop-av1.mkv gop-h264.ts longgop.mp4 reorder.mp4 noreorder.mp4)

# The sources must be what the test says: a CRA picture in the HEVC one, one keyframe (sync sample) per
# 10 s in each (longgop.mp4: one in all).
nals=$(ffmpeg -v trace -nostdin -i "$SRC/gop-hevc.mp4" -c copy -bsf:v trace_headers -f null - 2>&1 | grep -c 'nal_unit_type .* = 21$' || true)
[ "$nals" -ge 1 ] || fail "test bug: gop-hevc.mp4 has no CRA picture"
for f in "${VIDEOS[@]}"; do
    keys=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$SRC/$f" | grep -c K || true)
    [ "$keys" -ge 1 ] && [ "$keys" -le 2 ] || fail "test bug: $f has $keys keyframes in 20 s, not a long-GOP source"
done

stat_value() { stat_of "$1" hlsfs_decodes_continued_total; }

# read_alternating MNT VIDEO: the two rungs' segments in order, rung by rung in turn (240p 0, 160p 1, 240p 2,
# ...), then the others; prints how many decodes went on from a parked decoder meanwhile.
read_alternating() {
    local mnt=$1 v=$2 before after i n
    local -a hi lo
    mapfile -t hi < <(segments_of "$mnt/$v/240p/index.m3u8")
    mapfile -t lo < <(segments_of "$mnt/$v/160p/index.m3u8")
    n=${#hi[@]}
    [ "$n" -ge 3 ] && [ "${#lo[@]}" = "$n" ] || fail "$v: want 3 or more segments in both rungs, got $n and ${#lo[@]}"
    before=$(stat_value "$mnt")
    for ((i = 0; i < n; i++)); do
        if ((i % 2)); then cat "${lo[i]}"; else cat "${hi[i]}"; fi > /dev/null || fail "$v: reading segment $i failed"
    done
    after=$(stat_value "$mnt")
    for ((i = 0; i < n; i++)); do
        if ((i % 2)); then cat "${hi[i]}"; else cat "${lo[i]}"; fi > /dev/null || fail "$v: reading segment $i failed"
    done
    echo $((after - before))
}

mkdir -p "$T/mnt-b" "$T/mnt-c"
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/cache-a,ladder=$LADDER,workers=1,prefetch=0"
declare -A continued
for v in "${VIDEOS[@]}"; do
    continued[$v]=$(read_alternating "$MNT" "$v")
done
tree_sums "$MNT" > "$T/sum-a"
umount_hlsfs "$MNT"

# read_backward MNT VIDEO: segment by segment from the last, both rungs each: no segment read follows one
# read before it, so none can go on from a parked decoder.
read_backward() {
    local mnt=$1 v=$2 i
    local -a hi lo
    mapfile -t hi < <(segments_of "$mnt/$v/240p/index.m3u8")
    mapfile -t lo < <(segments_of "$mnt/$v/160p/index.m3u8")
    for ((i = ${#hi[@]} - 1; i >= 0; i--)); do
        cat "${hi[i]}" "${lo[i]}" > /dev/null || fail "$v: reading segment $i failed"
    done
}

mount_hlsfs "$SRC" "$T/mnt-b" -o "cache_dir=$T/cache-b,ladder=$LADDER,workers=1,prefetch=0"
for v in "${VIDEOS[@]}"; do
    read_backward "$T/mnt-b" "$v"
done
tree_sums "$T/mnt-b" > "$T/sum-b"
n=$(stat_value "$T/mnt-b")
[ "$n" = 0 ] || fail "read back to front, $n segments went on from a parked decoder, want none"
# The decoders parked for segments nobody asked for are freed after 20 s.
parked=$(stat_of "$T/mnt-b" hlsfs_decoders_parked)
[ "$parked" -ge 1 ] || fail "no decoder parked after segment 2 of each rung was made (hlsfs_decoders_parked $parked)"
for _ in $(seq 60); do
    [ "$(stat_of "$T/mnt-b" hlsfs_decoders_parked)" = 0 ] && break
    sleep 0.5
done
[ "$(stat_of "$T/mnt-b" hlsfs_decoders_parked)" = 0 ] ||
    fail "$parked decoders parked with nothing read for 30 s: $(stat_of "$T/mnt-b" hlsfs_decoders_parked) still held"
umount_hlsfs "$T/mnt-b"

mount_hlsfs "$SRC" "$T/mnt-c" -o "cache_dir=$T/cache-c,ladder=$LADDER"
tree_sums "$T/mnt-c" > "$T/sum-c"
umount_hlsfs "$T/mnt-c"

# A sample past a segment's end that cannot be read costs that segment nothing: it was read only to keep
# the decoder, which is drained instead. Video-only HEVC with its moov first, below eiofs
# (tests/tools/eiofs.c), which fails every read past the first sample after segment 2's last (segments 2
# and 3, 2 to 4 s and 4 to 6 s, lie in the first GOP: segment 2 is made to be continued).
mkdir -p "$T/lower" "$T/eio" "$T/mnt-d" "$T/mnt-e"
ffmpeg -nostdin -v error -i "$SRC/gop-hevc.mp4" -map 0:v -c copy -movflags +faststart "$T/lower/bad-gop.mp4" ||
    fail "could not make the video-only copy"
cc -O2 -Wall -o "$T/eiofs" "$TESTS_DIR/tools/eiofs.c" $(pkg-config --cflags --libs fuse3) 2> "$T/cc.log" ||
    fail "building tests/tools/eiofs.c failed: $(head -n 3 "$T/cc.log" | tr '\n' ' ')"
mount_hlsfs "$T/lower" "$T/mnt-d" -o "cache_dir=$T/cache-d,ladder=$LADDER,workers=1,prefetch=0"
mapfile -t good < <(segments_of "$T/mnt-d/bad-gop.mp4/240p/index.m3u8")
[ "${#good[@]}" -ge 4 ] || fail "test bug: bad-gop.mp4 has ${#good[@]} segments, want 4 or more"
end2=$(awk -F'[:,]' '/^#EXTINF/ { t += $2; if (++n == 3) { print t; exit } }' "$T/mnt-d/bad-gop.mp4/240p/index.m3u8")
cat "${good[2]}" > "$T/seg2-good.ts" || fail "reading segment 2 of the readable copy failed"
umount_hlsfs "$T/mnt-d"
# The byte offset of the sample after the last one segment 2 shows a picture of (decode order; times from
# the first picture shown).
fail_at=$(ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,pos -of csv=p=0 "$T/lower/bad-gop.mp4" |
    awk -F, -v end="$end2" 'NR == 1 || $1 < t0 { t0 = $1 } { pts[NR] = $1; pos[NR] = $2; n = NR }
        END { for (i = 1; i <= n; i++) if (pts[i] - t0 < end - 0.001) last = i; print pos[last + 1] }')
[ -n "$fail_at" ] && [ "$fail_at" -gt 0 ] || fail "test bug: no sample after segment 2 ($end2 s)"
EIOFS_FAIL_OFFSET=$fail_at "$T/eiofs" -f -o fail_name=bad "$T/lower" "$T/eio" 2> "$T/eiofs.log" < /dev/null &
EIO_PID=$!
_track_pid "$EIO_PID"
wait_until 10 _is_mounted "$T/eio" || fail "eiofs did not mount: $(head -n 3 "$T/eiofs.log" | tr '\n' ' ')"
mount_hlsfs "$T/eio" "$T/mnt-e" -o "cache_dir=$T/cache-e,ladder=$LADDER,workers=1,prefetch=0"
mapfile -t bad < <(segments_of "$T/mnt-e/bad-gop.mp4/240p/index.m3u8")
cat "${bad[2]}" > "$T/seg2-bad.ts" 2> "$T/seg2.err" ||
    fail "segment 2 failed when only samples after it cannot be read: $(head -c 200 "$T/seg2.err")"
cmp -s "$T/seg2-good.ts" "$T/seg2-bad.ts" || fail "segment 2 differs when the samples after it cannot be read"
if cat "${bad[3]}" > /dev/null 2>&1; then fail "segment 3 read whole from a source failing inside it"; fi
EXPECT_LOG=('^hlsfs: .*/bad-gop\.mp4: segment 3: reading the source failed \(Input/output error\)$')
umount_hlsfs "$T/mnt-e"
EXPECT_LOG=()
fusermount3 -u "$T/eio" || fail "fusermount3 -u of the eiofs mount failed"

for other in b c; do
    if ! diff -q "$T/sum-a" "$T/sum-$other" > /dev/null; then
        f=$(differing_files "$T/sum-a" "$T/sum-$other")
        fail "$(wc -l <<<"$f") files differ between segments decoded on from the segment before (mount A) and mount ${other^^}: $(head -n 4 <<<"$f" | tr '\n' ' ')"
    fi
done
grep -c '\.ts$' "$T/sum-a" | grep -qv '^0$' || fail "test bug: no segments summed"
for v in "${VIDEOS[@]}"; do
    # Two GOPs of 10 s (or one of 20 s), cut into segments of 1 to 6 s: every segment of a GOP after its
    # first follows the one before.
    [ "${continued[$v]}" -ge 2 ] ||
        fail "$v: ${continued[$v]} of its segments read in order went on from the segment before, want 2 or more (hlsfs_decodes_continued_total)"
done
# Without the reorder depth in its SPS, the same pictures as with it: each rung's segments, in order, are
# the same bytes (names differ: the sources do).
for r in 240p 160p; do
    a=$(awk -v d="./noreorder.mp4/$r/" 'index($2, d) == 1 && $2 ~ /\.ts$/ { print $1 }' "$T/sum-a")
    b=$(awk -v d="./reorder.mp4/$r/" 'index($2, d) == 1 && $2 ~ /\.ts$/ { print $1 }' "$T/sum-a")
    [ "$(wc -l <<<"$a")" -ge 3 ] || fail "test bug: $(wc -l <<<"$a") segments of noreorder.mp4 $r summed"
    [ "$a" = "$b" ] || fail "noreorder.mp4 $r: its segments are not those of reorder.mp4, whose SPS gives the reorder depth (a picture lost or moved at a segment's start?)"
done
pass
