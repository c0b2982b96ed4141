#!/usr/bin/env bash
# tools.sh installs what `go tool sqlc` needs beyond Go: a C compiler, because
# sqlc builds libpg_query with cgo. On Debian as root it installs gcc.
set -euo pipefail
if command -v gcc >/dev/null || command -v cc >/dev/null; then
	exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "tools: installing gcc for sqlc" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq gcc libc6-dev >&2
	exit 0
fi
echo "tools: sqlc needs a C compiler; install gcc" >&2
exit 1
