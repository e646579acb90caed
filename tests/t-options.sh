#!/usr/bin/env bash
# t-options: -o segment=SECONDS moves the grid the segment plan is cut on (4 s and 10 s targets give the
# keyframe plans of those grids); -o config=FILE reads the same keys (INI, -o wins), accepts an empty file,
# refuses a missing one, checks its values as -o's and cannot name another; cache_dir is created when
# missing.
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

# refused WHAT WANT ARGS...: hlsfs ARGS is a bad argument: one stderr line matching the extended regex
# WANT, status 1, nothing mounted.
refused() {
    local what=$1 want=$2 rc=0 n; shift 2
    timeout 10 "$HLSFS" -f "$@" "$SRC" "$MNT" > "$T/out" 2> "$T/err" || rc=$?
    if mountpoint -q "$MNT"; then fusermount3 -uz "$MNT"; fail "hlsfs mounted with $what"; fi
    [ "$rc" = 1 ] || fail "hlsfs with $what exited $rc, want 1 (stderr: $(head -n 2 "$T/err" | tr '\n' ' '))"
    n=$(grep -c . "$T/err" || true)
    [ "$n" = 1 ] || fail "hlsfs with $what printed $n lines on stderr, want 1: $(head -n 3 "$T/err" | tr '\n' '|')"
    grep -Eq -- "$want" "$T/err" || fail "hlsfs with $what said '$(cat "$T/err")', want /$want/"
}

# A config file that does not exist is a bad argument.
refused "a missing config file" "no-such\.conf" -o "config=$T/no-such.conf"
# A value from the file is checked as one from -o, and named with its key; the file cannot name another.
printf 'workers = 0\n' > "$T/bad.conf"
refused "workers = 0 in the config file" "^hlsfs: workers=0: .*1 to 64" -o "config=$T/bad.conf"
refused "-o workers=0" "^hlsfs: workers=0: .*1 to 64" -o workers=0
printf 'config = %s\n' "$T/four.conf" > "$T/nested.conf"
refused "config = in the config file" "unknown key 'config'" -o "config=$T/nested.conf"

pass
