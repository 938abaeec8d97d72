package report

import (
	"strings"
	"testing"
)

func f(v float64) *float64 { return &v }

func compareFixture() *Report {
	return &Report{
		Scenario: ScenarioInfo{Name: "s"}, Verdict: VerdictPass, Passed: true,
		Assertions: []Assertion{
			{Name: "p99", Type: "latency", Unit: "s", Verdict: VerdictPass, Passed: true, Value: f(0.100), Limit: 0.2},
			{Name: "up", Type: "availability", Unit: "ratio", Verdict: VerdictPass, Passed: true, Value: f(0.9995), Limit: 0.999},
			{Name: "back", Type: "readyRecovers", Unit: "s", Verdict: VerdictPass, Passed: true, Value: f(0), Limit: 30},
		},
		Services: []ServiceReport{{Name: "gw", Load: LoadSummary{Requests: 1000, Successes: 995, Failed: 5, P50: f(0.02), P99: f(0.1), Mean: f(0.03), Max: f(0.4), MeanRPS: 10}}},
	}
}

func change(t *testing.T, c *Comparison, name string) Change {
	t.Helper()
	for _, ch := range c.Changes {
		if ch.Name == name {
			return ch
		}
	}
	t.Fatalf("no change %q", name)
	return Change{}
}

func TestCompareSameIsNoRegression(t *testing.T) {
	c := Compare(compareFixture(), compareFixture(), DefaultCompareOptions)
	if c.Regressed || c.Regressions != 0 {
		t.Fatalf("%+v", c)
	}
	// 3 assertions, 9 load metrics and the final ready replicas of one
	// service.
	if len(c.Changes) != 13 || *change(t, c, "gw p99").Delta != 0 {
		t.Fatalf("%d changes", len(c.Changes))
	}
}

func TestCompareTolerances(t *testing.T) {
	base := compareFixture()
	cur := compareFixture()
	// p99 assertion 100 ms → 109 ms: +9 %, inside 10 %.
	cur.Assertions[0].Value = f(0.109)
	// availability 99.95 % → 99.9 %: 0.05 pp worse, inside 0.1 pp.
	cur.Assertions[1].Value = f(0.999)
	// recovery 0 s → 0.5 ms: worse by "infinitely" much, but under 1 ms.
	cur.Assertions[2].Value = f(0.0005)
	// service p99 100 ms → 115 ms: +15 %, a regression; max doubles,
	// shown only.
	cur.Services[0].Load.P99, cur.Services[0].Load.Max = f(0.115), f(0.8)
	// failed 5/1000 = 0.5 % → 20/1000 = 2 %: +1.5 pp, a regression.
	cur.Services[0].Load.Failed, cur.Services[0].Load.Successes = 20, 980
	c := Compare(base, cur, DefaultCompareOptions)
	for name, want := range map[string]bool{"p99": false, "up": false, "back": false, "gw p99": true, "gw max": false, "gw failed ratio": true} {
		if got := change(t, c, name).Regression; got != want {
			t.Errorf("%s: regression %v, want %v (%+v)", name, got, want, change(t, c, name))
		}
	}
	if c.Regressions != 2 || !c.Regressed {
		t.Fatalf("%d regressions", c.Regressions)
	}
	if r := *change(t, c, "gw p99").Relative; r < 0.1499 || r > 0.1501 {
		t.Fatalf("relative %v, want 0.15", r)
	}
	// Availability falling by more than 0.1 pp: 99.95 % → 99.8 %.
	cur.Assertions[1].Value = f(0.998)
	if !change(t, Compare(base, cur, DefaultCompareOptions), "up").Regression {
		t.Fatal("availability falling 0.15 pp is not a regression")
	}
}

func TestCompareVerdictsAndMissing(t *testing.T) {
	base, cur := compareFixture(), compareFixture()
	cur.Assertions[0].Passed, cur.Assertions[0].Verdict = false, VerdictFail
	cur.Assertions = cur.Assertions[:2] // "back" is gone
	cur.Assertions = append(cur.Assertions, Assertion{Name: "new one", Unit: "s", Verdict: VerdictPass, Passed: true, Value: f(1)})
	c := Compare(base, cur, DefaultCompareOptions)
	if ch := change(t, c, "p99"); !ch.Regression || ch.Reason != "passed, now fail" {
		t.Fatalf("p99: %+v", ch)
	}
	if ch := change(t, c, "back"); !ch.Regression || ch.NewVerdict != "missing" {
		t.Fatalf("back: %+v", ch)
	}
	if ch := change(t, c, "new one"); ch.Regression || ch.BaseVerdict != "missing" {
		t.Fatalf("new one: %+v", ch)
	}
	var text strings.Builder
	if err := c.Text(&text); err != nil || !strings.Contains(text.String(), "REGRESSION: passed, now fail") || !strings.Contains(text.String(), "2 regression(s)") {
		t.Fatalf("text:\n%s", text.String())
	}
	page, err := c.HTML()
	if err != nil || !strings.Contains(string(page), "2 REGRESSION(S)") || strings.Contains(string(page), "<script") {
		t.Fatalf("html: %v", err)
	}
}

// TestCompareBothWays: judged for agreement (a simulation against a real
// cluster), a value beyond the tolerance differs whichever way it moved,
// a verdict that changed either way differs, and the final ready
// replicas are judged by the relative tolerance.
func TestCompareBothWays(t *testing.T) {
	base, cur := compareFixture(), compareFixture()
	base.Services[0].Samples = []Sample{{T: 0, Ready: 2}, {T: 60, Ready: 10}}
	cur.Services[0].Samples = []Sample{{T: 0, Ready: 2}, {T: 60, Ready: 13}}
	// p99 assertion 100 ms → 70 ms: 30 % better, beyond 20 %.
	cur.Assertions[0].Value = f(0.070)
	// service p50 20 ms → 17 ms: 15 % better, inside 20 %.
	cur.Services[0].Load.P50 = f(0.017)
	// failed 0.5 % → 0 %: 0.5 pp apart, beyond 0.1 pp.
	cur.Services[0].Load.Failed, cur.Services[0].Load.Successes = 0, 1000
	opts := CompareOptions{Tolerance: 0.2, RatioTolerance: 0.001, BothWays: true}
	c := Compare(base, cur, opts)
	// final ready 10 → 13: 3 replicas, 30 % of 10, beyond 20 %.
	for name, want := range map[string]bool{"p99": true, "gw p50": false, "gw failed ratio": true, "gw final ready": true, "gw requests": false, "gw max": false} {
		if got := change(t, c, name).Regression; got != want {
			t.Errorf("%s: differs %v, want %v (%+v)", name, got, want, change(t, c, name))
		}
	}
	if ch := change(t, c, "p99"); ch.Reason != "30% apart, beyond the 20% tolerance" {
		t.Errorf("p99 reason %q", ch.Reason)
	}
	// Not judged one-way: fewer failures and a better p99 are no
	// regression, and replicas are shown only.
	one := Compare(base, cur, CompareOptions{Tolerance: 0.2, RatioTolerance: 0.001})
	if one.Regressed {
		t.Fatalf("one-way comparison regressed: %+v", one.Changes)
	}
	// 12 final ready replicas are 20 % apart from 10: not beyond.
	cur.Services[0].Samples[1].Ready = 12
	if change(t, Compare(base, cur, opts), "gw final ready").Regression {
		t.Error("12 against 10 replicas differs at a 20 % tolerance")
	}
	// A verdict that turned to pass differs too.
	base.Assertions[2].Passed, base.Assertions[2].Verdict = false, VerdictFail
	if ch := change(t, Compare(base, cur, opts), "back"); !ch.Regression || ch.Reason != "fail, now passes" {
		t.Errorf("back: %+v", ch)
	}
	var text strings.Builder
	if err := c.Text(&text); err != nil || !strings.Contains(text.String(), "DIFFERS: 30% apart") || !strings.Contains(text.String(), "3 difference(s)") {
		t.Fatalf("text:\n%s", text.String())
	}
	page, err := c.HTML()
	if err != nil || !strings.Contains(string(page), "3 DIFFERENCE(S)") || !strings.Contains(string(page), "either way") {
		t.Fatalf("html: %v\n%s", err, page)
	}
}

// TestCompareUnmeasuredService: a real cluster measures the entry
// service's load only; a service with no requests has every load figure
// missing, shown as "—", never as a 100 % fall.
func TestCompareUnmeasuredService(t *testing.T) {
	base, cur := compareFixture(), compareFixture()
	cur.Services[0].Load = LoadSummary{}
	c := Compare(base, cur, CompareOptions{Tolerance: 0.2, RatioTolerance: 0.001, BothWays: true})
	for _, name := range []string{"gw requests", "gw mean rate", "gw failed ratio", "gw p99"} {
		if ch := change(t, c, name); ch.New != nil || ch.Delta != nil || ch.Regression || changeText(ch) != "—" {
			t.Errorf("%s: %+v shown as %q", name, ch, changeText(ch))
		}
	}
	if c.Regressed {
		t.Fatalf("an unmeasured service differs: %+v", c.Changes)
	}
}
