#!/usr/bin/env bash
# tools.sh installs what the project needs beyond Go, on Debian as root:
#   scripts/tools.sh           a C compiler, because sqlc builds libpg_query with cgo;
#   scripts/tools.sh chromium  Chromium, for the browser tests of the Webhooks page;
#   scripts/tools.sh axe       axe-core from npm, for their accessibility checks, into
#                              the user's cache (never the repository); prints its script's path.
set -euo pipefail

# apt installs Debian packages, or says what to install by hand.
apt() {
	local what=$1
	shift
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "tools: installing $* for $what" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq "$@" >&2
		return 0
	fi
	echo "tools: $what needs $*; install it (on Debian: apt-get install $*)" >&2
	return 1
}

case "${1:-}" in
"")
	command -v gcc >/dev/null || command -v cc >/dev/null || apt sqlc gcc libc6-dev
	;;
chromium)
	command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || apt "the browser tests" chromium
	;;
axe)
	version=4.14.1
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/webhooks/axe-core-$version
	script=$dir/node_modules/axe-core/axe.min.js
	if [ ! -f "$script" ]; then
		command -v npm >/dev/null || apt "the accessibility checks" npm
		echo "tools: installing axe-core $version for the accessibility checks" >&2
		npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "axe-core@$version" >&2
	fi
	echo "$script"
	;;
*)
	echo "tools: unknown tool $1; want no argument (a C compiler), chromium or axe" >&2
	exit 2
	;;
esac
