#!/usr/bin/env bash
# t-mpegts: MPEG-TS sources. A .ts (H.264 with B-frames + AAC) whose timestamps start just before 2^33
# and wrap inside the file, an .m2ts (192-byte packets, 44.1 kHz AAC) also named .mts, and a .ts holding
# MPEG-2 video + MP2 (transcoded; the MP2 an AAC rendition): every index sample is exactly the demuxer's frame (unit/scan_frames);
# through Caddy each tree plays to the end in ffmpeg without a message; every segment opens on a
# keyframe; stat sizes = bytes read; H.264 passes through with the source's pictures and every audio
# frame; the output starts at 10 s (the source's first frame), runs on without a gap across the wrap,
# keeps the source's A/V offset and its duration; two mounts are byte-identical. A .ts with one damaged
# packet in the middle (a capture's) is served without the video frame of that PES, and the log names the
# packet's byte offset once. As if being written, cut at 30 places, each file's complete part is indexed as
# a prefix of the whole file's index (unit/scan_prefix), damaged.ts too. The .ts and .m2ts behind link files
# (tests/tools/httpfault.py) give the same bytes, each file sent about once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/remote-lib.sh"

need ffmpeg ffprobe python3
SCAN_FRAMES=$(dirname "$HLSFS")/tests/unit/scan_frames
[ -x "$SCAN_FRAMES" ] || fail "no $SCAN_FRAMES beside $HLSFS (built by ninja with hlsfs)"
SCAN_PREFIX=$(dirname "$HLSFS")/tests/unit/scan_prefix
[ -x "$SCAN_PREFIX" ] || fail "no $SCAN_PREFIX beside $HLSFS (built by ninja with hlsfs)"

ff() { ffmpeg -nostdin -v error -y "$@" || fail "ffmpeg could not make test media: ffmpeg $*"; }
pic() { printf 'testsrc2=size=320x240:rate=%s:duration=%s' "$1" "$2"; }
tone() { printf 'sine=frequency=%s:sample_rate=%s:duration=%s' "$1" "$2" "$3"; }

# 2^33 ticks of 90 kHz are 95443.7 s: starting at 95440 s, the timestamps wrap 3.7 s into the file.
ff -f lavfi -i "$(pic 30 10)" -f lavfi -i "$(tone 440 48000 10)" -c:v libx264 -profile:v high -bf 2 -g 60 \
    -pix_fmt yuv420p -c:a aac -b:a 96k -output_ts_offset 95440 "$SRC/wrap.ts"
ff -f lavfi -i "$(pic 25 6)" -f lavfi -i "$(tone 550 44100 6)" -c:v libx264 -profile:v main -g 50 \
    -pix_fmt yuv420p -c:a aac -b:a 96k -output_ts_offset 7200 -f mpegts -mpegts_m2ts_mode 1 "$SRC/disc.m2ts"
cp "$SRC/disc.m2ts" "$SRC/cam.mts"
ff -f lavfi -i "$(pic 25 4)" -f lavfi -i "$(tone 660 48000 4)" -c:v mpeg2video -q:v 4 -g 25 -c:a mp2 \
    "$SRC/mpeg2.ts"

# A copy of wrap.ts with the transport_error_indicator set on one video packet in its middle.
cp "$SRC/wrap.ts" "$SRC/damaged.ts"
BAD=$(python3 - "$SRC/damaged.ts" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
n = len(b) // 188
for k in range(n // 2, n):
    o = k * 188
    pid = (b[o + 1] & 0x1f) << 8 | b[o + 2]
    if b[o] == 0x47 and pid == 0x100 and not b[o + 1] & 0x40 and b[o + 3] & 0x10:
        b[o + 1] |= 0x80
        open(p, 'wb').write(b)
        print(o)
        break
EOF
)
[ -n "$BAD" ] || fail "test bug: no video packet to damage in damaged.ts"
EXPECT_LOG+=("^hlsfs: .*damaged\\.ts: ")

GOOD=(wrap.ts disc.m2ts cam.mts mpeg2.ts)
PASSTHROUGH=(wrap.ts disc.m2ts cam.mts)

for rel in "${GOOD[@]}"; do
    out=$("$SCAN_FRAMES" "$SRC/$rel" 2>&1) || fail "'$rel': $out"
    SCAN_FRAMES_SKEW=1 "$SCAN_FRAMES" "$SRC/$rel" > /dev/null 2>&1 &&
        fail "test bug: scan_frames finds '$rel' right even when it compares each frame with the next"
done

# As if being written: cut at 30 places (off packet boundaries), each file's complete part is indexed as a
# prefix of the whole file's index (the frame cut short left out, and damaged.ts's damaged PES in both).
for rel in wrap.ts disc.m2ts mpeg2.ts damaged.ts; do
    out=$("$SCAN_PREFIX" "$SRC/$rel" 30 2>&1) || fail "'$rel' being written: $out"
done

mount_hlsfs "$SRC" "$MNT"
start_caddy "$MNT"

is_passthrough() { local p; for p in "${PASSTHROUGH[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }
# The source's A/V offset in 90 kHz ticks: first audio PTS minus the smallest early video PTS, taken
# modulo 2^33 (the demuxer may hand either side of a wrap).
source_av_offset() {
    ffprobe -v error -show_entries packet=codec_type,pts -of csv=p=0 -read_intervals '%+2' "$1" |
        awk -F, '$1 == "video" && (v == "" || $2 < v) { v = $2 } $1 == "audio" && a == "" { a = $2 }
            END { d = (a - v) % 8589934592; if (d > 4294967296) d -= 8589934592; if (d < -4294967296) d += 8589934592; print d }'
}

# The source's duration in seconds: from its first presented video frame to the latest end of a video or
# audio frame (as the plan's last segment ends), times taken modulo 2^33 from the first video packet.
source_duration() {
    ffprobe -v error -show_entries packet=codec_type,pts,duration -of csv=p=0 "$1" |
        awk -F, 'function rel(t) { d = (t - v0) % 8589934592; if (d > 4294967296) d -= 8589934592;
                                   if (d < -4294967296) d += 8589934592; return d }
            $1 != "video" && $1 != "audio" { next }
            $1 == "video" && v0 == "" { v0 = $2 }
            v0 == "" { next }
            { r = rel($2); e = r + $3; if (e > end) end = e }
            $1 == "video" && (start == "" || r < start) { start = r }
            END { printf "%.3f\n", (end - start) / 90000 }'
}

check_good() {
    local rel=$1 v=$MNT/$1 out pl seg f key vs ve as rest want got first prev_ve n total dur ft
    plays_whole_and_exact "$rel"
    frame_hashes "$SRC/$rel" > "$T/src.md5"
    [ -s "$T/src.md5" ] || fail "test bug: '$rel' decodes to no frames"
    dur=$(source_duration "$SRC/$rel")
    # A frame's ticks, for video packets that give no duration (a transcoded rung's, in MPEG-TS).
    ft=$(ffprobe -v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 "$SRC/$rel" |
        awk -F/ 'NR == 1 && $1 > 0 { printf "%d\n", 90000 * $2 / $1 }')
    while IFS= read -r pl; do
        n=0 prev_ve=
        while IFS= read -r seg; do
            read -r key vs ve as rest < <(segment_times "$seg" "$ft")
            [ "$key" = 1 ] || fail "'${seg#"$MNT"/}': its first video packet is not a keyframe"
            if [ "$n" = 0 ]; then
                [ "$vs" = 900000 ] || fail "'${seg#"$MNT"/}': starts at PTS $vs, want 900000 (10 s: the source's first frame)"
            elif [ "${prev_ve:-}" != "$vs" ]; then
                fail "'${seg#"$MNT"/}': starts at PTS $vs, the segment before ends at $prev_ve (a gap or overlap)"
            fi
            prev_ve=$ve n=$((n + 1))
        done < <(segments_of "$pl")
        frame_hashes "$pl" > "$T/hls.md5"
        want=$(wc -l < "$T/src.md5") got=$(wc -l < "$T/hls.md5")
        [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': decodes to $got video frames, the source to $want"
        total=$(playlist_extinfs "$pl" | awk '{ s += $1 } END { printf "%.3f\n", s }')
        ftrue "($total - $dur) < 0.0015 && ($dur - $total) < 0.0015" ||
            fail "'${pl#"$MNT"/}': EXTINFs add up to $total s, the source's video lasts $dur s"
    done < <(variant_playlists "$v" | grep -v '/audio-')
    if is_passthrough "$rel"; then
        pl=$(passthrough_pl "$v")
        [ -n "$pl" ] || fail "'$rel': H.264 and AAC in MPEG-TS, but no variant passes it through (no iframes.m3u8)"
        frame_hashes "$pl" > "$T/hls.md5"
        if ! cmp -s "$T/src.md5" "$T/hls.md5"; then
            first=$(cmp "$T/src.md5" "$T/hls.md5" 2>&1 | sed -n 's/.*line \([0-9]*\).*/\1/p' || true)
            fail "'${pl#"$MNT"/}': decoded picture ${first:-?} differs from the source's (passthrough must not alter frames)"
        fi
        want=$(audio_packets "$SRC/$rel") got=$(audio_packets "$pl")
        [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': carries ${got:-no} audio frames, the source $want"
        seg=$(segments_of "$pl" | sed -n 1p)
        read -r key vs ve as rest < <(segment_times "$seg")
        want=$(source_av_offset "$SRC/$rel")
        got=$((as - vs))
        [ "$got" = "$want" ] || fail "'${seg#"$MNT"/}': audio starts $got ticks after video, in the source $want"
    else
        [ -z "$(passthrough_pl "$v")" ] || fail "'$rel' is MPEG-2 video, yet a variant claims to pass it through"
    fi
}
for rel in "${GOOD[@]}"; do soft check_good "$rel"; done

# MP2 (MPEG audio Layer II, which libavformat reports as MP3 in MPEG-TS) plays in no browser and on no Apple
# device: no variant carries it; it is an AAC rendition named by the master, as long as the source's.
check_mp2() {
    local v=$MNT/mpeg2.ts pl codecs want got
    [ "$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$SRC/mpeg2.ts" | sed '/^$/d' | sed -n 1p)" = mp2 ] ||
        fail "test bug: mpeg2.ts's audio is not MP2"
    while IFS= read -r pl; do
        case $pl in */audio-*) continue ;; esac
        got=$(ffprobe -v error -select_streams a -show_entries stream=codec_name -of csv=p=0 "$pl" | sed '/^$/d' | sort -u | tr '\n' ' ')
        [ -z "$got" ] || fail "'${pl#"$MNT"/}' carries audio ($got); MP2 must be a transcoded rendition"
    done < <(variant_playlists "$v")
    grep -q '^#EXT-X-MEDIA:TYPE=AUDIO,.*URI="audio-1/index.m3u8"' "$v/master.m3u8" ||
        fail "mpeg2.ts's master names no audio rendition: $(tr '\n' ' ' < "$v/master.m3u8")"
    codecs=$(sed -n 's/.*CODECS="\([^"]*\)".*/\1/p' "$v/master.m3u8" | sed -n 1p)
    [[ $codecs == *mp4a.40.2* && $codecs != *mp4a.40.34* ]] || fail "mpeg2.ts's CODECS should name AAC, not MP3: $codecs"
    got=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$v/audio-1/index.m3u8" | sed '/^$/d' | sed -n 1p)
    [ "$got" = aac ] || fail "mpeg2.ts's audio rendition is '$got', want aac"
    want=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$SRC/mpeg2.ts" | sed '/^$/d' | sed -n 1p)
    got=$(ffmpeg -nostdin -v error -i "$v/audio-1/index.m3u8" -map 0:a:0 -f null - -stats 2>&1 | sed -n 's/.*time=\([0-9:.]*\).*/\1/p' | tail -n 1 |
        awk -F: '{ print $1 * 3600 + $2 * 60 + $3 }')
    ftrue "${got:-0} > $want - 0.2 && ${got:-0} < $want + 0.2" || fail "mpeg2.ts's AAC rendition lasts ${got:-?} s, the source $want s"
}
soft check_mp2

# The damaged file is served without the PES of its damaged packet: one video frame fewer than wrap.ts, every
# audio frame, stat sizes = bytes read, to the end; one log line names the packet's offset.
check_damaged() {
    local v=$MNT/damaged.ts pl want got
    [ -f "$v/master.m3u8" ] || fail "'damaged.ts' is not served: it holds [$(ls -A "$v" | tr '\n' ' ')] $(cat "$v/error.txt" 2>/dev/null)"
    pl=$(passthrough_pl "$v")
    [ -n "$pl" ] || fail "'damaged.ts': no variant passes it through"
    while IFS= read -r seg; do
        [ "$(stat -c %s "$seg")" = "$(wc -c < "$seg")" ] || fail "'${seg#"$MNT"/}': stat size differs from the bytes read"
    done < <(segments_of "$pl")
    want=$(($(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$SRC/wrap.ts" | sed '/^$/d') - 1))
    got=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$pl" | sed '/^$/d')
    [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': carries $got video frames, want $want (wrap.ts's but the damaged one)"
    want=$(audio_packets "$SRC/wrap.ts") got=$(audio_packets "$pl")
    [ "$got" = "$want" ] || fail "'${pl#"$MNT"/}': carries ${got:-no} audio frames, the source $want"
    [ "$(grep -cF "damaged.ts: " "$DAEMON_LOG")" = 1 ] || fail "'damaged.ts': want one log line, got: $(grep -F damaged.ts "$DAEMON_LOG" | tr '\n' '|')"
    grep -F "damaged.ts: " "$DAEMON_LOG" | grep -q "damaged at byte $BAD .*left out: 1 of " ||
        fail "'damaged.ts': the log should name byte $BAD and the one PES left out: $(grep -F damaged.ts "$DAEMON_LOG")"
}
soft check_damaged

same_on_second_mount

# The same .ts and .m2ts behind link files (range requests to tests/tools/httpfault.py): the same bytes as
# the local mount, and the archive sends each file about once (the index and the segments share blocks).
mkdir -p "$T/www" "$T/links" "$T/mnt3"
cp "$SRC/wrap.ts" "$SRC/disc.m2ts" "$T/www/"
port=$(free_port)
start_server "$port" "$T/httpfault.out" "$T/httpfault.out" \
    python3 "$TESTS_DIR/tools/httpfault.py" --root "$T/www" --port "$port" --log "$T/httpfault.log"
for f in wrap.ts disc.m2ts; do printf 'http://127.0.0.1:%s/%s\n' "$port" "$f" > "$T/links/$f.url"; done
mount_hlsfs "$T/links" "$T/mnt3"
for f in wrap.ts disc.m2ts; do
    # Segment names carry a version of the source's identity (here an mtime, there an ETag): compared without it.
    video_sums "$MNT/$f" > "$T/local.sums"
    video_sums "$T/mnt3/$f" > "$T/remote.sums"
    cmp -s "$T/local.sums" "$T/remote.sums" ||
        fail "remote '$f' differs from the local mount: $(diff "$T/local.sums" "$T/remote.sums" | grep '^[<>]' | head -n 2 | tr '\n' ' ')"
    sent=$(awk -v p="/$f" '$2 == p { s += $5 } END { print s + 0 }' "$T/httpfault.log")
    size=$(stat -c %s "$T/www/$f")
    [ "$sent" -le $((size + 16)) ] || fail "remote '$f': the archive sent $sent bytes for a $size-byte file (read twice?)"
done
umount_hlsfs "$T/mnt3"
umount_hlsfs "$MNT"
pass
