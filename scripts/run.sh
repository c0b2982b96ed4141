#!/usr/bin/env bash
# run.sh is `make run`: PostgreSQL ensured, migrated, a demo workspace
# seeded, `webhooks serve` (API, workers, River UI) started, a webhook of the
# demo owner pointed at a `webhooks play` receiver, and directions printed.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

addr=${WEBHOOKS_ADDR:-127.0.0.1:8080}
play_addr=${PLAY_ADDR:-127.0.0.1:9000}

# port_pid prints the pid of a process listening on TCP port $1, from ss,
# lsof or /proc, whichever this machine has (a fresh Debian has /proc;
# minimal images lack ss and lsof); nothing when it cannot tell.
port_pid() {
	local port=$1 pid= hex inode
	if command -v ss >/dev/null; then
		pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
	fi
	if [ -z "$pid" ] && command -v lsof >/dev/null; then
		pid=$(lsof -nP -t -iTCP:"$port" -sTCP:LISTEN 2>/dev/null | head -n 1)
	fi
	if [ -z "$pid" ]; then
		# /proc/net/tcp{,6}: local address (hex port after the colon), state
		# (0A: listening) and the socket's inode, found among /proc/*/fd.
		hex=$(printf '%04X' "$port")
		while read -r _ local _ st _ _ _ _ _ inode _; do
			if [ "$st" = 0A ] && [ "${local##*:}" = "$hex" ]; then
				pid=$(find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$inode\]" 2>/dev/null | head -n 1 | cut -d/ -f3)
				[ -n "$pid" ] && break
			fi
		done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	fi
	echo "$pid"
}

# need_free fails, saying by what, when something listens on address $2
# (host:port), which $1 names; it never uses what it finds there.
need_free() {
	local name=$1 address=$2 host port pid what
	host=${address%:*} port=${address##*:}
	host=${host#[} host=${host%]}
	case $host in "" | 0.0.0.0 | ::) host=127.0.0.1 ;; esac
	if ! (: <>"/dev/tcp/$host/$port") 2>/dev/null; then
		return 0 # nothing answers there
	fi
	pid=$(port_pid "$port")
	if [ -n "$pid" ]; then
		what="pid $pid: $(tr '\0\n' '  ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
		what=${what% }
		case $what in *webhooks*serve*) what="$what (another webhooks serve, perhaps an earlier make run)" ;; esac
	else
		what="a process this user cannot see (as root: ss -ltnp 'sport = :$port')"
	fi
	echo "run: $name $address is taken by $what; stop it, or set $name to a free address" >&2
	exit 1
}
need_free WEBHOOKS_ADDR "$addr"
need_free PLAY_ADDR "$play_addr"

bin=bin/webhooks
if ! command -v curl >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "run: installing curl" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2
	else
		echo "run: needs curl to talk to the API; install it" >&2
		exit 1
	fi
fi
export DATABASE_URL
DATABASE_URL=$(scripts/db.sh)
"$bin" migrate up

export WEBHOOKS_ADDR=$addr
# Development: let webhooks reach the local receiver.
export WEBHOOKS_ALLOW_HTTP=${WEBHOOKS_ALLOW_HTTP:-true}
export WEBHOOKS_ALLOWED_CIDRS=${WEBHOOKS_ALLOWED_CIDRS:-127.0.0.0/8,::1/128}
export RIVERUI_USERNAME=${RIVERUI_USERNAME:-admin}
if [ -z "${RIVERUI_PASSWORD:-}" ]; then
	RIVERUI_PASSWORD=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
fi
export RIVERUI_PASSWORD

demo=$("$bin" demo)
owner_key=$(echo "$demo" | awk '$1 == "owner" {print $NF}')
workspace=$(echo "$demo" | sed -n 's/.*(\(.*\)): a team.*/\1/p')
owner=$(echo "$demo" | awk '$1 == "owner" {print $5}')

pids=()
logs=$(mktemp -d)
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # through cleanup

# started waits for the line with which process $1 says it listens (in
# file $2), or fails when the process ends first: the port checked free above
# is then this process's, never another's that took it meanwhile.
started() {
	local pid=$1 log=$2 pattern=$3 name=$4
	for _ in $(seq 1 600); do
		grep -Eqs "$pattern" "$log" && return 0 # -s: the log may not be there yet
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run: $name exited before it listened (its lines above say why)" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "run: $name did not listen within a minute" >&2
	exit 1
}

"$bin" serve > >(tee "$logs/serve" | sed -u 's/^/serve | /') 2>&1 &
pids+=($!)
started $! "$logs/serve" 'msg=serving|"msg":"serving"' "webhooks serve"
curl -fsS "http://$addr/readyz" >/dev/null

created=$(curl -fsS -H "Authorization: Bearer $owner_key" -H 'Content-Type: application/json' \
	"http://$addr/v1/webhooks" -d "{\"name\": \"play\", \"url\": \"http://$play_addr/hooks\", \"events\": [\"*\"]}")
secret=$(echo "$created" | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
hook=$(echo "$created" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')

"$bin" play --addr "$play_addr" --secret "$secret" > >(tee "$logs/play" | sed -u 's/^/play  | /') 2>&1 &
pids+=($!)
started $! "$logs/play" 'receiving on' "webhooks play"

# A one-time link to the Webhooks page for the demo owner, as the host app
# would get one from POST /v1/portal/sessions.
portal=$(curl -fsS -X POST -H "Authorization: Bearer $owner_key" "http://$addr/v1/portal/sessions" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')

cat <<MSG

$demo

Open the Webhooks page as the demo owner (the link works once, for 5 minutes;
run \`DATABASE_URL=$DATABASE_URL bin/webhooks portal --workspace $workspace --user $owner\` for another):
  $portal

Running:
  API and workers  http://$addr  (GET /healthz, /readyz, /v1/openapi.json)
  River UI         http://$addr/riverui/  (user $RIVERUI_USERNAME, password $RIVERUI_PASSWORD)
  play receiver    http://$play_addr/  (deliveries, verified with the webhook's secret)

The demo owner's webhook $hook sends every event to play. Make a change and watch it arrive:
  psql "$DATABASE_URL" -c "INSERT INTO investments (workspace_id, created_by, name, ticker_symbol) VALUES ('$workspace', '$owner', 'Coca-Cola Co', 'KO')"

Create a webhook of your own:
  curl -s -H 'Authorization: Bearer $owner_key' -H 'Content-Type: application/json' http://$addr/v1/webhooks \\
    -d '{"name": "mine", "url": "http://$play_addr/mine", "events": ["investment.*"]}'

Query the logs:
  psql "$DATABASE_URL" -c "SELECT started_at, event_type, webhook_name, outcome, status_code, latency_ms FROM webhooks.delivery_log ORDER BY started_at DESC LIMIT 10"

Ctrl-C stops everything.
MSG
wait
