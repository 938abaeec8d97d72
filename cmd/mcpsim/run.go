package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
	"github.com/mcpsim/mcpsim/pkg/cluster/kube"
	"github.com/mcpsim/mcpsim/pkg/cluster/sim"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/pkg/runner"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

type runFlags struct {
	backend string
	seed    uint64
	out     string
	output  string
	results bool
	quiet   bool
	// skipUnsupported runs what the backend can and lists the rest,
	// instead of refusing the whole run.
	skipUnsupported bool
	// cpuQuota overrides every scenario's spec.cluster.cpuQuota.model
	// (sim only).
	cpuQuota string
	real     realFlags
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run SCENARIO...",
		Short: "Run scenarios (built-in names, files or directories)",
		Example: `  mcpsim run hpa-scale-up
  mcpsim run ./my-scenarios/ --seed 7 --out reports
  mcpsim run pod-kill-recovery --output json`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE:              func(cmd *cobra.Command, args []string) error { return runScenarios(cmd, f, args) },
	}
	cmd.Flags().StringVar(&f.backend, "backend", "sim", "cluster backend: sim, kind or kube")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "seed of every random choice of the sim backend")
	cmd.Flags().StringVar(&f.out, "out", "reports", "directory for reports (<out>/<scenario>/...); empty writes none")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "what to print: text or json")
	cmd.Flags().BoolVar(&f.results, "vegeta-results", false, "also write every request as Vegeta results (results.bin, readable by vegeta report)")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress output (verdicts and errors only)")
	cmd.Flags().BoolVar(&f.skipUnsupported, "skip-unsupported", false, "run the scenarios the backend supports and list the others as skipped (default: refuse the whole run)")
	cmd.Flags().StringVar(&f.cpuQuota, "cpu-quota", "", "sim: enforce every scenario's CPU limits with this model whatever its spec.cluster.cpuQuota says: Fluid (never above the limit) or Periodic (the kernel's quota per CFS period, as a real cluster; compare with one this way)")
	r := &f.real
	cmd.Flags().StringVar(&r.cluster, "cluster", "mcpsim", "kind: the cluster to use (reused if it exists, else created from the first scenario's node pools)")
	cmd.Flags().BoolVar(&r.keepCluster, "keep-cluster", false, "kind: keep a cluster this run created")
	cmd.Flags().StringVar(&r.nodeImage, "node-image", DefaultNodeImage, "kind: node image (built by make images)")
	cmd.Flags().StringVar(&r.image, "image", reference.DefaultImage, "kind, kube: the reference services' image")
	cmd.Flags().StringVar(&r.kubeconfig, "kubeconfig", "", "kube: kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&r.context, "context", "", "kube: kubeconfig context")
	cmd.Flags().StringVar(&r.target, "target", "", "kube: URL at which this machine reaches the entry service")
	cmd.Flags().Int32Var(&r.nodePort, "node-port", 0, "kube: expose the entry service on this NodePort")
	cmd.Flags().BoolVar(&r.allowNonLoopback, "allow-non-loopback-target", false, "kube: allow a --target that is not a loopback address")
	cmd.Flags().BoolVar(&r.chaosMesh, "chaos-mesh", false, "kube: Chaos Mesh is installed; kind: install it if missing (automatic when a scenario has Chaos Mesh faults). Faults are then real Chaos Mesh objects (every PodChaos action)")
	return cmd
}

// backendFor returns the backend that checks scenarios; real backends
// connect (or create a kind cluster) only once every scenario passed
// Check.
func backendFor(f *runFlags) (cluster.Backend, error) {
	switch f.backend {
	case "sim":
		return sim.Backend{}, nil
	case "kind":
		// The checks' backend: a kind cluster takes its nodes off the
		// network (NodeOutage; the cluster, once up, does it), and its
		// nodes share the host's kernel, read once a run.
		f.real.noNetem = kind.NetemMissing()
		return kube.New(kube.Options{Name: "kind", Target: fmt.Sprintf("http://127.0.0.1:%d", kind.DefaultNodePort), ChaosMesh: f.real.chaosMesh, IsolatesNodes: true, NoNetem: f.real.noNetem, DelaysWithoutNetem: f.real.noNetem != ""}), nil
	case "kube":
		if f.real.target == "" {
			return nil, usageErr("--backend kube needs --target: the URL at which this machine reaches the entry service")
		}
		return kube.New(kube.Options{Name: "kube", Target: f.real.target, AllowNonLoopback: f.real.allowNonLoopback, ChaosMesh: f.real.chaosMesh}), nil
	}
	return nil, usageErr("unknown backend %q: use sim, kind or kube", f.backend)
}

func runScenarios(cmd *cobra.Command, f *runFlags, args []string) error {
	if f.output != "text" && f.output != "json" {
		return usageErr("--output must be text or json, not %q", f.output)
	}
	scs, sources, err := parseAll(cmd, args)
	if err != nil {
		return err
	}
	if err := overrideCPUQuota(f, scs); err != nil {
		return err
	}
	if f.backend == "kind" && !f.real.chaosMesh && anyChaosObject(scs) {
		// A kind cluster is mcpsim's: its Chaos Mesh faults run as real
		// objects, Chaos Mesh installed where a scenario has any.
		f.real.chaosMesh, f.real.chaosMeshAuto = true, true
	}
	backend, err := backendFor(f)
	if err != nil {
		return err
	}
	// Everything a backend cannot do is found before anything runs.
	var skipped []report.Skipped
	var runnable []*scenario.Scenario
	var runnableSources []string
	for i, sc := range scs {
		if err := backend.Check(sc); err != nil {
			var ue *cluster.UnsupportedError
			msg := fmt.Sprintf("%s: %v", sources[i], err)
			if errors.As(err, &ue) {
				// At the field's place in the file.
				msg = sc.Locate(ue.Path, fmt.Sprintf("%s (not supported by backend %s)", ue.Reason, ue.Backend)).Error()
			}
			skipped = append(skipped, report.Skipped{Scenario: sc.Metadata.Name, Reason: msg})
			continue
		}
		runnable, runnableSources = append(runnable, sc), append(runnableSources, sources[i])
	}
	if len(skipped) > 0 {
		if !f.skipUnsupported || len(runnable) == 0 {
			reasons := make([]string, len(skipped))
			for i, sk := range skipped {
				reasons[i] = sk.Reason
			}
			return usageErr("%s\n%d scenario(s) cannot run on backend %s; nothing was run", strings.Join(reasons, "\n"), len(skipped), backend.Name())
		}
		for _, sk := range skipped {
			fmt.Fprintf(cmd.ErrOrStderr(), "SKIP  %s\n", sk.Reason)
		}
		scs, sources = runnable, runnableSources
	}
	if f.out != "" {
		// Fail before running anything if the reports cannot be written.
		if err := report.CheckWritable(f.out); err != nil {
			return usageErr("--out %s: %v", f.out, err)
		}
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	// One group on the sim and on kube; on kind, one per cluster shape.
	groups := [][]int{make([]int, len(scs))}
	for i := range scs {
		groups[0][i] = i
	}
	if f.backend == "kind" {
		groups = kindGroups(scs)
		if len(groups) > 1 {
			fmt.Fprintf(stderr, "%d scenarios need %d kind clusters of different nodes: one at a time, each for its scenarios\n", len(scs), len(groups))
		}
	}
	tuneGC(scs)
	prog := newProgress(stderr, f.quiet)
	reports := make([]*report.Report, len(scs))
	failed := false
	for _, group := range groups {
		b, cleanup, err := prepareBackend(cmd, f, backend, pick(scs, group), stderr)
		if err != nil {
			return err
		}
		err = func() error {
			defer cleanup()
			opts := runner.Options{Backend: b, Seed: f.seed, OutDir: f.out, VegetaResults: f.results, Version: buildVersion(), ProgressEvery: prog.every}
			if !f.quiet {
				// Quiet, the backend need not gather the progress line's
				// figures at all.
				opts.Progress = prog.update
			}
			for _, i := range group {
				sc := scs[i]
				rep, err := runner.Run(cmd.Context(), sc, sources[i], opts)
				prog.done()
				if err != nil {
					if errors.Is(err, context.Canceled) {
						return &exitError{code: exitInterrupt, err: fmt.Errorf("interrupted during %s; no report written for it", sc.Metadata.Name)}
					}
					// The backend failed, or the reports could not be written.
					return &exitError{code: exitInfra, err: fmt.Errorf("%s: %w", sc.Metadata.Name, err)}
				}
				reports[i] = rep
				failed = failed || !rep.Passed
				if f.output == "text" {
					printVerdicts(stdout, rep, f.out, f.results)
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	// A suite (a directory, or several scenarios) also gets an index page
	// and one merged JUnit file.
	if f.out != "" && (len(reports)+len(skipped) > 1 || anyDir(args)) {
		if err := report.WriteSuite(f.out, reports, skipped...); err != nil {
			return &exitError{code: exitInfra, err: err}
		}
		if f.output == "text" {
			fmt.Fprintf(stdout, "suite: %s/{%s,%s}\n", strings.TrimRight(f.out, "/"), report.IndexFile, report.JUnitFile)
		}
	}
	if f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
	} else if len(reports) > 1 {
		passed := 0
		for _, r := range reports {
			if r.Passed {
				passed++
			}
		}
		fmt.Fprintf(stdout, "\n%d of %d scenarios passed", passed, len(reports))
		if len(skipped) > 0 {
			fmt.Fprintf(stdout, "; %d skipped (not supported by backend %s)", len(skipped), backend.Name())
		}
		fmt.Fprintln(stdout)
	}
	if failed {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}

// prepareBackend readies the backend for a group of scenarios: the sim
// as it is; a real cluster connected to (kube) or brought up (kind).
// cleanup deletes what was created for the group.
func prepareBackend(cmd *cobra.Command, f *runFlags, sim cluster.Backend, scs []*scenario.Scenario, log io.Writer) (cluster.Backend, func(), error) {
	if f.backend == "sim" {
		return sim, func() {}, nil
	}
	var pb *preparedBackend
	var err error
	if f.backend == "kind" {
		pb, err = kindBackend(cmd, &f.real, scs, log)
	} else {
		pb, err = kubeBackend(&f.real, log)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, &exitError{code: exitInterrupt, err: errors.New("interrupted while preparing the cluster")}
		}
		return nil, nil, err
	}
	return pb, func() {
		if cerr := pb.cleanup(); cerr != nil {
			fmt.Fprintf(log, "mcpsim: %v\n", cerr)
		}
	}, nil
}

// pick returns scs[i] for each i of idx.
func pick(scs []*scenario.Scenario, idx []int) []*scenario.Scenario {
	out := make([]*scenario.Scenario, len(idx))
	for j, i := range idx {
		out[j] = scs[i]
	}
	return out
}

func printVerdicts(w io.Writer, rep *report.Report, out string, results bool) {
	verdict := "PASS"
	if !rep.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s  %s  (backend %s, seed %d, %d requests, %.0fs)\n", verdict, termSafe(rep.Scenario.Name), rep.Backend, rep.Seed, rep.Load.Requests, rep.Duration)
	for _, a := range rep.Assertions {
		mark := "ok  "
		if !a.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %-32s %s  (threshold: %s)\n", mark, termSafe(a.Name), termSafe(a.Measured), termSafe(a.Threshold))
		if !a.Passed && a.Detail != "" {
			fmt.Fprintf(w, "       %s\n", termSafe(a.Detail))
		}
	}
	if b := rep.Baseline; b != nil {
		failing := 0
		for _, a := range b.Assertions {
			if !a.Passed {
				failing++
			}
		}
		var ready []string
		for _, s := range rep.Services {
			ready = append(ready, fmt.Sprintf("%s %d", termSafe(s.Name), b.ReadyAtEnd[s.Name]))
		}
		fmt.Fprintf(w, "  without %s (same seed): %d of %d assertions fail, %d of %d requests failed, ready at the end: %s\n",
			b.Without, failing, len(b.Assertions), b.Load.Failed, b.Load.Requests, strings.Join(ready, ", "))
	}
	if out != "" {
		files := []string{report.JSONFile, report.JUnitFile, report.HTMLFile}
		if results {
			files = append(files, report.ResultsFile)
		}
		fmt.Fprintf(w, "  reports: %s/%s/{%s}\n", strings.TrimRight(out, "/"), rep.Scenario.Name, strings.Join(files, ","))
	}
}

// progress shows one live line on a terminal, plain periodic lines
// otherwise. It reads the wall clock only to limit how often a terminal
// line is redrawn; the simulation itself never sees it.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	width int // columns of the terminal; the live line never wraps
	every time.Duration
	last  time.Time
	shown bool
}

// newProgress: a live line only on a terminal that handles escape codes
// (not TERM=dumb, not NO_COLOR); plain lines elsewhere; nothing if quiet.
func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, every: 30 * time.Second, quiet: quiet}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" && os.Getenv("NO_COLOR") == "" {
		p.tty, p.every = true, time.Second
		p.width = 80
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			p.width = cols
		}
	}
	return p
}

func (p *progress) update(name string, st cluster.Status) {
	if p.quiet {
		return
	}
	line := fmt.Sprintf("%s  t=%s/%s  ready %d/%d  %.0f req/s  p99 %s  errors %.2f%%", name,
		st.T.Truncate(time.Second), st.Duration, st.Ready, st.Desired, st.RPS, st.P99.Round(100*time.Microsecond), st.ErrorRate*100)
	if len(st.Faults) > 0 {
		line += "  faults: " + termSafe(strings.Join(st.Faults, ","))
	}
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 50*time.Millisecond || st.T == st.Duration {
		p.last = now
		if r := []rune(line); len(r) >= p.width {
			line = string(r[:max(p.width-2, 1)]) + "…"
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
	}
}

func (p *progress) done() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// anyDir reports whether an argument names a directory of scenarios.
func anyDir(args []string) bool {
	for _, a := range args {
		if info, err := os.Stat(a); err == nil && info.IsDir() {
			return true
		}
	}
	return false
}

// tuneGC keeps a large run's memory near what it holds: the sim keeps
// every request's record (16 bytes) and the verdicts a latency per
// request; Go's default (GOGC=100) lets the heap grow to twice that
// before collecting. Above 5 million records, the collector runs at 25%
// growth instead: 36 million requests (testdata/bench/large.yaml) peak
// at ~0.74 GiB instead of ~0.98 GiB (measured 2026-11-28), for a few
// percent more CPU. A user's GOGC or GOMEMLIMIT wins.
func tuneGC(scs []*scenario.Scenario) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	for _, sc := range scs {
		if scenario.ExpectedServiceRequests(sc) > 5e6 {
			debug.SetGCPercent(25)
			return
		}
	}
}

// overrideCPUQuota applies --cpu-quota to every scenario.
func overrideCPUQuota(f *runFlags, scs []*scenario.Scenario) error {
	if f.cpuQuota == "" {
		return nil
	}
	var model string
	for _, m := range []string{scenario.CPUQuotaFluid, scenario.CPUQuotaPeriodic} {
		if strings.EqualFold(f.cpuQuota, m) {
			model = m
		}
	}
	switch {
	case model == "":
		return usageErr("--cpu-quota must be %s or %s, not %q", scenario.CPUQuotaFluid, scenario.CPUQuotaPeriodic, f.cpuQuota)
	case f.backend != "sim":
		return usageErr("--cpu-quota chooses the sim's model of CPU limits; on --backend %s the nodes' kernel enforces them", f.backend)
	}
	for _, sc := range scs {
		c := &sc.Spec.Cluster
		switch {
		case c.CPUQuota == nil || model == scenario.CPUQuotaFluid:
			c.CPUQuota = &scenario.CPUQuota{Model: model}
		default: // Periodic: keep the scenario's period, if it has one
			c.CPUQuota.Model = model
		}
	}
	return nil
}
