package report

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// JUnit XML that the schemas CI tools validate against accept: Jenkins
// xunit's junit-10.xsd and Maven Surefire's surefire-test-report-3.0.xsd.
// The rules kept, each checked by TestJUnitFollowsTheXSDs:
//
//   - Root: one scenario's junit.xml is a <testsuite> (Surefire's only root
//     element; junit-10 declares testsuite globally, so it is a valid root
//     there too). A suite's merged junit.xml is a <testsuites> (junit-10)
//     of such testsuites.
//   - testsuite attributes: name, tests, failures, errors (required by
//     both), skipped (required by Surefire) and time; nothing else, as
//     Surefire allows only version, name, time, tests, errors, skipped,
//     failures and group, and junit-10 has no version. So no timestamp:
//     the run's facts go into properties.
//   - testsuite content: at most one properties, then the testcases, and
//     nothing after them (Surefire's sequence has no suite system-out).
//   - property: name and value, both required.
//   - testcase attributes: name (required), classname and time (required by
//     Surefire); nothing else.
//   - time: Surefire's SUREFIRE_TIME, digits and at most three decimals,
//     no sign, no exponent.
//   - testcase content in Surefire's order: a failure or one error, then one
//     system-out; failure and error carry type (required by Surefire) and
//     message.
//   - testsuites attributes: name, tests, failures, errors and time only
//     (junit-10 has no skipped there).
//   - counts add up: tests is the number of testcases, failures and errors
//     of those holding a failure or an error; testsuites sums its suites.
//
// Every testcase's system-out carries the measured value and the
// threshold, passing or not. A testcase's time is what the assertion
// measured when that is a time (how long recovery or scaling took), else
// the length of the span of requests it judged, 0 when nothing was
// measured; a testsuite's time is the run's (virtual on the sim backend).

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	XMLName    xml.Name         `xml:"testsuite"`
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Error     *junitFailure `xml:"error"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// junitSkipped marks a testcase not run: both schemas allow a message.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitTime writes seconds as SUREFIRE_TIME: at most three decimals.
func junitTime(s float64) string {
	if s < 0 || s != s {
		s = 0
	}
	return strconv.FormatFloat(s, 'f', 3, 64)
}

func (r *Report) junitSuite() junitSuite {
	s := junitSuite{Name: r.Scenario.Name, Time: junitTime(r.Duration), Properties: &junitProperties{Property: []junitProperty{
		{"verdict", r.Verdict},
		{"backend", r.Backend},
		{"seed", strconv.FormatUint(r.Seed, 10)},
		{"source", r.Scenario.Source},
		{"mcpsim.version", r.MCPSimVersion},
		{"report.schema", r.SchemaVersion},
	}}}
	if r.KubernetesVersion != "" {
		s.Properties.Property = append(s.Properties.Property, junitProperty{"kubernetes.version", r.KubernetesVersion})
	}
	for _, a := range r.Assertions {
		c := junitCase{Name: a.Name, Classname: r.Scenario.Name + "." + a.Type, Time: junitTime(caseTime(a)), SystemOut: caseOut(a)}
		switch a.Verdict {
		case VerdictFail:
			c.Failure = &junitFailure{Message: fmt.Sprintf("measured %s; threshold %s", a.Measured, a.Threshold), Type: a.Type, Text: a.Detail}
			s.Failures++
		case VerdictError:
			c.Error = &junitFailure{Message: "could not be judged: " + a.Detail, Type: a.Type, Text: a.Detail}
			s.Errors++
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	return s
}

// caseTime: see the package comment on JUnit above.
func caseTime(a Assertion) float64 {
	switch {
	case a.Value == nil:
		return 0
	case a.Unit == "s" && a.Type != "latency":
		return *a.Value
	case a.Window != nil:
		return a.Window.To - a.Window.From
	}
	return 0
}

// caseOut is a testcase's system-out: the verdict and its numbers.
func caseOut(a Assertion) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\nmeasured: %s\nthreshold: %s\n", a.Verdict, a.Measured, a.Threshold)
	if a.Value != nil {
		fmt.Fprintf(&b, "value: %s %s\n", num(*a.Value), a.Unit)
	} else {
		b.WriteString("value: none\n")
	}
	fmt.Fprintf(&b, "limit: %s %s\n", num(a.Limit), a.Unit)
	if a.EvidenceAt != nil {
		fmt.Fprintf(&b, "evidence at: %ss\n", num(*a.EvidenceAt))
	}
	if a.Window != nil {
		fmt.Fprintf(&b, "window: [%ss, %ss]\n", num(a.Window.From), num(a.Window.To))
	}
	if a.Detail != "" {
		fmt.Fprintf(&b, "detail: %s\n", a.Detail)
	}
	return b.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func marshalJUnit(doc any) ([]byte, error) {
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// JUnit renders one report as JUnit XML: a testsuite for the scenario, a
// testcase per assertion; a failure carries measured against threshold.
func (r *Report) JUnit() ([]byte, error) {
	return marshalJUnit(r.junitSuite())
}

// JUnitSuite renders reports as one JUnit file: a testsuites root named
// name, holding each scenario's testsuite.
//
// A skipped scenario is a testsuite of one skipped testcase with the
// reason, so that a CI page shows what was not run (testsuites has no
// skipped count in junit-10: the testsuite carries it).
func JUnitSuite(name string, reports []*Report, skipped ...Skipped) ([]byte, error) {
	doc := junitSuites{Name: name}
	total := 0.0
	for _, r := range reports {
		s := r.junitSuite()
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		total += r.Duration
		doc.Suites = append(doc.Suites, s)
	}
	for _, sk := range skipped {
		doc.Tests++
		doc.Suites = append(doc.Suites, junitSuite{Name: sk.Scenario, Tests: 1, Skipped: 1, Time: junitTime(0), Cases: []junitCase{
			{Name: "scenario not run", Classname: sk.Scenario + ".skipped", Time: junitTime(0), Skipped: &junitSkipped{Message: sk.Reason}},
		}})
	}
	doc.Time = junitTime(total)
	return marshalJUnit(doc)
}
