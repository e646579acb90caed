#!/usr/bin/env bash
# t-ladder-codecs: every transcoded variant is what it claims: stat size = bytes read, ffmpeg decodes it
# without a message to the source's frame count and duration, each segment opens with an IDR, the padding is
# well-formed null packets after all the real ones, CODECS in the master is the SPS (avc1.PPCCLL, also with
# profile=baseline/high), and the TS structure passes tools/tscheck.js. H.264 High 10 has no passthrough:
# every rung is transcoded to 8 bits.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/ladder-lib.sh"

LADDER=360:600/240:300/144:150

need ffmpeg ffprobe jq python3 node
src_h480
src_hevc
src_mpeg4
src_hi10

# ts_facts SEG: one line about an MPEG-TS segment, from its bytes:
#   "NULLS=<null packets> NULLERR=<first malformed or misplaced null packet, or ->
#    SPS=<the 3 bytes after the NAL header of the first SPS, hex, or -> IDR=<1 when the first video access
#    unit holds an IDR slice (NAL type 5)> FIRSTNAL=<NAL type of the first NAL of that access unit>"
ts_facts() {
    python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
out = {"NULLS": 0, "NULLERR": "-", "SPS": "-", "IDR": 0, "FIRSTNAL": "-"}
if len(d) == 0 or len(d) % 188:
    out["NULLERR"] = "size_%d_not_a_multiple_of_188" % len(d)
n = len(d) // 188
pmt = vpid = None
last_real = -1
nulls = []
au = bytearray()
pes = 0
for i in range(n):
    p = d[i * 188:(i + 1) * 188]
    pid = ((p[1] & 0x1F) << 8) | p[2]
    if pid == 0x1FFF:
        nulls.append(i)
        if out["NULLERR"] == "-" and not (p[0] == 0x47 and p[1] == 0x1F and p[2] == 0xFF and (p[3] & 0x30) == 0x10):
            out["NULLERR"] = "packet_%d_header_%s" % (i, p[:4].hex())
        continue
    last_real = i
    afc = (p[3] >> 4) & 3
    if not afc & 1:
        continue
    off = 4 + (1 + p[4] if afc & 2 else 0)
    pl = p[off:]
    pusi = p[1] & 0x40
    if pid == 0 and pusi:
        sec = pl[1 + pl[0]:]
        slen = ((sec[1] & 0x0F) << 8) | sec[2]
        for j in range(8, 3 + slen - 4, 4):
            if (sec[j] << 8 | sec[j + 1]) != 0:
                pmt = ((sec[j + 2] & 0x1F) << 8) | sec[j + 3]
    elif pid == pmt and pusi:
        sec = pl[1 + pl[0]:]
        slen = ((sec[1] & 0x0F) << 8) | sec[2]
        j = 12 + (((sec[10] & 0x0F) << 8) | sec[11])
        while j < 3 + slen - 4:
            if sec[j] == 0x1B and vpid is None:
                vpid = ((sec[j + 1] & 0x1F) << 8) | sec[j + 2]
            j += 5 + (((sec[j + 3] & 0x0F) << 8) | sec[j + 4])
    elif pid == vpid:
        if pusi:
            pes += 1
            if pes == 1:
                au += pl[9 + pl[8]:]
        elif pes == 1:
            au += pl
out["NULLS"] = len(nulls)
if out["NULLERR"] == "-" and nulls and nulls[0] < last_real:
    out["NULLERR"] = "null_packet_%d_before_packet_%d" % (nulls[0], last_real)
# NAL units of the first access unit (Annex B)
pos, nals = 0, []
while True:
    k = au.find(b"\x00\x00\x01", pos)
    if k < 0:
        break
    nals.append(k + 3)
    pos = k + 3
for k in nals:
    if k >= len(au):
        continue
    t = au[k] & 0x1F
    if out["FIRSTNAL"] == "-":
        out["FIRSTNAL"] = t
    if t == 7 and out["SPS"] == "-":
        out["SPS"] = au[k + 1:k + 4].hex()
    if t == 5:
        out["IDR"] = 1
print(" ".join("%s=%s" % kv for kv in out.items()))
PY
}

# profile=: the rungs' SPS has that profile, and CODECS says so (Baseline 66, High 100).
check_profile() {
    local profile=$1 want_idc=$2 m=$T/mnt-$1
    # shellcheck disable=SC2034 # set by the eval
    local codecs seg facts NULLS NULLERR SPS IDR FIRSTNAL
    codecs=$(master_rows "$m/hevc.mp4/master.m3u8" | awk -F'\t' '$6 == "240p/index.m3u8" { print $3 }')
    [ -n "$codecs" ] || fail "profile=$profile: hevc.mp4/master.m3u8 lists no 240p variant"
    seg=$(segments_of "$m/hevc.mp4/240p/index.m3u8" | sed -n 1p)
    facts=$(ts_facts "$seg")
    eval "$facts"
    [ "$SPS" != - ] || fail "profile=$profile: no SPS in the first access unit of ${seg#"$m"/}"
    [ "$((16#${SPS:0:2}))" = "$want_idc" ] || fail "profile=$profile: the 240p SPS has profile_idc $((16#${SPS:0:2})), want $want_idc"
    [ "${codecs%%,*}" = "avc1.$SPS" ] || fail "profile=$profile: CODECS=\"$codecs\" but the SPS says avc1.$SPS"
}
mkdir -p "$T/src-p"
cp -p "$SRC/hevc.mp4" "$T/src-p/"
for p in baseline high; do
    mkdir -p "$T/mnt-$p" "$T/cache-$p"
    mount_hlsfs "$T/src-p" "$T/mnt-$p" -o "cache_dir=$T/cache-$p,ladder=240:300,prefetch=0,profile=$p"
done
soft check_profile baseline 66
soft check_profile high 100
umount_hlsfs "$T/mnt-baseline"
umount_hlsfs "$T/mnt-high"

mount_hlsfs "$SRC" "$MNT" -o "cache_dir=$CACHE,ladder=$LADDER"

# vspan FILE: seconds from the first video frame's presentation to the end of the last (a frame without a
# duration lasts FRAME, the second argument).
vspan() {
    ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,duration_time -of csv=p=0 "$1" |
        awk -F, -v ft="$2" '$1 !~ /^-?[0-9.]+$/ { next } { d = ($2 ~ /^[0-9.]+$/ && $2 > 0) ? $2 : ft; if (n++ == 0 || $1 < s) s = $1; if ($1 + d > e) e = $1 + d }
            END { printf "%.6f\n", e - s }'
}

ALL_SEGS=()
# check_video REL: every transcoded variant of REL (all of them, or all but the passthrough for H.264).
check_video() {
    local rel=$1 v=$MNT/$1
    local sw sh _ fn fd frames codec ft sspan
    read -r sw sh _ _ fn fd frames codec < <(video_facts "$SRC/$rel")
    ft=$(fcalc "$fd / $fn")
    sspan=$(vspan "$SRC/$rel" "$ft")
    video_dir_ok "$rel"
    local rows codecs uri h pl n=0
    rows=$(master_rows "$v/master.m3u8")
    while IFS=$'\t' read -r _ _ codecs _ _ uri; do
        h=${uri%%p/*}
        [ "$codec" = h264 ] && [ "$h" = "$sh" ] && [ "$rel" != hi10.mp4 ] && continue  # the passthrough
        n=$((n + 1))
        pl=$v/$uri
        local name=$rel/${uri%/index.m3u8}
        local segs seg out size got
        mapfile -t segs < <(segments_of "$pl")
        [ "${#segs[@]}" -gt 0 ] || fail "'$name/index.m3u8' lists no segments"
        # Sizes: what stat said before the read is what the read returns (and what stat says after).
        for seg in "$pl" "${segs[@]}"; do
            size=$(stat -c %s "$seg")
            got=$(wc -c < "$seg") || fail "reading '${seg#"$MNT"/}' failed"
            [ "$got" = "$size" ] || fail "'${seg#"$MNT"/}': stat said $size bytes, a read returned $got"
            [ "$(stat -c %s "$seg")" = "$size" ] || fail "'${seg#"$MNT"/}': stat size changed from $size to $(stat -c %s "$seg") after reading"
        done
        # A player decodes it without a message, every frame of the source, over the source's time.
        out=$(ffmpeg -nostdin -v error -i "$pl" -map 0 -f null - 2>&1) || fail "'$name': ffmpeg failed: $(head -n 1 <<<"$out")"
        [ -z "$out" ] || fail "'$name': ffmpeg printed while decoding: $(head -n 2 <<<"$out" | sed "s|$MNT/||g")"
        local vf span
        vf=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$pl" | sed -n 1p)
        [ "$vf" = "$frames" ] || fail "'$name' decodes to $vf frames, the source to $frames"
        span=$(vspan "$pl" "$ft")
        ftrue "$span - $sspan <= 0.0011 && $sspan - $span <= 0.0011" ||
            fail "'$name' presents $span s of video, the source $sspan s"
        # Each segment: an IDR first, well-formed null padding only at the end; the master's CODECS is the SPS.
        local i=0 facts flags ptype key
        for seg in "${segs[@]}"; do
            local sname=${seg#"$MNT"/}
            flags=$(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' -show_entries packet=flags -of csv=p=0 "$seg" | sed -n 1p)
            [[ $flags == K* ]] || fail "'$sname': the first video packet has flags '$flags', not a keyframe (K)"
            IFS=, read -r ptype key < <(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' \
                -show_entries frame=pict_type,key_frame -of csv=p=0 "$seg" | sed -n 1p | awk -F, '{ print $2 "," $1 }')
            [ "$ptype" = I ] && [ "$key" = 1 ] || fail "'$sname': the first frame is pict_type=$ptype key_frame=$key, want I and 1"
            facts=$(ts_facts "$seg")
            # shellcheck disable=SC2034 # NULLS and FIRSTNAL are set by the eval too
            local NULLS NULLERR SPS IDR FIRSTNAL
            eval "$facts"
            [ "$IDR" = 1 ] || fail "'$sname': the first access unit holds no IDR slice (NAL type 5) [$facts]"
            [ "$NULLERR" = - ] || fail "'$sname': bad null-packet padding: $NULLERR [$facts]"
            if [ "$i" = 0 ]; then
                [ "$SPS" != - ] || fail "'$sname': no SPS in the first access unit"
                local want=avc1.$SPS
                [ "${codecs%%,*}" = "$want" ] ||
                    fail "'$rel/master.m3u8': $uri has CODECS=\"$codecs\", but its SPS says $want (profile_idc, constraint flags, level_idc)"
            fi
            i=$((i + 1))
        done
        printf '%s\n' "${segs[@]}" >> "$T/all-segs"
    done <<<"$rows"
    [ "$n" -gt 0 ] || fail "'$rel' has no transcoded variant (ladder $LADDER, source $codec ${sw}x$sh)"
}

soft check_video h480.mp4
soft check_video hevc.mp4
soft check_video mpeg4.mp4
soft check_video hi10.mp4
# High 10 is not passed through: its 360p variant is a rung like the others (Main, 8 bits), all three there.
hi10_rows=$(master_rows "$MNT/hi10.mp4/master.m3u8")
[ "$(wc -l <<<"$hi10_rows")" = 3 ] || soft fail "hi10.mp4/master.m3u8 lists $(wc -l <<<"$hi10_rows") variants, want 3 transcoded (ladder $LADDER)"
if awk -F'\t' '$3 !~ /^"?avc1\.4d/' <<<"$hi10_rows" | grep -q .; then
    soft fail "hi10.mp4/master.m3u8 offers a variant that is not H.264 Main: $(awk -F'\t' '$3 !~ /^"?avc1\.4d/ { print $6 " " $3 }' <<<"$hi10_rows" | head -n 1)"
fi

# The MPEG-TS structure of every transcoded segment (PAT/PMT first, counters, PCR, AUD, ADTS).
if [ -s "$T/all-segs" ]; then
    mapfile -t ALL_SEGS < "$T/all-segs"
    if ! out=$(node "$TESTS_DIR/tools/tscheck.js" "${ALL_SEGS[@]}"); then
        soft fail "tscheck: $(grep -c . <<<"$out" || true) TS problems in transcoded segments; first: $(head -n 1 <<<"$out" | sed "s|$MNT/||")"
    fi
fi
umount_hlsfs "$MNT"

pass
