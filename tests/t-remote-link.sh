#!/usr/bin/env bash
# t-remote-link: link files (NAME.mp4.url) to videos on a real nginx are served as the files themselves:
# listing contacts nobody, the first segment costs far less than the file, the tree is byte-identical to a
# local mount of the same files, a re-read and a remount on the same cache_dir fetch no media bytes again,
# file://, ftp://, gopher://, relative and unconfigured s3:// links are refused with only error.txt, and
# remote_prefetch=whole fetches the rest of a played file in the background.
source "$(dirname "$0")/lib.sh"

need nginx curl ffmpeg ffprobe cmp sha256sum
need_hlsfs

# The same options for every mount (remote and local): no transcoding, 4 s segments, no segment prefetch
# (so reading segment 0 fetches segment 0 only), identities trusted for an hour (no revalidation here).
COMMON=ladder=none,segment=4,prefetch=0,remote_revalidate=3600

# --- media on the archive -----------------------------------------------------------------------------
# A 32 s 640x360 video with grain (about 16 MB: 16 blocks of 1 MiB, 8 segments of 4 s), written by ffmpeg
# with its moov at the end, and the same remuxed with +faststart; plus the library's bframes.mp4 (B-frames,
# moov at the end, smaller than one block).
WWW=$T/www
LOCAL=$T/local
mkdir -p "$WWW/media" "$LOCAL"
_ff -f lavfi -i "testsrc2=size=640x360:rate=30:duration=32,noise=alls=20:allf=t" -f lavfi -i "sine=f=440:d=32" \
    -c:v libx264 -preset ultrafast -crf 30 -g 30 -keyint_min 30 -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 64k "$WWW/media/slow.mp4" || fail "ffmpeg could not generate the test video"
_ff -i "$WWW/media/slow.mp4" -c copy -movflags +faststart "$WWW/media/fast.mp4" ||
    fail "ffmpeg could not remux the test video with +faststart"
case $(mp4_top_boxes "$WWW/media/slow.mp4" | tr '\n' ' ') in *mdat*moov*) ;; *) fail "slow.mp4 should have its moov after mdat" ;; esac
case $(mp4_top_boxes "$WWW/media/fast.mp4" | tr '\n' ' ') in *moov*mdat*) ;; *) fail "fast.mp4 should have its moov before mdat" ;; esac
MEDIA=$(media_ensure) || fail "could not generate test media (see stderr)"
cp "$MEDIA/lib/bframes.mp4" "$WWW/media/bframes.mp4"
# The local twin: the same files in a plain folder, and real.mp4 (which shadows its link in $SRC).
cp "$WWW/media/slow.mp4" "$WWW/media/fast.mp4" "$WWW/media/bframes.mp4" "$LOCAL/"
cp "$MEDIA/lib/faststart.mp4" "$LOCAL/real.mp4"
REMOTE_VIDEOS=(fast.mp4 slow.mp4 bframes.mp4)

start_nginx "$WWW"
NGLOG=$T/nginx/access.log
BASE=http://127.0.0.1:$HTTP_PORT/media
curl -sf -o /dev/null "$BASE/fast.mp4" || fail "nginx does not serve $BASE/fast.mp4"
: > "$NGLOG"   # nginx appends to the same open file: start the count from zero

# --- the link folder -------------------------------------------------------------------------------------
printf '# the grainy test video, moov first\n\n   %s/fast.mp4  \n' "$BASE" > "$SRC/fast.mp4.url"
printf '%s/slow.mp4\n' "$BASE" > "$SRC/slow.mp4.url"
printf '%s/bframes.mp4\n' "$BASE" > "$SRC/bframes.mp4.url"
# Refused: every scheme but http/https, a relative path, s3:// without S3 settings.
printf 'file:///etc/passwd\n' > "$SRC/passwd.mp4.url"
printf 'ftp://127.0.0.1:%s/media/fast.mp4\n' "$HTTP_PORT" > "$SRC/ftp.mp4.url"
printf 'gopher://127.0.0.1:%s/media/fast.mp4\n' "$HTTP_PORT" > "$SRC/gopher.mp4.url"
printf 'media/fast.mp4\n' > "$SRC/relative.mp4.url"
printf 's3://bucket/media/fast.mp4\n' > "$SRC/s3.mp4.url"
REFUSED=(passwd.mp4 ftp.mp4 gopher.mp4 relative.mp4 s3.mp4)
# A real file beside its link wins; the link's target must never be asked for.
cp "$MEDIA/lib/faststart.mp4" "$SRC/real.mp4"
printf '%s/real-remote.mp4\n' "$BASE" > "$SRC/real.mp4.url"
for v in "${REFUSED[@]}"; do EXPECT_LOG+=("^hlsfs: .*$(ere_quote "$v")"); done

OPTS=(-o "$COMMON,cache_dir=$CACHE")
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
MNT_LOG=$DAEMON_LOG

# nginx writes a request's line when it has sent the answer; give the last one a moment.
settle() { sleep 0.3; }
log_lines() { wc -l < "$NGLOG"; }
# bytes_for PATH [FROM]: body bytes nginx sent for PATH (combined format: field 7 the path, 10 the bytes)
# in the log lines after line FROM.
bytes_for() { awk -v p="$1" -v from="${2:-0}" 'NR > from && $7 == p { s += $10 } END { printf "%d\n", s }' "$NGLOG"; }
# media_gets FROM: the requests after line FROM that carried media bytes: GETs with a body of more than one
# byte (an identity check is a HEAD, or at most a one-byte range).
media_gets() { awk -v from="$1" 'NR > from && $6 == "\"GET" && $10 > 1' "$NGLOG"; }

# --- (1) the listing: a folder per link, the .url files hidden, and nobody contacted ------------------------
got=$(ls -A "$MNT" | sort | tr '\n' ' ')
want=$(printf '%s\n' "${REMOTE_VIDEOS[@]}" "${REFUSED[@]}" real.mp4 | sort | tr '\n' ' ')
[ "$got" = "$want" ] || fail "the link folder lists [$got], want [$want] (one folder per link, no .url file)"
settle
[ "$(log_lines)" = 0 ] || fail "listing a folder of link files contacted the archive: $(head -n 2 "$NGLOG" | tr '\n' '|')"
for v in "${REMOTE_VIDEOS[@]}" "${REFUSED[@]}" real.mp4; do
    [ -d "$MNT/$v" ] || fail "'$v' is not a folder in the mount"
done

# --- (2) master, playlists and segment 0 cost far less than the file ---------------------------------------
for v in fast.mp4 slow.mp4; do
    size=$(stat -c %s "$WWW/media/$v")
    cat "$MNT/$v/master.m3u8" > /dev/null || fail "reading $v/master.m3u8 failed"
    pl=$(variant_playlists "$MNT/$v" | sed -n 1p)
    while IFS= read -r p; do cat "$p" > /dev/null || fail "reading ${p#"$MNT"/} failed"; done < <(variant_playlists "$MNT/$v")
    mapfile -t segs < <(segments_of "$pl")
    [ "${#segs[@]}" -ge 4 ] || fail "$v: ${#segs[@]} segments of 4 s in a 32 s video, want at least 4"
    cat "${segs[0]}" > /dev/null || fail "reading ${segs[0]#"$MNT"/} failed"
    settle
    got=$(bytes_for "/media/$v")
    [ "$got" -gt 0 ] || fail "$v: nginx's log shows no bytes sent for /media/$v after reading its segment 0"
    pct=$((got * 100 / size))
    say "remote-link: $v: master, playlists and segment 0 of ${#segs[@]} cost $got of $size bytes ($pct%)"
    [ "$pct" -lt 50 ] ||
        fail "$v: reading master, playlists and segment 0 (of ${#segs[@]}) made nginx send $got bytes, $pct% of the $size-byte file; want < 50% (only the blocks needed)"
done

# --- (4) a second read of the same segment asks the archive for nothing ---------------------------------
n0=$(log_lines)
seg0=$(segments_of "$(variant_playlists "$MNT/slow.mp4" | sed -n 1p)" | sed -n 1p)
cat "$seg0" > /dev/null || fail "reading ${seg0#"$MNT"/} again failed"
settle
n1=$(log_lines)
[ "$n1" = "$n0" ] || fail "a second read of ${seg0#"$MNT"/} made $((n1 - n0)) more request(s) to nginx: $(tail -n +$((n0 + 1)) "$NGLOG" | head -n 2 | tr '\n' '|')"

# --- (3) the remote tree is byte-identical to a local mount's ------------------------------------------
# video_sums (remote-lib.sh): segment names and playlists compared without the version, which names the
# identity (a remote's ETag, a local file's time).
# shellcheck source=remote-lib.sh
source "$(dirname "$0")/remote-lib.sh"
mkdir -p "$T/mnt-local"
mount_hlsfs "$LOCAL" "$T/mnt-local" -o "$COMMON"
for v in "${REMOTE_VIDEOS[@]}" real.mp4; do
    (cd "$T/mnt-local/$v" && find . ! -name cytube.json -printf '%p %y %s\n' | unversion | sort) > "$T/list-local-$v"
    (cd "$MNT/$v" && find . ! -name cytube.json -printf '%p %y %s\n' | unversion | sort) > "$T/list-remote-$v"
    diff -q "$T/list-local-$v" "$T/list-remote-$v" > /dev/null ||
        fail "$v: the remote folder lists other files or sizes than the local mount's: $(diff "$T/list-local-$v" "$T/list-remote-$v" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
    video_sums "$T/mnt-local/$v" > "$T/sums-local-$v"
    video_sums "$MNT/$v" > "$T/sums-remote-$v"
    if ! diff -q "$T/sums-local-$v" "$T/sums-remote-$v" > /dev/null; then
        f=$(diff "$T/sums-local-$v" "$T/sums-remote-$v" | sed -n 's/^< [0-9a-f]*  \.\///p' | sed -n 1p || true)
        fail "$v: '$f' differs between the remote (link) mount and a local mount of the same file"
    fi
done
umount_hlsfs "$T/mnt-local"
nseg=$(cat "$T"/sums-remote-{fast,slow,bframes}.mp4 | grep -c '\.ts$' || true)
settle
if grep -F 'real-remote' "$NGLOG" > /dev/null; then fail "real.mp4 sits beside real.mp4.url, yet its link's target was requested: $(grep -m1 -F real-remote "$NGLOG")"; fi

# --- (6) refused links: only error.txt, saying so; nothing of /etc/passwd anywhere ---------------------------
check_refused() {
    local v=$1 got text
    got=$(ls -A "$MNT/$v" | tr '\n' ' ')
    [ "$got" = "error.txt " ] || fail "'$v' (link: $(head -c 60 "$SRC/$v.url" | tr -d '\n')) holds [$got], want only error.txt"
    text=$(cat "$MNT/$v/error.txt") || fail "reading $v/error.txt failed"
    [[ ${text,,} == *refused* ]] || fail "'$v/error.txt' should say the link is refused: '$text'"
}
for v in "${REFUSED[@]}"; do soft check_refused "$v"; done
# Lines of /etc/passwd long enough to mean something if found.
awk 'length($0) >= 12' /etc/passwd > "$T/passwd-lines"
[ -s "$T/passwd-lines" ] || fail "test bug: /etc/passwd has no line of 12 characters or more to look for"
hits=$(grep -rlaF -f "$T/passwd-lines" "$MNT" 2>/dev/null || true)
[ -z "$hits" ] || fail "bytes of /etc/passwd appear in the mount, in $(sed -n 1p <<<"$hits" | sed "s|^$MNT/||")"
if grep -aF -f "$T/passwd-lines" "$MNT_LOG" > /dev/null; then fail "bytes of /etc/passwd appear in the daemon log"; fi

umount_hlsfs "$MNT"
# One log line per refused link, however often it was looked at.
for v in "${REFUSED[@]}"; do soft logged_once "$MNT_LOG" "$v"; done

# --- (5) a remount on the same cache_dir reads every segment again without fetching a media byte ----------
n0=$(log_lines)
mount_hlsfs "$SRC" "$MNT" "${OPTS[@]}"
for v in "${REMOTE_VIDEOS[@]}"; do
    video_sums "$MNT/$v" > "$T/sums-again-$v"
    diff -q "$T/sums-local-$v" "$T/sums-again-$v" > /dev/null ||
        fail "$v: after the remount, '$(diff "$T/sums-local-$v" "$T/sums-again-$v" | sed -n 's/^> [0-9a-f]*  \.\///p' | sed -n 1p)' has other bytes than the local mount's"
done
settle
fetched=$(media_gets "$n0")
[ -z "$fetched" ] ||
    fail "after a remount on the same cache_dir, reading every segment again made $(grep -c . <<<"$fetched") GET(s) for media bytes (every block was cached): $(head -n 2 <<<"$fetched" | tr '\n' '|')"
others=$(awk -v from="$n0" 'NR > from' "$NGLOG" | grep -c . || true)

# --- (7) the stats saw the block cache at work ---------------------------------------------------------
hits=$(stat_of "$MNT" hlsfs_remote_block_hits_total)
misses=$(stat_of "$MNT" hlsfs_remote_block_misses_total)
[ "$hits" -gt 0 ] || fail "hlsfs_remote_block_hits_total is $hits after re-reading $nseg cached remote segments, want > 0"
[ "$misses" = 0 ] || fail "hlsfs_remote_block_misses_total is $misses after the remount, want 0: every block was in the cache"
umount_hlsfs "$MNT"
say "remote-link: remount read $nseg segments: $hits block hits, 0 misses, $others request(s) without media bytes (identity checks)"

# --- remote_prefetch=whole: after one segment is read, the rest of the file arrives in the background -------
# (a fresh cache_dir: nothing of fast.mp4 is cached there yet)
mkdir -p "$T/cache-whole"
n0=$(log_lines)
mount_hlsfs "$SRC" "$MNT" -o "$COMMON,remote_prefetch=whole,cache_dir=$T/cache-whole"
size=$(stat -c %s "$WWW/media/fast.mp4")
seg0=$(segments_of "$(variant_playlists "$MNT/fast.mp4" | sed -n 1p)" | sed -n 1p)
cat "$seg0" > /dev/null || fail "reading ${seg0#"$MNT"/} with remote_prefetch=whole failed"
whole_fetched() { [ "$(bytes_for /media/fast.mp4 "$n0")" -ge "$size" ]; }
wait_until 20 whole_fetched ||
    fail "remote_prefetch=whole: 20 s after segment 0 of fast.mp4 was read, nginx had sent $(bytes_for /media/fast.mp4 "$n0") of its $size bytes, want all of them"
settle
n1=$(log_lines)
video_sums "$MNT/fast.mp4" > "$T/sums-whole-fast.mp4"
diff -q "$T/sums-local-fast.mp4" "$T/sums-whole-fast.mp4" > /dev/null || fail "remote_prefetch=whole: fast.mp4's tree differs from the local mount's"
settle
fetched=$(media_gets "$n1")
[ -z "$fetched" ] ||
    fail "remote_prefetch=whole: after the whole file was prefetched, reading fast.mp4's tree still made $(grep -c . <<<"$fetched") GET(s) for media bytes: $(head -n 2 <<<"$fetched" | tr '\n' '|')"
umount_hlsfs "$MNT"

stop_servers
pass
