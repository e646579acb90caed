#!/usr/bin/env bash
# Writes the seed corpus of every harness into OUTDIR/NAME/ (default build-fuzz/corpus, gitignored):
# text seeds from here, binary seeds (avcC/ASC records, real index blobs, plan inputs) from the
# small helper make-seeds.c. Seeds are rewritten on every call; inputs libFuzzer added to these
# folders in earlier runs (named by their SHA-1) are kept, so long runs build on each other.
# Usage: tests/fuzz/make-corpus.sh [OUTDIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-build-fuzz/corpus}
cc=${CC:-clang}
mkdir -p "$out"/{naming,codec,plan,index_blob,config,tsread,webvtt}

# seed DIR NAME TEXT: one seed, exactly TEXT (printf %b escapes, no newline added)
seed() {
	printf '%b' "$3" >"$out/$1/seed-$2"
}

n=0
for s in "" master.m3u8 error.txt cytube.json poster.jpg audio-1 audio-2/seg-00003-0123abcd.ts audio-1/index.m3u8 audio-01 720p 1080p/index.m3u8 720p/seg-00042-0123abcd.ts 480p/seg-00000-ffffffff.ts \
	360p/seg-99999-89abcdef.ts 2160p/seg-100000-0000000a.ts 720p/seg-4294967295-0123abcd.ts 720p/seg-7.ts 0720p 720p/ \
	720p/index.m3u8/x movie.mp4 clip.MOV "Café del Mar – live 1.mp4" LOUD.M4V notes.txt .mp4 \
	sub/deeper/nested.m4v; do
	seed naming "$n" "$s"
	n=$((n + 1))
done

n=0
for s in 6 4.5 6s 0.5 60 61 1e3 20G 512M 1T 0 7d 45s 12h 30m 18446744073709551615 yes no TRUE Off 1 \
	none 1080:5000/720:2800/480:1400/360:800 720:2800,360:800 "720:2800/" 4320:200000 64:50 \
	'cache_dir=/var/cache/hlsfs\nsegment=4.5\ncache_max=20G\ncache_ttl=7d\nprefetch=2\nworkers=2' \
	'ladder=720:2800/360:800\nencoder=libx264\npreset=veryfast\nprofile=high\nsegment=6\nsegment=10' \
	'config=/etc/hlsfs.conf\nbogus=1\ncache_passthrough=yes\nbase_url=https://videos.example.org/hls'; do
	seed config "$n" "$s"
	n=$((n + 1))
done

# Binary seeds: built for this machine (index blobs are native layout), without sanitizers.
"$cc" -O1 -g -D_GNU_SOURCE -Iinclude tests/fuzz/make-seeds.c src/index_blob.c src/index.c src/hash.c src/strbuf.c \
	-o "$out/../make-seeds"
"$out/../make-seeds" "$out"

echo "make-corpus: seeds in $out: $(for d in "$out"/*/; do printf '%s %s  ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"

# tsread: a few generated streams (mode byte odd) at each stride, and raw bytes
for m in 1 3 5 0 2; do
	seed tsread "mode$m" "\\x0$m\\x04\\x10\\x20\\x30\\x40\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x00\\x10\\x00\\x40\\x00"
done
# webvtt: event text NUL language NUL sidecar name, as subtitle files bring them
seed webvtt srt 'Il \xc3\xa9tait <i>une</i> fois\n& puis\x00fre\x00film.fr.srt'
seed webvtt ass '0,0,Default,,0,0,0,,{\\i1}Hello{\\i0}\\NWorld {\\b700}bold\x00eng\x00film.en.forced.ass'
seed webvtt dialogue 'Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,a --> b\\hc\x00pt-BR\x00film.vtt'
