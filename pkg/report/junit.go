package report

import (
	"encoding/xml"
	"fmt"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders reports as JUnit XML: one testsuite per scenario, one
// testcase per assertion; a failure carries measured against threshold.
// Times are the scenario's run time (virtual on the sim backend).
func JUnit(reports []*Report) ([]byte, error) {
	var doc junitSuites
	for _, r := range reports {
		s := junitSuite{Name: r.Scenario.Name, Time: fmt.Sprintf("%.3f", float64(r.Duration)),
			Properties: []junitProperty{{"backend", r.Backend}, {"seed", fmt.Sprint(r.Seed)}, {"source", r.Scenario.Source}}}
		for _, a := range r.Assertions {
			c := junitCase{Name: a.Name, Classname: r.Scenario.Name + "." + a.Type, Time: "0", SystemOut: a.Detail}
			if !a.Passed {
				c.Failure = &junitFailure{
					Message: fmt.Sprintf("measured %s; threshold %s", a.Measured, a.Threshold),
					Type:    a.Type,
					Text:    a.Detail,
				}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Suites = append(doc.Suites, s)
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
