# EHC Ledger. `make run` starts the server with a demo LA; `make test` runs
# every check CI runs.
GO       ?= go
BIN      := bin/ehcledger
DB       ?= ehcledger.db
ADDR     ?= 127.0.0.1:8080

.PHONY: run build test vet unit scenarios e2e bench bench-go clean

build:
	$(GO) build -o $(BIN) ./cmd/ehcledger

run: build
	./$(BIN) serve --db $(DB) --addr $(ADDR) --demo

test: vet unit e2e

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /tests)

# The scenario tests run every file of ../shared/scenarios/public and
# tests/scenarios through the real binary; they are part of e2e.
scenarios:
	$(GO) test -count=1 -run 'Scenario' ./tests/

# The browser test needs Debian's chromium; install it when we can (as root
# with apt-get), otherwise the test says it is skipped.
e2e:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
		echo "chromium is not installed: the headless browser test will be skipped"
	$(GO) test -count=1 ./tests/

bench: build
	./$(BIN) bench

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 20000x ./eventstore/sqlite/ ./projections/

clean:
	rm -rf bin $(DB) $(DB)-wal $(DB)-shm $(DB).views $(DB).views-wal $(DB).views-shm $(DB).views.timeliness.gz \
		$(DB).keys $(DB).keys-wal $(DB).keys-shm $(DB).keys.master $(DB).dev-secret $(DB).lock $(DB).keys.lock
