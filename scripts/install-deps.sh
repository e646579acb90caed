#!/usr/bin/env bash
# Installs what hlsfs needs to build, test, demo and benchmark on Debian 12 (apt).
# Idempotent and quick: when everything is present it only checks and returns.
set -euo pipefail

# Headers and build tools: checked by package name.
build_pkgs=(
	build-essential meson ninja-build pkg-config
	libfuse3-dev fuse3
	libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
	liblmdb-dev libcurl4-openssl-dev libinih-dev libuchardet-dev
)
# Run-time tools used by the tests, the demo and the benchmark: "package:command". A tool that is already
# on PATH counts as present even when it came from elsewhere (for example Node.js from another
# repository, whose nodejs package ships npm itself and conflicts with Debian's npm package).
tool_pkgs=(ffmpeg:ffmpeg caddy:caddy nginx-light:nginx nodejs:node npm:npm curl:curl fuse3:fusermount3 mkvtoolnix:mkvmerge)

# One dpkg-query for all packages keeps the common "all present" case fast.
declare -A have=()
while read -r name status; do
	[ "$status" = installed ] && have[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${build_pkgs[@]}" "${tool_pkgs[@]%%:*}" 2>/dev/null || true)
installed() { [ -n "${have[$1]:-}" ]; }

missing=()
for p in "${build_pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
for pc in "${tool_pkgs[@]}"; do
	p=${pc%%:*} c=${pc#*:}
	if ! command -v "$c" >/dev/null 2>&1 && ! installed "$p"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "install-deps: missing packages (${missing[*]}) and not root; install them or run as root" >&2
		exit 1
	fi
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	"${missing[@]}" </dev/null
