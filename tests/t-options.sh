#!/usr/bin/env bash
# t-options: -o segment=SECONDS moves the grid the segment plan is cut on (4 s and 10 s targets give the
# keyframe plans of those grids); -o config=FILE reads the same keys (INI, -o wins), accepts an empty file
# and refuses a missing one; cache_dir is created when missing.
source "$(dirname "$0")/lib.sh"

setup_library

for target in 4 10; do
    mnt=$T/mnt-$target
    mkdir -p "$mnt"
    mount_hlsfs "$SRC" "$mnt" -o "segment=$target"
    while IFS= read -r rel; do
        soft check_plan "$(variant_playlists "$mnt/$rel")" "$rel" "$target"
    done < <(good_videos)
    umount_hlsfs "$mnt"
done

# An empty config file changes nothing: the default 6 s plan.
: > "$T/empty.conf"
mount_hlsfs "$SRC" "$MNT" -o "config=$T/empty.conf"
check_plan "$(variant_playlists "$MNT/bframes.mp4")" bframes.mp4 6
umount_hlsfs "$MNT"

# INI keys, optionally under [hlsfs]; -o on the command line wins over the file.
printf '[hlsfs]\nsegment = 4\n' > "$T/four.conf"
mount_hlsfs "$SRC" "$MNT" -o "config=$T/four.conf"
check_plan "$(variant_playlists "$MNT/bframes.mp4")" bframes.mp4 4
umount_hlsfs "$MNT"
printf 'segment = 4\n' > "$T/four-nosection.conf"
mount_hlsfs "$SRC" "$MNT" -o "config=$T/four-nosection.conf,segment=10"
check_plan "$(variant_playlists "$MNT/bframes.mp4")" bframes.mp4 10
umount_hlsfs "$MNT"

# cache_dir is created when missing.
mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$T/not/yet/there"
[ -d "$T/not/yet/there" ] || fail "cache_dir=$T/not/yet/there was not created"
cat "$MNT/bframes.mp4/master.m3u8" > /dev/null
umount_hlsfs "$MNT"

# A config file that does not exist is a bad argument: one line, status 1, nothing mounted.
rc=0
timeout 10 "$HLSFS" -f -o "config=$T/no-such.conf" "$SRC" "$MNT" > "$T/out" 2> "$T/err" || rc=$?
if mountpoint -q "$MNT"; then fusermount3 -uz "$MNT"; fail "hlsfs mounted with a missing config file"; fi
[ "$rc" = 1 ] || fail "hlsfs with a missing config file exited $rc, want 1 (stderr: $(head -n 2 "$T/err" | tr '\n' ' '))"
[ "$(grep -c . "$T/err" || true)" = 1 ] || fail "hlsfs with a missing config file printed $(grep -c . "$T/err" || true) lines on stderr, want 1: $(head -n 3 "$T/err" | tr '\n' '|')"

pass
