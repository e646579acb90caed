#!/usr/bin/env bash
# t-master: each master playlist describes its variants truthfully: the source's own (passthrough) variant
# has the source's RESOLUTION, FRAME-RATE and CODECS (SPS profile/level, audio codec); any transcoded rung
# is H.264 below the source height with its aspect ratio and frame rate; every BANDWIDTH is the measured
# peak segment bit rate (RFC 8216: over runs of segments lasting 0.5 to 1.5 target durations) and
# AVERAGE-BANDWIDTH the measured average, within 10% (Apple 1.26/1.27).
source "$(dirname "$0")/lib.sh"

mount_library

attr() { # attr STREAM-INF-LINE NAME
    sed -n "s/.*[:,]$2=\\(\"[^\"]*\"\\|[^,]*\\).*/\\1/p" <<<"$1" | tr -d '"'
}

# measured_rates PLAYLIST: "PEAK AVERAGE" in bit/s from its segments' sizes and EXTINFs. The peak is RFC
# 8216's peak segment bit rate: the most of any run of segments lasting 0.5 to 1.5 target durations (a
# longer segment alone), never below the average.
measured_rates() {
    local pl=$1
    paste -d' ' <(playlist_extinfs "$pl") <(segments_of "$pl" | while IFS= read -r s; do stat -c %s "$s"; done) |
        awk -v t="$(sed -n 's/^#EXT-X-TARGETDURATION://p' "$pl")" '
            { d[NR] = $1; z[NR] = $2; b += $2; td += $1 }
            END {
                for (i = 1; i <= NR; i++) {
                    s = 0; e = 0
                    for (j = i; j <= NR; j++) {
                        s += z[j]; e += d[j]
                        if (e > 1.5 * t && j > i) break
                        if (e >= 0.5 * t && e > 0 && s * 8 / e > p) p = s * 8 / e
                        if (e > 1.5 * t) break
                    }
                }
                if (p < b * 8 / td) p = b * 8 / td
                printf "%d %d\n", p, b * 8 / td
            }'
}

check_video() {
    local rel=$1 m h w fr codecs pp ll vc wa want inf uri res pl bw abw peak avg rh rw
    m=$MNT/$rel/master.m3u8
    w=$(media_fact "$rel" width)
    h=$(media_fact "$rel" height)
    fr=$(awk -v n="$(media_fact "$rel" fps_num)" -v d="$(media_fact "$rel" fps_den)" 'BEGIN { printf "%.3f", n / d }')
    case $(media_fact "$rel" acodec) in
        aac) wa=mp4a.40.2 ;; mp3) wa=mp4a.40.34 ;; "") wa= ;; *) fail "test bug: unexpected audio codec" ;;
    esac
    [ "$(grep -c '^#EXT-X-STREAM-INF:' "$m")" -ge 1 ] || fail "'$rel/master.m3u8' lists no variant"
    local found=0
    while IFS= read -r inf; do
        uri=$(grep -A1 -xF -- "$inf" "$m" | sed -n 2p)
        res=$(attr "$inf" RESOLUTION)
        codecs=$(attr "$inf" CODECS)
        [ "$(attr "$inf" FRAME-RATE)" = "$fr" ] || fail "'$rel' $uri: FRAME-RATE=$(attr "$inf" FRAME-RATE), the source is $fr"
        if [ "$uri" = "${h}p/index.m3u8" ]; then
            found=1
            [ "$res" = "${w}x${h}" ] || fail "'$rel': RESOLUTION=$res, the source is ${w}x${h}"
            case $(media_fact "$rel" vprofile) in
                High) pp=64 ;; Main) pp=4D ;; Baseline | "Constrained Baseline") pp=42 ;;
                *) fail "test bug: unexpected profile $(media_fact "$rel" vprofile)" ;;
            esac
            ll=$(printf '%02X' "$(media_fact "$rel" vlevel)")
            vc=${codecs%%,*}
            [[ ${vc^^} =~ ^AVC1\.${pp}[0-9A-F]{2}${ll}$ ]] ||
                fail "'$rel': video codec '$vc', the source is $(media_fact "$rel" vprofile)@$(media_fact "$rel" vlevel) (avc1.${pp}xx${ll})"
            want=$vc${wa:+,$wa}
            [ "$codecs" = "$want" ] || fail "'$rel': CODECS=\"$codecs\", want \"$want\""
        else
            [[ $uri =~ ^([0-9]+)p/index\.m3u8$ ]] || fail "'$rel': variant URI '$uri'"
            rh=${BASH_REMATCH[1]}
            [ "${res#*x}" = "$rh" ] || fail "'$rel' $uri: RESOLUTION=$res does not match the folder name"
            [ "$rh" -lt "$h" ] || fail "'$rel' $uri: a rung of height $rh is not below the source's $h (no upscaling)"
            rw=${res%x*}
            ftrue "($rw / $rh) / ($w / $h) > 0.98 && ($rw / $rh) / ($w / $h) < 1.02" ||
                fail "'$rel' $uri: RESOLUTION=$res changes the source's ${w}x${h} aspect ratio"
            [[ $codecs =~ ^avc1\.[0-9A-Fa-f]{6}(,mp4a\.40\.2)?$ ]] || fail "'$rel' $uri: CODECS=\"$codecs\", want H.264 (+ AAC)"
            if [ -n "$wa" ] && [[ $codecs != *,mp4a.40.2 ]]; then fail "'$rel' $uri: the rung lost the audio"; fi
        fi

        pl=$MNT/$rel/$uri
        bw=$(attr "$inf" BANDWIDTH)
        abw=$(attr "$inf" AVERAGE-BANDWIDTH)
        read -r peak avg < <(measured_rates "$pl")
        ftrue "$bw >= 0.9 * $peak && $bw <= 1.1 * $peak" ||
            fail "'$rel' $uri: BANDWIDTH=$bw, measured peak segment bit rate is $peak (want within 10%)"
        ftrue "$abw >= 0.9 * $avg && $abw <= 1.1 * $avg" ||
            fail "'$rel' $uri: AVERAGE-BANDWIDTH=$abw, measured average is $avg (want within 10%)"
    done < <(grep '^#EXT-X-STREAM-INF:' "$m")
    [ "$found" = 1 ] || fail "'$rel/master.m3u8' does not list the source's own ${h}p variant"
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)
umount_hlsfs "$MNT"

# A 13 s video cut every 6 s ends in a 1 s segment: a rung's bound for it holds the encoder's whole
# initial buffer, so alone it would run at almost twice the rung's rate. Every variant's BANDWIDTH is
# still the measured peak (the tail weighed with the segment before it) and AVERAGE-BANDWIDTH the average.
mkdir -p "$T/tail"
make_video "$T/tail/tail.mp4" -f lavfi -i testsrc2=size=640x360:rate=30:duration=13 -f lavfi -i sine=d=13 \
    -c:v libx264 -preset ultrafast -g 60 -pix_fmt yuv420p -c:a aac -b:a 64k
mount_hlsfs "$T/tail" "$MNT" -o "ladder=240:300"
m=$MNT/tail.mp4/master.m3u8
[ "$(grep -c '^#EXT-X-STREAM-INF:' "$m")" = 2 ] || fail "tail.mp4: want the passthrough and a 240p rung: $(cat "$m")"
while IFS= read -r inf; do
    uri=$(grep -A1 -xF -- "$inf" "$m" | sed -n 2p)
    pl=$MNT/tail.mp4/$uri
    [ "$(playlist_extinfs "$pl" | tail -n 1 | cut -d. -f1)" = 1 ] || fail "tail.mp4 $uri: the last segment is not the 1 s tail: $(playlist_extinfs "$pl" | tr '\n' ' ')"
    read -r peak avg < <(measured_rates "$pl")
    bw=$(attr "$inf" BANDWIDTH)
    abw=$(attr "$inf" AVERAGE-BANDWIDTH)
    ftrue "$bw >= 0.9 * $peak && $bw <= 1.1 * $peak" ||
        fail "tail.mp4 $uri: BANDWIDTH=$bw, measured peak segment bit rate is $peak (want within 10%)"
    ftrue "$abw >= 0.9 * $avg && $abw <= 1.1 * $avg" ||
        fail "tail.mp4 $uri: AVERAGE-BANDWIDTH=$abw, measured average is $avg (want within 10%)"
done < <(grep '^#EXT-X-STREAM-INF:' "$m")
umount_hlsfs "$MNT"
pass
