#!/usr/bin/env bash
# t-lint: every playlist in the mount passes the strict linter (tests/lint/lint.js: hls-parser in strict
# mode plus the HLS-CHECKLIST rules: #EXTM3U first, VERSION 3, integer TARGETDURATION = ceil(max EXTINF),
# 3-decimal EXTINF, VOD + ENDLIST, master attributes, URIs that exist), and every master and media
# playlist says EXT-X-INDEPENDENT-SEGMENTS: the library's videos have closed GOPs.
source "$(dirname "$0")/lib.sh"

lint_ready
mount_library

mapfile -d '' lists < <(find "$MNT" -name '*.m3u8' -print0 | sort -z)
want=$(( $(good_videos | wc -l) * 2 ))
[ "${#lists[@]}" -ge "$want" ] || fail "found ${#lists[@]} playlists in the mount, want at least $want (master + media per video)"

if ! out=$(node "$TESTS_DIR/lint/lint.js" "${lists[@]}" 2>&1); then
    n=$(grep -c . <<<"$out" || true)
    fail "lint found $n problems; first: $(head -n 1 <<<"$out" | sed "s|$MNT/||")"
fi

for f in "${lists[@]}"; do
    case $f in */iframes.m3u8 | */subs-*/* ) continue ;; esac
    grep -qx '#EXT-X-INDEPENDENT-SEGMENTS' "$f" || fail "${f#$MNT/} does not say EXT-X-INDEPENDENT-SEGMENTS"
done

# The linter itself must be able to fail: a copy of a media playlist with a 2-decimal EXTINF and no
# ENDLIST must be rejected.
pl=$(find "$MNT" -name index.m3u8 | sed -n 1p)
mkdir -p "$T/bad"
sed -e 's/^#EXTINF:\([0-9]*\.[0-9][0-9]\)[0-9]*,/#EXTINF:\1,/' -e '/^#EXT-X-ENDLIST/d' "$pl" > "$T/bad/index.m3u8"
if node "$TESTS_DIR/lint/lint.js" "$T/bad/index.m3u8" > /dev/null 2>&1; then
    fail "lint.js accepted a broken playlist (test bug)"
fi

umount_hlsfs "$MNT"
pass
