package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// mustValid fails the test unless data is a report.json the published
// schema accepts; every report a test here writes goes through it.
func mustValid(t *testing.T, data []byte) {
	t.Helper()
	if err := Validate(data); err != nil {
		t.Fatalf("report.json does not follow the schema: %v", err)
	}
}

func jsonOf(t *testing.T, r *Report) []byte {
	t.Helper()
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	mustValid(t, b)
	return b
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func sample() *Report {
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration = 3 * time.Second
	tl.Entry = "gateway"
	gw := tl.AddService("gateway", "gateway")
	pay := tl.AddService("payment", "payment")
	tl.AddRequest(gw, 0, 10*time.Millisecond, 200, "")
	tl.AddRequest(gw, 500*time.Millisecond, 30*time.Millisecond, 200, "")
	r := gw.Requests[1]
	gw.Requests[1] = timeline.NewRequest(r.Sent(), r.Latency(), r.Code(), r.Err(), true)
	tl.AddRequest(gw, 2*time.Second, time.Second, 0, "timeout")
	tl.AddRequest(pay, 0, 5*time.Millisecond, 200, "")
	gw.Samples = []timeline.Sample{{T: 0, Desired: 2, Ready: 2, CPUUtilization: -1, CPUMillicores: -1}, {T: time.Second, Desired: 3, Ready: 2, CPUUtilization: 80, CPUMillicores: 400}}
	pay.Samples = []timeline.Sample{{T: 0, Desired: 1, Ready: 1, CPUUtilization: -1, CPUMillicores: 12}}
	tl.Breakers = []timeline.BreakerTransition{{T: time.Second, Service: "gateway", Pod: "gateway-1", Downstream: "payment", From: "closed", To: "open"}}
	tl.Faults = []timeline.Fault{{Name: "kill <one>", Kind: "PodChaos", Action: "pod-kill", At: time.Second, Targets: []string{"p-1"}}}
	tl.AddEvent(-2*time.Second, "PodCreated", "p-1", "")
	q, maxRatio, five := 0.99, 0.01, int32(5)
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "demo", Description: "a <b>demo</b>"}, Spec: scenario.Spec{Assertions: []scenario.Assertion{
		{Name: "fast", Type: "latency", Service: "gateway", Quantile: &q, Max: dur(100 * time.Millisecond), Window: &scenario.Window{From: metav1.Duration{Duration: time.Second}}},
		{Name: "no errors", Type: "errorRate", Service: "gateway", MaxRatio: &maxRatio},
		{Name: "scales", Type: "replicasReach", Service: "gateway", AtLeast: &five, Within: dur(time.Second), After: &scenario.Anchor{Fault: "kill <one>"}},
		{Name: "ghost", Type: "latency", Service: "nobody", Quantile: &q, Max: dur(time.Second)},
	}}}
	sc.Spec.Services = []scenario.Service{{Name: "gateway"}}
	tl.SortRequests()
	return Build(sc, tl, assertions.Evaluate(sc, tl), Meta{Source: "demo.yaml", Backend: "sim", Seed: 7, Version: "v9.9.9"})
}

func TestBuildSummarizes(t *testing.T) {
	r := sample()
	if r.Passed || r.Verdict != VerdictFail {
		t.Fatal("a failing assertion must fail the report")
	}
	// The entry service's two successes: 10ms and 30ms, mean 20ms, p99
	// 30ms (nearest rank: ceil(0.99 × 2) = 2nd); one of them degraded.
	l := r.Load
	if l.Requests != 3 || l.Successes != 2 || l.Degraded != 1 || l.Failed != 1 || l.Errors["timeout"] != 1 || *l.P99 != 0.03 || *l.Mean != 0.02 {
		t.Fatalf("load summary: %+v", l)
	}
	if r.MCPSimVersion != "v9.9.9" || r.Entry != "gateway" {
		t.Fatalf("version %q, entry %q", r.MCPSimVersion, r.Entry)
	}
	if len(r.Services) != 2 || !r.Services[0].Entry || r.Services[1].Name != "payment" || r.Services[1].Load.Requests != 1 || len(r.Breakers) != 1 {
		t.Fatalf("services: %+v", r.Services)
	}
	// Seconds 0 (two requests, one degraded), 1 (empty, filled in: no
	// quantile, so null) and 2 (one failure).
	s := r.Services[0].Series
	if len(s) != 3 || s[0].Requests != 2 || s[0].Degraded != 1 || s[1].Requests != 0 || s[1].P99 != nil || s[2].Errors != 1 || s[2].P99 != nil {
		t.Fatalf("series: %+v", s)
	}
	a, b := jsonOf(t, r), jsonOf(t, sample())
	if !bytes.Equal(a, b) || !bytes.Contains(a, []byte(`"schemaVersion": "mcpsim.dev/report/v2"`)) {
		t.Fatal("JSON not stable or missing its schema version")
	}
}

// TestOneUnitAndNullsInTheJSON: times and durations are seconds
// everywhere, and missing data is null, never -1.
func TestOneUnitAndNullsInTheJSON(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(jsonOf(t, sample()), &doc); err != nil {
		t.Fatal(err)
	}
	gw := doc["services"].([]any)[0].(map[string]any)
	samples := gw["samples"].([]any)
	s0, s1 := samples[0].(map[string]any), samples[1].(map[string]any)
	if s0["cpuUtilization"] != nil || s0["cpuMillicores"] != nil || s1["cpuUtilization"] != 80.0 || s1["t"] != 1.0 {
		t.Fatalf("samples: %v", samples)
	}
	if ev := doc["events"].([]any)[0].(map[string]any); ev["t"] != -2.0 {
		t.Fatalf("event t = %v, want -2 (seconds)", ev["t"])
	}
	if f := doc["faults"].([]any)[0].(map[string]any); f["at"] != 1.0 {
		t.Fatalf("fault at = %v, want 1 (seconds)", f["at"])
	}
	if b := doc["breakers"].([]any)[0].(map[string]any); b["t"] != 1.0 {
		t.Fatalf("breaker t = %v", b["t"])
	}
	if p99 := doc["load"].(map[string]any)["p99"]; p99 != 0.03 {
		t.Fatalf("load.p99 = %v, want 0.03 (seconds)", p99)
	}
	as := doc["assertions"].([]any)
	fast := as[0].(map[string]any)
	// Window [1s, 3s): only the 2s request, which failed: no successful
	// request, so nothing measured (null), and the verdict is fail.
	if fast["value"] != nil || fast["verdict"] != "fail" || fast["limit"] != 0.1 || fast["quantile"] != 0.99 {
		t.Fatalf("latency assertion: %v", fast)
	}
	if w := fast["window"].(map[string]any); w["from"] != 1.0 || w["to"] != 3.0 {
		t.Fatalf("window: %v", w)
	}
	errs := as[1].(map[string]any)
	// 1 failure of 3 requests; evidence: the failure sent at 2s.
	if errs["value"] != 1.0/3 || errs["evidenceAt"] != 2.0 {
		t.Fatalf("errorRate: %v", errs)
	}
	// ready never reaches 5: nothing measured (the assertions package's
	// -1), window [fault at 1s, 1s + 1s].
	scales := as[2].(map[string]any)
	if scales["value"] != nil || scales["window"].(map[string]any)["to"] != 2.0 || scales["replicas"].(map[string]any)["atLeast"] != 5.0 {
		t.Fatalf("replicasReach: %v", scales)
	}
	if ghost := as[3].(map[string]any); ghost["verdict"] != "error" || ghost["value"] != nil {
		t.Fatalf("an assertion about a service never recorded: %v", ghost)
	}
	if h := gw["hpa"]; h != nil {
		t.Fatalf("hpa of a service without one: %v", h)
	}
}

func TestDecodeRoundTripAndRejectsOtherVersions(t *testing.T) {
	data := jsonOf(t, sample())
	r, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := r.JSON()
	if !bytes.Equal(again, data) {
		t.Fatal("decoding and encoding changed the report")
	}
	v1 := bytes.Replace(data, []byte(SchemaVersion), []byte("mcpsim.dev/report/v1"), 1)
	if _, err := Decode(v1); err == nil || !strings.Contains(err.Error(), "mcpsim.dev/report/v1") {
		t.Fatalf("a v1 report: %v", err)
	}
	bad := bytes.Replace(data, []byte(`"passed": false`), []byte(`"passed": "no"`), 1)
	if _, err := Decode(bad); err == nil {
		t.Fatal("a report against the schema decoded")
	}
}

// TestSchemaCatchesDrift: the schema is strict (no unknown fields, the
// right types), so a struct change without a schema change fails here.
func TestSchemaCatchesDrift(t *testing.T) {
	data := jsonOf(t, sample())
	for name, edit := range map[string][2]string{
		"unknown field":  {`"seed": 7,`, `"seed": 7, "extra": 1,`},
		"a -1 sentinel":  {`"cpuMillicores": null`, `"cpuMillicores": -1`},
		"nanoseconds":    {`"duration": 3,`, `"duration": "3s",`},
		"verdict spelt":  {`"verdict": "fail"`, `"verdict": "FAIL"`},
		"missing entry":  {`"entry": "gateway",`, ``},
		"negative value": {`"limit": 0.01`, `"limit": -0.01`},
	} {
		bad := bytes.Replace(data, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s: fixture changed, %q not found", name, edit[0])
		}
		if err := Validate(bad); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	page, err := sample().HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, bad := range []string{"<script", "http://", "https://", "<b>demo</b>", "kill <one>", "@import", "url("} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"FAIL", "<svg", "no errors", "33.333% (1 of 3)", "kill &lt;one&gt;", "-0:02.000", "mcpsim v9.9.9"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := sample().WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("wrote %d files, want exactly report.json, junit.xml, report.html", len(entries))
	}
	data, _ := os.ReadFile(filepath.Join(dir, JSONFile))
	mustValid(t, data)
	r, err := ReadFile(dir)
	if err != nil || r.Scenario.Name != "demo" {
		t.Fatalf("ReadFile(dir): %v", err)
	}
}

func TestVegetaResultsRoundTrip(t *testing.T) {
	tl := timeline.New(time.Unix(100, 0))
	tl.Entry = "gw"
	gw := tl.AddService("gw", "gateway")
	tl.AddRequest(gw, time.Second, 20*time.Millisecond, 200, "")
	tl.AddRequest(gw, 2*time.Second, time.Second, 0, "timeout")
	// Requests at other services are not the load generator's: not written.
	tl.AddRequest(tl.AddService("user", "user"), time.Second, time.Millisecond, 200, "")
	dir := t.TempDir()
	if err := WriteVegetaResults(dir, "demo", tl); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.DecoderFor(f)
	if dec == nil {
		t.Fatal("vegeta cannot detect the results format")
	}
	var m vegeta.Metrics
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			break
		}
		m.Add(&r)
	}
	m.Close()
	if m.Requests != 2 || m.Success != 0.5 || m.Errors[0] != "timeout" {
		t.Fatalf("vegeta read back %+v", m)
	}
}

func TestErrorsListedMostFrequentFirst(t *testing.T) {
	r := sample()
	r.Load.Errors = map[string]int{"b reset": 2, "a refused": 2, "timeout": 5}
	v := r.view()
	got := fmt.Sprint(v.ErrorsBy)
	if got != "[{timeout 5} {a refused 2} {b reset 2}]" {
		t.Fatalf("order %s", got)
	}
}

func TestHTMLShowsServicesAndBreakers(t *testing.T) {
	page, err := sample().HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Services</h2>", "gateway <span class=\"small\">(entry)</span>", "Replicas of payment", "<h2>Circuit breakers</h2>",
		`<td data-label="pod">gateway-1</td><td data-label="downstream">payment</td><td data-label="from">closed</td><td data-label="to">open</td>`, "<th>of them degraded</th>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestRecommendationFollowsTheVPARecommender: usage samples of 100, 200,
// ..., 1000 millicores per pod (one pod, one per second): the 90th
// percentile (nearest rank, 9th of 10) is 900m, plus the 15% margin =
// 1035m; the 50th is 500m → 575m; the 95th is 1000m → 1150m. A service
// using almost nothing still gets the 25m floor.
func TestRecommendationFollowsTheVPARecommender(t *testing.T) {
	sc, err := scenario.Parse("r.yaml", []byte(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: r}
spec:
  duration: 10s
  cluster: {nodePools: [{name: a, count: 1, cpu: "4", memory: 8Gi}]}
  services:
    - {name: gw, role: gateway, resources: {requests: {cpu: 300m}}, work: {cpu: 1ms}}
  load: {profile: constant, rate: 1, timeout: 1s}
  assertions: [{name: any, type: errorRate, maxRatio: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &timeline.Service{Name: "gw"}
	for i := 1; i <= 10; i++ {
		s.Samples = append(s.Samples, timeline.Sample{T: time.Duration(i) * time.Second, Ready: 1, CPUMillicores: int32(100 * i)})
	}
	r := recommend(sc, s)
	if r == nil || r.Requested != 300 || r.Target != 1035 || r.LowerBound != 575 || r.UpperBound != 1150 || r.Samples != 10 {
		t.Fatalf("recommendation %+v", r)
	}
	// One second with 1 pod at 100m, one with 10 pods at 2000m (200m
	// each): 11 per-pod samples, so the 50th percentile (6th) is 200m →
	// 230m, not the 100m an unweighted median of the two seconds would give.
	s.Samples = []timeline.Sample{{T: time.Second, Ready: 1, CPUMillicores: 100}, {T: 2 * time.Second, Ready: 10, CPUMillicores: 2000}}
	if r := recommend(sc, s); r == nil || r.LowerBound != 230 || r.Samples != 11 {
		t.Fatalf("weighted by pods: %+v", r)
	}
	s.Samples = []timeline.Sample{{T: time.Second, Ready: 2, CPUMillicores: 2}}
	if r := recommend(sc, s); r == nil || r.Target != 25 {
		t.Fatalf("floor: %+v", r)
	}
	s.Samples = []timeline.Sample{{T: time.Second, Ready: 2, CPUMillicores: -1}}
	if r := recommend(sc, s); r != nil {
		t.Fatalf("no CPU data must give none: %+v", r)
	}
}

// TestIndentJSONIsIndent: indentJSON gives json.MarshalIndent's bytes
// for what json.Marshal writes: the golden reports (compacted again) and
// values with empty, nested and quoted brackets, escapes and non-ASCII.
func TestIndentJSONIsIndent(t *testing.T) {
	golden, _ := filepath.Glob(filepath.Join("..", "runner", "testdata", "golden", "*.json"))
	if len(golden) == 0 {
		t.Fatal("no golden reports")
	}
	var inputs [][]byte
	for _, f := range golden {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, c.Bytes())
	}
	for _, v := range []any{
		map[string]any{},
		[]any{},
		map[string]any{"a": []any{}, "b": map[string]any{}, "c": []any{[]any{}, map[string]any{"x": nil}}},
		[]any{"[{,:}]", `quote " and \ backslash`, "\\", "é ✓ <b>&", 1.5e-7, -0.0, true, false, nil},
		map[string]any{"k\"ey": map[string]any{"[": "]", "{": []any{1, 2, 3}}},
		"top-level string",
		42,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		var want bytes.Buffer
		if err := json.Indent(&want, in, "", "  "); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeIndentJSON(&got, in); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("writeIndentJSON(%.80s...) differs from json.Indent (%v)", in, err)
		}
	}
}

// TestThrottlingReported: a service whose CPU quota the backend modelled
// per period carries its cpu.stat counters and their ratio (10 of 40
// periods: 25%) in report.json, as the schema has them, and in a table of
// the page; a service without them (no limit, or the Fluid model) has
// none, and a report without any has no such table.
func TestThrottlingReported(t *testing.T) {
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration, tl.Entry, tl.CPUQuota = time.Second, "gateway", "Periodic 100ms"
	gw := tl.AddService("gateway", "gateway")
	tl.AddRequest(gw, 0, 10*time.Millisecond, 200, "")
	gw.CFS = &timeline.CFSStats{Periods: 40, Throttled: 10}
	tl.AddService("payment", "payment")
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "t"}}
	sc.Spec.Services = []scenario.Service{{Name: "gateway"}, {Name: "payment"}}
	r := Build(sc, tl, nil, Meta{Backend: "sim"})
	data := jsonOf(t, r)
	if got := r.Service("gateway").CPUThrottling; got == nil || *got != (Throttling{Periods: 40, Throttled: 10, Ratio: 0.25}) {
		t.Errorf("gateway's throttling %+v, want 10 of 40 periods, 0.25", got)
	}
	if got := r.Service("payment").CPUThrottling; got != nil || bytes.Count(data, []byte(`"cpuThrottling"`)) != 1 {
		t.Errorf("payment has throttling %+v, or report.json has it other than once", got)
	}
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>CPU throttling</h2>", "<td data-label=\"throttled\">25.0% (10)</td>", "(Periodic 100ms)", "CPU limits Periodic 100ms"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
	gw.CFS, tl.CPUQuota = nil, "Fluid"
	if page, _ := Build(sc, tl, nil, Meta{Backend: "sim"}).HTML(); bytes.Contains(page, []byte("CPU throttling")) {
		t.Error("a report without throttling figures has a throttling table")
	}
}

// TestKubernetesVersionOfARealCluster: a report of a real cluster names
// the API server's version in report.json (valid by the schema), in
// junit.xml's properties, on the HTML page and in a comparison's
// heading; a sim report has none.
func TestKubernetesVersionOfARealCluster(t *testing.T) {
	sim := jsonOf(t, sample())
	if bytes.Contains(sim, []byte("kubernetesVersion")) {
		t.Fatal("a sim report names a Kubernetes version")
	}
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration, tl.Entry, tl.KubernetesVersion = time.Second, "gateway", "v1.34.4"
	gw := tl.AddService("gateway", "gateway")
	tl.AddRequest(gw, 0, 10*time.Millisecond, 200, "")
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "real"}, Spec: scenario.Spec{Services: []scenario.Service{{Name: "gateway"}}}}
	r := Build(sc, tl, nil, Meta{Source: "real.yaml", Backend: "kind", Seed: 1, Version: "v9.9.9"})
	if b := jsonOf(t, r); !bytes.Contains(b, []byte(`"kubernetesVersion": "v1.34.4"`)) {
		t.Errorf("report.json lacks the version:\n%s", b[:min(len(b), 400)])
	}
	junit, err := r.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(junit, []byte(`name="kubernetes.version" value="v1.34.4"`)) {
		t.Errorf("junit.xml lacks the version:\n%s", junit)
	}
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte("Kubernetes v1.34.4")) {
		t.Error("the HTML page does not name the Kubernetes version")
	}
	if got := info(r).BackendAndModel(); got != "kind, Kubernetes v1.34.4" {
		t.Errorf("comparison heading %q", got)
	}
}
