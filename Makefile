# mcpsim — see README.md. Everything needs only Go (and make).
GO      ?= go
BIN     := bin/mcpsim
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
REPORTS ?= reports
SEED    ?= 1

.PHONY: all build generate demo test test-html vet fmt-check fuzz bench conformance clean images e2e-kind e2e-chaos e2e-suite

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mcpsim

# Generated code: the SelfHealPolicy CRD and deepcopy functions
# (controller-gen v0.18.0 via go run, from the module cache). A test in
# pkg/apis fails when the committed CRD is stale.
generate:
	$(GO) generate ./pkg/apis/...

# The built-in scenario suite on the simulated cluster; reports land in
# $(REPORTS)/<scenario>/. Exit status is mcpsim's (1 if an assertion failed).
demo: build
	./$(BIN) run scenarios --seed $(SEED) --out $(REPORTS)

# The default test run: formatting, vet and every test (a few minutes cold,
# seconds warm). Slow suites (fuzzing, benchmarks) have their own targets.
test: fmt-check vet
	$(GO) test -count=1 ./...

# The built-in scenarios' report pages and the suite index in headless
# Chromium at 1280 and 420 px: no horizontal overflow, no console message,
# nothing loaded. Debian's chromium is installed by hack/chromium.sh when
# missing (as root). About 15 s warm.
test-html:
	$(GO) test -tags chromium -count=1 -run Chromium ./pkg/runner

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

FUZZTIME ?= 60s
fuzz:
	$(GO) test ./pkg/scenario -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

# Whole-command benchmarks (parse, run, judge, write reports), the
# simulator alone and the bare event loop the large run is measured
# against (BenchmarkBareEventLoop, the same 36 M requests), on one core
# (pinned with taskset when it exists); the large one takes about a
# minute, then its peak RSS.
bench: build
	$(PIN) $(GO) test ./pkg/runner ./pkg/cluster/sim -run '^$$' -bench . -benchtime 3x -cpu 1
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	if [ -x /usr/bin/time ]; then \
		$(PIN) /usr/bin/time -f 'large.yaml through bin/mcpsim: %e s wall, peak RSS %M KB' ./$(BIN) run pkg/runner/testdata/bench/large.yaml --out "$$out" >/dev/null; \
	else echo "no /usr/bin/time (Debian: apt-get install time): the large run's peak RSS is not measured"; fi

PIN := $(shell command -v taskset >/dev/null && echo taskset -c 0)

conformance: build
	./$(BIN) conformance hpa pkg/hpa/conformance/testdata/hpa-cases.json

clean:
	rm -rf bin $(REPORTS)

KIND_KUBECONFIG ?= $(or $(MCPSIM_STATE),/var/lib/mcpsim)/kubeconfig/mcpsim.kubeconfig

# Real clusters (needs root: Docker is installed and started if missing).
# `make images` is cached by content: a second run does nothing.
images:
	bash images/build.sh

# The real-cluster suite: images, a 3-node kind cluster in two zones, the
# reference service behind a NodePort on 127.0.0.1, the Metrics API, then
# clean-up; the kube backend's, the examples' and Chaos Mesh's e2e tests on
# it, and the netem-less delayer's between two network namespaces; then the
# built-in suite on kind (e2e-suite). About an hour cold plus
# the suite's hour; e2e-suite alone runs just the suite.
e2e-kind: images build
	$(GO) test -tags e2e -count=1 -timeout 60m -v ./pkg/cluster/kind -run E2E
	./$(BIN) cluster up --name mcpsim --reuse
	$(GO) test -tags e2e -count=1 -timeout 30m -v ./pkg/cluster/kube -run E2E
	$(GO) test -tags e2e -count=1 -timeout 30m -v ./examples/e2eframework
	$(GO) test -tags e2e -count=1 -timeout 5m -v ./pkg/netdelay -run E2E
	MCPSIM_KUBECONFIG=$(KIND_KUBECONFIG) MCPSIM_TARGET=http://127.0.0.1:30080 \
		$(GO) test -count=1 -timeout 30m -v ./examples/ginkgo -ginkgo.focus 'pod-kill-recovery passes' -ginkgo.v
	$(MAKE) e2e-chaos
	$(MAKE) e2e-suite

# The built-in suite on kind: reports under $(REPORTS)/kind. Four clusters
# (one per set of workers the scenarios ask for), one at a time, each
# deleted when its scenarios are done (an existing `mcpsim` cluster is
# reused where it fits, and kept). What this machine cannot run is listed
# as skipped (on a kernel without netem mcpsim holds NetworkChaos delay
# and loss itself: README, "without netem"). About 80
# minutes on a 2-core host. Then the suite on the sim (seed 1, $(REPORTS)/sim),
# its CPU limits enforced per 100ms period as the nodes' kernel enforces
# them (--cpu-quota Periodic), and the two compared, ±20 % either way
# (pages under $(REPORTS)/sim-vs-kind).
e2e-suite: images build
	./$(BIN) run scenarios --backend kind --cluster mcpsim --skip-unsupported --out $(REPORTS)/kind
	./$(BIN) run scenarios --cpu-quota Periodic --out $(REPORTS)/sim -q
	@echo "== sim (seed 1, Periodic CPU quota) against kind, ±20 % either way (informational: the kind verdicts above are the gate)"
	-./$(BIN) report compare $(REPORTS)/sim $(REPORTS)/kind --both-ways --tolerance 0.2 --html $(REPORTS)/sim-vs-kind

# Chaos Mesh on a kind cluster (pkg/chaosmesh): install from the images and
# CRDs of `make images`, PodChaos pod-kill, pod-failure and container-kill,
# StressChaos CPU and NetworkChaos partition applied as real CRs and
# measured (TIMING lines), uninstall. About 4.5 minutes.
# Creates its own cluster (mcpsim-e2e-chaos) and deletes it; with
# MCPSIM_E2E_CLUSTER=NAME it uses that existing cluster instead and leaves
# it as it found it.
e2e-chaos: images
	$(GO) test -tags e2e -count=1 -timeout 40m -v ./pkg/chaosmesh -run E2E
