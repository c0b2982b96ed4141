#!/usr/bin/env bash
# run.sh is `make run`: PostgreSQL ensured, migrated, a demo workspace
# seeded, `webhooks serve` (API, workers, River UI) started, a webhook of the
# demo owner pointed at a `webhooks play` receiver, and directions printed.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

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

addr=${WEBHOOKS_ADDR:-127.0.0.1:8080}
play_addr=${PLAY_ADDR:-127.0.0.1:9000}
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
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin" serve 2>&1 | sed -u 's/^/serve | /' &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done

created=$(curl -fsS -H "Authorization: Bearer $owner_key" -H 'Content-Type: application/json' \
	"http://$addr/v1/webhooks" -d "{\"name\": \"play\", \"url\": \"http://$play_addr/hooks\", \"events\": [\"*\"]}")
secret=$(echo "$created" | sed -n 's/.*"secret":"\([^"]*\)".*/\1/p')
hook=$(echo "$created" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')

"$bin" play --addr "$play_addr" --secret "$secret" 2>&1 | sed -u 's/^/play  | /' &
pids+=($!)
sleep 0.5

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
