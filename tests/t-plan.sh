#!/usr/bin/env bash
# t-plan: segments are cut where the design says: boundary k is the first keyframe at or after k x 6 s on
# an absolute grid (no empty segment), so EXTINF is the keyframe plan of the source and TARGETDURATION its
# ceiling. Every video is checked; all failures are reported.
source "$(dirname "$0")/lib.sh"

mount_library

check_video() {
    local rel=$1 pl
    while IFS= read -r pl; do
        check_plan "$pl" "$rel" 6
    done < <(variant_playlists "$MNT/$rel")
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

umount_hlsfs "$MNT"
pass
