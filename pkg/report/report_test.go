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
	tl.AddRequest(0, 10*time.Millisecond, 200, "")
	tl.AddRequest(500*time.Millisecond, 30*time.Millisecond, 200, "")
	tl.AddRequest(2*time.Second, time.Second, 0, "timeout")
	tl.Samples = []timeline.Sample{{T: 0, Desired: 2, Ready: 2}, {T: time.Second, Desired: 3, Ready: 2}}
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
	if r.Load.Requests != 3 || r.Load.Successes != 2 || r.Load.Errors["timeout"] != 1 || r.Load.P99 != 30*time.Millisecond {
		t.Fatalf("load summary: %+v", r.Load)
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
	tl.AddRequest(time.Second, 20*time.Millisecond, 200, "")
	tl.AddRequest(2*time.Second, time.Second, 0, "timeout")
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
