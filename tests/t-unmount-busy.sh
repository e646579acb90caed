#!/usr/bin/env bash
# t-unmount-busy: unmounting while segments are being made ahead (prefetch) ends the daemon cleanly, every
# time: it exits 0 and logs nothing. The productions in flight end at their next frame and put their video
# back; the videos themselves go only after that (a production still putting its video back while they
# went was a use after free, one unmount in ten or twenty). Under the AddressSanitizer pass of the test
# command such a race is a report, not a silent corruption.
source "$(dirname "$0")/lib.sh"

need ffmpeg
need_hlsfs

make_video "$SRC/v.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=30 -f lavfi -i sine=f=440:d=30 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 30 -c:a aac -b:a 64k
ROUNDS=${HLSFS_UNMOUNT_ROUNDS:-8}

for r in $(seq "$ROUNDS"); do
    mount_hlsfs "$SRC" "$MNT" -o "ladder=360:800,prefetch=2,workers=2,cache_dir=$T/cache-$r"
    mapfile -t SEGS < <(segments_of "$MNT/v.mp4/360p/index.m3u8")
    [ "${#SEGS[@]}" -ge 3 ] || fail "round $r: want at least 3 segments of the 360p rung, got ${#SEGS[@]}"
    cat "${SEGS[0]}" > /dev/null || fail "round $r: reading segment 0 failed"
    # segments 1 and 2 are being made ahead now
    inflight=$(stat_of "$MNT" hlsfs_generations_in_flight)
    umount_hlsfs "$MNT"
    echo "round $r: unmounted with $inflight segment(s) in the making"
done
pass
