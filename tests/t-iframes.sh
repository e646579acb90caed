#!/usr/bin/env bash
# t-iframes: the passthrough variant has an I-frame playlist (Apple's authoring spec 6.1): the master names it
# in one EXT-X-I-FRAME-STREAM-INF; it holds one byte range per keyframe of the source, in order, each a whole
# number of TS packets inside its segment, starting a video PES whose access unit holds an IDR, and the
# segment's PAT and PMT followed by the range decode to exactly that one key picture; its durations add up
# to the media playlist's, also for an MPEG-TS cut in the middle of a GOP (its first keyframe shown after its
# audio starts). Rungs (transcoded, sizes known only as bounds) have none.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe python3 jq
mount_library

check_video() {
    local rel=$1 v=$MNT/$1 h pl ifr lines facts want
    h=$(media_fact "$rel" height)
    lines=$(grep -c '^#EXT-X-I-FRAME-STREAM-INF:' "$v/master.m3u8" || true)
    [ "$lines" = 1 ] || fail "'$rel/master.m3u8' has $lines EXT-X-I-FRAME-STREAM-INF lines, want 1"
    grep -q "^#EXT-X-I-FRAME-STREAM-INF:.*,URI=\"${h}p/iframes.m3u8\"\$" "$v/master.m3u8" ||
        fail "'$rel/master.m3u8': the I-frame stream is not ${h}p/iframes.m3u8: $(grep '^#EXT-X-I-FRAME' "$v/master.m3u8")"
    ifr=$v/${h}p/iframes.m3u8
    pl=$v/${h}p/index.m3u8
    [ -f "$ifr" ] || fail "'$rel/${h}p/iframes.m3u8' does not exist"
    for d in "$v"/*p/; do
        [ "$d" = "$v/${h}p/" ] && continue
        [ ! -e "$d/iframes.m3u8" ] || fail "'${d#"$MNT"/}iframes.m3u8' exists: a transcoded rung has no I-frame playlist"
    done
    want=$(ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 "$SRC/$rel" | grep -c '^K')
    # Every range, from the bytes: "N=<ranges> SUM=<ms> MEDIA=<ms> BAD=<first problem or ->"
    facts=$(python3 - "$ifr" "$pl" <<'PY'
import os, re, sys
ifr, pl = sys.argv[1], sys.argv[2]
d = os.path.dirname(ifr)
ranges, extinf, bad = [], [], "-"
for line in open(ifr):
    line = line.strip()
    m = re.match(r"#EXTINF:([0-9]+)\.([0-9]{3}),", line)
    if m: extinf.append(int(m.group(1)) * 1000 + int(m.group(2)))
    m = re.match(r"#EXT-X-BYTERANGE:([0-9]+)@([0-9]+)$", line)
    if m: cur = (int(m.group(1)), int(m.group(2)))
    if line and not line.startswith("#"): ranges.append((line, *cur))
media = sum(int(a) * 1000 + int(b) for a, b in re.findall(r"#EXTINF:([0-9]+)\.([0-9]{3}),", open(pl).read()))
last = None
for uri, n, off in ranges:
    data = open(os.path.join(d, uri), "rb").read()
    # the PMT's first elementary stream of type 0x1B is the video PID
    p = data[188:376]
    sec = p[4 + 1 + p[4]:] if p[1] & 0x40 else b""
    vpid = None
    i = 12 + (((sec[10] & 0x0F) << 8) | sec[11]) if len(sec) > 12 else 0
    while vpid is None and i + 5 <= len(sec):
        if sec[i] == 0x1B: vpid = ((sec[i + 1] & 0x1F) << 8) | sec[i + 2]
        i += 5 + (((sec[i + 3] & 0x0F) << 8) | sec[i + 4])
    if n == 0 or n % 188 or off % 188 or off + n > len(data): bad = "range_%d@%d_of_%s_(%d_bytes)" % (n, off, uri, len(data)); break
    if last and (uri, off) <= last: bad = "range_%d@%d_of_%s_out_of_order" % (n, off, uri); break
    last = (uri, off + n)
    q = data[off:off + 188]
    pid = ((q[1] & 0x1F) << 8) | q[2]
    if q[0] != 0x47 or pid != vpid or not (q[1] & 0x40): bad = "range_at_%d_of_%s_does_not_start_a_video_PES" % (off, uri); break
    es = bytearray()
    for k in range(off, off + n, 188):
        t = data[k:k + 188]
        if ((t[1] & 0x1F) << 8 | t[2]) != vpid: continue
        s = 4 + (1 + t[4] if t[3] & 0x20 else 0)
        es += t[s:]
    es = es[9 + es[8]:] if len(es) > 9 else b""
    types = [es[j + 3] & 0x1F for j in range(len(es) - 3) if es[j:j + 3] == b"\0\0\1"]
    if 5 not in types: bad = "range_at_%d_of_%s_holds_no_IDR_(NAL_types_%s)" % (off, uri, types[:8]); break
print("N=%d SUM=%d MEDIA=%d BAD=%s" % (len(ranges), sum(extinf), media, bad))
PY
)
    local N SUM MEDIA BAD
    eval "$facts"
    [ "$BAD" = - ] || fail "'$rel/${h}p/iframes.m3u8': $BAD"
    [ "$N" = "$want" ] || fail "'$rel/${h}p/iframes.m3u8' has $N I-frames, the source $want keyframes"
    [ $((SUM - MEDIA)) -le 1 ] && [ $((MEDIA - SUM)) -le 1 ] ||
        fail "'$rel/${h}p/iframes.m3u8' lasts $SUM ms, its media playlist $MEDIA ms"
    # The first two I-frames and the last, decoded after their segment's PAT and PMT: one key picture each.
    local k n off uri frames
    for k in 1 2 "$N"; do
        read -r n off uri < <(awk -v k="$k" '/^#EXT-X-BYTERANGE:/ { split(substr($0, 18), a, "@"); n = a[1]; o = a[2] }
            !/^#/ && NF { if (++i == k) { print n, o, $0; exit } }' "$ifr")
        { head -c 376 "$v/${h}p/$uri"; slice "$v/${h}p/$uri" "$off" "$n"; } > "$T/iframe.ts"
        frames=$(ffprobe -v error -select_streams v:0 -show_entries frame=key_frame,pict_type -of json "$T/iframe.ts" |
            jq -c '[.frames[] | "\(.key_frame),\(.pict_type)"]')
        [ "$frames" = '["1,I"]' ] || fail "'$rel': I-frame $k ($n@$off of $uri) decodes to $frames, want one key picture [\"1,I\"]"
    done
}

while IFS= read -r rel; do
    # only a passthrough has I-frames: H.264 sources
    [ "$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$SRC/$rel")" = h264 ] || continue
    soft check_video "$rel"
done < <(good_videos)

umount_hlsfs "$MNT"

# An MPEG-TS capture cut in the middle of a GOP: its first keyframe is shown about 1 s after its first audio,
# where the timeline starts. The I-frame playlist still lasts as long as the media playlist (players place
# I-frames by adding up EXTINFs from the start), its first I-frame standing from there.
mkdir -p "$T/cut"
make_video "$T/whole.ts" -f lavfi -i testsrc2=size=320x240:rate=25:duration=8 -f lavfi -i sine=d=8 \
    -c:v libx264 -preset ultrafast -g 50 -pix_fmt yuv420p -c:a aac -b:a 64k -f mpegts
python3 - "$T/whole.ts" "$T/cut/cut.ts" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
# from the first packet of the video PES that starts 1.4 s in (35 frames): no keyframe until 2 s
starts = [k for k in range(0, len(b), 188) if (b[k + 1] & 0x1f) << 8 | b[k + 2] == 0x100 and b[k + 1] & 0x40]
open(sys.argv[2], 'wb').write(b[starts[35]:])
PY
mount_hlsfs "$T/cut" "$MNT"
pl=$(passthrough_pl "$MNT/cut.ts")
[ -n "$pl" ] || fail "cut.ts: no passthrough variant: $(ls "$MNT/cut.ts" | tr '\n' ' ') $(cat "$MNT/cut.ts/error.txt" 2>/dev/null)"
lead=$(segment_times "$(segments_of "$pl" | sed -n 1p)" | awk '{ print $2 - 900000 }')
[ "$lead" -ge 9000 ] || fail "test bug: cut.ts's first keyframe is shown $lead ticks after its timeline starts, want a lead"
sum_ms() { grep -o '^#EXTINF:[0-9.]*' "$1" | cut -d: -f2 | awk '{ split($1, a, "."); s += a[1] * 1000 + a[2] } END { print s }'; }
isum=$(sum_ms "$(dirname "$pl")/iframes.m3u8") msum=$(sum_ms "$pl")
[ $((isum - msum)) -le 1 ] && [ $((msum - isum)) -le 1 ] ||
    fail "cut.ts: its I-frame playlist lasts $isum ms, its media playlist $msum ms (the first keyframe is $lead ticks in)"
umount_hlsfs "$MNT"
pass
