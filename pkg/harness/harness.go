// Package harness runs mcpsim scenarios from Go test suites: a scenario
// (a built-in name, a file or the bytes of one) on a backend — the sim, or
// a real cluster through a client-go client — gives a report whose
// verdicts a test asserts on. Gomega matchers (Pass, HaveAssertion) make
// the failures readable in Ginkgo suites; plain `go test` and
// e2e-framework's features use Run and Report.Passed the same way.
package harness

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/cluster/kube"
	"github.com/mcpsim/mcpsim/pkg/cluster/sim"
	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/pkg/runner"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Options configure a run.
type Options struct {
	// Backend runs the scenario (default: the sim).
	Backend cluster.Backend
	// Seed of the sim's random choices (default 1).
	Seed uint64
	// OutDir, if set, receives the reports (<OutDir>/<scenario>/...).
	OutDir string
}

// Sim is the deterministic simulated cluster.
func Sim() cluster.Backend { return sim.Backend{} }

// Kube is an existing cluster: client and the URL at which this machine
// reaches the entry service (a loopback address); nodePort, if not 0,
// exposes the entry service on that NodePort (a kind cluster of mcpsim's
// maps 30080 to 127.0.0.1:30080).
func Kube(client kubernetes.Interface, target string, nodePort int32) cluster.Backend {
	return kube.New(kube.Options{Name: "kube", Client: client, Target: target, NodePort: nodePort})
}

// Run runs one scenario: a built-in name or a file path.
func Run(ctx context.Context, nameOrPath string, opts Options) (*report.Report, error) {
	srcs, err := runner.Resolve(nameOrPath)
	if err != nil {
		return nil, err
	}
	if len(srcs) != 1 {
		return nil, fmt.Errorf("%s: %d scenarios; Run takes one (use RunAll)", nameOrPath, len(srcs))
	}
	return RunSource(ctx, srcs[0].Name, srcs[0].Data, opts)
}

// RunSource runs a scenario given as YAML; name is used in error
// positions.
func RunSource(ctx context.Context, name string, data []byte, opts Options) (*report.Report, error) {
	sc, err := scenario.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if opts.Backend == nil {
		opts.Backend = Sim()
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	return runner.Run(ctx, sc, name, runner.Options{Backend: opts.Backend, Seed: opts.Seed, OutDir: opts.OutDir})
}

// Failures describes a report's failed assertions, one per line ("" if
// it passed).
func Failures(r *report.Report) string {
	var b strings.Builder
	for _, a := range r.Assertions {
		if !a.Passed {
			fmt.Fprintf(&b, "%s: %s (threshold: %s) %s\n", a.Name, a.Measured, a.Threshold, a.Detail)
		}
	}
	return b.String()
}
