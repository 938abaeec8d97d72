// Package runner runs scenarios: it finds them (built-in names, files,
// directories), builds the backend's plan (pacer, faults), evaluates the
// assertions over the timeline and writes the reports.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// Source is one scenario file's name and content.
type Source struct {
	Name string
	Data []byte
}

// Resolve turns a command-line argument into scenario sources: an existing
// file, every *.yaml/*.yml of a directory (sorted), or a built-in name.
func Resolve(arg string) ([]Source, error) {
	info, err := os.Stat(arg)
	switch {
	case err == nil && info.IsDir():
		var out []Source
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
				continue
			}
			p := filepath.Join(arg, e.Name())
			data, err := scenario.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out = append(out, Source{Name: p, Data: data})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s: no scenario files (*.yaml, *.yml) in this directory", arg)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	case err == nil:
		data, err := scenario.ReadFile(arg)
		if err != nil {
			return nil, err
		}
		return []Source{{Name: arg, Data: data}}, nil
	}
	if name, data, ok := scenarios.Get(arg); ok {
		return []Source{{Name: name, Data: data}}, nil
	}
	return nil, fmt.Errorf("%s: no such file, directory or built-in scenario (built-in: %s)", arg, strings.Join(scenarios.Names(), ", "))
}

// Options configure a run.
type Options struct {
	Backend cluster.Backend
	Seed    uint64
	// OutDir receives <scenario>/{report.json,junit.xml,report.html}; empty
	// writes nothing.
	OutDir string
	// VegetaResults also writes every request as Vegeta results
	// (<OutDir>/<scenario>/results.bin).
	VegetaResults bool
	// Version is mcpsim's version, written into the reports.
	Version       string
	Progress      func(name string, st cluster.Status)
	ProgressEvery time.Duration
}

// Run runs one parsed scenario and returns its report.
func Run(ctx context.Context, sc *scenario.Scenario, source string, opts Options) (*report.Report, error) {
	if err := opts.Backend.Check(sc); err != nil {
		return nil, err
	}
	pacer, err := loadgen.Pacer(&sc.Spec.Load, opts.Seed)
	if err != nil {
		return nil, err
	}
	plan := &cluster.Plan{
		Scenario:      sc,
		Seed:          opts.Seed,
		Schedule:      cluster.Schedule(sc),
		Pacer:         pacer,
		LoadStart:     sc.Spec.Load.Start.Duration,
		LoadDuration:  sc.Spec.Load.Duration.Duration,
		ProgressEvery: opts.ProgressEvery,
	}
	if opts.Progress != nil {
		plan.Progress = func(st cluster.Status) { opts.Progress(sc.Metadata.Name, st) }
	}
	tl, err := opts.Backend.Run(ctx, plan)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: backend %s: %v", cluster.ErrInfrastructure, opts.Backend.Name(), err)
	}
	results := assertions.Evaluate(sc, tl)
	meta := report.Meta{Source: source, Backend: opts.Backend.Name(), Seed: opts.Seed, Version: opts.Version}
	rep := report.Build(sc, tl, results, meta)
	if len(sc.Spec.SelfHeal) > 0 && opts.Backend.Name() == "sim" {
		// What the policies are worth: the same run without them.
		base, err := baseline(ctx, sc, opts, meta)
		if err != nil {
			return nil, err
		}
		rep.Baseline = base
	}
	if opts.OutDir != "" {
		err := report.WriteSet(ctx, opts.OutDir, sc.Metadata.Name, func(dir string) error {
			if err := rep.WriteDir(dir); err != nil {
				return err
			}
			if opts.VegetaResults {
				return report.WriteVegetaResults(dir, sc.Metadata.Name, tl)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// baseline runs sc again without its self-heal policies, with the same
// seed (so the same load and the same faults on the same pods), and sums
// it up for the report. Only the sim can afford a second run.
func baseline(ctx context.Context, sc *scenario.Scenario, opts Options, meta report.Meta) (*report.Baseline, error) {
	without := *sc
	without.Spec.SelfHeal = nil
	pacer, err := loadgen.Pacer(&without.Spec.Load, opts.Seed)
	if err != nil {
		return nil, err
	}
	tl, err := opts.Backend.Run(ctx, &cluster.Plan{Scenario: &without, Seed: opts.Seed, Schedule: cluster.Schedule(&without), Pacer: pacer,
		LoadStart: without.Spec.Load.Start.Duration, LoadDuration: without.Spec.Load.Duration.Duration})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: backend %s, the run without spec.selfHeal: %v", cluster.ErrInfrastructure, opts.Backend.Name(), err)
	}
	return report.NewBaseline("spec.selfHeal", report.Build(&without, tl, assertions.Evaluate(&without, tl), meta)), nil
}
