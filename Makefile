# mcpsim — see README.md. Everything needs only Go (and make).
GO      ?= go
BIN     := bin/mcpsim
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
REPORTS ?= reports
SEED    ?= 1

.PHONY: all build demo test vet fmt-check fuzz bench conformance clean images e2e-kind

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mcpsim

# The built-in scenario suite on the simulated cluster; reports land in
# $(REPORTS)/<scenario>/. Exit status is mcpsim's (1 if an assertion failed).
demo: build
	./$(BIN) run scenarios --seed $(SEED) --out $(REPORTS)

# The default test run: formatting, vet and every test (a few minutes cold,
# seconds warm). Slow suites (fuzzing, benchmarks) have their own targets.
test: fmt-check vet
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

FUZZTIME ?= 60s
fuzz:
	$(GO) test ./pkg/scenario -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

# Whole-command benchmarks (parse, run, judge, write reports) and the
# simulator alone, on one core.
bench:
	$(GO) test ./pkg/runner ./pkg/cluster/sim -run '^$$' -bench . -benchtime 3x -cpu 1

conformance: build
	./$(BIN) conformance hpa pkg/hpa/conformance/testdata/hpa-cases.json

clean:
	rm -rf bin $(REPORTS)

# Real clusters (needs root: Docker is installed and started if missing).
# `make images` is cached by content: a second run does nothing.
images:
	bash images/build.sh

# The real-cluster suite: images, a 3-node kind cluster in two zones, the
# reference service behind a NodePort on 127.0.0.1, the Metrics API, then
# clean-up. Takes about an hour cold, a few minutes warm.
e2e-kind: images
	$(GO) test -tags e2e -count=1 -timeout 60m -v ./pkg/cluster/kind -run E2E
