package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/scenarios"
)

func TestSchemaReportPrintsTheSchema(t *testing.T) {
	code, stdout, _ := run(t, "schema", "report")
	if code != 0 || !bytes.Equal([]byte(stdout), report.Schema) {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("not a 2020-12 schema: %v", err)
	}
	if code, _, _ := run(t, "schema", "nope"); code != 2 {
		t.Fatalf("unknown schema: exit %d", code)
	}
}

// TestReportRenderRebuildsThePage: report.html from report.json alone is
// the page the run wrote.
func TestReportRenderRebuildsThePage(t *testing.T) {
	out := t.TempDir()
	if code, _, stderr := run(t, "run", "pod-kill-recovery", "--out", out, "-q"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	dir := filepath.Join(out, "pod-kill-recovery")
	written, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	os.Remove(filepath.Join(dir, "report.html"))
	code, stdout, stderr := run(t, "report", "render", dir)
	if code != 0 || strings.TrimSpace(stdout) != filepath.Join(dir, "report.html") {
		t.Fatalf("render: exit %d %q %q", code, stdout, stderr)
	}
	rendered, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !bytes.Equal(written, rendered) {
		t.Fatal("the re-rendered page differs from the one the run wrote")
	}
	other := filepath.Join(t.TempDir(), "x.html")
	if code, _, _ := run(t, "report", "render", filepath.Join(dir, "report.json"), "--html", other); code != 0 {
		t.Fatal("render --html")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, t.TempDir(), "report.json", `{"schemaVersion": "mcpsim.dev/report/v1"}`)
	if code, _, stderr := run(t, "report", "render", bad); code != 2 || !strings.Contains(stderr, "mcpsim.dev/report/v1") {
		t.Fatalf("a v1 report: exit %d %q", code, stderr)
	}
}

// TestReportCompare: the same scenario and seed twice is no regression;
// the same load on a service twice as slow (20 ms of CPU a request
// instead of 10 ms: 40% of a 500m pod at 20 req/s over 2 pods, so p99
// roughly doubles) is one, with exit code 1, in text and JSON.
func TestReportCompare(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	again := filepath.Join(dir, "again")
	slow := filepath.Join(dir, "slow")
	file := scenarioFile(t, dir, "cmp", "1s")
	for _, out := range []string{base, again} {
		if code, _, stderr := run(t, "run", file, "--out", out, "-q"); code != 0 {
			t.Fatalf("run: %d %s", code, stderr)
		}
	}
	data, _ := os.ReadFile(file)
	slower := writeFile(t, t.TempDir(), "cmp.yaml", strings.Replace(string(data), "cpuPerRequest: 10ms", "cpuPerRequest: 20ms", 1))
	if code, _, stderr := run(t, "run", slower, "--out", slow, "-q"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	code, stdout, _ := run(t, "report", "compare", filepath.Join(base, "cmp"), filepath.Join(again, "cmp", "report.json"))
	if code != 0 || !strings.Contains(stdout, "no regression") || strings.Contains(stdout, "REGRESSION") {
		t.Fatalf("same seed: exit %d\n%s", code, stdout)
	}
	diff := filepath.Join(dir, "diff.html")
	code, stdout, _ = run(t, "report", "compare", filepath.Join(base, "cmp"), filepath.Join(slow, "cmp"), "--html", diff)
	if code != 1 || !strings.Contains(stdout, "REGRESSION") || !strings.Contains(stdout, "gateway p99") {
		t.Fatalf("slower: exit %d\n%s", code, stdout)
	}
	if page, err := os.ReadFile(diff); err != nil || !strings.Contains(string(page), "REGRESSION(S)") {
		t.Fatalf("--html: %v", err)
	}
	code, stdout, _ = run(t, "report", "compare", filepath.Join(base, "cmp"), filepath.Join(slow, "cmp"), "-o", "json")
	var c report.Comparison
	if err := json.Unmarshal([]byte(stdout), &c); err != nil || code != 1 || !c.Regressed {
		t.Fatalf("json: exit %d, %v\n%s", code, err, stdout)
	}
	found := false
	for _, ch := range c.Changes {
		if ch.Name == "p99" && ch.Kind == "assertion" {
			found = ch.Regression && *ch.New > *ch.Base
		}
	}
	if !found {
		t.Fatalf("the p99 assertion's rise is not a regression: %+v", c.Changes)
	}
	// A huge tolerance lets the slower run through.
	if code, _, _ := run(t, "report", "compare", filepath.Join(base, "cmp"), filepath.Join(slow, "cmp"), "--tolerance", "100"); code != 0 {
		t.Fatalf("--tolerance 100: exit %d", code)
	}
	if code, _, _ := run(t, "report", "compare", base, filepath.Join(dir, "missing")); code != 2 {
		t.Fatalf("a missing report: exit %d", code)
	}
}

// TestReportCompareSuites: two suites' report directories are compared
// scenario by scenario; a scenario in one only is listed, not compared;
// --both-ways calls the slower run's doubled p99 a difference, and the
// same seed twice agreement; a suite against one report is refused.
func TestReportCompareSuites(t *testing.T) {
	dir := t.TempDir()
	file := scenarioFile(t, dir, "cmp", "1s")
	base, again, slow := filepath.Join(dir, "base"), filepath.Join(dir, "again"), filepath.Join(dir, "slow")
	for _, out := range []string{base, again} {
		if code, _, stderr := run(t, "run", file, "--out", out, "-q"); code != 0 {
			t.Fatalf("run: %d %s", code, stderr)
		}
	}
	data, _ := os.ReadFile(file)
	slowDir := t.TempDir()
	writeFile(t, slowDir, "cmp.yaml", strings.Replace(string(data), "cpuPerRequest: 10ms", "cpuPerRequest: 20ms", 1))
	scenarioFile(t, slowDir, "extra", "1s")
	if code, _, stderr := run(t, "run", slowDir, "--out", slow, "-q"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	code, stdout, _ := run(t, "report", "compare", base, again, "--both-ways")
	if code != 0 || !strings.Contains(stdout, "1 scenario(s) compared: 1 without a difference") {
		t.Fatalf("same seed, both ways: exit %d\n%s", code, stdout)
	}
	// A page is named after the scenario's directory, never after the name
	// inside its report, which could point anywhere.
	slowJSON := filepath.Join(slow, "cmp", "report.json")
	data, _ = os.ReadFile(slowJSON)
	if err := os.WriteFile(slowJSON, []byte(strings.Replace(string(data), `"name": "cmp"`, `"name": "../escaped"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	pages := filepath.Join(dir, "pages")
	code, stdout, _ = run(t, "report", "compare", base, slow, "--both-ways", "--html", pages)
	if _, err := os.Stat(filepath.Join(dir, "escaped.html")); err == nil {
		t.Fatal("a page was written outside --html, after the report's scenario name")
	}
	if code != 1 || !strings.Contains(stdout, "DIFFERS") || !strings.Contains(stdout, "only in new (not compared): extra") {
		t.Fatalf("slower suite: exit %d\n%s", code, stdout)
	}
	if page, err := os.ReadFile(filepath.Join(pages, "cmp.html")); err != nil || !strings.Contains(string(page), "DIFFERENCE(S)") {
		t.Fatalf("--html DIR: %v", err)
	}
	code, stdout, _ = run(t, "report", "compare", base, slow, "-o", "json")
	var sc report.SuiteComparison
	if err := json.Unmarshal([]byte(stdout), &sc); err != nil || code != 1 || len(sc.Comparisons) != 1 || sc.Comparisons[0].Dir != "cmp" || sc.Comparisons[0].New.Scenario != "../escaped" || len(sc.OnlyInNew) != 1 || !sc.Regressed {
		t.Fatalf("json: exit %d, %v\n%s", code, err, stdout)
	}
	code, _, stderr := run(t, "report", "compare", base, filepath.Join(again, "cmp"))
	if code != 2 || !strings.Contains(stderr, "compare two of a kind") {
		t.Fatalf("a suite against a report: exit %d %q", code, stderr)
	}
	empty := t.TempDir()
	if code, _, stderr := run(t, "report", "compare", base, empty); code != 2 || !strings.Contains(stderr, "no report.json here nor in any sub-directory") {
		t.Fatalf("an empty directory: exit %d %q", code, stderr)
	}
}

// TestRunDirectoryWritesSuitePages: index.html links every scenario's
// page; junit.xml holds every scenario's testsuite.
func TestRunDirectoryWritesSuitePages(t *testing.T) {
	dir := t.TempDir()
	scenarioFile(t, dir, "one", "1s")
	scenarioFile(t, dir, "two", "1us")
	out := t.TempDir()
	code, stdout, _ := run(t, "run", dir, "--out", out, "-q")
	if code != 1 || !strings.Contains(stdout, "suite: "+out+"/{index.html,junit.xml}") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	index, _ := os.ReadFile(filepath.Join(out, "index.html"))
	for _, want := range []string{`<a href="one/report.html">one</a>`, `<a href="two/report.html">two</a>`, "1 of 2 scenarios passed", "failed: p99"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	data, _ := os.ReadFile(filepath.Join(out, "junit.xml"))
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 2 || doc.Suites[1].Name != "two" {
		t.Fatalf("junit.xml: %v %+v", err, doc)
	}
	// One scenario by name is not a suite: no index.
	out2 := t.TempDir()
	run(t, "run", "pod-kill-recovery", "--out", out2, "-q")
	if _, err := os.Stat(filepath.Join(out2, "index.html")); err == nil {
		t.Fatal("a single scenario wrote a suite index")
	}
}

func TestJSONOutputOfListValidateVersion(t *testing.T) {
	code, stdout, _ := run(t, "list", "-o", "json")
	var list []struct{ Name, Description, File string }
	if err := json.Unmarshal([]byte(stdout), &list); err != nil || code != 0 || len(list) != len(scenarios.Names()) || list[0].Name != "hpa-scale-up" || list[0].File != "scenarios/hpa-scale-up.yaml" {
		t.Fatalf("list: %d %v %s", code, err, stdout)
	}
	code, stdout, _ = run(t, "version", "-o", "json")
	var v map[string]string
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != 0 || v["version"] == "" || v["reportSchema"] != report.SchemaVersion {
		t.Fatalf("version: %d %v %s", code, err, stdout)
	}
	dir := t.TempDir()
	good := scenarioFile(t, dir, "good", "1s")
	src := strings.NewReplacer("NAME", "bad", "MAX", "1s").Replace(scenarioTmpl)
	bad := writeFile(t, dir, "bad.yaml", strings.Replace(src, "replicas: 2", "replicaz: 2", 1))
	code, stdout, stderr := run(t, "validate", good, bad, "-o", "json")
	var res []struct {
		File   string
		Valid  bool
		Errors []struct {
			File         string
			Line, Column int
			Path         string
			Message      string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 2 || stderr != "" {
		t.Fatalf("validate: exit %d, %v, stderr %q\n%s", code, err, stderr, stdout)
	}
	if len(res) != 2 || !res[0].Valid || res[1].Valid || len(res[1].Errors) != 1 {
		t.Fatalf("validate: %+v", res)
	}
	if e := res[1].Errors[0]; e.Line != 11 || e.Column != 5 || e.Path != "spec.workload.replicaz" || !strings.Contains(e.Message, "unknown field") {
		t.Fatalf("error: %+v", e)
	}
	for _, c := range [][]string{{"list", "-o", "yaml"}, {"version", "-o", "xml"}, {"validate", good, "-o", "x"}} {
		if code, _, _ := run(t, c...); code != 2 {
			t.Errorf("%v: exit %d", c, code)
		}
	}
}
