#!/usr/bin/env bash
# t-master: each master playlist describes its variants truthfully: the source's own (passthrough) variant
# has the source's RESOLUTION, FRAME-RATE and CODECS (SPS profile/level, audio codec); any transcoded rung
# is H.264 below the source height with its aspect ratio and frame rate; every BANDWIDTH is the measured
# peak segment bit rate and AVERAGE-BANDWIDTH the measured average, within 10% (Apple 1.26/1.27).
source "$(dirname "$0")/lib.sh"

mount_library

attr() { # attr STREAM-INF-LINE NAME
    sed -n "s/.*[:,]$2=\\(\"[^\"]*\"\\|[^,]*\\).*/\\1/p" <<<"$1" | tr -d '"'
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
        read -r peak avg < <(paste -d' ' <(playlist_extinfs "$pl") \
            <(segments_of "$pl" | while IFS= read -r s; do stat -c %s "$s"; done) |
            awk '{ r = $2 * 8 / $1; if (r > p) p = r; b += $2; d += $1 } END { printf "%d %d\n", p, b * 8 / d }')
        ftrue "$bw >= 0.9 * $peak && $bw <= 1.1 * $peak" ||
            fail "'$rel' $uri: BANDWIDTH=$bw, measured peak segment bit rate is $peak (want within 10%)"
        ftrue "$abw >= 0.9 * $avg && $abw <= 1.1 * $avg" ||
            fail "'$rel' $uri: AVERAGE-BANDWIDTH=$abw, measured average is $avg (want within 10%)"
    done < <(grep '^#EXT-X-STREAM-INF:' "$m")
    [ "$found" = 1 ] || fail "'$rel/master.m3u8' does not list the source's own ${h}p variant"
}
while IFS= read -r rel; do soft check_video "$rel"; done < <(good_videos)

umount_hlsfs "$MNT"
pass
