package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpsim/mcpsim/pkg/report"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const scenarioTmpl = `apiVersion: mcpsim.dev/v1alpha1
kind: Scenario
metadata: {name: NAME}
spec:
  duration: 2m
  cluster:
    nodePools:
      - {name: a, count: 1, cpu: "4", memory: 8Gi}
  workload:
    service: gateway
    replicas: 2
    resources: {requests: {cpu: 200m}, limits: {cpu: 500m}}
  load:
    profile: constant
    rate: 20
    cpuPerRequest: 10ms
    timeout: 2s
  assertions:
    - {name: p99, type: latency, quantile: 0.99, max: MAX}
`

func scenarioFile(t *testing.T, dir, name, max string) string {
	return writeFile(t, dir, name+".yaml", strings.NewReplacer("NAME", name, "MAX", max).Replace(scenarioTmpl))
}

func TestRunBuiltinWritesReportsAndPasses(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run(t, "run", "pod-kill-recovery", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "PASS  pod-kill-recovery") || !strings.Contains(stdout, "ready replicas recover") {
		t.Fatalf("no verdict lines:\n%s", stdout)
	}
	for _, f := range []string{"report.json", "junit.xml", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, "pod-kill-recovery", f)); err != nil {
			t.Error(err)
		}
	}
	// Not a terminal: progress comes as plain lines on stderr.
	if !strings.Contains(stderr, "pod-kill-recovery  t=30s/5m0s") {
		t.Errorf("no periodic progress lines on stderr:\n%s", stderr)
	}
}

func TestFailingAssertionExitsOne(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := run(t, "run", scenarioFile(t, dir, "strict", "1us"), "--out", "")
	if code != 1 || !strings.Contains(stdout, "FAIL  strict") {
		t.Fatalf("exit %d, want 1:\n%s", code, stdout)
	}
}

func TestRunDirectoryAndJSONOutput(t *testing.T) {
	dir := t.TempDir()
	scenarioFile(t, dir, "one", "1s")
	scenarioFile(t, dir, "two", "1s")
	code, stdout, stderr := run(t, "run", dir, "--out", "", "--output", "json", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var reps []struct {
		Scenario struct{ Name string }
		Seed     uint64
		Passed   bool
	}
	if err := json.Unmarshal([]byte(stdout), &reps); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, stdout)
	}
	if len(reps) != 2 || reps[0].Scenario.Name != "one" || reps[1].Seed != 3 || !reps[1].Passed {
		t.Fatalf("reports: %+v", reps)
	}
}

func TestInvalidScenarioExitsTwoWithPosition(t *testing.T) {
	dir := t.TempDir()
	src := strings.Replace(strings.NewReplacer("NAME", "bad", "MAX", "1s").Replace(scenarioTmpl), "replicas: 2", "replicaz: 2", 1)
	p := writeFile(t, dir, "bad.yaml", src)
	for _, cmd := range []string{"run", "validate"} {
		code, _, stderr := run(t, cmd, p, "--out", filepath.Join(dir, "reports"))
		if cmd == "validate" {
			code, _, stderr = run(t, cmd, p)
		}
		if code != 2 || !strings.Contains(stderr, p+":11:5: spec.workload.replicaz: unknown field") {
			t.Fatalf("%s: exit %d, stderr:\n%s", cmd, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); !os.IsNotExist(err) {
		t.Fatal("an invalid scenario left a reports directory behind")
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"run", "hpa-scale-up", "--backend", "kube"},
		{"run", "hpa-scale-up", "--backend", "kube", "--target", "http://10.1.2.3:80"},
		{"run", "hpa-scale-up", "--backend", "nope"},
		{"run", "hpa-scale-up", "--output", "yaml"},
		{"run", "no-such-scenario"},
		{"run"},
		{"frobnicate"},
		{"cluster", "frobnicate"},
		{"images", "frobnicate"},
		{"conformance", "frobnicate"},
		{"run", "hpa-scale-up", "--seed", "minus-one"},
		{"run", "hpa-scale-up", "--cpu-quota", "bursty"},
		{"run", "hpa-scale-up", "--cpu-quota", "Fluid", "--backend", "kind"},
	} {
		code, _, stderr := run(t, args...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	_, _, stderr := run(t, "run", "hpa-scale-up", "--backend", "kube", "--target", "http://10.1.2.3:80")
	if !strings.Contains(stderr, "not a loopback address") {
		t.Errorf("non-loopback target: %q", stderr)
	}
}

func TestUnwritableOutIsAUsageError(t *testing.T) {
	file := writeFile(t, t.TempDir(), "not-a-dir", "x")
	code, stdout, stderr := run(t, "run", "pod-kill-recovery", "--out", filepath.Join(file, "reports"))
	if code != 2 || !strings.Contains(stderr, "--out") || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestListAndVersion(t *testing.T) {
	code, stdout, _ := run(t, "list")
	if code != 0 || !strings.Contains(stdout, "hpa-scale-up") || !strings.Contains(stdout, "pod-kill-recovery") {
		t.Fatalf("list: %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "mcpsim ") {
		t.Fatalf("version: %d %q", code, stdout)
	}
}

func TestConformanceHPA(t *testing.T) {
	cases := filepath.Join("..", "..", "pkg", "hpa", "conformance", "testdata", "hpa-cases.json")
	code, stdout, _ := run(t, "conformance", "hpa", cases)
	if code != 0 || !strings.HasSuffix(stdout, "137 passed, 0 failed\n") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	dir := t.TempDir()
	wrong := writeFile(t, dir, "wrong.json", `[{"name":"clamp","source":"x","kind":"clampNoBehavior","input":{"currentReplicas":2,"desiredReplicas":100,"minReplicas":1,"maxReplicas":50,"scaleUpLimitFactor":2,"scaleUpLimitMinimum":4},"expect":{"desiredReplicas":50,"reason":"TooManyReplicas"}}]`)
	code, stdout, _ = run(t, "conformance", "hpa", wrong)
	if code != 1 || !strings.Contains(stdout, "FAIL clamp") || !strings.HasSuffix(stdout, "0 passed, 1 failed\n") {
		t.Fatalf("wrong case: exit %d\n%s", code, stdout)
	}
	bad := writeFile(t, dir, "bad.json", `{"not": "a list"}`)
	code, _, stderr := run(t, "conformance", "hpa", bad)
	if code != 2 || !strings.Contains(stderr, "bad.json") {
		t.Fatalf("malformed: exit %d %q", code, stderr)
	}
}

// TestEscapesInScenarioTextAreNotSentToTheTerminal: an assertion name with
// an ANSI escape sequence is printed escaped, not interpreted.
func TestEscapesInScenarioTextAreNotSentToTheTerminal(t *testing.T) {
	dir := t.TempDir()
	file := scenarioFile(t, dir, "esc", "200ms")
	data, _ := os.ReadFile(file)
	data = []byte(strings.Replace(string(data), "name: p99", "name: \"p99 \\e[2J\\e]0;pwned\\a\"", 1))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr := run(t, "run", file, "--out", "")
	if strings.ContainsRune(stdout+stderr, 0x1b) || strings.ContainsRune(stdout+stderr, 0x07) {
		t.Fatalf("raw escape characters reached the terminal:\n%q", stdout)
	}
	if !strings.Contains(stdout, `p99 \x1b[2J`) {
		t.Fatalf("the name is not shown escaped:\n%s", stdout)
	}
}

// TestUnsupportedOnTheBackendExitsTwoBeforeRunning: a fault action the sim
// does not model is refused before any scenario runs.
func TestUnsupportedOnTheBackendExitsTwoBeforeRunning(t *testing.T) {
	dir := t.TempDir()
	ok := scenarioFile(t, dir, "a-ok", "200ms")
	data, _ := os.ReadFile(ok)
	// A zone outage: the sim and kind run it, a cluster mcpsim did not
	// create cannot.
	bad := strings.Replace(string(data), "name: a-ok", "name: b-bad", 1) + `  faults:
    - at: 10s
      apiVersion: mcpsim.dev/v1alpha2
      kind: NodeOutage
      metadata: {name: zone-down}
      spec: {selector: {topology.kubernetes.io/zone: zone-a}}
`
	if !strings.Contains(bad, "  assertions:") {
		t.Fatal("fixture changed")
	}
	writeFile(t, dir, "b-bad.yaml", bad)
	out := filepath.Join(t.TempDir(), "reports")
	// The sim models NetworkChaos delay but not bandwidth limits.
	simDir := t.TempDir()
	writeFile(t, simDir, "a-ok.yaml", string(data))
	writeFile(t, simDir, "b-bad.yaml", strings.Replace(string(data), "name: a-ok", "name: b-bad", 1)+`  faults:
    - at: 10s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow}
      spec: {action: bandwidth, mode: all, selector: {labelSelectors: {app: gateway}}, bandwidth: {rate: 1mbps, limit: 100, buffer: 10000}}
`)
	code, stdout, stderr := run(t, "run", simDir, "--out", out)
	// Shown at the field's place in the file (file:line:column).
	if code != 2 || !regexp.MustCompile(`b-bad\.yaml:\d+:\d+: spec\.faults\[0\]\.spec\.action: Unsupported value: "bandwidth".*\(not supported by backend sim\)`).MatchString(stderr) || !strings.Contains(stderr, "nothing was run") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// A fault the real backends cannot run, found before any cluster is
	// touched.
	code, _, stderr = run(t, "run", dir, "--backend", "kube", "--target", "http://127.0.0.1:1", "--out", out)
	if code != 2 || !regexp.MustCompile(`b-bad\.yaml:\d+:\d+: spec\.faults\[0\]\.kind: Forbidden: NodeOutage needs a cluster whose machines mcpsim controls.*\(not supported by backend kube\)`).MatchString(stderr) {
		t.Fatalf("kube: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "a-ok")); err == nil || stdout != "" {
		t.Fatalf("a scenario ran although another cannot: %q", stdout)
	}
	// --skip-unsupported runs what the backend can and lists the rest:
	// a-ok runs and passes (exit 0), b-bad is skipped with its reason at
	// its place, and gets no report.
	code, stdout, stderr = run(t, "run", simDir, "--out", out, "--skip-unsupported", "-q")
	if code != 0 || !regexp.MustCompile(`SKIP  .*b-bad\.yaml:\d+:\d+: spec\.faults\[0\]\.spec\.action`).MatchString(stderr) || !strings.Contains(stdout, "PASS  a-ok") {
		t.Fatalf("skip: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "a-ok", "report.json")); err != nil {
		t.Fatalf("a-ok not reported: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "b-bad")); err == nil {
		t.Fatal("the skipped scenario got a report")
	}
	// The suite's JUnit file and index page say what was not run.
	if junit := mustRead(t, filepath.Join(out, "junit.xml")); !regexp.MustCompile(`<testsuite name="b-bad" tests="1" failures="0" errors="0" skipped="1"[^>]*>\s*<testcase name="scenario not run"[^>]*>\s*<skipped message="[^"]*b-bad\.yaml:\d+:\d+: spec\.faults\[0\]\.spec\.action`).MatchString(junit) {
		t.Fatalf("junit.xml does not list b-bad as skipped:\n%s", junit)
	}
	if index := mustRead(t, filepath.Join(out, "index.html")); !strings.Contains(index, "1 of 1 scenarios passed, 1 skipped") {
		t.Fatal("index.html does not count the skipped scenario")
	}
	// Nothing left to run is still a refusal.
	onlyBad := t.TempDir()
	writeFile(t, onlyBad, "b-bad.yaml", mustRead(t, filepath.Join(simDir, "b-bad.yaml")))
	if code, _, _ := run(t, "run", onlyBad, "--out", "", "--skip-unsupported"); code != 2 {
		t.Fatalf("skip with nothing runnable: exit %d, want 2", code)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHelpShowsNoPhantomFlagValues: cobra takes a back-quoted word in a
// flag's usage for the name of its value; a boolean flag must not show one.
func TestHelpShowsNoPhantomFlagValues(t *testing.T) {
	for _, c := range [][]string{{"run", "--help"}, {"cluster", "up", "--help"}, {"serve", "--help"}} {
		_, stdout, _ := run(t, c...)
		for _, line := range strings.Split(stdout, "\n") {
			if strings.Contains(line, "--vegeta-results") && !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "--vegeta-results")), "also") {
				t.Errorf("%v: %q", c, line)
			}
			if strings.Contains(line, "`") {
				t.Errorf("%v: a back quote in help: %q", c, line)
			}
		}
	}
}

// TestCompletionOfBuiltInNames: the shell completion offers the built-in
// scenarios that start with what was typed.
func TestCompletionOfBuiltInNames(t *testing.T) {
	_, stdout, _ := run(t, "__complete", "run", "pa")
	if !strings.Contains(stdout, "payment-outage") || strings.Contains(stdout, "hpa-scale-up") {
		t.Fatalf("completion of %q:\n%s", "pa", stdout)
	}
	_, stdout, _ = run(t, "__complete", "validate", "")
	for _, name := range []string{"hpa-scale-up", "mcp-topology", "payment-outage", "pod-kill-recovery"} {
		if !strings.Contains(stdout, name) {
			t.Errorf("completion lacks %s:\n%s", name, stdout)
		}
	}
}

// TestCPUQuotaOverride: --cpu-quota runs a scenario under the other CPU
// model, and the report says which one it ran under. pod-kill-recovery's
// gateway pods are limited to 500m, with 10ms of work per request
// (exponential) at 20 req/s each: Fluid serves a request at half a core
// at most (20ms for the mean, more when it shares: ρ = 0.4 of the 500m),
// Periodic at a full core (10ms), two at once (GOMAXPROCS), with the
// quota of 50ms per 100ms period rarely used up (0.2 cores on average).
// So the mean latency is at least 20ms under Fluid, 10ms under Periodic,
// and well under two thirds of Fluid's under Periodic.
func TestCPUQuotaOverride(t *testing.T) {
	out := t.TempDir()
	mean := func(model string) float64 {
		dir := filepath.Join(out, model)
		args := []string{"run", "pod-kill-recovery", "-q", "--out", dir}
		if model != "" {
			args = append(args, "--cpu-quota", model)
		}
		if code, _, stderr := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var rep struct {
			CPUQuota string `json:"cpuQuota"`
			Load     struct {
				Mean float64 `json:"mean"`
			} `json:"load"`
		}
		data := []byte(mustRead(t, filepath.Join(dir, "pod-kill-recovery", "report.json")))
		if err := report.Validate(data); err != nil {
			t.Fatalf("--cpu-quota %q: report.json does not follow the schema: %v", model, err)
		}
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		// Throttling figures exactly under Periodic: the gateway, at 0.2
		// cores of its 500m on average, uses its quota up only now and
		// then (a burst of arrivals, a long exponential work).
		throttling := bytes.Contains(data, []byte(`"cpuThrottling"`))
		if throttling != (model == "periodic") {
			t.Errorf("--cpu-quota %q: cpuThrottling in the report: %v", model, throttling)
		}
		want := map[string]string{"": "Fluid", "periodic": "Periodic 100ms"}[model]
		if rep.CPUQuota != want {
			t.Errorf("--cpu-quota %q: the report says cpuQuota %q, want %q", model, rep.CPUQuota, want)
		}
		return rep.Load.Mean
	}
	fluid, periodic := mean(""), mean("periodic")
	if fluid < 0.020 || periodic < 0.010 || periodic > fluid*2/3 {
		t.Errorf("mean latency %.2fms under Periodic, %.2fms under Fluid: want ≥ 10ms, ≥ 20ms, and Periodic's under two thirds of Fluid's", periodic*1000, fluid*1000)
	}
}
