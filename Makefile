# Every target that needs PostgreSQL gets it from scripts/db.sh, which prints
# the connection string it settled on.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
BIN := bin/webhooks
DB := DATABASE_URL=$$(scripts/db.sh) && export DATABASE_URL

.PHONY: help run test chaos generate verify db migrate build tools bench screenshots

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/webhooks
	$(GO) build -o $(BIN) ./cmd/webhooks

$(BIN): build

db: $(BIN) ## make sure PostgreSQL answers and the database exists
	@scripts/db.sh >/dev/null

migrate: $(BIN) ## apply River's and the project's migrations
	@$(DB) && $(BIN) migrate up

run: $(BIN) ## PostgreSQL, migrations, a demo, serve and a play receiver, with directions
	@scripts/run.sh

# The chaos test's short form runs alone, after the others: its server and
# worker processes beside them starved the browser tests of the machine.
test: $(BIN) ## run every test against a real PostgreSQL, then the chaos test's short form
	@$(DB) && $(GO) test -count=1 ./... && \
		WEBHOOKS_CHAOS=short WEBHOOKS_BIN=$(abspath $(BIN)) $(GO) test -count=1 ./internal/chaos

chaos: $(BIN) ## kill -9 workers, restart PostgreSQL (its own), take the receiver down; count what arrived
	WEBHOOKS_CHAOS=long WEBHOOKS_BIN=$(abspath $(BIN)) $(GO) test -count=1 -v -timeout 30m -run '^TestChaos$$' ./internal/chaos

bench: $(BIN) ## webhooks bench (the pipeline against River's own rate), then the go benchmarks
	@$(DB) && $(BIN) bench && $(GO) test -run '^$$' -bench . -benchtime 3s ./...

tools: ## make sure a C compiler is there for sqlc (it builds libpg_query)
	@scripts/tools.sh

screenshots: $(BIN) ## retake docs/*.png, the Webhooks page as the browser tests see it
	@scripts/tools.sh chromium
	@$(DB) && WEBHOOKS_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'TestPortal' ./internal/portal/

generate: tools ## regenerate db/ from sql/ with sqlc
	$(GO) tool sqlc generate

verify: tools ## fail when db/ is stale, code is not gofmt'ed, or go vet complains
	$(GO) tool sqlc diff
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
