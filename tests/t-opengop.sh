#!/usr/bin/env bash
# t-opengop: EXT-X-INDEPENDENT-SEGMENTS is said only when it holds (RFC 8216 4.3.5.1; HLS-CHECKLIST: when
# every segment starts with an IDR). An MP4 of x264 with open GOPs marks its non-IDR I pictures as sync
# samples, and the passthrough cuts there: the pictures after such a keyframe in decode order but shown
# before it (leading pictures) refer to the previous segment, so neither its master nor its media playlist
# may say the tag. The same video with closed GOPs keeps it. The evidence is read from the segments
# themselves with ffprobe: a passthrough segment of the open-GOP video holds a picture shown before its
# first one; no segment of the closed-GOP video does.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe
need_hlsfs
lint_ready

gen() {  # gen NAME X264_PARAMS
    make_video "$SRC/$1.mp4" -f lavfi -i testsrc2=size=1280x720:rate=30:duration=20 -f lavfi -i sine=d=20 \
        -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 3 -x264-params "$2" -c:a aac -b:a 64k
}
gen open "open-gop=1:keyint=60:min-keyint=60:scenecut=0"
gen closed "keyint=60:min-keyint=60:scenecut=0"

mount_hlsfs "$SRC" "$MNT" -o "ladder=360:800"

# leading PLAYLIST: how many of its segments (after the first) hold a picture shown before the first one.
leading() {
    local n=0 seg
    while IFS= read -r seg; do
        ffprobe -v error -select_streams v -show_entries packet=pts,flags -of csv=p=0 "$seg" |
            awk -F, '$1 !~ /^[0-9]+$/ { next } !seen { first = $1 + 0; seen = 1; next } $2 ~ /K/ { exit }
                     $1 + 0 < first { found = 1; exit } END { exit !found }' &&
            n=$((n + 1))
    done < <(segments_of "$1" | tail -n +2)
    echo "$n"
}

for v in open closed; do
    dir=$MNT/$v.mp4
    [ -f "$dir/master.m3u8" ] || fail "$v.mp4 has no master.m3u8: $(ls "$dir" | tr '\n' ' ')"
    pass_dir=$(sed -n '/^#EXT-X-STREAM-INF/{n;p}' "$dir/master.m3u8" | grep '^720p/' | cut -d/ -f1)
    [ "$pass_dir" = 720p ] || fail "$v.mp4: no 720p passthrough in its master"
    n=$(leading "$dir/720p/index.m3u8")
    for pl in "$dir/master.m3u8" "$dir/720p/index.m3u8" "$dir/360p/index.m3u8"; do
        if grep -qx '#EXT-X-INDEPENDENT-SEGMENTS' "$pl"; then said=yes; else said=no; fi
        case $v in
        open)
            [ "$n" -gt 0 ] || fail "test bug: no segment of open.mp4's passthrough holds a leading picture"
            [ "$said" = no ] || fail "${pl#$MNT/} says EXT-X-INDEPENDENT-SEGMENTS, but $n passthrough segments start at an open GOP"
            ;;
        closed)
            [ "$n" = 0 ] || fail "closed.mp4: $n passthrough segments hold a picture shown before their first"
            [ "$said" = yes ] || fail "${pl#$MNT/} does not say EXT-X-INDEPENDENT-SEGMENTS, though every segment is independent"
            ;;
        esac
    done
done
# Playlists without the tag are still valid ones.
out=$(node "$TESTS_DIR/lint/lint.js" "$MNT/open.mp4/master.m3u8" "$MNT/open.mp4"/*/index.m3u8 2>&1) || fail "lint: $out"
umount_hlsfs "$MNT"
pass
