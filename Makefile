# trailcheck — build, test and measure. `make help` lists the targets.
GO      ?= go
BIN     ?= bin/trailcheck
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: help build test race fuzz lint bench bench-micro sample clean

help:
	@echo "build  build $(BIN)"
	@echo "test   go vet, gofmt check and every test with the race detector (what CI runs)"
	@echo "race   every test with the race detector"
	@echo "fuzz   run each fuzz target for FUZZTIME ($(FUZZTIME))"
	@echo "lint   gofmt and go vet"
	@echo "bench  end-to-end benchmarks against the AWS CLI; rewrites docs/performance.md"
	@echo "       (several minutes; wants aws, GNU time, hyperfine)"
	@echo "bench-micro  go test benchmarks of the packages"
	@echo "sample regenerate testdata/sample from the trail generator"

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/trailcheck

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: lint
	$(GO) test -race -count=1 ./...

race:
	$(GO) test -race ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/digest
	$(GO) test -run '^$$' -fuzz '^FuzzDecompress$$' -fuzztime $(FUZZTIME) ./pkg/digest
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/keys
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignatures$$' -fuzztime $(FUZZTIME) ./pkg/store

bench:
	$(GO) run ./scripts/bench -scenario all -out docs/performance.md

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

sample:
	$(GO) run ./scripts/gentrail -sample -out testdata/sample

clean:
	rm -rf bin
