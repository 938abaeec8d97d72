package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

// HTML renders the report as one self-contained page: inline CSS and SVG,
// no scripts, nothing fetched from the network.
func (r *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, r.view()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type view struct {
	R        *Report
	Verdict  string
	Charts   []template.HTML
	Services []serviceRow
	Breakers []timelineBreaker
	MoreBrk  int
	Events   []eventRow
	More     int
	ErrorsBy []kv
}

type serviceRow struct {
	Name, Role                    string
	Entry                         bool
	Requests, OK, Degraded, Error int
	Mean, P50, P99                time.Duration
	Desired, Ready                int32
}

type timelineBreaker struct{ T, Service, Pod, Downstream, From, To string }

type eventRow struct{ T, Kind, Object, Message string }
type kv struct {
	K string
	V int
}

const maxEventRows = 400

func (r *Report) view() view {
	v := view{R: r, Verdict: "FAIL"}
	if r.Passed {
		v.Verdict = "PASS"
	}
	var markers []marker
	for _, f := range r.Faults {
		markers = append(markers, marker{x: f.At.Seconds(), label: f.Name})
	}
	xMax := float64(r.Duration)
	var desired, ready, pods, util []point
	for _, s := range r.Samples {
		x := s.T.Seconds()
		desired = append(desired, point{x, float64(s.Desired)})
		ready = append(ready, point{x, float64(s.Ready)})
		pods = append(pods, point{x, float64(s.Pods)})
		if s.CPUUtilization >= 0 {
			util = append(util, point{x, float64(s.CPUUtilization)})
		}
	}
	v.Charts = append(v.Charts, chart("Replicas", "pods", xMax, []series{
		{"desired (HPA)", "#7c3aed", desired, true},
		{"pods", "#94a3b8", pods, true},
		{"ready", "#059669", ready, true},
	}, markers))
	var p50, p99, rps, errs []point
	for _, s := range r.Series {
		x := float64(s.T)
		rps = append(rps, point{x, float64(s.Requests)})
		errs = append(errs, point{x, float64(s.Errors)})
		if s.Requests > s.Errors {
			p50 = append(p50, point{x, ms(s.P50)})
			p99 = append(p99, point{x, ms(s.P99)})
		}
	}
	v.Charts = append(v.Charts, chart("Latency of successful requests, per second", "ms", xMax, []series{
		{"p50", "#2563eb", p50, false},
		{"p99", "#dc2626", p99, false},
	}, markers))
	v.Charts = append(v.Charts, chart("Requests per second", "req/s", xMax, []series{
		{"sent", "#0891b2", rps, false},
		{"failed", "#dc2626", errs, false},
	}, markers))
	if len(util) > 0 {
		v.Charts = append(v.Charts, chart("CPU utilization seen by the HPA", "% of request", xMax, []series{
			{"utilization", "#ea580c", util, true},
		}, markers))
	}
	for _, sr := range r.Services {
		row := serviceRow{Name: sr.Name, Role: sr.Role, Entry: sr.Entry, Requests: sr.Load.Requests, Degraded: sr.Load.Degraded,
			OK: sr.Load.Successes - sr.Load.Degraded, Error: sr.Load.Requests - sr.Load.Successes, Mean: sr.Load.Mean, P50: sr.Load.P50, P99: sr.Load.P99}
		if n := len(sr.Samples); n > 0 {
			row.Desired, row.Ready = sr.Samples[n-1].Desired, sr.Samples[n-1].Ready
		}
		v.Services = append(v.Services, row)
		if sr.Entry {
			continue
		}
		var desired, ready []point
		for _, s := range sr.Samples {
			desired = append(desired, point{s.T.Seconds(), float64(s.Desired)})
			ready = append(ready, point{s.T.Seconds(), float64(s.Ready)})
		}
		v.Charts = append(v.Charts, chart("Replicas of "+sr.Name, "pods", xMax, []series{
			{"desired", "#7c3aed", desired, true},
			{"ready", "#059669", ready, true},
		}, markers))
	}
	for i, b := range r.Breakers {
		if i == maxEventRows {
			v.MoreBrk = len(r.Breakers) - i
			break
		}
		v.Breakers = append(v.Breakers, timelineBreaker{fmtT(b.T), b.Service, b.Pod, b.Downstream, b.From, b.To})
	}
	for i, e := range r.Events {
		if i == maxEventRows {
			v.More = len(r.Events) - i
			break
		}
		v.Events = append(v.Events, eventRow{fmtT(e.T), e.Kind, e.Object, e.Message})
	}
	for k, n := range r.Load.Errors {
		v.ErrorsBy = append(v.ErrorsBy, kv{k, n})
	}
	// Most frequent error first; ties by message, so the page is stable.
	slices.SortFunc(v.ErrorsBy, func(a, b kv) int {
		if c := cmp.Compare(b.V, a.V); c != 0 {
			return c
		}
		return strings.Compare(a.K, b.K)
	})
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtT writes a run time as m:ss.mmm; the initial rollout is negative.
func fmtT(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%d:%06.3f", sign, int(d.Minutes()), math.Mod(d.Seconds(), 60))
}

// fmtTick writes an axis tick as m:ss.
func fmtTick(seconds float64) string {
	s := int(math.Round(seconds))
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

type point struct{ x, y float64 }

type series struct {
	name  string
	color string
	pts   []point
	step  bool
}

type marker struct {
	x     float64
	label string
}

// chart draws a line chart as inline SVG. Only numbers and escaped text go
// into the markup.
func chart(title, unit string, xMax float64, ss []series, markers []marker) template.HTML {
	const w, h, left, right, top, bottom = 880.0, 240.0, 56.0, 16.0, 28.0, 34.0
	pw, ph := w-left-right, h-top-bottom
	yMax := 0.0
	for _, s := range ss {
		for _, p := range s.pts {
			yMax = math.Max(yMax, p.y)
		}
	}
	yMax = niceCeil(yMax)
	if xMax <= 0 {
		xMax = 1
	}
	X := func(x float64) float64 { return left + x/xMax*pw }
	Y := func(y float64) float64 { return top + ph - y/yMax*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" class="t">%s</text>`, left, html.EscapeString(title))
	for i := 0; i <= 4; i++ {
		y := yMax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="g"/><text x="%.1f" y="%.1f" class="a" text-anchor="end">%s</text>`,
			left, w-right, Y(y), Y(y), left-6, Y(y)+4, trimNum(y))
	}
	fmt.Fprintf(&b, `<text x="12" y="%.1f" class="a" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text>`, top+ph/2, top+ph/2, html.EscapeString(unit))
	step := niceStep(xMax / 8)
	for x := 0.0; x <= xMax+1e-9; x += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="a" text-anchor="middle">%s</text>`, X(x), h-bottom+16, fmtTick(x))
	}
	for _, m := range markers {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="m"/><text x="%.1f" y="%.1f" class="ml">⚡ %s</text>`,
			X(m.x), X(m.x), top, top+ph, X(m.x)+3, top+10, html.EscapeString(m.label))
	}
	for i, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		var d strings.Builder
		for j, p := range s.pts {
			switch {
			case j == 0:
				fmt.Fprintf(&d, "M%.1f %.1f", X(p.x), Y(p.y))
			case s.step:
				fmt.Fprintf(&d, "H%.1fV%.1f", X(p.x), Y(p.y))
			default:
				fmt.Fprintf(&d, "L%.1f %.1f", X(p.x), Y(p.y))
			}
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.6"/>`, d.String(), s.color)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="3" fill="%s"/><text x="%.1f" y="%.1f" class="a">%s</text>`,
			w-right-150, top+6+float64(i)*14, s.color, w-right-136, top+10+float64(i)*14, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped strings only
}

func trimNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func niceStep(v float64) float64 {
	for _, s := range []float64{1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if v <= s {
			return s
		}
	}
	return 7200
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"sec": func(d *time.Duration) string {
		if d == nil {
			return "—"
		}
		return fmtT(*d)
	},
	"dur": func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Verdict}} · {{.R.Scenario.Name}} · mcpsim</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#0f172a;background:#f8fafc}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;color:#fff}
.PASS{background:#059669}.FAIL{background:#dc2626}
.meta{color:#475569}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e2e8f0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600}
td.ok{color:#059669;font-weight:700}td.bad{color:#dc2626;font-weight:700}
.small{font-size:12px;color:#475569}
svg{width:100%;height:auto;background:#fff;border:1px solid #e2e8f0;margin:8px 0}
svg .t{font-weight:600;font-size:13px;fill:#0f172a}svg .a{font-size:11px;fill:#475569}
svg .g{stroke:#e2e8f0}svg .m{stroke:#dc2626;stroke-dasharray:4 3}svg .ml{font-size:11px;fill:#dc2626}
.events{max-height:420px;overflow:auto}
</style></head><body><main>
<h1><span class="badge {{.Verdict}}">{{.Verdict}}</span> {{.R.Scenario.Name}}</h1>
<p class="meta">{{.R.Scenario.Description}}</p>
<p class="small">backend <b>{{.R.Backend}}</b> · seed {{.R.Seed}} · run time {{printf "%.0f" .R.Duration}} s{{if eq .R.Backend "sim"}} (virtual){{end}} · source {{.R.Scenario.Source}} · report schema {{.R.SchemaVersion}}</p>
<h2>Assertions</h2>
<table><tr><th>verdict</th><th>assertion</th><th>measured</th><th>threshold</th><th>evidence at</th></tr>
{{range .R.Assertions}}<tr><td class="{{if .Passed}}ok{{else}}bad{{end}}">{{if .Passed}}pass{{else}}fail{{end}}</td>
<td>{{.Name}}<div class="small">{{.Type}} · {{.Detail}}</div></td><td>{{.Measured}}</td><td>{{.Threshold}}</td><td>{{sec .EvidenceAt}}</td></tr>
{{end}}</table>
<h2>Load</h2>
<table><tr><th>requests</th><th>succeeded</th><th>of them degraded</th><th>mean rate</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>
<tr><td>{{.R.Load.Requests}}</td><td>{{.R.Load.Successes}}</td><td>{{.R.Load.Degraded}}</td><td>{{printf "%.1f" .R.Load.MeanRPS}}/s</td><td>{{dur .R.Load.Mean}}</td><td>{{dur .R.Load.P50}}</td><td>{{dur .R.Load.P90}}</td><td>{{dur .R.Load.P99}}</td><td>{{dur .R.Load.Max}}</td></tr></table>
<p class="small">Quantiles are exact, over successful requests.</p>
{{if .ErrorsBy}}<table><tr><th>failed requests</th><th>error</th></tr>{{range .ErrorsBy}}<tr><td>{{.V}}</td><td>{{.K}}</td></tr>{{end}}</table>{{end}}
{{if gt (len .Services) 1}}<h2>Services</h2>
<table><tr><th>service</th><th>requests</th><th>ok</th><th>degraded</th><th>failed</th><th>mean</th><th>p50</th><th>p99</th><th>replicas at the end</th></tr>
{{range .Services}}<tr><td>{{.Name}}{{if .Entry}} <span class="small">(entry)</span>{{end}}<div class="small">{{.Role}}</div></td><td>{{.Requests}}</td><td>{{.OK}}</td><td>{{.Degraded}}</td><td>{{.Error}}</td><td>{{dur .Mean}}</td><td>{{dur .P50}}</td><td>{{dur .P99}}</td><td>{{.Ready}} ready of {{.Desired}}</td></tr>
{{end}}</table>
<p class="small">Requests each service received, as its callers saw them. On a real cluster only the entry service's are measured.</p>{{end}}
<h2>Over time</h2>
{{range .Charts}}{{.}}{{end}}
{{if .R.Faults}}<h2>Faults</h2>
<table><tr><th>at</th><th>name</th><th>kind</th><th>targets</th></tr>
{{range .R.Faults}}<tr><td>{{dur .At}}</td><td>{{.Name}}</td><td>{{.Kind}} {{.Action}}</td><td>{{range $i, $t := .Targets}}{{if $i}}, {{end}}{{$t}}{{end}}{{if .Error}} <b>failed:</b> {{.Error}}{{end}}</td></tr>{{end}}</table>{{end}}
{{if .Breakers}}<h2>Circuit breakers</h2>
<div class="events"><table><tr><th>time</th><th>service</th><th>pod</th><th>downstream</th><th>from</th><th>to</th></tr>
{{range .Breakers}}<tr><td>{{.T}}</td><td>{{.Service}}</td><td>{{.Pod}}</td><td>{{.Downstream}}</td><td>{{.From}}</td><td>{{.To}}</td></tr>{{end}}
</table>{{if .MoreBrk}}<p class="small">… and {{.MoreBrk}} more transitions in report.json.</p>{{end}}</div>{{end}}
<h2>Events</h2>
<div class="events"><table><tr><th>time</th><th>event</th><th>object</th><th>message</th></tr>
{{range .Events}}<tr><td>{{.T}}</td><td>{{.Kind}}</td><td>{{.Object}}</td><td>{{.Message}}</td></tr>{{end}}
</table>{{if .More}}<p class="small">… and {{.More}} more events in report.json.</p>{{end}}</div>
<p class="small">Written by mcpsim. This page is self-contained: it loads nothing from the network.</p>
</main></body></html>
`))
