package report

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of the page, whatever the length of the run (checked with a
// synthetic 24-hour run by TestHTMLIsBoundedForLongRuns): a chart draws
// at most maxChartPoints points, all its series together (longer series
// are down-sampled, keeping each interval's lowest and highest value so
// that no spike disappears); the event and breaker tables show at most
// maxTableRows rows (the first and the last halves), with the count of
// what is left out and a summary of every event by kind. A page is
// therefore about 30 kB per chart plus 60 kB per table: under 1 MiB for a
// run of any length with up to four services.
const (
	maxChartPoints = 2000
	maxTableRows   = 400
)

// HTML renders the report as one self-contained page: inline CSS and SVG,
// no scripts, nothing fetched from the network. It needs nothing but the
// report, so `mcpsim report render` rebuilds it from report.json.
func (r *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, r.view()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type view struct {
	R          *Report
	Verdict    string
	Assertions []assertionRow
	Sections   []section
	Services   []serviceRow
	Breakers   []breakerRow
	MoreBrk    int
	Events     []eventRow
	More       int
	EventKinds []kv
	ErrorsBy   []kv
	// Throttling: some service has CPU throttling figures.
	Throttling bool
}

type assertionRow struct {
	A     Assertion
	Class string
}

type section struct {
	Title  string
	Note   string
	Charts []template.HTML
}

type serviceRow struct {
	Name, Role                    string
	Entry                         bool
	Requests, OK, Degraded, Error int
	Mean, P50, P99                *float64
	Desired, Ready                int32
	HPA                           string
	Rec                           *Recommendation
	// Throttled: the share of its quota periods in which the service was
	// throttled, as "12.5%" (empty when not modelled).
	Throttled string
	Periods   int64
}

// A row of a capped table; Gap > 0 marks the rows left out.
type breakerRow struct {
	T, Service, Pod, Downstream, From, To string
	Gap                                   int
}

type eventRow struct {
	T, Kind, Object, Message string
	Gap                      int
}

type kv struct {
	K string
	V int
}

// cappedRows maps items to a table's rows: all of them, or the first and
// last max/2 with one row made by gapRow between, which stands for the
// gap items left out (every one is still in report.json).
func cappedRows[T, R any](items []T, max int, row func(T) R, gapRow func(int) R) (rows []R, gap int) {
	if len(items) <= max {
		for _, it := range items {
			rows = append(rows, row(it))
		}
		return rows, 0
	}
	gap = len(items) - max
	for _, it := range items[:max/2] {
		rows = append(rows, row(it))
	}
	rows = append(rows, gapRow(gap))
	for _, it := range items[len(items)-max/2:] {
		rows = append(rows, row(it))
	}
	return rows, gap
}

func (r *Report) view() view {
	v := view{R: r, Verdict: "FAIL"}
	if r.Passed {
		v.Verdict = "PASS"
	}
	for _, a := range r.Assertions {
		v.Assertions = append(v.Assertions, assertionRow{A: a, Class: map[string]string{VerdictPass: "ok", VerdictFail: "bad", VerdictError: "bad"}[a.Verdict]})
	}
	var markers []marker
	for _, f := range r.Faults {
		m := marker{x: f.At, label: f.Name}
		if f.End != nil && *f.End > f.At {
			m.end = *f.End
		}
		markers = append(markers, m)
	}
	for i := range r.Services {
		sr := &r.Services[i]
		row := serviceRow{Name: sr.Name, Role: sr.Role, Entry: sr.Entry, Requests: sr.Load.Requests, Degraded: sr.Load.Degraded,
			OK: sr.Load.Successes - sr.Load.Degraded, Error: sr.Load.Failed, Mean: sr.Load.Mean, P50: sr.Load.P50, P99: sr.Load.P99, HPA: "none", Rec: sr.Recommendation}
		if t := sr.CPUThrottling; t != nil {
			row.Throttled, row.Periods = fmt.Sprintf("%.1f%% (%d)", 100*t.Ratio, t.Throttled), t.Periods
		}
		if n := len(sr.Samples); n > 0 {
			row.Desired, row.Ready = sr.Samples[n-1].Desired, sr.Samples[n-1].Ready
		}
		if h := sr.HPA; h != nil {
			row.HPA = fmt.Sprintf("%d–%d replicas", h.MinReplicas, h.MaxReplicas)
			if h.TargetCPUUtilization != nil {
				row.HPA += fmt.Sprintf(", CPU %d%%", *h.TargetCPUUtilization)
			}
		}
		v.Services = append(v.Services, row)
		v.Throttling = v.Throttling || row.Throttled != ""
		v.Sections = append(v.Sections, r.serviceSection(sr, markers))
	}
	v.Breakers, v.MoreBrk = cappedRows(r.Breakers, maxTableRows, func(b BreakerTransition) breakerRow {
		return breakerRow{T: fmtT(b.T), Service: b.Service, Pod: b.Pod, Downstream: b.Downstream, From: b.From, To: b.To}
	}, func(gap int) breakerRow { return breakerRow{Gap: gap} })
	v.Events, v.More = cappedRows(r.Events, maxTableRows, func(e Event) eventRow {
		return eventRow{T: fmtT(e.T), Kind: e.Kind, Object: e.Object, Message: e.Message}
	}, func(gap int) eventRow { return eventRow{Gap: gap} })
	kinds := map[string]int{}
	for _, e := range r.Events {
		kinds[e.Kind]++
	}
	v.EventKinds = sortedCounts(kinds)
	v.ErrorsBy = sortedCounts(r.Load.Errors)
	return v
}

// sortedCounts: most frequent first; ties by name, so the page is stable.
func sortedCounts(m map[string]int) []kv {
	var out []kv
	for k, n := range m {
		out = append(out, kv{k, n})
	}
	slices.SortFunc(out, func(a, b kv) int {
		if c := cmp.Compare(b.V, a.V); c != 0 {
			return c
		}
		return strings.Compare(a.K, b.K)
	})
	return out
}

// Colours of the series and overlays.
const (
	cDesired = "#7c3aed"
	cPods    = "#94a3b8"
	cReady   = "#059669"
	cP50     = "#60a5fa"
	cP99     = "#f87171"
	cSent    = "#0891b2"
	cFailed  = "#dc2626"
	cDegr    = "#d97706"
	cUtil    = "#ea580c"
)

// serviceSection draws one service's charts, each with the assertions
// whose evidence it shows: their windows shaded, their thresholds as
// dashed lines, what they measured as solid lines, and the faults.
func (r *Report) serviceSection(sr *ServiceReport, markers []marker) section {
	sec := section{Title: sr.Name}
	if sr.Entry {
		sec.Title += " (entry service: the load generator's view)"
	} else {
		sec.Note = "Requests " + sr.Name + " received, as its callers saw them."
	}
	var mine []Assertion
	for _, a := range r.Assertions {
		if a.Service == sr.Name {
			mine = append(mine, a)
		}
	}
	has := func(types ...string) bool {
		for _, a := range mine {
			if slices.Contains(types, a.Type) {
				return true
			}
		}
		return false
	}
	xMax := r.Duration

	// Replicas, with replicasReach and readyRecovers.
	// Each series has at most a point per sample (and below per
	// second): allocated once rather than grown.
	n := len(sr.Samples)
	desired, pods, ready, util := make([]point, 0, n), make([]point, 0, n), make([]point, 0, n), make([]point, 0, n)
	for _, s := range sr.Samples {
		desired = append(desired, point{s.T, float64(s.Desired)})
		pods = append(pods, point{s.T, float64(s.Pods)})
		ready = append(ready, point{s.T, float64(s.Ready)})
		if s.CPUUtilization != nil {
			util = append(util, point{s.T, float64(*s.CPUUtilization)})
		}
	}
	c := chartSpec{title: "Replicas of " + sr.Name, unit: "pods", xMax: xMax, markers: markers, series: []series{
		{"desired (HPA)", cDesired, clipStart(desired), true, 1.6},
		{"pods", cPods, clipStart(pods), true, 1.6},
		{"ready", cReady, clipStart(ready), true, 1.6},
	}}
	for _, a := range mine {
		if a.Replicas == nil {
			continue
		}
		level := a.Replicas.AtLeast
		op := "≥"
		if a.Replicas.AtMost != nil {
			level, op = a.Replicas.AtMost, "≤"
		}
		if level == nil {
			continue
		}
		y := float64(*level)
		c.overlay(a, y, nil, fmt.Sprintf("%s %s %d", a.Replicas.Of, op, *level), "")
	}
	sec.Charts = append(sec.Charts, c.render())

	// The entry service gets every chart; another service its latency
	// when an assertion judges it, and its failed and degraded shares
	// when an assertion judges them or it had any.
	showLatency := sr.Entry || has("latency")
	showRates := sr.Entry || has("errorRate", "degradedRate", "availability", "breakerOpens", "breakerCloses") || sr.Load.Failed > 0 || sr.Load.Degraded > 0
	if showLatency {
		// Latency: per-second detail and each latency assertion's
		// quantile over its whole window, the number its verdict uses.
		p50, p99 := make([]point, 0, len(sr.Series)), make([]point, 0, len(sr.Series))
		for _, s := range sr.Series {
			if s.P50 != nil {
				p50 = append(p50, point{float64(s.T), ms(*s.P50)})
				p99 = append(p99, point{float64(s.T), ms(*s.P99)})
			}
		}
		c := chartSpec{title: "Latency of successful requests to " + sr.Name, unit: "ms", xMax: xMax, markers: markers, series: []series{
			{"p50 of each second", cP50, p50, false, 1},
			{"p99 of each second", cP99, p99, false, 1},
		}}
		for _, a := range mine {
			if a.Type != "latency" {
				continue
			}
			name := "quantile"
			if a.Quantile != nil {
				name = "p" + num(math.Round(*a.Quantile*100000)/1000)
			}
			var meas *float64
			if a.Value != nil {
				m := ms(*a.Value)
				meas = &m
			}
			c.overlay(a, ms(a.Limit), meas, "limit "+fmtMs(ms(a.Limit)), name+" of the window "+fmtOptMs(meas))
		}
		if has("latency") {
			c.notes = append(c.notes, "The solid horizontal line is the assertion's quantile over every successful request of its window: the number its verdict compares with the limit. The thin lines are the quantiles of each second, for detail: a single second can lie above the limit while the window's quantile is below it.")
		}
		sec.Charts = append(sec.Charts, c.render())
	}
	if showRates {
		n := len(sr.Series)
		rps, failed, errPct, degPct := make([]point, 0, n), make([]point, 0, n), make([]point, 0, n), make([]point, 0, n)
		for _, s := range sr.Series {
			x := float64(s.T)
			rps = append(rps, point{x, float64(s.Requests)})
			failed = append(failed, point{x, float64(s.Errors)})
			if s.Requests > 0 {
				errPct = append(errPct, point{x, 100 * float64(s.Errors) / float64(s.Requests)})
				degPct = append(degPct, point{x, 100 * float64(s.Degraded) / float64(s.Requests)})
			}
		}
		if sr.Entry {
			sec.Charts = append(sec.Charts, chartSpec{title: "Requests per second to " + sr.Name, unit: "req/s", xMax: xMax, markers: markers, series: []series{
				{"sent", cSent, rps, false, 1.4},
				{"failed", cFailed, failed, false, 1.4},
			}}.render())
		}

		// Failed and degraded shares, with the rate assertions and the
		// breaker assertions of this service (the breakers' open
		// intervals are what degrades answers).
		c := chartSpec{title: "Failed and degraded requests to " + sr.Name + ", share of each second", unit: "%", xMax: xMax, markers: markers, series: []series{
			{"failed", cFailed, errPct, false, 1.2},
			{"degraded", cDegr, degPct, false, 1.2},
		}}
		for _, a := range mine {
			pct := func(v float64) float64 { return 100 * v }
			var meas *float64
			switch a.Type {
			case "errorRate", "degradedRate":
				what := map[string]string{"errorRate": "failed", "degradedRate": "degraded"}[a.Type]
				if a.Value != nil {
					m := pct(*a.Value)
					meas = &m
				}
				c.overlay(a, pct(a.Limit), meas, "limit "+fmtPct(pct(a.Limit)), what+" over the window "+fmtOptPct(meas))
			case "availability":
				// availability ≥ minRatio ⇔ failed share ≤ 1 − minRatio.
				if a.Value != nil {
					m := pct(1 - *a.Value)
					meas = &m
				}
				c.overlay(a, pct(1-a.Limit), meas, "availability limit: failed ≤ "+fmtPct(pct(1-a.Limit)), "failed over the window "+fmtOptPct(meas))
			case "breakerOpens", "breakerCloses":
				c.overlay(a, math.NaN(), nil, "", "")
			}
		}
		sec.Charts = append(sec.Charts, c.render())
	}

	if len(util) > 0 || sr.HPA != nil {
		c := chartSpec{title: "CPU utilization of " + sr.Name + " seen by the HPA", unit: "% of request", xMax: xMax, markers: markers, series: []series{
			{"utilization", cUtil, clipStart(util), true, 1.6},
		}}
		if sr.HPA != nil && sr.HPA.TargetCPUUtilization != nil {
			t := float64(*sr.HPA.TargetCPUUtilization)
			c.lines = append(c.lines, hline{y: t, x0: 0, x1: xMax, class: "tgt", label: fmt.Sprintf("HPA target %d%%", *sr.HPA.TargetCPUUtilization)})
			c.notes = append(c.notes, fmt.Sprintf("The dotted line is the HPA's target, %d%% of the CPU request; the HPA tolerates ±10%% before it scales.", *sr.HPA.TargetCPUUtilization))
		}
		sec.Charts = append(sec.Charts, c.render())
	}
	return sec
}

// clipStart drops what lies before the scenario's start (the initial
// rollout) but the last such point, which moves to 0: a step series then
// starts with the value it had at 0.
func clipStart(pts []point) []point {
	i := 0
	for i < len(pts) && pts[i].x < 0 {
		i++
	}
	if i == 0 {
		return pts
	}
	out := append([]point{{0, pts[i-1].y}}, pts[i:]...)
	if len(out) > 1 && out[1].x == 0 {
		out = out[1:]
	}
	return out
}

func ms(s float64) float64 { return s * 1000 }

func fmtMs(v float64) string {
	if v >= 1000 {
		return trimNum(v/1000, 2) + " s"
	}
	return trimNum(v, 1) + " ms"
}

func fmtOptMs(v *float64) string {
	if v == nil {
		return "(none)"
	}
	return fmtMs(*v)
}

func fmtPct(v float64) string { return trimNum(v, 3) + "%" }

func fmtOptPct(v *float64) string {
	if v == nil {
		return "(none)"
	}
	return fmtPct(*v)
}

// trimNum writes v with at most dec decimals and no trailing zeros.
func trimNum(v float64, dec int) string {
	s := fmt.Sprintf("%.*f", dec, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// fmtT writes a run time in seconds as m:ss.mmm; the initial rollout is
// negative.
func fmtT(s float64) string {
	sign := ""
	if s < 0 {
		sign, s = "-", -s
	}
	ms := int64(math.Round(s * 1000))
	return fmt.Sprintf("%s%d:%02d.%03d", sign, ms/60000, ms/1000%60, ms%1000)
}

// fmtTick writes an axis tick as m:ss, or h:mm:ss from an hour on.
func fmtTick(seconds float64) string {
	s := int(math.Round(seconds))
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// fmtDur writes a duration in seconds for tables.
func fmtDur(s *float64) string {
	if s == nil {
		return "—"
	}
	return time.Duration(math.Round(*s * 1e9)).Round(10 * time.Microsecond).String()
}

type point struct{ x, y float64 }

type series struct {
	name  string
	color string
	pts   []point
	step  bool
	width float64
}

// marker is a fault: a line at its injection and, for a fault that lasts,
// its interval shaded up to end (0: none).
type marker struct {
	x, end float64
	label  string
}

// band is an assertion's window, shaded; ok says how it was judged.
type band struct {
	x0, x1 float64
	ok     bool
}

// hline is a horizontal line over [x0, x1]: class thr (a threshold,
// dashed), meas-ok or meas-bad (a measured value, solid) or tgt (a
// target, dotted).
type hline struct {
	y, x0, x1 float64
	class     string
	label     string
}

// dot marks the evidence of a verdict.
type dot struct {
	x, y float64
	ok   bool
}

type chartSpec struct {
	title, unit string
	xMax        float64
	series      []series
	bands       []band
	lines       []hline
	markers     []marker
	dots        []dot
	evidence    []marker
	notes       []string
}

// overlay draws assertion a on the chart: its window shaded, its threshold
// at y (none if NaN), what it measured at *meas (if any) across the
// window, and its evidence.
func (c *chartSpec) overlay(a Assertion, y float64, meas *float64, thrLabel, measLabel string) {
	ok := a.Verdict == VerdictPass
	x0, x1 := 0.0, c.xMax
	if a.Window != nil {
		x0, x1 = a.Window.From, a.Window.To
		c.bands = append(c.bands, band{x0, x1, ok})
	}
	if !math.IsNaN(y) {
		c.lines = append(c.lines, hline{y: y, x0: x0, x1: x1, class: "thr", label: thrLabel})
	}
	if meas != nil {
		cls := "meas-bad"
		if ok {
			cls = "meas-ok"
		}
		c.lines = append(c.lines, hline{y: *meas, x0: x0, x1: x1, class: cls, label: measLabel})
	}
	if a.EvidenceAt != nil {
		switch {
		case meas == nil && !math.IsNaN(y) && a.Replicas != nil:
			c.dots = append(c.dots, dot{*a.EvidenceAt, y, ok})
		case math.IsNaN(y):
			c.evidence = append(c.evidence, marker{x: *a.EvidenceAt, label: a.Name})
		}
	}
	c.notes = append(c.notes, fmt.Sprintf("%s — %s: %s; threshold: %s.", strings.ToUpper(a.Verdict), a.Name, a.Measured, a.Threshold))
}

// downsample keeps at most max points: the points are cut into max/2
// consecutive runs and each run keeps its lowest and its highest point,
// in order, so peaks and troughs survive.
func downsample(pts []point, max int) []point {
	if len(pts) <= max || max < 4 {
		return pts
	}
	runs := max / 2
	out := make([]point, 0, max)
	for b := 0; b < runs; b++ {
		lo, hi := b*len(pts)/runs, (b+1)*len(pts)/runs
		if lo >= hi {
			continue
		}
		mi, ma := lo, lo
		for i := lo + 1; i < hi; i++ {
			if pts[i].y < pts[mi].y {
				mi = i
			}
			if pts[i].y > pts[ma].y {
				ma = i
			}
		}
		switch {
		case mi == ma:
			out = append(out, pts[mi])
		case mi < ma:
			out = append(out, pts[mi], pts[ma])
		default:
			out = append(out, pts[ma], pts[mi])
		}
	}
	return out
}

// render draws the chart as inline SVG with an HTML legend and notes. Only
// numbers and escaped text go into the markup.
func (c chartSpec) render() template.HTML {
	const w, h, left, right, top, bottom = 880.0, 250.0, 56.0, 16.0, 14.0, 30.0
	pw, ph := w-left-right, h-top-bottom
	perSeries := maxChartPoints / max(1, len(c.series))
	yMax := 0.0
	for i := range c.series {
		c.series[i].pts = downsample(c.series[i].pts, perSeries)
		for _, p := range c.series[i].pts {
			yMax = math.Max(yMax, p.y)
		}
	}
	for _, l := range c.lines {
		yMax = math.Max(yMax, l.y*1.1)
	}
	yMax = niceCeil(yMax * 1.05) // headroom: a line at the maximum stays visible
	xMax := c.xMax
	if xMax <= 0 {
		xMax = 1
	}
	X := func(x float64) float64 { return left + math.Min(math.Max(x, 0), xMax)/xMax*pw }
	Y := func(y float64) float64 { return top + ph - math.Min(math.Max(y, 0), yMax)/yMax*ph }
	var b strings.Builder
	b.WriteString(`<figure class="chart">`)
	fmt.Fprintf(&b, `<figcaption class="ct">%s</figcaption>`, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, html.EscapeString(c.title))
	for _, bd := range c.bands {
		cls := "band-ok"
		if !bd.ok {
			cls = "band-bad"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, cls, X(bd.x0), top, math.Max(X(bd.x1)-X(bd.x0), 1), ph)
	}
	for i := 0; i <= 4; i++ {
		y := yMax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="g"/><text x="%.1f" y="%.1f" class="a" text-anchor="end">%s</text>`,
			left, w-right, Y(y), Y(y), left-6, Y(y)+4, trimNum(y, 2))
	}
	fmt.Fprintf(&b, `<text x="12" y="%.1f" class="a" transform="rotate(-90 12 %.1f)" text-anchor="middle">%s</text>`, top+ph/2, top+ph/2, html.EscapeString(c.unit))
	step := niceStep(xMax / 8)
	for x := 0.0; x <= xMax+1e-9; x += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="a" text-anchor="middle">%s</text>`, X(x), h-bottom+16, fmtTick(x))
	}
	for _, m := range c.markers {
		if m.end > m.x {
			fmt.Fprintf(&b, `<rect class="fi" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, X(m.x), top, math.Max(X(m.end)-X(m.x), 1), ph)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="m"/><text x="%.1f" y="%.1f" class="ml">⚡ %s</text>`,
			X(m.x), X(m.x), top, top+ph, X(m.x)+3, top+10, html.EscapeString(m.label))
	}
	for _, s := range c.series {
		if len(s.pts) == 0 {
			continue
		}
		// The path's coordinates are what fmt's %.1f writes, appended
		// with strconv.AppendFloat, which %.1f calls: a chart has up to
		// maxChartPoints of them, and going through Fprintf (its
		// interface arguments and verb parsing) was a third of the
		// page's time.
		var d []byte
		for j, p := range s.pts {
			sep := byte(' ')
			switch {
			case j == 0:
				d = append(d, 'M')
			case s.step:
				d, sep = append(d, 'H'), 'V'
			default:
				d = append(d, 'L')
			}
			d = strconv.AppendFloat(d, X(p.x), 'f', 1, 64)
			d = append(d, sep)
			d = strconv.AppendFloat(d, Y(p.y), 'f', 1, 64)
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f"/>`, d, s.color, s.width)
	}
	for _, l := range c.lines {
		fmt.Fprintf(&b, `<line class="%s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, l.class, X(l.x0), X(l.x1), Y(l.y), Y(l.y))
		// Thresholds and targets are labelled at their right end, above
		// the line; measured values at their left end, below it, so that
		// two close lines keep readable labels.
		if l.label != "" && (l.class == "thr" || l.class == "tgt") {
			fmt.Fprintf(&b, `<text class="ll %s" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, l.class, X(l.x1)-4, Y(l.y)-4, html.EscapeString(l.label))
		} else if l.label != "" {
			fmt.Fprintf(&b, `<text class="ll %s" x="%.1f" y="%.1f">%s</text>`, l.class, X(l.x0)+4, math.Min(Y(l.y)+13, top+ph-2), html.EscapeString(l.label))
		}
	}
	for _, e := range c.evidence {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="ev"/>`, X(e.x), X(e.x), top, top+ph)
	}
	for _, d := range c.dots {
		cls := "dot-ok"
		if !d.ok {
			cls = "dot-bad"
		}
		fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="4"/>`, cls, X(d.x), Y(d.y))
	}
	b.WriteString(`</svg><div class="legend">`)
	for _, s := range c.series {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s</span>`, s.color, html.EscapeString(s.name))
	}
	if len(c.bands) > 0 {
		b.WriteString(`<span><i class="k-band"></i>assertion window</span>`)
	}
	for _, cls := range []string{"thr", "meas-ok", "tgt"} {
		for _, l := range c.lines {
			if l.class == cls || (cls == "meas-ok" && l.class == "meas-bad") {
				fmt.Fprintf(&b, `<span><i class="k-%s"></i>%s</span>`, cls, map[string]string{"thr": "threshold", "meas-ok": "measured over the window", "tgt": "target"}[cls])
				break
			}
		}
	}
	if len(c.markers) > 0 {
		b.WriteString(`<span><i class="k-m"></i>fault injected</span>`)
	}
	b.WriteString(`</div>`)
	for _, n := range c.notes {
		fmt.Fprintf(&b, `<p class="small">%s</p>`, html.EscapeString(n))
	}
	b.WriteString(`</figure>`)
	return template.HTML(b.String()) // built from numbers and escaped strings only
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
	for _, s := range []float64{1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200} {
		if v <= s {
			return s
		}
	}
	return 86400
}

// css is shared by the report and the suite index.
const css = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#0f172a;background:#f8fafc}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:20px 0 4px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:700;color:#fff}
.PASS{background:#059669}.FAIL{background:#dc2626}
.meta{color:#475569}
table{border-collapse:collapse;width:100%;background:#fff;margin:4px 0}
th,td{border-bottom:1px solid #e2e8f0;padding:6px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
.nw{white-space:nowrap}
th{background:#f1f5f9;font-weight:600}
td.ok{color:#047857;font-weight:700}td.bad{color:#b91c1c;font-weight:700}
td.gap{text-align:center;color:#475569;font-style:italic}
.small{font-size:12px;color:#475569;margin:2px 0}
p,li,figcaption{overflow-wrap:anywhere}
figure{margin:12px 0;padding:0}
.ct{font-weight:600;font-size:13px;margin:0 0 2px}
svg{display:block;width:100%;height:auto;background:#fff;border:1px solid #e2e8f0}
svg .a{font-size:11px;fill:#475569}
svg .g{stroke:#e2e8f0}svg .m{stroke:#dc2626;stroke-dasharray:4 3}svg .fi{fill:#dc2626;fill-opacity:.06}svg .ml{font-size:11px;fill:#dc2626}
svg .band-ok{fill:#059669;fill-opacity:.08}svg .band-bad{fill:#dc2626;fill-opacity:.10}
svg .thr{stroke:#b91c1c;stroke-width:1.4;stroke-dasharray:6 4}
svg .meas-ok{stroke:#047857;stroke-width:2.6}svg .meas-bad{stroke:#b91c1c;stroke-width:2.6}
svg .tgt{stroke:#0f172a;stroke-width:1.2;stroke-dasharray:2 3}
svg .ev{stroke:#7c3aed;stroke-width:1.2;stroke-dasharray:1 2}
svg .dot-ok{fill:#047857}svg .dot-bad{fill:#b91c1c}
svg text.ll{font-size:11px;stroke:none;paint-order:stroke;font-weight:600}
svg text.thr{fill:#b91c1c}svg text.meas-ok{fill:#047857}svg text.meas-bad{fill:#b91c1c}svg text.tgt{fill:#0f172a}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:#334155;margin:4px 0}
.legend i{display:inline-block;width:14px;height:3px;margin:0 5px 3px 0;vertical-align:middle}
.legend .k-band{height:10px;background:#059669;opacity:.25}
.legend .k-thr{border-top:2px dashed #b91c1c;height:0}.legend .k-meas-ok{background:#047857;height:3px}
.legend .k-tgt{border-top:2px dotted #0f172a;height:0}.legend .k-m{border-top:2px dashed #dc2626;height:0}
.events{max-height:480px;overflow:auto}
@media (max-width:640px){
 main{padding:12px}
 h1{font-size:19px}
 table.cards thead{display:none}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
 table.cards tr{border-bottom:2px solid #cbd5e1;padding:4px 0}
 table.cards td{border:none;padding:2px 8px;overflow-wrap:anywhere;white-space:normal}
 table.cards td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#475569}
 svg .a,svg .ml,svg text.ll{font-size:20px}
}
@media print{
 body{background:#fff;font-size:11px}
 main{max-width:none;padding:0}
 .events{max-height:none;overflow:visible}
 thead{display:table-header-group}
 tr,figure{break-inside:avoid}
 h2,h3{break-after:avoid}
}
`

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"tsec": func(s *float64) string {
		if s == nil {
			return "—"
		}
		return fmtT(*s)
	},
	"t":   fmtT,
	"dur": fmtDur,
	"css": func() template.CSS { return template.CSS(css) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Verdict}} · {{.R.Scenario.Name}} · mcpsim</title>
<style>{{css}}</style></head><body><main>
<h1><span class="badge {{.Verdict}}">{{.Verdict}}</span> {{.R.Scenario.Name}}</h1>
<p class="meta">{{.R.Scenario.Description}}</p>
<p class="small">backend <b>{{.R.Backend}}</b> · seed {{.R.Seed}} · run time {{printf "%.0f" .R.Duration}} s{{if eq .R.Backend "sim"}} (virtual){{end}}{{with .R.CPUQuota}} · CPU limits {{.}}{{end}} · source {{.R.Scenario.Source}}{{with .R.KubernetesVersion}} · Kubernetes {{.}}{{end}} · mcpsim {{.R.MCPSimVersion}} · report schema {{.R.SchemaVersion}}</p>
<h2>Assertions</h2>
<table class="cards"><thead><tr><th>verdict</th><th>assertion</th><th>measured</th><th>threshold</th><th>evidence at</th></tr></thead><tbody>
{{range .Assertions}}<tr><td data-label="verdict" class="nw {{.Class}}">{{.A.Verdict}}</td>
<td data-label="assertion">{{.A.Name}}<div class="small">{{.A.Type}} · {{.A.Detail}}</div></td><td data-label="measured">{{.A.Measured}}</td><td data-label="threshold">{{.A.Threshold}}</td><td data-label="evidence at" class="nw">{{tsec .A.EvidenceAt}}</td></tr>
{{end}}</tbody></table>
<p class="small">Each assertion is drawn below on the chart of its evidence: its window shaded (green: passed, red: failed), its threshold dashed, what it measured solid.</p>
<h2>Load</h2>
<table class="cards"><thead><tr><th>requests</th><th>succeeded</th><th>of them degraded</th><th>failed</th><th>mean rate</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>
<tr><td data-label="requests">{{.R.Load.Requests}}</td><td data-label="succeeded">{{.R.Load.Successes}}</td><td data-label="of them degraded">{{.R.Load.Degraded}}</td><td data-label="failed">{{.R.Load.Failed}}</td><td data-label="mean rate">{{printf "%.1f" .R.Load.MeanRPS}}/s</td><td data-label="mean">{{dur .R.Load.Mean}}</td><td data-label="p50">{{dur .R.Load.P50}}</td><td data-label="p90">{{dur .R.Load.P90}}</td><td data-label="p99">{{dur .R.Load.P99}}</td><td data-label="max">{{dur .R.Load.Max}}</td></tr></tbody></table>
<p class="small">Quantiles are exact (nearest rank) over successful requests; failed requests are counted, not timed.</p>
{{if .ErrorsBy}}<table class="cards"><thead><tr><th>failed requests</th><th>error</th></tr></thead><tbody>{{range .ErrorsBy}}<tr><td data-label="failed requests">{{.V}}</td><td data-label="error">{{.K}}</td></tr>{{end}}</tbody></table>{{end}}
{{with .R.Baseline}}<h2>Without {{.Without}}</h2>
<p class="small">The same run (same seed: the same load, the same faults on the same pods) without {{.Without}}, for comparison; its verdicts do not count.</p>
<table class="cards"><thead><tr><th>run</th><th>requests</th><th>failed</th><th>p99</th><th>ready at the end</th></tr></thead><tbody>
<tr><td data-label="run">with</td><td data-label="requests">{{$.R.Load.Requests}}</td><td data-label="failed">{{$.R.Load.Failed}}</td><td data-label="p99">{{dur $.R.Load.P99}}</td><td data-label="ready at the end">{{range $i, $s := $.Services}}{{if $i}}, {{end}}{{$s.Name}} {{$s.Ready}}{{end}}</td></tr>
<tr><td data-label="run">without</td><td data-label="requests">{{.Load.Requests}}</td><td data-label="failed">{{.Load.Failed}}</td><td data-label="p99">{{dur .Load.P99}}</td><td data-label="ready at the end">{{range $i, $s := $.Services}}{{if $i}}, {{end}}{{$s.Name}} {{index $.R.Baseline.ReadyAtEnd $s.Name}}{{end}}</td></tr>
</tbody></table>
<table class="cards"><thead><tr><th>without: verdict</th><th>assertion</th><th>measured</th></tr></thead><tbody>
{{range .Assertions}}<tr><td data-label="verdict" class="nw">{{.Verdict}}</td><td data-label="assertion">{{.Name}}<div class="small">{{.Detail}}</div></td><td data-label="measured">{{.Measured}}</td></tr>
{{end}}</tbody></table>{{end}}
{{if gt (len .Services) 1}}<h2>Services</h2>
<table class="cards"><thead><tr><th>service</th><th>requests</th><th>ok</th><th>degraded</th><th>failed</th><th>mean</th><th>p50</th><th>p99</th><th>replicas at the end</th><th>HPA</th></tr></thead><tbody>
{{range .Services}}<tr><td data-label="service">{{.Name}}{{if .Entry}} <span class="small">(entry)</span>{{end}}<div class="small">{{.Role}}</div></td><td data-label="requests">{{.Requests}}</td><td data-label="ok">{{.OK}}</td><td data-label="degraded">{{.Degraded}}</td><td data-label="failed">{{.Error}}</td><td data-label="mean">{{dur .Mean}}</td><td data-label="p50">{{dur .P50}}</td><td data-label="p99">{{dur .P99}}</td><td data-label="replicas at the end">{{.Ready}} ready of {{.Desired}}</td><td data-label="HPA">{{.HPA}}</td></tr>
{{end}}</tbody></table>
<p class="small">Requests each service received, as its callers saw them. On a real cluster only the entry service's are measured.</p>{{end}}
{{if .Services}}<h2>CPU requests</h2>
<table class="cards"><thead><tr><th>service</th><th>requested</th><th>recommended (target)</th><th>lower bound</th><th>upper bound</th><th>samples</th></tr></thead><tbody>
{{range .Services}}{{if .Rec}}<tr><td data-label="service">{{.Name}}</td><td data-label="requested">{{.Rec.Requested}}m</td><td data-label="recommended">{{.Rec.Target}}m</td><td data-label="lower bound">{{.Rec.LowerBound}}m</td><td data-label="upper bound">{{.Rec.UpperBound}}m</td><td data-label="samples">{{.Rec.Samples}}</td></tr>{{end}}
{{end}}</tbody></table>
<p class="small">What the Vertical Pod Autoscaler's recommender would set from the CPU each pod used: the 90th percentile of per-pod usage (bounds: 50th and 95th) plus its 15% margin, at least 25m.</p>{{end}}
{{if .Throttling}}<h2>CPU throttling</h2>
<table class="cards"><thead><tr><th>service</th><th>quota periods run</th><th>throttled</th></tr></thead><tbody>
{{range .Services}}{{if .Throttled}}<tr><td data-label="service">{{.Name}}</td><td data-label="quota periods run">{{.Periods}}</td><td data-label="throttled">{{.Throttled}}</td></tr>{{end}}
{{end}}</tbody></table>
<p class="small">The CPU limit enforced per period as the kernel does ({{.R.CPUQuota}}): the periods in which a pod of the service ran, summed over its pods (cpu.stat nr_periods), and the share in which its quota ran out and it waited for the next (nr_throttled).</p>{{end}}
<h2>Over time</h2>
{{range .Sections}}<section><h3>{{.Title}}</h3>{{if .Note}}<p class="small">{{.Note}}</p>{{end}}
{{range .Charts}}{{.}}{{end}}</section>
{{end}}
{{if .R.Faults}}<h2>Faults</h2>
<table class="cards"><thead><tr><th>at</th><th>name</th><th>kind</th><th>targets</th></tr></thead><tbody>
{{range .R.Faults}}<tr><td data-label="at" class="nw">{{t .At}}{{if .End}} – {{tsec .End}}{{end}}</td><td data-label="name">{{.Name}}</td><td data-label="kind">{{.Kind}} {{.Action}}</td><td data-label="targets">{{range $i, $t := .Targets}}{{if $i}}, {{end}}{{$t}}{{end}}{{if .Error}} <b>failed:</b> {{.Error}}{{end}}</td></tr>{{end}}</tbody></table>{{end}}
{{if .Breakers}}<h2>Circuit breakers</h2>
<p class="small">{{len .R.Breakers}} transitions.{{if .MoreBrk}} {{.MoreBrk}} in the middle of the run are left out here; every one is in report.json.{{end}}</p>
<div class="events"><table class="cards"><thead><tr><th>time</th><th>service</th><th>pod</th><th>downstream</th><th>from</th><th>to</th></tr></thead><tbody>
{{range .Breakers}}{{if .Gap}}<tr><td class="gap" colspan="6">… {{.Gap}} more transitions in report.json …</td></tr>{{else}}<tr><td data-label="time" class="nw">{{.T}}</td><td data-label="service">{{.Service}}</td><td data-label="pod">{{.Pod}}</td><td data-label="downstream">{{.Downstream}}</td><td data-label="from">{{.From}}</td><td data-label="to">{{.To}}</td></tr>{{end}}{{end}}
</tbody></table></div>{{end}}
<h2>Events</h2>
<p class="small">{{len .R.Events}} events{{range $i, $k := .EventKinds}}{{if $i}},{{else}}:{{end}} {{$k.V}} {{$k.K}}{{end}}.{{if .More}} {{.More}} in the middle of the run are left out here; every one is in report.json.{{end}}</p>
<div class="events"><table class="cards"><thead><tr><th>time</th><th>event</th><th>object</th><th>message</th></tr></thead><tbody>
{{range .Events}}{{if .Gap}}<tr><td class="gap" colspan="4">… {{.Gap}} more events in report.json …</td></tr>{{else}}<tr><td data-label="time" class="nw">{{.T}}</td><td data-label="event">{{.Kind}}</td><td data-label="object">{{.Object}}</td><td data-label="message">{{.Message}}</td></tr>{{end}}{{end}}
</tbody></table></div>
<p class="small">Written by mcpsim {{.R.MCPSimVersion}}. This page is self-contained: it loads nothing from the network.</p>
</main></body></html>
`))
