#!/usr/bin/env bash
# t-hdr: HDR sources (HEVC Main 10, BT.2020) with the PQ transfer (HDR10) and with HLG (phone HDR) get SDR
# rungs: a test picture made HDR from an SDR original comes back close to that original (by PSNR, where
# showing the HDR samples as SDR, what the rungs did before, scores far lower), on every picture; poster.jpg
# is as bright as the SDR source's; the trees are byte-identical across two mounts, and an SDR source of
# the same picture is not changed.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe
W=$T/work
mkdir -p "$W"
src_pic='testsrc2=size=320x240:rate=25:duration=4'
ffmpeg -nostdin -v error -f lavfi -i "$src_pic" -pix_fmt yuv420p "$W/ref.y4m" || fail "ffmpeg could not make the reference"
# SDR BT.709 -> linear light (100 cd/m2 = 1.0) -> BT.2020 -> PQ or HLG, 10 bits, HEVC tagged as such.
hdr() { # hdr TRANSFER OUT
    ffmpeg -nostdin -v error -f lavfi -i "$src_pic" -vf "format=gbrpf32le,zscale=tin=bt709:t=linear:npl=100:pin=bt709:p=bt2020,zscale=t=$1:m=bt2020nc:r=tv:npl=100,format=yuv420p10le" \
        -c:v libx265 -preset fast -x265-params log-level=error -color_primaries bt2020 -color_trc "$1" -colorspace bt2020nc \
        "$2" || fail "ffmpeg could not make $2"
}
hdr smpte2084 "$SRC/pq.mkv"
hdr arib-std-b67 "$SRC/hlg.mkv"
ffmpeg -nostdin -v error -f lavfi -i "$src_pic" -pix_fmt yuv420p10le -c:v libx265 -preset fast -x265-params log-level=error \
    "$SRC/sdr.mkv" || fail "ffmpeg could not make sdr.mkv"

# psnr A B: the worst and the average PSNR of A's pictures against B's, "MIN AVG".
psnr() {
    ffmpeg -nostdin -v error -i "$1" -i "$2" -lavfi "[0:v]setpts=PTS-STARTPTS,format=yuv420p[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]psnr=stats_file=$T/psnr.log" \
        -f null - || fail "ffmpeg could not compare $1 with $2"
    sed -n 's/.*psnr_avg:\([0-9.inf]*\).*/\1/p' "$T/psnr.log" | sort -g |
        awk '{ s += $1; n++ } NR == 1 { m = $1 } END { printf "%.2f %.2f\n", m, s / n }'
}

# What the old rungs showed: the HDR samples taken as SDR.
read -r naive_min naive_avg < <(psnr "$SRC/pq.mkv" "$W/ref.y4m")
ftrue "$naive_avg < 17" || fail "test bug: pq.mkv shown as SDR is already close to the original ($naive_avg dB)"

mount_hlsfs "$SRC" "$MNT"
for rel in pq.mkv hlg.mkv sdr.mkv; do
    pl=$MNT/$rel/240p/index.m3u8
    [ -f "$pl" ] || fail "'$rel' has no 240p rung: $(ls -A "$MNT/$rel" | tr '\n' ' ') $(cat "$MNT/$rel/error.txt" 2>/dev/null)"
    read -r lo avg < <(psnr "$pl" "$W/ref.y4m")
    say "hdr: $rel 240p against the SDR original: worst picture $lo dB, average $avg dB (HDR shown as SDR: $naive_avg dB)"
    want=19
    [ "$rel" = sdr.mkv ] && want=30
    ftrue "$lo >= $want" || fail "'$rel' 240p: a picture is $lo dB from the SDR original (want >= $want dB; HDR shown as SDR scores $naive_avg)"
done
# poster.jpg (and the preview sheets, made the same way) as bright as the SDR source's: shown as SDR, an
# HDR picture's mean luma is 25-30 levels lower here.
yavg() {
    ffmpeg -nostdin -v info -i "$1" -vf signalstats,metadata=print:key=lavfi.signalstats.YAVG -f null - 2>&1 |
        sed -n 's/.*YAVG=\([0-9.]*\).*/\1/p' | sed -n 1p
}
want=$(yavg "$MNT/sdr.mkv/poster.jpg")
[ -n "$want" ] || fail "sdr.mkv has no readable poster.jpg"
for rel in pq.mkv hlg.mkv; do
    got=$(yavg "$MNT/$rel/poster.jpg")
    say "hdr: $rel poster.jpg mean luma ${got:-?}, sdr.mkv's $want"
    ftrue "${got:-0} > $want - 15 && ${got:-0} < $want + 15" ||
        fail "'$rel/poster.jpg' has mean luma ${got:-?}, the SDR source's $want: not mapped to SDR"
done
same_on_second_mount
umount_hlsfs "$MNT"
pass
