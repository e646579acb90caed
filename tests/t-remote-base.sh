#!/usr/bin/env bash
# t-remote-base: an http:// base URL as SOURCE: the tree is exactly the videos its hlsfs.list names (folders
# implied, names percent-encoded into URLs, '..', '.' and absolute lines ignored, other files hidden), each
# byte-identical to a local mount of the same folder; with the archive gone, a remount on the same cache_dir
# still lists the tree and reads the cached segments.
source "$(dirname "$0")/lib.sh"
# shellcheck source=remote-lib.sh
source "$(dirname "$0")/remote-lib.sh"

need nginx curl ffmpeg cmp sha256sum
need_hlsfs

COMMON=ladder=none,segment=4,prefetch=0,remote_timeout=2,remote_retries=1

# --- the archive: nginx serving $WWW; the base is $WWW/base --------------------------------------------------
MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
WWW=$T/www
B=$WWW/base
mkdir -p "$B/sub/deep dir"
cp "$MEDIA/lib/bframes.mp4" "$B/a.mp4"
cp "$MEDIA/lib/faststart.mp4" "$B/sub/b.mp4"
cp "$MEDIA/lib/clip.mov" "$B/sub/deep dir/Café c.mov"
cp "$MEDIA/lib/mp3audio.mp4" "$B/sub/odd #1?.mp4"
# On the server, never to be shown: not in the manifest, or named by a line that must be ignored.
cp "$MEDIA/lib/LOUD.MP4" "$B/unlisted.mp4"
cp "$MEDIA/lib/LOUD.MP4" "$WWW/secret.mp4"
cp "$MEDIA/lib/LOUD.MP4" "$WWW/abs.mp4"
cp "$MEDIA/lib/LOUD.MP4" "$B/abs.mp4"
cp "$MEDIA/lib/LOUD.MP4" "$B/dot.mp4"
cp "$MEDIA/lib/LOUD.MP4" "$B/up.mp4"
printf 'not a video\n' > "$B/notes.txt"
cat > "$B/hlsfs.list" <<'EOF'
# hlsfs manifest of the test archive

a.mp4
sub/b.mp4
sub/deep dir/Café c.mov
sub/odd #1?.mp4
notes.txt
../secret.mp4
/abs.mp4
./dot.mp4
sub/../up.mp4
EOF
VIDEOS=("a.mp4" "sub/b.mp4" "sub/deep dir/Café c.mov" "sub/odd #1?.mp4")
NEVER=(secret.mp4 abs.mp4 dot.mp4 up.mp4 unlisted.mp4 notes.txt)

start_nginx "$WWW"
NGLOG=$T/nginx/access.log
BASE=http://127.0.0.1:$HTTP_PORT/base/
curl -sf -o /dev/null "${BASE}hlsfs.list" || fail "nginx does not serve ${BASE}hlsfs.list"
: > "$NGLOG"

# check_tree MNT WHEN: the folders hold exactly the manifest's videos and the folders they imply.
check_tree() {
    local m=$1 when=$2 got want d
    for d in "" "sub" "sub/deep dir"; do
        got=$(ls -A "$m/$d" | sort | tr '\n' '|') || fail "$when: ls of '$d' in the mount failed"
        case $d in
            "") want="a.mp4|sub|" ;;
            sub) want="b.mp4|deep dir|odd #1?.mp4|" ;;
            "sub/deep dir") want="Café c.mov|" ;;
        esac
        want=$(tr '|' '\n' <<<"$want" | sed '/^$/d' | sort | tr '\n' '|')
        [ "$got" = "$want" ] || fail "$when: folder '${d:-/}' lists [$got], want [$want] (the manifest's entries)"
    done
    local n
    for n in "${NEVER[@]}"; do
        [ -z "$(find "$m" -name "$n" -print -quit)" ] || fail "$when: '$n' appears in the mount; the manifest does not name it as a video (or names it with a path that must be ignored)"
    done
    for d in "${VIDEOS[@]}"; do
        [ -f "$m/$d/master.m3u8" ] || fail "$when: '$d' has no master.m3u8"
    done
}

# Reference: a local mount of the same files.
local_reference "$B" "$COMMON"

# --- online -------------------------------------------------------------------------------------------------
mount_hlsfs "$BASE" "$MNT" -o "$COMMON,cache_dir=$CACHE"
check_tree "$MNT" "base URL"
same_as_local "$MNT" "base URL"
sleep 0.3
grep -q '"GET /base/hlsfs.list ' "$NGLOG" || fail "nginx's log shows no GET of /base/hlsfs.list"
bad=$(awk '{ print $7 }' "$NGLOG" | grep -E '/(secret|abs|dot|up|unlisted)\.mp4$|/notes\.txt$|/\.\./|/\./' || true)
[ -z "$bad" ] || fail "the daemon asked the archive for what the manifest does not name as a video: $(head -n 3 <<<"$bad" | tr '\n' ' ')"
grep -q '"GET /base/sub/odd%20%231%3F\.mp4 ' "$NGLOG" ||
    fail "no GET of /base/sub/odd%20%231%3F.mp4 in nginx's log: 'odd #1?.mp4' was not percent-encoded into its URL ($(grep -F odd "$NGLOG" | head -n 1))"
umount_hlsfs "$MNT"

# --- the archive gone: a remount on the same cache_dir lists from the cache and reads cached segments -------
stop_servers
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${BASE}hlsfs.list" || true)
[ "$code" = 000 ] || fail "test bug: the archive still answers ($code) after nginx was stopped"
# Lines that the archive being away may cause (naming the archive, its manifest or a video).
EXPECT_LOG+=('^hlsfs: .*(127\.0\.0\.1|hlsfs\.list|a\.mp4|b\.mp4|Café c\.mov|odd #1\?\.mp4)')
t0=$SECONDS
mount_hlsfs "$BASE" "$MNT" -o "$COMMON,cache_dir=$CACHE"
check_tree "$MNT" "archive away, remount on the same cache_dir"
same_as_local "$MNT" "archive away, remount on the same cache_dir"
say "remote-base: offline remount listed and read ${#VIDEOS[@]} videos from the cache in $((SECONDS - t0)) s"
umount_hlsfs "$MNT"
pass
