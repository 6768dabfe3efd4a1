# EHC Ledger. `make run` starts the server with a demo LA; `make test` runs
# every check CI runs.
GO       ?= go
BIN      := bin/ehcledger
DB       ?= ehcledger.db
ADDR     ?= 127.0.0.1:8080

.PHONY: run build test vet unit scenarios e2e bench bench-go crash clean frontend kurrent-node screenshots

build: frontend
	$(GO) build -o $(BIN) ./cmd/ehcledger

run: build
	./$(BIN) serve --db $(DB) --addr $(ADDR) --demo

test: frontend vet unit e2e

# The pages' GOV.UK Frontend styles and the accessibility test's axe-core
# come from npm at the exact versions of frontend/package-lock.json, into
# .build/npm (git-ignored). The styles are compiled from GOV.UK Frontend's
# Sass (frontend/govuk.scss says why not its precompiled CSS) into
# api/static/govuk/ (git-ignored), which the binary embeds: nothing is
# fetched at run time, and a build without them (no npm) serves the pages
# with ehcledger.css alone.
NPM_DIR   := .build/npm
GOVUK_DIR := api/static/govuk
GOVUK_CSS := $(GOVUK_DIR)/govuk-frontend.min.css
AXE_JS    := $(NPM_DIR)/node_modules/axe-core/axe.min.js

frontend:
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null 2>&1; } || true
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(GOVUK_CSS) $(AXE_JS); else \
		echo "npm is not installed: the pages are built with ehcledger.css alone and the accessibility test will be skipped"; fi

$(NPM_DIR)/node_modules/.installed: frontend/package.json frontend/package-lock.json
	mkdir -p $(NPM_DIR)
	cp frontend/package.json frontend/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --ignore-scripts --omit=optional --loglevel=error
	touch $@

$(AXE_JS): $(NPM_DIR)/node_modules/.installed

$(GOVUK_CSS): $(NPM_DIR)/node_modules/.installed frontend/govuk.scss
	$(NPM_DIR)/node_modules/.bin/sass --load-path=$(NPM_DIR)/node_modules --style=compressed --no-charset --no-source-map \
		frontend/govuk.scss $(NPM_DIR)/sass.css
	v=$$(node -p "require('./$(NPM_DIR)/node_modules/govuk-frontend/package.json').version") && \
		{ echo "/*! GOV.UK Frontend $$v (https://github.com/alphagov/govuk-frontend), MIT licence, compiled from frontend/govuk.scss */"; \
		cat $(NPM_DIR)/sass.css; } > $(NPM_DIR)/govuk-frontend.min.css
	mkdir -p $(GOVUK_DIR)
	cp $(NPM_DIR)/govuk-frontend.min.css $@

# The official KurrentDB Node client, which tests/kurrent runs against the
# in-process stand-in, at the exact versions of tests/kurrent/package-lock.json,
# into .build/npm-kurrent (git-ignored). Its optional dependencies are the
# native bridge its reads go through, so they are installed.
KURRENT_DIR := .build/npm-kurrent

kurrent-node:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(KURRENT_DIR)/node_modules/.installed; else \
		echo "npm is not installed: the KurrentDB Node client check will be skipped"; fi

$(KURRENT_DIR)/node_modules/.installed: tests/kurrent/package.json tests/kurrent/package-lock.json
	mkdir -p $(KURRENT_DIR)
	cp tests/kurrent/package.json tests/kurrent/package-lock.json $(KURRENT_DIR)/
	cd $(KURRENT_DIR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi

# The KurrentDB adapter's test of calls released from a client closed
# under them cannot run under -race (eventstore/esdb/inflight_test.go says
# why), so it runs once more without it.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /tests)
	$(GO) test -count=1 -run 'TestCallsInFlight' ./eventstore/esdb/

# The scenario tests run every file of ../shared/scenarios/public and
# tests/scenarios through the real binary; they are part of e2e.
scenarios:
	$(GO) test -count=1 -run 'Scenario' ./tests/

# The browser test needs Debian's chromium; install it when we can (as root
# with apt-get), otherwise the test says it is skipped.
e2e: frontend kurrent-node
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
		echo "chromium is not installed: the headless browser test will be skipped"
	$(GO) test -count=1 ./tests/...

bench: build
	./$(BIN) bench

# The crash test's full run: 100 cycles of load, SIGKILL and restart
# (make test runs 10). The figures are in docs/ledger.md.
crash:
	EHC_CRASH_CYCLES=100 $(GO) test -count=1 -timeout 90m -v -run 'TestKilledServers' ./tests/

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./eventstore/sqlite/ ./projections/

# Screenshots of each kind of page for docs/pages.md, taken by the
# accessibility test at 1280 pixels wide.
screenshots: frontend
	EHC_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestEveryPageIsAccessible' ./tests/

clean:
	rm -rf bin .build $(GOVUK_DIR) $(DB) $(DB)-wal $(DB)-shm $(DB).views $(DB).views-wal $(DB).views-shm $(DB).views.timeliness $(DB).views.timeliness.gz \
		$(DB).keys $(DB).keys-wal $(DB).keys-shm $(DB).keys.master $(DB).dev-secret $(DB).lock $(DB).keys.lock
