package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// CompareOptions set what counts as a regression.
type CompareOptions struct {
	// Tolerance is the relative worsening allowed for times and latencies
	// (0.1: 10 %); a worsening must also exceed 1 ms.
	Tolerance float64
	// RatioTolerance is the absolute worsening allowed for ratios (error,
	// degraded and availability rates; 0.001: 0.1 percentage points).
	RatioTolerance float64
	// BothWays judges agreement, not regression: a judged value that
	// moved beyond the tolerance either way differs, as does an assertion
	// whose verdict changed either way, and each service's final ready
	// replicas are judged too (relative, by Tolerance). For a simulation
	// against a real cluster, where better is as wrong as worse.
	BothWays bool
}

// DefaultCompareOptions: 10 % for times, 0.1 percentage points for ratios.
var DefaultCompareOptions = CompareOptions{Tolerance: 0.10, RatioTolerance: 0.001}

// minTimeDelta: a time must worsen by more than this to regress, so that
// a 0 s recovery becoming 1 µs is not a regression.
const minTimeDelta = 0.001

// Comparison is BASE against NEW: every assertion and metric with its
// change, and whether NEW regressed.
type Comparison struct {
	Base           RunInfo `json:"base"`
	New            RunInfo `json:"new"`
	Tolerance      float64 `json:"tolerance"`
	RatioTolerance float64 `json:"ratioTolerance"`
	// BothWays: Regression marks a difference either way (agreement).
	BothWays    bool     `json:"bothWays"`
	Changes     []Change `json:"changes"`
	Regressions int      `json:"regressions"`
	Regressed   bool     `json:"regressed"`
}

// RunInfo names a compared run.
type RunInfo struct {
	Scenario string `json:"scenario"`
	Backend  string `json:"backend"`
	// KubernetesVersion: a real cluster's (Report.KubernetesVersion).
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	CPUQuota          string `json:"cpuQuota,omitempty"`
	Seed              uint64 `json:"seed"`
	MCPSimVersion     string `json:"mcpsimVersion"`
	Verdict           string `json:"verdict"`
}

// BackendAndModel is the backend with the sim's CPU model or the real
// cluster's Kubernetes version, if any: "sim, CPU limits Periodic 100ms",
// "kind, Kubernetes v1.34.4".
func (r RunInfo) BackendAndModel() string {
	s := r.Backend
	if r.KubernetesVersion != "" {
		s += ", Kubernetes " + r.KubernetesVersion
	}
	if r.CPUQuota != "" {
		s += ", CPU limits " + r.CPUQuota
	}
	return s
}

// Change is one assertion's or metric's values in both runs. Unit is "s"
// or "ratio" (judged), or "count" or "req/s" (shown, never a regression).
type Change struct {
	// Kind is "assertion" or "metric"; Name the assertion's name or
	// "<service> <metric>".
	Kind string `json:"kind"`
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Better is "lower" or "higher" (or "" for a metric only shown).
	Better string   `json:"better"`
	Base   *float64 `json:"base"`
	New    *float64 `json:"new"`
	// Delta is New - Base; Relative is Delta / |Base| (null when either
	// is missing or Base is 0).
	Delta       *float64 `json:"delta"`
	Relative    *float64 `json:"relative"`
	BaseVerdict string   `json:"baseVerdict,omitempty"`
	NewVerdict  string   `json:"newVerdict,omitempty"`
	Regression  bool     `json:"regression"`
	// Reason says why it is a regression.
	Reason string `json:"reason,omitempty"`
}

func info(r *Report) RunInfo {
	return RunInfo{Scenario: r.Scenario.Name, Backend: r.Backend, KubernetesVersion: r.KubernetesVersion, CPUQuota: r.CPUQuota, Seed: r.Seed, MCPSimVersion: r.MCPSimVersion, Verdict: r.Verdict}
}

// Compare compares NEW against BASE. A regression is an assertion that
// passed in BASE and does not in NEW (or is gone), or a judged value that
// worsened beyond the tolerance: times and latencies by more than
// Tolerance of BASE's value (and more than 1 ms), ratios by more than
// RatioTolerance. Request counts and rates are shown only.
func Compare(base, cur *Report, opts CompareOptions) *Comparison {
	c := &Comparison{Base: info(base), New: info(cur), Tolerance: opts.Tolerance, RatioTolerance: opts.RatioTolerance, BothWays: opts.BothWays, Changes: []Change{}}
	for _, b := range base.Assertions {
		ch := Change{Kind: "assertion", Name: b.Name, Unit: b.Unit, Better: "lower", Base: b.Value, BaseVerdict: b.Verdict}
		if b.Type == "availability" {
			ch.Better = "higher"
		}
		var n *Assertion
		for i := range cur.Assertions {
			if cur.Assertions[i].Name == b.Name {
				n = &cur.Assertions[i]
				break
			}
		}
		if n == nil {
			ch.NewVerdict = "missing"
			if b.Passed {
				ch.Regression, ch.Reason = true, "the assertion is gone from the new report"
			}
			c.add(ch, opts)
			continue
		}
		ch.New, ch.NewVerdict = n.Value, n.Verdict
		switch {
		case b.Passed && !n.Passed:
			ch.Regression, ch.Reason = true, "passed, now "+n.Verdict
		case opts.BothWays && !b.Passed && n.Passed:
			ch.Regression, ch.Reason = true, b.Verdict+", now passes"
		}
		c.add(ch, opts)
	}
	for _, n := range cur.Assertions {
		found := false
		for _, b := range base.Assertions {
			found = found || b.Name == n.Name
		}
		if !found {
			c.add(Change{Kind: "assertion", Name: n.Name, Unit: n.Unit, New: n.Value, BaseVerdict: "missing", NewVerdict: n.Verdict}, opts)
		}
	}
	for _, bs := range base.Services {
		ns := cur.Service(bs.Name)
		if ns == nil {
			continue
		}
		for _, m := range metrics(&bs.Load) {
			nm := metricOf(&ns.Load, m.name)
			c.add(Change{Kind: "metric", Name: bs.Name + " " + m.name, Unit: m.unit, Better: m.better, Base: m.v, New: nm}, opts)
		}
		// Shown, and judged only for agreement: more replicas are not
		// worse in themselves.
		c.add(Change{Kind: "metric", Name: bs.Name + " final ready", Unit: "replicas", Base: finalReady(&bs), New: finalReady(ns)}, opts)
	}
	for _, ch := range c.Changes {
		if ch.Regression {
			c.Regressions++
		}
	}
	c.Regressed = c.Regressions > 0
	return c
}

// add fills in a change's delta and judges its value.
func (c *Comparison) add(ch Change, opts CompareOptions) {
	if ch.Base != nil && ch.New != nil {
		d := *ch.New - *ch.Base
		ch.Delta = &d
		if *ch.Base != 0 {
			rel := d / math.Abs(*ch.Base)
			ch.Relative = &rel
		}
		worse, word := d, "worse"
		if ch.Better == "higher" {
			worse = -d
		}
		if opts.BothWays {
			worse, word = math.Abs(d), "apart"
		}
		judged := ch.Better != "" || (opts.BothWays && ch.Unit == "replicas")
		if !ch.Regression && judged {
			switch ch.Unit {
			case "s":
				if worse > opts.Tolerance*math.Abs(*ch.Base) && worse > minTimeDelta {
					ch.Regression = true
					ch.Reason = fmt.Sprintf("%s %s, beyond the %s tolerance", fmtRel(worse, *ch.Base), word, trimNum(opts.Tolerance*100, 2)+"%")
				}
			case "replicas":
				if worse > opts.Tolerance*math.Abs(*ch.Base) {
					ch.Regression = true
					ch.Reason = fmt.Sprintf("%s replicas %s, beyond the %s tolerance", trimNum(worse, 0), word, trimNum(opts.Tolerance*100, 2)+"%")
				}
			case "ratio":
				if worse > opts.RatioTolerance+1e-12 {
					ch.Regression = true
					ch.Reason = fmt.Sprintf("%s percentage points %s, beyond %s", trimNum(worse*100, 3), word, trimNum(opts.RatioTolerance*100, 3))
				}
			}
		}
	}
	c.Changes = append(c.Changes, ch)
}

func fmtRel(worse, base float64) string {
	if base == 0 {
		return fmtValue(worse, "s")
	}
	return trimNum(100*worse/math.Abs(base), 1) + "%"
}

type metric struct {
	name, unit, better string
	v                  *float64
}

func ptr(v float64) *float64 { return &v }

func metrics(l *LoadSummary) []metric {
	// No requests: the service's load was not measured (a real cluster
	// sees only the entry service's), and every figure is missing.
	var requests, rate, errRatio, degRatio *float64
	if l.Requests > 0 {
		requests, rate = ptr(float64(l.Requests)), ptr(l.MeanRPS)
		errRatio = ptr(float64(l.Failed) / float64(l.Requests))
		degRatio = ptr(float64(l.Degraded) / float64(l.Requests))
	}
	return []metric{
		{"requests", "count", "", requests},
		{"mean rate", "req/s", "", rate},
		{"failed ratio", "ratio", "lower", errRatio},
		{"degraded ratio", "ratio", "lower", degRatio},
		{"mean", "s", "lower", l.Mean},
		{"p50", "s", "lower", l.P50},
		{"p90", "s", "lower", l.P90},
		{"p99", "s", "lower", l.P99},
		// One request: too noisy to judge.
		{"max", "s", "", l.Max},
	}
}

// finalReady is the service's ready replicas at its last sample (nil
// without samples).
func finalReady(s *ServiceReport) *float64 {
	if len(s.Samples) == 0 {
		return nil
	}
	return ptr(float64(s.Samples[len(s.Samples)-1].Ready))
}

func metricOf(l *LoadSummary, name string) *float64 {
	for _, m := range metrics(l) {
		if m.name == name {
			return m.v
		}
	}
	return nil
}

func fmtValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmtDur(&v)
	case "ratio":
		return fmtPct(v * 100)
	case "req/s":
		return trimNum(v, 2) + "/s"
	case "replicas":
		return trimNum(v, 0)
	}
	return trimNum(v, 3)
}

func fmtOpt(v *float64, unit string) string {
	if v == nil {
		return "—"
	}
	return fmtValue(*v, unit)
}

// Text writes the comparison as an aligned table for people.
func (c *Comparison) Text(w io.Writer) error {
	fmt.Fprintf(w, "base: %s (backend %s, seed %d, mcpsim %s): %s\n", c.Base.Scenario, c.Base.BackendAndModel(), c.Base.Seed, c.Base.MCPSimVersion, c.Base.Verdict)
	fmt.Fprintf(w, "new:  %s (backend %s, seed %d, mcpsim %s): %s\n\n", c.New.Scenario, c.New.BackendAndModel(), c.New.Seed, c.New.MCPSimVersion, c.New.Verdict)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	kind := ""
	for _, ch := range c.Changes {
		if ch.Kind != kind {
			kind = ch.Kind
			fmt.Fprintf(tw, "%s\tbase\tnew\tchange\t\n", strings.ToUpper(kind+"s"))
		}
		change := changeText(ch)
		base, cur := fmtOpt(ch.Base, ch.Unit), fmtOpt(ch.New, ch.Unit)
		if ch.Kind == "assertion" {
			base += " " + ch.BaseVerdict
			cur += " " + ch.NewVerdict
		}
		mark := ""
		if ch.Regression {
			mark = c.word() + ": " + ch.Reason
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", ch.Name, base, cur, change, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "no regression"
	switch {
	case c.Regressed && c.BothWays:
		verdict = fmt.Sprintf("%d difference(s)", c.Regressions)
	case c.Regressed:
		verdict = fmt.Sprintf("%d regression(s)", c.Regressions)
	case c.BothWays:
		verdict = "agree"
	}
	_, err := fmt.Fprintf(w, "\n%s (tolerance: %s for times, %s percentage points for ratios)\n", verdict, trimNum(c.Tolerance*100, 2)+"%", trimNum(c.RatioTolerance*100, 3))
	return err
}

// changeText is a change as the text and the page show it: "=" when
// equal, "—" when one side has no value.
func changeText(ch Change) string {
	switch {
	case ch.Delta == nil && (ch.Base != nil || ch.New != nil):
		return "—"
	case ch.Delta == nil || *ch.Delta == 0:
		return "="
	}
	s := signed(*ch.Delta, ch.Unit)
	if ch.Relative != nil && ch.Unit != "ratio" {
		s += fmt.Sprintf(" (%+.1f%%)", *ch.Relative*100)
	}
	return s
}

// word is what a judged change beyond the tolerance is called.
func (c *Comparison) word() string {
	if c.BothWays {
		return "DIFFERS"
	}
	return "REGRESSION"
}

type compareRow struct {
	C                 Change
	Base, New, Delta  string
	BaseVerd, NewVerd string
	Class             string
}

// HTML renders the comparison as a self-contained page, like the reports.
func (c *Comparison) HTML() ([]byte, error) {
	v := struct {
		C                   *Comparison
		Verdict             string
		Title, Badge, Judge string
		Rows                []compareRow
	}{C: c, Verdict: "PASS", Title: "no regression", Badge: "NO REGRESSION", Judge: "regression"}
	if c.BothWays {
		v.Title, v.Badge, v.Judge = "agree", "AGREE", "difference"
	}
	if c.Regressed {
		v.Verdict = "FAIL"
		v.Title = strings.ToUpper(c.word())
		v.Badge = fmt.Sprintf("%d %s(S)", c.Regressions, strings.ToUpper(v.Judge))
	}
	for _, ch := range c.Changes {
		row := compareRow{C: ch, Base: fmtOpt(ch.Base, ch.Unit), New: fmtOpt(ch.New, ch.Unit), Delta: changeText(ch), BaseVerd: ch.BaseVerdict, NewVerd: ch.NewVerdict}
		if ch.Regression {
			row.Class = "bad"
		}
		v.Rows = append(v.Rows, row)
	}
	var b bytes.Buffer
	if err := comparePage.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func signed(d float64, unit string) string {
	sign := "+"
	if d < 0 {
		sign = "-"
	}
	if unit == "ratio" {
		return sign + trimNum(math.Abs(d)*100, 3) + " pp"
	}
	return sign + fmtValue(math.Abs(d), unit)
}

var comparePage = template.Must(template.New("compare").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(css) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{.C.New.Scenario}} · mcpsim compare</title>
<style>{{css}}</style></head><body><main>
<h1><span class="badge {{.Verdict}}">{{.Badge}}</span> {{.C.New.Scenario}}</h1>
<p class="small">base: {{.C.Base.Scenario}} · backend {{.C.Base.BackendAndModel}} · seed {{.C.Base.Seed}} · mcpsim {{.C.Base.MCPSimVersion}} · {{.C.Base.Verdict}}<br>
new: {{.C.New.Scenario}} · backend {{.C.New.BackendAndModel}} · seed {{.C.New.Seed}} · mcpsim {{.C.New.MCPSimVersion}} · {{.C.New.Verdict}}<br>
tolerance: {{printf "%g" .C.Tolerance}} (relative) for times and latencies, {{printf "%g" .C.RatioTolerance}} (absolute) for ratios{{if .C.BothWays}}, either way (agreement){{end}}</p>
<table class="cards"><thead><tr><th>kind</th><th>name</th><th>base</th><th>new</th><th>change</th><th>{{.Judge}}</th></tr></thead><tbody>
{{range .Rows}}<tr><td data-label="kind">{{.C.Kind}}</td><td data-label="name">{{.C.Name}}</td><td data-label="base">{{.Base}}{{if .BaseVerd}} <span class="small">{{.BaseVerd}}</span>{{end}}</td><td data-label="new">{{.New}}{{if .NewVerd}} <span class="small">{{.NewVerd}}</span>{{end}}</td><td data-label="change" class="nw">{{.Delta}}</td><td data-label="{{$.Judge}}" class="{{.Class}}">{{if .C.Regression}}{{.C.Reason}}{{end}}</td></tr>
{{end}}</tbody></table>
<p class="small">Written by mcpsim report compare. This page is self-contained: it loads nothing from the network.</p>
</main></body></html>
`))

// SuiteComparison is two suites' report directories compared scenario
// by scenario: those in both, in name order, and those in one only
// (listed, not compared: a backend may skip what it cannot run).
type SuiteComparison struct {
	Comparisons []ScenarioComparison `json:"comparisons"`
	OnlyInBase  []string             `json:"onlyInBase"`
	OnlyInNew   []string             `json:"onlyInNew"`
	// BothWays: the comparisons judge agreement (CompareOptions.BothWays).
	BothWays bool `json:"bothWays"`
	// Regressions sums the comparisons' (differences with BothWays).
	Regressions int  `json:"regressions"`
	Regressed   bool `json:"regressed"`
}

// ScenarioComparison is one scenario of a suite comparison. Dir is the
// scenario's directory in both suites: a single path element read from
// the file system, where the scenario's name inside the reports could be
// anything.
type ScenarioComparison struct {
	Dir string `json:"dir"`
	*Comparison
}

// IsSuiteDir reports whether dir is a suite's report directory: a
// directory without a report.json of its own (its scenarios' reports are
// in sub-directories).
func IsSuiteDir(dir string) bool {
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, JSONFile))
	return errors.Is(err, fs.ErrNotExist)
}

// suiteReports lists the scenario directories of a suite's report
// directory: those holding a report.json.
func suiteReports(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), JSONFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no report.json here nor in any sub-directory (a scenario's or a suite's report directory)", dir)
	}
	return names, nil // os.ReadDir sorts by name
}

// CompareSuites compares every scenario whose report is in both suites'
// directories.
func CompareSuites(baseDir, newDir string, opts CompareOptions) (*SuiteComparison, error) {
	baseNames, err := suiteReports(baseDir)
	if err != nil {
		return nil, err
	}
	newNames, err := suiteReports(newDir)
	if err != nil {
		return nil, err
	}
	sc := &SuiteComparison{Comparisons: []ScenarioComparison{}, OnlyInBase: []string{}, OnlyInNew: []string{}, BothWays: opts.BothWays}
	for _, name := range baseNames {
		if !slices.Contains(newNames, name) {
			sc.OnlyInBase = append(sc.OnlyInBase, name)
			continue
		}
		base, err := ReadFile(filepath.Join(baseDir, name))
		if err != nil {
			return nil, err
		}
		cur, err := ReadFile(filepath.Join(newDir, name))
		if err != nil {
			return nil, err
		}
		c := Compare(base, cur, opts)
		sc.Comparisons = append(sc.Comparisons, ScenarioComparison{Dir: name, Comparison: c})
		sc.Regressions += c.Regressions
	}
	for _, name := range newNames {
		if !slices.Contains(baseNames, name) {
			sc.OnlyInNew = append(sc.OnlyInNew, name)
		}
	}
	sc.Regressed = sc.Regressions > 0
	return sc, nil
}

// Text writes every scenario's comparison and a summary.
func (sc *SuiteComparison) Text(w io.Writer) error {
	same, judge := 0, "regression"
	if sc.BothWays {
		judge = "difference"
	}
	for _, c := range sc.Comparisons {
		if err := c.Text(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		if !c.Regressed {
			same++
		}
	}
	fmt.Fprintf(w, "%d scenario(s) compared: %d without a %s, %d with %d %s(s)\n", len(sc.Comparisons), same, judge, len(sc.Comparisons)-same, sc.Regressions, judge)
	if len(sc.OnlyInBase) > 0 {
		fmt.Fprintf(w, "only in base (not compared): %s\n", strings.Join(sc.OnlyInBase, ", "))
	}
	if len(sc.OnlyInNew) > 0 {
		fmt.Fprintf(w, "only in new (not compared): %s\n", strings.Join(sc.OnlyInNew, ", "))
	}
	return nil
}
