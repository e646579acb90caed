#!/usr/bin/env bash
# t-subtitles: an MP4 with an embedded mov_text track and a cp1252 sidecar NAME.fr.srt becomes two WebVTT
# renditions: the master lists them (LANGUAGE, SUBTITLES= on every variant, lint clean), each subtitle
# playlist has the video's segments and EXTINFs, every segment starts WEBVTT + X-TIMESTAMP-MAP matching the
# TS PTS, cue times are the source's within 40 ms, the French text is UTF-8 with its accents, stat sizes
# equal bytes read, ffmpeg reads the subtitle playlist, cytube.json lists two textTracks and the poster,
# contrib/Caddyfile serves .vtt as text/vtt with CORS, a changed sidecar gives new bytes (also after a
# remount on the same cache), and an MKV's SubRip and ASS tracks give two renditions.
source "$(dirname "$0")/lib.sh"

need ffmpeg ffprobe python3 iconv curl caddy
lint_ready
BASE=https://video.example.org/hls
W=$T/work
mkdir -p "$W"
ff() { ffmpeg -nostdin -v error -y "$@" || fail "ffmpeg could not make test media: ffmpeg $*"; }

# --- media ----------------------------------------------------------------------------------------------
cat > "$W/en.srt" <<'EOF'
1
00:00:01,000 --> 00:00:03,480
Hello <i>world</i>
second line

2
00:00:05,200 --> 00:00:07,000
<b>Bold</b> & more

3
00:00:11,000 --> 00:00:13,600
Across a boundary

4
00:00:25,040 --> 00:00:28,000
The end
EOF
# 30 s, keyframes every 2 s, B-frames, AAC; the mov_text track tagged English.
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=30 -f lavfi -i sine=frequency=440:sample_rate=48000:duration=30 \
    -i "$W/en.srt" -map 0 -map 1 -map 2 -c:v libx264 -bf 2 -g 50 -pix_fmt yuv420p -c:a aac -c:s mov_text \
    -metadata:s:s:0 language=eng "$SRC/film.mp4"
# The French sidecar in cp1252 with CRLF line ends: accents and curly quotes (0x93/0x94).
printf '1\r\n00:00:02,000 --> 00:00:04,500\r\nCaf\xe9 cr\xe8me br\xfbl\xe9e \x93d\xe9j\xe0 vu\x94\r\n\r\n2\r\n00:00:05,960 --> 00:00:12,040\r\n\xc0 bient\xf4t, l\xe0-bas\r\n<i>\xe7a va</i>\r\n\r\n' \
    > "$SRC/film.fr.srt"
iconv -f UTF-8 -t UTF-8 "$SRC/film.fr.srt" > /dev/null 2>&1 && fail "test bug: the sidecar is valid UTF-8"
# An edit list that starts inside a GOP: frames and cues before time 0 (ffmpeg -ss with -c copy).
ff -ss 1.5 -i "$SRC/film.mp4" -map 0 -c copy "$SRC/cut.mp4"
# An MKV with a SubRip track (German) and an ASS track (Spanish).
ff -i "$W/en.srt" "$W/es.ass"
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=8 -i "$W/en.srt" -i "$W/es.ass" -map 0 -map 1 -map 2 \
    -c:v libx264 -g 50 -pix_fmt yuv420p -c:s:0 srt -c:s:1 ass -metadata:s:s:0 language=ger \
    -metadata:s:s:1 language=spa "$SRC/talk.mkv"
# An MKV whose tracks have titles, as a fansub or a Blu-ray rip has them: NAME says the title with the
# language ("Spanish (Signs & ’Songs’)": quotes become U+2019), the title alone where it names the language or the language is
# unknown; a quote, a control character and a Latin-1 byte in a title never reach the master; NAMEs stay
# unique. Its audio: a mono Japanese track, then a stereo English one with a title that Matroska marks as
# the default track: the English one is muxed into the variants and listed first, as players play it first.
ff -f lavfi -i testsrc2=size=320x240:rate=25:duration=8 -i "$W/en.srt" -f lavfi -i sine=d=8 \
    -map 0 -map 1 -map 1 -map 1 -map 1 -map 1 -map 1 -map 2 -map 2 \
    -c:v libx264 -g 50 -pix_fmt yuv420p -c:s srt -c:a aac -ac:a:0 1 -ac:a:1 2 -metadata:s:a:0 language=jpn \
    -metadata:s:a:1 language=eng -metadata:s:a:1 "title=Director's cut" -disposition:a:0 0 -disposition:a:1 default \
    -metadata:s:s:0 language=spa -metadata:s:s:0 "title=Signs & \"Songs\"" \
    -metadata:s:s:1 language=ger -metadata:s:s:1 "title=German SDH" \
    -metadata:s:s:2 language=ger -metadata:s:s:2 "title=$(printf 'Gro\xdfe\tSchrift')" \
    -metadata:s:s:3 language=ger -metadata:s:s:4 language=ger -metadata:s:s:5 "title=Commentary" "$SRC/titles.mkv"

mount_hlsfs "$SRC" "$MNT" -o "base_url=$BASE,ladder=none"
V=$MNT/film.mp4

# --- master ---------------------------------------------------------------------------------------------
master=$(cat "$V/master.m3u8")
rows=$(grep '^#EXT-X-MEDIA:TYPE=SUBTITLES' <<<"$master" || true)
[ "$(grep -c . <<<"$rows")" = 2 ] || fail "master: want 2 SUBTITLES renditions, got: $rows"
grep -q 'LANGUAGE="en".*URI="subs-en/index.m3u8"' <<<"$rows" || fail "master: no English rendition at subs-en: $rows"
grep -q 'LANGUAGE="fr".*URI="subs-fr/index.m3u8"' <<<"$rows" || fail "master: no French rendition at subs-fr: $rows"
grep -q 'GROUP-ID="subs"' <<<"$rows" || fail "master: renditions not in group subs"
infs=$(grep '^#EXT-X-STREAM-INF:' <<<"$master")
[ -n "$infs" ] || fail "master has no variant"
while IFS= read -r l; do
    [[ $l == *'SUBTITLES="subs"'* ]] || fail "a variant without SUBTITLES=\"subs\": $l"
done <<<"$infs"
out=$(node "$TESTS_DIR/lint/lint.js" "$V/master.m3u8" "$V"/*/index.m3u8 "$MNT/talk.mkv/master.m3u8" 2>&1) ||
    fail "lint: $(head -n 2 <<<"$out")"

# --- rendition playlists and segments -------------------------------------------------------------------
vpl=$(passthrough_dir=$(sed -n '/^#EXT-X-STREAM-INF/{n;p}' "$V/master.m3u8" | head -n 1); echo "$V/$passthrough_dir")
mapfile -t vext < <(playlist_extinfs "$vpl")
[ "${#vext[@]}" -ge 5 ] || fail "test bug: want at least 5 video segments, got ${#vext[@]}"
for lang in en fr; do
    pl=$V/subs-$lang/index.m3u8
    mapfile -t sext < <(playlist_extinfs "$pl")
    [ "${sext[*]}" = "${vext[*]}" ] || fail "subs-$lang: EXTINFs (${sext[*]}) differ from the video's (${vext[*]})"
    mapfile -t segs < <(sed -n '/^#EXTINF/{n;p}' "$pl")
    [ "${#segs[@]}" = "${#vext[@]}" ] || fail "subs-$lang: ${#segs[@]} segments, the video ${#vext[@]}"
    for s in "${segs[@]}"; do
        f=$V/subs-$lang/$s
        [ "$(head -n 1 "$f")" = WEBVTT ] || fail "subs-$lang/$s does not begin with WEBVTT"
        [[ $(sed -n 2p "$f") =~ ^X-TIMESTAMP-MAP=MPEGTS:[0-9]+,LOCAL:00:00:00\.000$ ]] ||
            fail "subs-$lang/$s: no X-TIMESTAMP-MAP as its second line: $(sed -n 2p "$f")"
    done
    # ffmpeg reads the rendition as HLS.
    ffmpeg -nostdin -v error -y -i "$pl" -c:s webvtt "$W/ff-$lang.vtt" 2> "$W/ff-$lang.err" ||
        fail "ffmpeg cannot read subs-$lang/index.m3u8: $(head -n 2 "$W/ff-$lang.err")"
    [ "$(grep -c -- '-->' "$W/ff-$lang.vtt")" -ge 2 ] || fail "ffmpeg read no cues from subs-$lang"
done

# A cue across a boundary is in both segments: "Across a boundary" (11.0-13.6 s) against the plan's cuts.
cnt=$(grep -l 'Across a boundary' "$V"/subs-en/seg-*.vtt | wc -l)
[ "$cnt" -ge 2 ] || fail "the cue spanning a segment boundary is in $cnt segment(s), want 2"

# Every cue lands on the TS frames of its source time: X-TIMESTAMP-MAP's MPEGTS plus the cue's local time
# against the TS PTS of the source time ffprobe gives the cue (the TS offset is the first video PTS of
# segment 0 less the source's first video PTS, pre-roll before an edit list included). Also for cut.mp4,
# whose edit list starts 1.5 s into its first GOP (frames and cues before 0).
ts_check() {  # VIDEO-REL VARIANT-DIR
    local rel=$1 vd=$2 ts0 src0
    ts0=$(ffprobe -v error -select_streams v:0 -show_entries packet=pts -of default=nw=1:nk=1 "$(segment_path "$MNT/$rel/$vd/index.m3u8" 0)" |
        grep -E '^[0-9]+$' | sort -n | sed -n 1p)
    src0=$(ffprobe -v error -select_streams v:0 -show_entries packet=pts_time -of default=nw=1:nk=1 "$SRC/$rel" |
        grep -E '^-?[0-9.]+$' | sort -g | sed -n 1p)
    ffprobe -v error -select_streams s:0 -show_entries packet=pts_time,size -of csv=p=0 "$SRC/$rel" > "$W/cues.src"
    python3 - "$ts0" "$src0" "$W/cues.src" "$MNT/$rel/subs-en" <<'PY' || fail "$rel: cue times on the TS timeline are off: see above"
import glob, re, sys
ts0, src0 = int(sys.argv[1]), float(sys.argv[2])
offset = ts0 - round(src0 * 90000)
want = sorted(round(float(l.split(",")[0]) * 90000) + offset for l in open(sys.argv[3])
              if l.strip() and int(l.split(",")[1]) > 2 and float(l.split(",")[0]) >= 0)
got = set()
for f in sorted(glob.glob(sys.argv[4] + "/seg-*.vtt")):
    text = open(f, encoding="utf-8").read()
    m = int(re.search(r"MPEGTS:(\d+)", text).group(1))
    for h, mi, sec in re.findall(r"^(\d\d):(\d\d):(\d\d\.\d\d\d) --> ", text, re.M):
        got.add(m + round((int(h) * 3600 + int(mi) * 60 + float(sec)) * 90000))
# The whole track (subtitles/en.vtt, for <track> on the same player timeline) has the segments' local times.
def local(text):
    return {(h, mi, sec) for h, mi, sec in re.findall(r"^(\d\d):(\d\d):(\d\d\.\d\d\d) --> ", text, re.M)}
seg_local = set()
for f in glob.glob(sys.argv[4] + "/seg-*.vtt"):
    seg_local |= local(open(f, encoding="utf-8").read())
whole = local(open(sys.argv[4] + "/../subtitles/en.vtt", encoding="utf-8").read())
if whole != seg_local:
    print("subtitles/en.vtt times %s differ from the segments' %s" % (sorted(whole), sorted(seg_local)))
    sys.exit(1)
for w in want:
    best = min(got, key=lambda g: abs(g - w)) if got else None
    if best is None or abs(best - w) > 3600:
        print("cue at TS %d (source %.3f s) not found; nearest %s" % (w, (w - offset) / 90000, best))
        sys.exit(1)
print("ok")
PY
}
ts_check film.mp4 "$(dirname "${vpl#$MNT/}" | sed 's|^film.mp4/||')"
cut_vd=$(sed -n '/^#EXT-X-STREAM-INF/{n;p}' "$MNT/cut.mp4/master.m3u8" | head -n 1 | cut -d/ -f1)
ts_check cut.mp4 "$cut_vd"

# --- text and times -------------------------------------------------------------------------------------
for f in "$V"/subtitles/*.vtt "$V"/subs-*/*.vtt; do
    iconv -f UTF-8 -t UTF-8 "$f" > /dev/null 2>&1 || fail "${f#$MNT/} is not valid UTF-8"
done
fr=$(cat "$V/subtitles/fr.vtt")
for w in 'Café crème brûlée “déjà vu”' 'À bientôt, là-bas' '<i>ça va</i>'; do
    grep -qF "$w" <<<"$fr" || fail "subtitles/fr.vtt lacks '$w': $fr"
done
grep -qF 'Hello <i>world</i>' "$V/subtitles/en.vtt" || fail "subtitles/en.vtt lost the italics"
grep -qF '<b>Bold</b> &amp; more' "$V/subtitles/en.vtt" || fail "subtitles/en.vtt lost the bold or the escaping"

# Cue starts and ends against ffprobe's packets of the mov_text track (non-empty samples), and the srt's.
ffprobe -v error -select_streams s:0 -show_entries packet=pts_time,duration_time,size -of csv=p=0 "$SRC/film.mp4" |
    awk -F, '$3 > 2 { printf "%.3f %.3f\n", $1, $1 + $2 }' > "$W/en.want"
printf '2.000 4.500\n5.960 12.040\n' > "$W/fr.want"
vtt_times() {
    sed -n 's/^\([0-9:.]*\) --> \([0-9:.]*\).*/\1 \2/p' "$1" |
        awk '{ split($1, a, ":"); split($2, b, ":"); printf "%.3f %.3f\n", a[1]*3600+a[2]*60+a[3], b[1]*3600+b[2]*60+b[3] }'
}
for lang in en fr; do
    vtt_times "$V/subtitles/$lang.vtt" > "$W/$lang.got"
    [ "$(wc -l < "$W/$lang.got")" = "$(wc -l < "$W/$lang.want")" ] ||
        fail "subtitles/$lang.vtt: $(wc -l < "$W/$lang.got") cues, the source $(wc -l < "$W/$lang.want")"
    paste -d' ' "$W/$lang.got" "$W/$lang.want" | awk -v l="$lang" '
        { for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d; if (d > 0.040) { print l ": cue " NR " at " $1 "-" $2 ", source " $3 "-" $4; exit 1 } } }' ||
        fail "cue times off by more than 40 ms: $(paste -d' ' "$W/$lang.got" "$W/$lang.want" | head -n 3 | tr '\n' ';')"
    # The segments carry the same cues at the same times (TS timeline = source + MPEGTS).
    cat "$V"/subs-$lang/seg-*.vtt > "$W/$lang.segs"
    vtt_times "$W/$lang.segs" | sort -u > "$W/$lang.segtimes"
    sort -u "$W/$lang.got" | cmp -s - "$W/$lang.segtimes" || fail "subs-$lang segments hold other cue times than subtitles/$lang.vtt"
done

# --- sizes ----------------------------------------------------------------------------------------------
while IFS= read -r -d '' f; do
    [ "$(stat -c %s "$f")" = "$(wc -c < "$f")" ] || fail "${f#$MNT/}: stat size $(stat -c %s "$f") != bytes read $(wc -c < "$f")"
done < <(find "$V/subtitles" "$V"/subs-* "$MNT/talk.mkv" -type f -print0)

# --- MKV: its SubRip and ASS tracks ---------------------------------------------------------------------
ls "$MNT/talk.mkv" > "$W/talk.ls"
[ "$(grep -c '^subs-' "$W/talk.ls")" = 2 ] && grep -qx 'subs-de' "$W/talk.ls" && grep -qx 'subs-es' "$W/talk.ls" ||
    fail "talk.mkv: want renditions subs-de and subs-es, listing: $(tr '\n' ' ' < "$W/talk.ls")"
for l in de es; do
    grep -qF 'Hello <i>world</i>' "$MNT/talk.mkv/subtitles/$l.vtt" || fail "talk.mkv: the text of its $l track is not in $l.vtt"
done

# --- MKV: track titles ----------------------------------------------------------------------------------
grep '^#EXT-X-MEDIA:TYPE=SUBTITLES' "$MNT/titles.mkv/master.m3u8" | sed 's/.*NAME="\([^"]*\)",LANGUAGE="\([^"]*\)".*URI="\([^"]*\)".*/\3 \2 \1/' \
    > "$W/titles.got"
cat > "$W/titles.want" <<'EOF'
subs-es/index.m3u8 es Spanish (Signs & ’Songs’)
subs-de/index.m3u8 de German SDH
subs-de-2/index.m3u8 de German (Groe Schrift)
subs-de-3/index.m3u8 de German
subs-de-4/index.m3u8 de German 2
subs-und/index.m3u8 und Commentary
EOF
diff "$W/titles.want" "$W/titles.got" > /dev/null ||
    fail "titles.mkv: want the renditions (URI LANGUAGE NAME) of titles.want, got: $(cat "$W/titles.got")"
grep '^#EXT-X-MEDIA:TYPE=AUDIO' "$MNT/titles.mkv/master.m3u8" | sed 's/.*NAME="\([^"]*\)",LANGUAGE="\([^"]*\)".*/\2 \1/' \
    > "$W/titles-audio.got"
printf '%s\n' "en English (Director’s cut)" "ja Japanese" | diff - "$W/titles-audio.got" > /dev/null ||
    fail "titles.mkv: want audio renditions 'en English (Director’s cut)' (muxed) and 'ja Japanese', got: $(cat "$W/titles-audio.got")"
tv=$(sed -n '/^#EXT-X-STREAM-INF/{n;p}' "$MNT/titles.mkv/master.m3u8" | head -n 1)
ch=$(ffprobe -v error -select_streams a -show_entries stream=channels -of csv=p=0 "$(segment_path "$MNT/titles.mkv/$tv" 0)" | grep -m 1 .)
[ "$ch" = 2 ] || fail "titles.mkv: the muxed audio has $ch channels, want the default (English, stereo) track's 2"
out=$(node "$TESTS_DIR/lint/lint.js" "$MNT/titles.mkv/master.m3u8" 2>&1) || fail "titles.mkv's master: $out"

# --- cytube.json ----------------------------------------------------------------------------------------
python3 - "$V/cytube.json" "$BASE" <<'PY' || fail "cytube.json: see above"
import json, sys
m = json.load(open(sys.argv[1])); base = sys.argv[2]
tt = m.get("textTracks")
assert isinstance(tt, list) and len(tt) == 2, "want 2 textTracks, got %r" % tt
for t in tt:
    assert t["contentType"] == "text/vtt", t
    assert t["url"].startswith(base + "/film.mp4/subtitles/") and t["url"].endswith(".vtt"), t
    assert isinstance(t["name"], str) and t["name"], t
    assert t.get("default", True) is True, "default must be absent or true: %r" % t
assert m.get("thumbnail") == base + "/film.mp4/poster.jpg", m.get("thumbnail")
PY

# --- served by contrib/Caddyfile: text/vtt and CORS -----------------------------------------------------
port=$(free_port)
mkdir -p "$T/caddy"
{
    printf '{\n\tadmin off\n\tauto_https off\n\tstorage file_system %s\n}\n' "$T/caddy"
    sed -e "s|^:8080 {|http://127.0.0.1:$port {|" -e "s|root \\* /srv/hls|root * $MNT|" "$REPO_DIR/contrib/Caddyfile"
} > "$T/caddy/Caddyfile"
start_server "$port" "$T/caddy.log" "$T/caddy.log" env HOME="$T/caddy" XDG_DATA_HOME="$T/caddy" XDG_CONFIG_HOME="$T/caddy" \
    caddy run --config "$T/caddy/Caddyfile" --adapter caddyfile || fail "caddy did not start with contrib/Caddyfile"
hdr=$(curl -s -D - -o "$W/http.vtt" -H 'Origin: https://cytube.example' "http://127.0.0.1:$port/film.mp4/subs-fr/seg-00001.vtt")
grep -qi '^content-type: text/vtt' <<<"$hdr" || fail "contrib/Caddyfile: .vtt not served as text/vtt: $hdr"
grep -qi '^access-control-allow-origin: \*' <<<"$hdr" || fail "contrib/Caddyfile: .vtt without CORS: $hdr"
cmp -s "$W/http.vtt" "$V/subs-fr/seg-00001.vtt" || fail "the .vtt through Caddy differs from the mount's"

# --- a changed sidecar gives new bytes ------------------------------------------------------------------
old=$(md5sum < "$V/subtitles/fr.vtt")
sleep 1.1
printf '1\r\n00:00:03,000 --> 00:00:04,000\r\nNouveau texte \xe9t\xe9\r\n' > "$SRC/film.fr.srt"
wait_until 5 grep -qF "Nouveau texte été" "$V/subtitles/fr.vtt" || fail "a changed sidecar still gives its old cues"
[ "$(md5sum < "$V/subtitles/fr.vtt")" != "$old" ] || fail "test bug: fr.vtt unchanged"
[ "$(stat -c %s "$V/subtitles/fr.vtt")" = "$(wc -c < "$V/subtitles/fr.vtt")" ] || fail "changed fr.vtt: stat size != bytes"
grep -qF "Nouveau texte été" "$V/subs-fr/seg-00000.vtt" || fail "a changed sidecar: subs-fr/seg-00000.vtt kept the old cues"
stop_servers
umount_hlsfs "$MNT"

# A remount on the same cache: the stored index says which sidecar it read; a sidecar changed while
# unmounted is read again.
printf '1\r\n00:00:03,000 --> 00:00:04,000\r\nTroisi\xe8me version\r\n' > "$SRC/film.fr.srt"
mount_hlsfs "$SRC" "$MNT" -o "base_url=$BASE,ladder=none,cache_dir=$T/cache-1"
grep -qF "Troisième version" "$MNT/film.mp4/subtitles/fr.vtt" || fail "after a remount, a sidecar changed while unmounted gives its old cues"
rm "$SRC/film.fr.srt"
wait_until 5 test ! -e "$MNT/film.mp4/subs-fr" || fail "a removed sidecar still has its rendition"
[ "$(grep -c '^#EXT-X-MEDIA:TYPE=SUBTITLES' "$MNT/film.mp4/master.m3u8")" = 1 ] || fail "a removed sidecar is still in the master"
umount_hlsfs "$MNT"
pass
