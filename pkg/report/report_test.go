package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

func sample() *Report {
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration = 3 * time.Second
	tl.Entry = "gateway"
	gw := tl.AddService("gateway", "gateway")
	pay := tl.AddService("payment", "payment")
	tl.AddRequest(gw, 0, 10*time.Millisecond, 200, "")
	tl.AddRequest(gw, 500*time.Millisecond, 30*time.Millisecond, 200, "")
	gw.Requests[1].Degraded = true
	tl.AddRequest(gw, 2*time.Second, time.Second, 0, "timeout")
	tl.AddRequest(pay, 0, 5*time.Millisecond, 200, "")
	gw.Samples = []timeline.Sample{{T: 0, Desired: 2, Ready: 2}, {T: time.Second, Desired: 3, Ready: 2}}
	pay.Samples = []timeline.Sample{{T: 0, Desired: 1, Ready: 1}}
	tl.Breakers = []timeline.BreakerTransition{{T: time.Second, Service: "gateway", Pod: "gateway-1", Downstream: "payment", From: "closed", To: "open"}}
	tl.Faults = []timeline.Fault{{Name: "kill <one>", Kind: "PodChaos", Action: "pod-kill", At: time.Second, Targets: []string{"p-1"}}}
	tl.AddEvent(-2*time.Second, "PodCreated", "p-1", "")
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "demo", Description: "a <b>demo</b>"}}
	ev := 2 * time.Second
	results := []assertions.Result{
		{Name: "fast", Type: "latency", Passed: true, Measured: "p99 = 30ms", Threshold: "p99 ≤ 100ms"},
		{Name: "no errors", Type: "errorRate", Passed: false, Measured: "33.3% (1 of 3)", Threshold: "error rate ≤ 1%", EvidenceAt: &ev, Detail: "1 × timeout"},
	}
	return Build(sc, "demo.yaml", "sim", 7, tl, results)
}

func TestBuildSummarizes(t *testing.T) {
	r := sample()
	if r.Passed {
		t.Fatal("a failing assertion must fail the report")
	}
	// The entry service's two successes: 10ms and 30ms, mean 20ms; one
	// of them degraded.
	if r.Load.Requests != 3 || r.Load.Successes != 2 || r.Load.Degraded != 1 || r.Load.Errors["timeout"] != 1 || r.Load.P99 != 30*time.Millisecond || r.Load.Mean != 20*time.Millisecond {
		t.Fatalf("load summary: %+v", r.Load)
	}
	if len(r.Services) != 2 || !r.Services[0].Entry || r.Services[1].Name != "payment" || r.Services[1].Load.Requests != 1 || len(r.Breakers) != 1 {
		t.Fatalf("services: %+v", r.Services)
	}
	// Seconds 0, 1 (empty, filled in) and 2.
	if len(r.Series) != 3 || r.Series[0].Requests != 2 || r.Series[1].Requests != 0 || r.Series[2].Errors != 1 {
		t.Fatalf("series: %+v", r.Series)
	}
	a, _ := r.JSON()
	b, _ := sample().JSON()
	if !bytes.Equal(a, b) || !bytes.Contains(a, []byte(`"schemaVersion": "mcpsim.dev/report/v1"`)) {
		t.Fatal("JSON not stable or missing its schema version")
	}
}

func TestJUnit(t *testing.T) {
	out, err := JUnit([]*Report{sample()})
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	if doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 1 || doc.Suites[0].Name != "demo" {
		t.Fatalf("junit: %+v", doc)
	}
	f := doc.Suites[0].Cases[1].Failure
	if f == nil || !strings.Contains(f.Message, "measured 33.3% (1 of 3); threshold error rate ≤ 1%") {
		t.Fatalf("failure: %+v", f)
	}
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	page, err := sample().HTML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, bad := range []string{"<script", "http://", "https://", "<b>demo</b>", "kill <one>"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"FAIL", "<svg", "no errors", "33.3% (1 of 3)", "kill &lt;one&gt;", "-0:02.000"} {
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
	for _, want := range []string{"<h2>Services</h2>", "gateway <span class=\"small\">(entry)</span>", "Replicas of payment", "<h2>Circuit breakers</h2>", "<td>gateway-1</td><td>payment</td><td>closed</td><td>open</td>", "<th>of them degraded</th>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
