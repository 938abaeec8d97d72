package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpsim/mcpsim/pkg/cluster/sim"
	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

func runBuiltin(t *testing.T, name string, seed uint64, out string) *report.Report {
	t.Helper()
	srcs, err := Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(srcs[0].Name, srcs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), sc, srcs[0].Name, Options{Backend: sim.Backend{}, Seed: seed, OutDir: out, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func jsonOf(t *testing.T, r *report.Report) []byte {
	t.Helper()
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// Every report a test writes follows the published schema.
	if err := report.Validate(b); err != nil {
		t.Fatalf("%s: report.json does not follow the schema: %v", r.Scenario.Name, err)
	}
	return b
}

var update = flag.Bool("update", false, "rewrite the golden reports in testdata/golden")

// TestGoldenReports: each built-in scenario, seed 1, gives exactly the
// report.json in testdata/golden (go test ./pkg/runner -run Golden
// -update rewrites them after an intended change). The bytes must not
// depend on the machine, the time or the order of map iteration.
func TestGoldenReports(t *testing.T) {
	for _, name := range scenarios.Names() {
		t.Run(name, func(t *testing.T) {
			got := jsonOf(t, runBuiltin(t, name, 1, ""))
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./pkg/runner -run Golden -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("report.json of %s, seed 1, differs from %s; if the change is intended, rerun with -update and review the diff", name, path)
			}
		})
	}
}

func TestBuiltinsPassAndWriteReports(t *testing.T) {
	for _, name := range scenarios.Names() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			rep := runBuiltin(t, name, 1, dir)
			if !rep.Passed {
				b, _ := json.MarshalIndent(rep.Assertions, "", " ")
				t.Fatalf("%s failed on the sim:\n%s", name, b)
			}
			for _, f := range []string{report.JSONFile, report.JUnitFile, report.HTMLFile} {
				info, err := os.Stat(filepath.Join(dir, name, f))
				if err != nil || info.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			written, _ := os.ReadFile(filepath.Join(dir, name, report.JSONFile))
			if err := report.Validate(written); err != nil {
				t.Fatalf("written report.json does not follow the schema: %v", err)
			}
			if !bytes.Equal(written, jsonOf(t, rep)) {
				t.Error("report.json on disk differs from the report returned")
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, name, ".*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		})
	}
}

// TestSameSeedSameBytes is the determinism contract: same scenario and
// seed, byte-identical report.json.
func TestSameSeedSameBytes(t *testing.T) {
	for _, name := range scenarios.Names() {
		a := jsonOf(t, runBuiltin(t, name, 42, ""))
		b := jsonOf(t, runBuiltin(t, name, 42, ""))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two runs with seed 42 gave different report.json", name)
		}
	}
}

// TestOtherSeedChangesOnlyRandomness: the seed drives service times, load
// balancing, startup latencies and chaos target choice, not the load, the
// schedule of faults or the scenario itself.
func TestOtherSeedChangesOnlyRandomness(t *testing.T) {
	a := runBuiltin(t, "pod-kill-recovery", 1, "")
	b := runBuiltin(t, "pod-kill-recovery", 2, "")
	if bytes.Equal(jsonOf(t, a), jsonOf(t, b)) {
		t.Fatal("seeds 1 and 2 gave identical reports: the seed is not used")
	}
	if a.Scenario.Name != b.Scenario.Name || len(a.Assertions) != len(b.Assertions) {
		t.Fatal("scenario identity changed with the seed")
	}
	// The pacer is deterministic: the same requests are sent; only the few
	// still in flight at the end can differ.
	if d := a.Load.Requests - b.Load.Requests; d < -10 || d > 10 {
		t.Fatalf("request counts %d vs %d: the load itself changed with the seed", a.Load.Requests, b.Load.Requests)
	}
	if len(a.Faults) != 1 || len(b.Faults) != 1 || a.Faults[0].At != b.Faults[0].At {
		t.Fatalf("fault schedule changed with the seed: %+v vs %+v", a.Faults, b.Faults)
	}
	if *a.Load.P99 == *b.Load.P99 && *a.Load.P50 == *b.Load.P50 {
		t.Fatal("latency distribution identical across seeds: service times are not drawn from the seed")
	}
}

func TestResolve(t *testing.T) {
	if _, err := Resolve("no-such-scenario"); err == nil {
		t.Fatal("unknown name resolved")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.yml"), []byte("y"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("z"), 0o644)
	srcs, err := Resolve(dir)
	if err != nil || len(srcs) != 2 || filepath.Base(srcs[0].Name) != "a.yml" {
		t.Fatalf("Resolve(dir) = %v, %v", srcs, err)
	}
	if _, err := Resolve(t.TempDir()); err == nil {
		t.Fatal("empty directory resolved")
	}
}

// TestSelfHealBaseline: a scenario with self-heal policies is run again
// without them on the sim (same seed) for the report. In self-heal, a
// gateway pod hangs at 2m for good: with the policy 3 pods are ready at
// the end and every assertion passes; without it the readiness probe only
// takes the pod out of the endpoints, nothing restarts it, so 2 are ready
// at the end and the repair assertion fails. A scenario without policies
// has no baseline.
func TestSelfHealBaseline(t *testing.T) {
	rep := runBuiltin(t, "self-heal", 1, "")
	b := rep.Baseline
	if !rep.Passed || b == nil || b.Without != "spec.selfHeal" {
		t.Fatalf("passed %v, baseline %+v", rep.Passed, b)
	}
	if b.ReadyAtEnd["gateway"] != 2 {
		t.Fatalf("without self-heal, %d gateway pods ready at the end, want 2", b.ReadyAtEnd["gateway"])
	}
	for _, a := range b.Assertions {
		if a.Name == "hung pod repaired" && a.Passed {
			t.Fatal("the repair assertion passed without a policy")
		}
	}
	if b.Load.Failed <= rep.Load.Failed {
		t.Fatalf("without self-heal %d failed requests, with %d: want more without", b.Load.Failed, rep.Load.Failed)
	}
	if rep := runBuiltin(t, "pod-kill-recovery", 1, ""); rep.Baseline != nil {
		t.Fatal("a scenario without self-heal policies got a baseline")
	}
}
