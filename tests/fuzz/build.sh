#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ into build-fuzz/ (gitignored), each linked
# directly against the pure modules' sources with ASan and UBSan. Usage:
#   tests/fuzz/build.sh [NAME...]      # NAME: naming codec plan index_blob config tsread webvtt (default: all)
# Environment: CC (default clang), FUZZ_OUT (default build-fuzz), FUZZ_CFLAGS (added flags).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${FUZZ_OUT:-build-fuzz}
cc=${CC:-clang}
all=(naming codec plan index_blob config tsread webvtt)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

# The pure library as meson.build's pure_lib lists it: no I/O, no FFmpeg, no FUSE.
pure=(src/codec.c src/tsread.c src/tsmux.c src/plan.c src/playlist.c src/naming.c src/strbuf.c src/config.c src/index_blob.c src/hash.c src/index.c src/webvtt.c)
flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -std=gnu11 -Wall -Wextra -Wno-unused-parameter
	-Iinclude -Itests/fuzz)
# shellcheck disable=SC2206
extra=(${FUZZ_CFLAGS:-})

mkdir -p "$out"
status=0
for n in "${names[@]}"; do
	src=tests/fuzz/fuzz_$n.c
	if [ ! -f "$src" ]; then
		echo "build: no harness $src" >&2
		status=1
		continue
	fi
	if ! "$cc" "${flags[@]}" "${extra[@]}" "$src" "${pure[@]}" -o "$out/fuzz_$n" 2>"$out/build-$n.log"; then
		echo "build: fuzz_$n failed:" >&2
		cat "$out/build-$n.log" >&2
		status=1
		continue
	fi
	# warnings are shown, not fatal: src/ belongs to others and may warn under clang
	[ -s "$out/build-$n.log" ] && cat "$out/build-$n.log" >&2
	echo "build: $out/fuzz_$n"
done
exit $status
