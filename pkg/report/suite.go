package report

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
)

// WriteSuite writes a suite's pages into out, beside the scenarios'
// directories: index.html (every scenario's verdict, linking to its
// report.html) and junit.xml (every scenario's testsuite in one file),
// each atomically.
func WriteSuite(out string, reports []*Report, skipped ...Skipped) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating report directory: %w", err)
	}
	junit, err := JUnitSuite("mcpsim", reports, skipped...)
	if err != nil {
		return err
	}
	page, err := SuiteHTML(reports, skipped...)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(out, JUnitFile), junit); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(out, IndexFile), page)
}

// Skipped is a scenario of a suite that was not run, and why (what the
// backend cannot do, at its place in the file).
type Skipped struct {
	Scenario string
	Reason   string
}

type suiteRow struct {
	R              *Report
	Verdict        string
	Passed, Total  int
	Failed         []string
	Link           string
	P99            *float64
	FailedRequests int
}

// SuiteHTML renders the suite's index page: self-contained, like the
// reports it links to (<scenario>/report.html).
func SuiteHTML(reports []*Report, skipped ...Skipped) ([]byte, error) {
	var v struct {
		Verdict       string
		Rows          []suiteRow
		Skipped       []Skipped
		Passed, Total int
		Version       string
		SchemaVersion string
	}
	v.Verdict, v.SchemaVersion = "PASS", SchemaVersion
	for _, r := range reports {
		row := suiteRow{R: r, Verdict: "PASS", Link: r.Scenario.Name + "/" + HTMLFile, P99: r.Load.P99, FailedRequests: r.Load.Failed}
		if !r.Passed {
			row.Verdict, v.Verdict = "FAIL", "FAIL"
		} else {
			v.Passed++
		}
		for _, a := range r.Assertions {
			row.Total++
			if a.Passed {
				row.Passed++
			} else {
				row.Failed = append(row.Failed, a.Name)
			}
		}
		v.Total++
		v.Version = r.MCPSimVersion
		v.Rows = append(v.Rows, row)
	}
	v.Skipped = skipped
	var b bytes.Buffer
	if err := suitePage.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var suitePage = template.Must(template.New("suite").Funcs(template.FuncMap{
	"dur": fmtDur,
	"css": func() template.CSS { return template.CSS(css) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Verdict}} · {{.Passed}} of {{.Total}} scenarios · mcpsim</title>
<style>{{css}}</style></head><body><main>
<h1><span class="badge {{.Verdict}}">{{.Verdict}}</span> {{.Passed}} of {{.Total}} scenarios passed{{with .Skipped}}, {{len .}} skipped{{end}}</h1>
<p class="small">mcpsim {{.Version}} · report schema {{.SchemaVersion}} · every scenario's testsuite is also in junit.xml beside this page</p>
<table class="cards"><thead><tr><th>verdict</th><th>scenario</th><th>assertions</th><th>requests</th><th>failed</th><th>p99</th><th>run time</th><th>backend · seed</th></tr></thead><tbody>
{{range .Rows}}<tr><td data-label="verdict" class="{{if eq .Verdict "PASS"}}ok{{else}}bad{{end}}">{{.Verdict}}</td>
<td data-label="scenario"><a href="{{.Link}}">{{.R.Scenario.Name}}</a><div class="small">{{.R.Scenario.Description}}</div></td>
<td data-label="assertions">{{.Passed}} of {{.Total}} passed{{range .Failed}}<div class="small">failed: {{.}}</div>{{end}}</td>
<td data-label="requests">{{.R.Load.Requests}}</td><td data-label="failed">{{.FailedRequests}}</td><td data-label="p99">{{dur .P99}}</td>
<td data-label="run time">{{printf "%.0f" .R.Duration}} s</td><td data-label="backend · seed">{{.R.Backend}} · {{.R.Seed}}</td></tr>
{{end}}{{range .Skipped}}<tr><td data-label="verdict">SKIP</td><td data-label="scenario">{{.Scenario}}</td><td data-label="assertions" colspan="6">not run: {{.Reason}}</td></tr>
{{end}}</tbody></table>
<p class="small">Written by mcpsim. This page is self-contained: it loads nothing from the network.</p>
</main></body></html>
`))
