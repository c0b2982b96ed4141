#!/usr/bin/env bash
# db.sh makes sure a PostgreSQL server answers and the project's database
# exists, then prints the connection string to use on standard output and one
# line saying what it did on standard error. In order, it uses:
#   1. DATABASE_URL, if it answers;
#   2. postgres://postgres@127.0.0.1:5432, if it answers;
#   3. an installed Debian cluster, which it starts;
#   4. as root on Debian, Debian's postgresql package, which it installs and starts.
# It never touches a server it did not find or start this way.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${WEBHOOKS_BIN:-bin/webhooks}
default_url="postgres://postgres@127.0.0.1:5432/webhooks"
say() { echo "db: $*" >&2; }

answers() { "$bin" db ping "$1" 2>/dev/null; }

wait_for() {
	for _ in $(seq 1 60); do
		answers "$1" && return 0
		sleep 0.5
	done
	return 1
}

# start_debian_cluster starts the cluster on port 5432, else the first one
# pg_lsclusters lists; given "installed", it first opens loopback to the
# postgres user of the cluster this script just installed.
start_debian_cluster() {
	local version name
	read -r version name < <(pg_lsclusters --no-header | awk '$3 == 5432 {print $1, $2; exit}')
	if [ -z "${version:-}" ]; then
		read -r version name < <(pg_lsclusters --no-header | awk '{print $1, $2; exit}')
	fi
	[ -n "${version:-}" ] || return 1
	[ "${1:-}" = installed ] && trust_loopback "$version" "$name"
	if pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1 == v && $2 == n {print $4}' | grep -q online; then
		# Started by the package's own scripts: reload for pg_hba.conf.
		pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload >&2
	else
		pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2 ||
			pg_ctlcluster "$version" "$name" start >&2
	fi
	echo "$version/$name"
}

# trust_loopback lets the postgres user connect over 127.0.0.1 and ::1
# without a password, as a development server does; Debian's default asks
# for one the postgres user does not have.
trust_loopback() {
	local hba="/etc/postgresql/$1/$2/pg_hba.conf"
	[ -w "$hba" ] || return 0
	grep -q "webhooks: trust loopback" "$hba" && return 0
	{
		echo "# webhooks: trust loopback (added by scripts/db.sh for development)"
		echo "host all postgres 127.0.0.1/32 trust"
		echo "host all postgres ::1/128 trust"
		cat "$hba"
	} >"$hba.new" && mv "$hba.new" "$hba"
}

if [ -n "${DATABASE_URL:-}" ] && answers "$DATABASE_URL"; then
	url=$DATABASE_URL
	did="using the server at DATABASE_URL"
elif answers "$default_url"; then
	url=$default_url
	did="using the server on 127.0.0.1:5432"
elif command -v pg_lsclusters >/dev/null && [ -n "$(pg_lsclusters --no-header 2>/dev/null)" ]; then
	cluster=$(start_debian_cluster) || { say "could not start the Debian cluster; see pg_lsclusters"; exit 1; }
	url=$default_url
	wait_for "$url" || { say "started cluster $cluster but postgres@127.0.0.1:5432 does not answer (is it on another port, or asking for a password?); set DATABASE_URL"; exit 1; }
	did="started the Debian cluster $cluster on 127.0.0.1:5432"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "no PostgreSQL found; installing Debian's postgresql package"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
	cluster=$(start_debian_cluster installed) || { say "installed postgresql but found no cluster to start; see pg_lsclusters"; exit 1; }
	url=$default_url
	wait_for "$url" || { say "installed and started $cluster but nothing answers at 127.0.0.1:5432"; exit 1; }
	did="installed postgresql and started the Debian cluster $cluster on 127.0.0.1:5432"
else
	say "no PostgreSQL answers at DATABASE_URL or 127.0.0.1:5432, and this is not a Debian machine where I can install one as root; start a server and set DATABASE_URL"
	exit 1
fi

created=$(DATABASE_URL=$url "$bin" db create)
say "$did; $created"
echo "$url"
