package report

import (
	"encoding/xml"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// node is any XML element, for checking structure against the XSDs.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n node) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// surefireTime is SUREFIRE_TIME of surefire-test-report-3.0.xsd.
var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?$`)

// checkAttrs: every required attribute is there, and nothing outside
// allowed is.
func checkAttrs(t *testing.T, n node, required, allowed []string) {
	t.Helper()
	for _, r := range required {
		if _, ok := n.attr(r); !ok {
			t.Errorf("<%s> lacks the required attribute %s", n.XMLName.Local, r)
		}
	}
	for _, a := range n.Attrs {
		if !slices.Contains(allowed, a.Name.Local) {
			t.Errorf("<%s> has attribute %s, which the XSDs do not allow", n.XMLName.Local, a.Name.Local)
		}
	}
	if v, ok := n.attr("time"); ok && !surefireTime.MatchString(v) {
		t.Errorf("<%s time=%q>: not a SUREFIRE_TIME", n.XMLName.Local, v)
	}
}

func atoi(t *testing.T, n node, name string) int {
	t.Helper()
	v, _ := n.attr(name)
	i, err := strconv.Atoi(v)
	if err != nil {
		t.Errorf("<%s %s=%q>: not a count", n.XMLName.Local, name, v)
	}
	return i
}

// checkSuite applies the rules listed in junit.go to one testsuite and
// returns its tests, failures and errors.
func checkSuite(t *testing.T, s node) (tests, failures, errors int) {
	t.Helper()
	skipped := 0
	checkAttrs(t, s, []string{"name", "tests", "failures", "errors", "skipped"}, []string{"name", "tests", "failures", "errors", "skipped", "time"})
	seenCase := false
	for i, c := range s.Children {
		switch c.XMLName.Local {
		case "properties":
			if i != 0 {
				t.Errorf("properties at position %d: it must come first, once", i)
			}
			for _, p := range c.Children {
				if p.XMLName.Local != "property" {
					t.Errorf("<properties> holds <%s>", p.XMLName.Local)
				}
				checkAttrs(t, p, []string{"name", "value"}, []string{"name", "value"})
			}
		case "testcase":
			seenCase = true
			tests++
			checkAttrs(t, c, []string{"name", "time"}, []string{"name", "classname", "time"})
			order := map[string]int{"failure": 0, "error": 0, "skipped": 0, "system-out": 1}
			last, outs, errs, skips := -1, 0, 0, 0
			for _, k := range c.Children {
				pos, ok := order[k.XMLName.Local]
				if !ok || pos < last {
					t.Errorf("testcase %q: <%s> out of Surefire's order (failure|error, system-out)", c.XMLName.Local, k.XMLName.Local)
				}
				last = pos
				switch k.XMLName.Local {
				case "failure", "error":
					checkAttrs(t, k, []string{"type", "message"}, []string{"type", "message"})
					if k.XMLName.Local == "failure" {
						failures++
					} else {
						errs++
						errors++
					}
				case "skipped":
					// Both schemas: an optional message, nothing else.
					checkAttrs(t, k, nil, []string{"message"})
					skips++
					skipped++
				case "system-out":
					outs++
					for _, want := range []string{"measured: ", "threshold: ", "value: ", "limit: "} {
						if !strings.Contains(k.Text, want) {
							t.Errorf("testcase system-out lacks %q:\n%s", want, k.Text)
						}
					}
				}
			}
			// A judged assertion has its system-out; a skipped case none.
			if outs+skips != 1 || errs > 1 {
				t.Errorf("testcase with %d system-out, %d skipped and %d errors", outs, skips, errs)
			}
		default:
			t.Errorf("<testsuite> holds <%s>: only properties and testcase are allowed", c.XMLName.Local)
		}
		if c.XMLName.Local == "properties" && seenCase {
			t.Error("properties after a testcase")
		}
	}
	if atoi(t, s, "tests") != tests || atoi(t, s, "failures") != failures || atoi(t, s, "errors") != errors || atoi(t, s, "skipped") != skipped {
		t.Errorf("counts %v do not match %d tests, %d failures, %d errors", s.Attrs, tests, failures, errors)
	}
	return tests, failures, errors
}

// TestJUnitFollowsTheXSDs checks a scenario's junit.xml against the rules
// of Jenkins xunit's junit-10.xsd and Surefire's 3.0 XSD listed in
// junit.go.
func TestJUnitFollowsTheXSDs(t *testing.T) {
	out, err := sample().JUnit()
	if err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal(out, &root); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	if root.XMLName.Local != "testsuite" {
		t.Fatalf("root <%s>: Surefire's only root is testsuite", root.XMLName.Local)
	}
	// sample(): fast fails (nothing measured in its window), no errors
	// fails (1 of 3 > 1%), scales fails (never 5 ready), ghost is an
	// error (its service was never recorded).
	tests, failures, errors := checkSuite(t, root)
	if tests != 4 || failures != 3 || errors != 1 {
		t.Fatalf("%d tests, %d failures, %d errors; want 4, 3, 1", tests, failures, errors)
	}
	s := string(out)
	for _, want := range []string{`message="measured 33.333% (1 of 3); threshold gateway error rate ≤ 1%"`, `name="mcpsim.version" value="v9.9.9"`, `time="3.000"`} {
		if !strings.Contains(s, want) {
			t.Errorf("junit.xml lacks %s:\n%s", want, s)
		}
	}
}

func TestJUnitSuiteMergesScenarios(t *testing.T) {
	a, b := sample(), sample()
	b.Scenario.Name = "other"
	out, err := JUnitSuite("mcpsim", []*Report{a, b})
	if err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal(out, &root); err != nil {
		t.Fatal(err)
	}
	if root.XMLName.Local != "testsuites" || len(root.Children) != 2 {
		t.Fatalf("root <%s> with %d children", root.XMLName.Local, len(root.Children))
	}
	checkAttrs(t, root, nil, []string{"name", "time", "tests", "failures", "errors"})
	var tests, failures, errors int
	for _, s := range root.Children {
		if s.XMLName.Local != "testsuite" {
			t.Fatalf("<testsuites> holds <%s>", s.XMLName.Local)
		}
		te, f, e := checkSuite(t, s)
		tests, failures, errors = tests+te, failures+f, errors+e
	}
	// Two runs of 3 s each; 4 tests, 3 failures, 1 error each.
	if atoi(t, root, "tests") != tests || tests != 8 || atoi(t, root, "failures") != failures || failures != 6 || atoi(t, root, "errors") != errors || errors != 2 {
		t.Fatalf("totals %v", root.Attrs)
	}
	if v, _ := root.attr("time"); v != "6.000" {
		t.Fatalf("time %q, want 6.000", v)
	}
}

// TestJUnitSuiteListsSkippedScenarios: a scenario the backend could not
// run is a testsuite of one skipped testcase carrying the reason, counted
// in tests (as both schemas count skipped tests), and the index page
// lists it.
func TestJUnitSuiteListsSkippedScenarios(t *testing.T) {
	sk := Skipped{Scenario: "network-delay", Reason: "scenarios/network-delay.yaml:106:17: spec.faults[0].spec.action: Forbidden: delay needs netem"}
	out, err := JUnitSuite("mcpsim", []*Report{sample()}, sk)
	if err != nil {
		t.Fatal(err)
	}
	var root node
	if err := xml.Unmarshal(out, &root); err != nil {
		t.Fatal(err)
	}
	if len(root.Children) != 2 || atoi(t, root, "tests") != 5 {
		t.Fatalf("%d suites, tests %v: want the report's 4 tests and the skipped one", len(root.Children), root.Attrs)
	}
	for _, s := range root.Children {
		checkSuite(t, s)
	}
	last := root.Children[1]
	if v, _ := last.attr("skipped"); v != "1" || !strings.Contains(string(out), `<skipped message="scenarios/network-delay.yaml:106:17: spec.faults[0].spec.action: Forbidden: delay needs netem"></skipped>`) {
		t.Fatalf("skipped suite %v:\n%s", last.Attrs, out)
	}
	page, err := SuiteHTML([]*Report{sample()}, sk)
	if err != nil {
		t.Fatal(err)
	}
	if p := string(page); !strings.Contains(p, "1 skipped</h1>") || !strings.Contains(p, "not run: scenarios/network-delay.yaml:106:17") {
		t.Fatalf("index page does not list the skipped scenario")
	}
}

func TestJUnitTimes(t *testing.T) {
	v := 2.5
	for _, c := range []struct {
		a    Assertion
		want float64
	}{
		// readyRecovers took 2.5 s: its time.
		{Assertion{Type: "readyRecovers", Unit: "s", Value: &v, Window: &Span{120, 150}}, 2.5},
		// latency judged the requests of [60 s, 300 s): 240 s.
		{Assertion{Type: "latency", Unit: "s", Value: &v, Window: &Span{60, 300}}, 240},
		{Assertion{Type: "errorRate", Unit: "ratio", Value: &v, Window: &Span{0, 300}}, 300},
		{Assertion{Type: "readyRecovers", Unit: "s"}, 0},
	} {
		if got := caseTime(c.a); got != c.want {
			t.Errorf("%+v: time %v, want %v", c.a, got, c.want)
		}
	}
	if junitTime(1234.56789) != "1234.568" || !surefireTime.MatchString(junitTime(86400)) {
		t.Fatal("junitTime")
	}
}
