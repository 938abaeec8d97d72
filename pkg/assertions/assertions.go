// Package assertions evaluates a scenario's assertions over a run's
// timeline. It reads only the timeline, so every backend is judged by the
// same code.
package assertions

import (
	"fmt"
	"slices"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Result is one assertion's verdict with what was measured.
type Result struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Service string `json:"service"`
	Passed  bool   `json:"passed"`
	// Measured and Threshold are human-readable; Value and Limit are the
	// same numbers in Unit (seconds, ratio or replicas).
	Measured  string  `json:"measured"`
	Threshold string  `json:"threshold"`
	Value     float64 `json:"value"`
	Limit     float64 `json:"limit"`
	Unit      string  `json:"unit"`
	// EvidenceAt is the run time of the observation the verdict rests on.
	EvidenceAt *time.Duration `json:"evidenceAt,omitempty"`
	Detail     string         `json:"detail"`
}

// Evaluate judges every assertion of sc against tl (whose requests must be
// sorted by send time).
func Evaluate(sc *scenario.Scenario, tl *timeline.Timeline) []Result {
	out := make([]Result, 0, len(sc.Spec.Assertions))
	for i := range sc.Spec.Assertions {
		a := &sc.Spec.Assertions[i]
		r := Result{Name: a.Name, Type: a.Type, Service: a.Service}
		svc := tl.Service(a.Service)
		if svc == nil {
			r.Measured, r.Detail = "n/a", fmt.Sprintf("the run recorded nothing of service %q", a.Service)
			out = append(out, r)
			continue
		}
		switch a.Type {
		case scenario.AssertReplicasReach:
			replicasReach(a, tl, svc, &r)
		case scenario.AssertReadyRecovers:
			readyRecovers(a, tl, svc, &r)
		case scenario.AssertLatency:
			latency(a, tl, svc, &r)
		case scenario.AssertErrorRate, scenario.AssertDegradedRate, scenario.AssertAvailability:
			share(a, tl, svc, &r)
		case scenario.AssertBreakerOpens:
			breakerOpens(a, tl, &r)
		case scenario.AssertBreakerCloses:
			breakerCloses(a, tl, &r)
		case scenario.AssertPlacement:
			placement(a, tl, &r)
		case scenario.AssertRescheduledWithin:
			rescheduledWithin(a, tl, &r)
		case scenario.AssertReadinessFlaps:
			readinessFlaps(a, tl, &r)
		case scenario.AssertSelfHealWithin:
			selfHealWithin(a, tl, &r)
		case scenario.AssertNoCollateral:
			noCollateral(a, tl, svc, &r)
		default:
			r.Detail = fmt.Sprintf("unknown assertion type %q", a.Type)
		}
		out = append(out, r)
	}
	return out
}

func at(d time.Duration) *time.Duration { return &d }

// anchor resolves an assertion's start: a time, or a fault's injection.
func anchor(a *scenario.Anchor, tl *timeline.Timeline) (time.Duration, string, error) {
	if a.Time != nil {
		return a.Time.Duration, fmt.Sprintf("t=%s", a.Time.Duration), nil
	}
	f, ok := tl.FaultAt(a.Fault)
	switch {
	case !ok:
		return 0, "", fmt.Errorf("fault %q was never injected (the run ended first)", a.Fault)
	case f.Error != "":
		return 0, "", fmt.Errorf("fault %q failed to inject: %s", a.Fault, f.Error)
	}
	return f.At, fmt.Sprintf("fault %s at %s", a.Fault, f.At.Round(time.Millisecond)), nil
}

func count(s timeline.Sample, of string) int32 {
	if of == "desired" {
		return s.Desired
	}
	return s.Ready
}

func replicasReach(a *scenario.Assertion, tl *timeline.Timeline, svc *timeline.Service, r *Result) {
	within := a.Within.Duration
	atMost := a.AtMost != nil
	var want int32
	reached := func(c int32) bool { return c >= want }
	better := func(c, best int32) bool { return c > best }
	op := "≥"
	if atMost {
		want, op = *a.AtMost, "≤"
		reached = func(c int32) bool { return c <= want }
		better = func(c, best int32) bool { return best < 0 || c < best }
	} else {
		want = *a.AtLeast
	}
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("%s %s replicas %s %d within %s", a.Service, a.Of, op, want, within)
	t0, from, err := anchor(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	deadline := t0 + within
	var best int32 = -1
	for _, s := range svc.Samples {
		if s.T < t0 {
			continue
		}
		c := count(s, a.Of)
		if reached(c) {
			took := s.T - t0
			r.Value, r.EvidenceAt = took.Seconds(), at(s.T)
			r.Measured = fmt.Sprintf("%s after %s", took.Round(time.Millisecond), from)
			r.Passed = s.T <= deadline
			r.Detail = fmt.Sprintf("%s replicas reached %d at %s", a.Of, c, s.T)
			if !r.Passed {
				r.Detail += fmt.Sprintf(", %s late", s.T-deadline)
			}
			return
		}
		if s.T <= deadline && better(c, best) {
			best = c
		}
	}
	r.Value = -1
	word, side := "highest", "below"
	if atMost {
		word, side = "lowest", "above"
	}
	r.Measured = fmt.Sprintf("never reached %d (%s %d within the limit)", want, word, max(best, 0))
	r.Detail = fmt.Sprintf("%s replicas stayed %s %d from %s to the end of the run", a.Of, side, want, from)
	if deadline > tl.Duration {
		r.Detail += fmt.Sprintf("; the limit (%s) lies past the end of the run (%s)", deadline, tl.Duration)
	}
}

func readyRecovers(a *scenario.Assertion, tl *timeline.Timeline, svc *timeline.Service, r *Result) {
	want, within := *a.AtLeast, a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("%s ready ≥ %d again within %s", a.Service, want, within)
	t0, from, err := anchor(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	dipped := false
	var low int32 = 1<<31 - 1
	for _, s := range svc.Samples {
		if s.T < t0 {
			continue
		}
		if !dipped {
			if s.Ready < want {
				dipped, low = true, s.Ready
			} else if s.T > t0+within {
				break
			}
			continue
		}
		low = min(low, s.Ready)
		if s.Ready >= want {
			took := s.T - t0
			r.Value, r.EvidenceAt, r.Passed = took.Seconds(), at(s.T), took <= within
			r.Measured = fmt.Sprintf("%s after %s", took.Round(time.Millisecond), from)
			r.Detail = fmt.Sprintf("ready fell to %d, back to %d at %s", low, s.Ready, s.T)
			return
		}
	}
	if !dipped {
		r.Passed, r.Value, r.EvidenceAt = true, 0, at(t0)
		r.Measured = "0s (never fell below)"
		r.Detail = fmt.Sprintf("ready replicas stayed at or above %d after %s", want, from)
		return
	}
	r.Value = -1
	r.Measured = fmt.Sprintf("not recovered (lowest %d)", low)
	r.Detail = fmt.Sprintf("ready replicas fell to %d after %s and were still below %d at the end of the run", low, from, want)
}

// window returns the requests of an assertion's window and its bounds.
func window(w *scenario.Window, tl *timeline.Timeline, svc *timeline.Service) ([]timeline.Request, time.Duration, time.Duration) {
	from, to := bounds(w, tl)
	return svc.Window(from, to), from, to
}

// bounds is a window's span, the whole run by default.
func bounds(w *scenario.Window, tl *timeline.Timeline) (from, to time.Duration) {
	from, to = 0, tl.Duration
	if w != nil {
		from = w.From.Duration
		if w.To != nil {
			to = w.To.Duration
		}
	}
	return from, to
}

func latency(a *scenario.Assertion, tl *timeline.Timeline, svc *timeline.Service, r *Result) {
	q, limit := *a.Quantile, a.Max.Duration
	r.Unit, r.Limit = "s", limit.Seconds()
	name := quantileName(q)
	r.Threshold = fmt.Sprintf("%s %s ≤ %s", a.Service, name, limit)
	reqs, from, to := window(a.Window, tl, svc)
	// Latency objectives are judged on successful requests; failures are
	// the error-rate assertion's business (a refused connection is fast).
	// Exact, by selection or for millions of requests in passes over the
	// records (timeline.SuccessQuantiles).
	qv, n := timeline.SuccessQuantiles(reqs, q)
	if n == 0 {
		r.Measured = "no successful requests"
		r.Detail = fmt.Sprintf("no request succeeded in [%s, %s): nothing to measure", from, to)
		return
	}
	v := qv[0]
	r.Value = v.Seconds()
	r.Passed = v <= limit
	r.Measured = fmt.Sprintf("%s = %s", name, v.Round(time.Microsecond))
	for _, req := range reqs {
		if req.OK() && req.Latency() == v {
			r.EvidenceAt = at(req.Sent())
			break
		}
	}
	r.Detail = fmt.Sprintf("exact %s of %d successful requests sent in [%s, %s)", name, n, from, to)
}

func quantileName(q float64) string {
	return "p" + trimFloat(q*100)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// share judges errorRate (failed share ≤ maxRatio), degradedRate
// (degraded share ≤ maxRatio) and availability (answered share, ok or
// degraded, ≥ minRatio).
func share(a *scenario.Assertion, tl *timeline.Timeline, svc *timeline.Service, r *Result) {
	var limit float64
	var what string
	switch a.Type {
	case scenario.AssertErrorRate:
		limit, what = *a.MaxRatio, "error rate"
		r.Threshold = fmt.Sprintf("%s error rate ≤ %s%%", a.Service, trimFloat(limit*100))
	case scenario.AssertDegradedRate:
		limit, what = *a.MaxRatio, "degraded rate"
		r.Threshold = fmt.Sprintf("%s degraded rate ≤ %s%%", a.Service, trimFloat(limit*100))
	default:
		limit, what = *a.MinRatio, "availability"
		r.Threshold = fmt.Sprintf("%s availability ≥ %s%%", a.Service, trimFloat(limit*100))
	}
	r.Unit, r.Limit = "ratio", limit
	reqs, from, to := window(a.Window, tl, svc)
	if len(reqs) == 0 {
		r.Measured = "no requests"
		r.Detail = fmt.Sprintf("no request was sent in [%s, %s): nothing to measure", from, to)
		return
	}
	failed, degraded := 0, 0
	var first, firstDegraded *time.Duration
	kinds := map[string]int{}
	for _, req := range reqs {
		if !req.OK() {
			failed++
			if first == nil {
				first = at(req.Sent())
			}
			msg := tl.ErrorKinds[req.Err()]
			if msg == "" {
				msg = fmt.Sprintf("HTTP %d", req.Code())
			}
			kinds[msg]++
		} else if req.Degraded() {
			degraded++
			if firstDegraded == nil {
				firstDegraded = at(req.Sent())
			}
		}
	}
	n := len(reqs)
	var count int
	switch a.Type {
	case scenario.AssertErrorRate:
		count, r.EvidenceAt = failed, first
	case scenario.AssertDegradedRate:
		count, r.EvidenceAt = degraded, firstDegraded
	default:
		count, r.EvidenceAt = n-failed, first
	}
	rate := float64(count) / float64(n)
	r.Value = rate
	if a.Type == scenario.AssertAvailability {
		r.Passed = rate >= limit
	} else {
		r.Passed = rate <= limit
	}
	r.Measured = fmt.Sprintf("%s%% (%d of %d)", trimFloat(rate*100), count, n)
	r.Detail = fmt.Sprintf("%s of requests to %s sent in [%s, %s): %d ok, %d degraded, %d failed", what, a.Service, from, to, n-failed-degraded, degraded, failed)
	if failed > 0 {
		r.Detail += "; first failure at " + first.Round(time.Millisecond).String() + "; " + describeKinds(kinds)
	}
}

func describeKinds(kinds map[string]int) string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names)
	s := ""
	for i, k := range names {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d × %s", kinds[k], k)
	}
	return s
}

// breakerMatches selects the transitions of an assertion's breakers.
func breakerMatches(a *scenario.Assertion, b timeline.BreakerTransition) bool {
	return b.Service == a.Service && (a.Downstream == "" || b.Downstream == a.Downstream)
}

func breakerName(a *scenario.Assertion) string {
	if a.Downstream == "" {
		return a.Service + " → any downstream"
	}
	return a.Service + " → " + a.Downstream
}

func breakerOpens(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	within := a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("a breaker of %s opens within %s", breakerName(a), within)
	t0, from, err := anchor(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	for _, b := range tl.Breakers {
		if b.T < t0 || b.To != "open" || !breakerMatches(a, b) {
			continue
		}
		took := b.T - t0
		r.Value, r.EvidenceAt, r.Passed = took.Seconds(), at(b.T), took <= within
		r.Measured = fmt.Sprintf("%s after %s", took.Round(time.Millisecond), from)
		r.Detail = fmt.Sprintf("the breaker of pod %s toward %s opened at %s", b.Pod, b.Downstream, b.T)
		return
	}
	r.Value = -1
	r.Measured = "never opened"
	r.Detail = fmt.Sprintf("no breaker of %s opened after %s", breakerName(a), from)
}

// breakerCloses: after the first opening at or after the anchor, the
// downstream recovers at R (the first sample from then on with a ready
// endpoint, and, when the anchor is a fault that has ended, not before its
// end); the verdict is the first moment from R on at which every breaker
// is closed (or gone with its pod), within Within of R.
func breakerCloses(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	within := a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("every breaker of %s closed within %s of its downstream's recovery", breakerName(a), within)
	t0, from := time.Duration(0), "the start"
	if a.After != nil {
		var err error
		if t0, from, err = anchor(a.After, tl); err != nil {
			r.Measured, r.Detail = "n/a", err.Error()
			return
		}
	}
	var opened *timeline.BreakerTransition
	for i, b := range tl.Breakers {
		if b.T >= t0 && b.To == "open" && breakerMatches(a, b) {
			opened = &tl.Breakers[i]
			break
		}
	}
	if opened == nil {
		r.Value, r.Measured = -1, "never opened"
		r.Detail = fmt.Sprintf("no breaker of %s opened after %s, so none had to close", breakerName(a), from)
		return
	}
	recovered, ok := time.Duration(0), false
	if ds := tl.Service(opened.Downstream); ds != nil {
		for _, s := range ds.Samples {
			if s.T >= opened.T && s.Endpoints > 0 {
				recovered, ok = s.T, true
				break
			}
		}
	}
	// A fault that leaves the downstream's endpoints in place (a network
	// partition, a CPU stress) ends when its object is deleted: the
	// downstream is back then, not before.
	if ok && a.After != nil && a.After.Fault != "" {
		if f, found := tl.FaultAt(a.After.Fault); found && f.End != nil && *f.End > recovered {
			for _, s := range tl.Service(opened.Downstream).Samples {
				if s.T >= *f.End && s.Endpoints > 0 {
					recovered = s.T
					break
				}
			}
		}
	}
	if !ok {
		r.Value, r.Measured = -1, "downstream never recovered"
		r.Detail = fmt.Sprintf("%s had no ready endpoint from %s (when %s's breaker opened) to the end of the run", opened.Downstream, opened.T, opened.Pod)
		return
	}
	state := map[string]string{} // pod/downstream -> state
	notClosed := func() (n int, example string) {
		for k, s := range state {
			if s != "closed" && s != "removed" {
				n++
				if example == "" || k < example {
					example = k
				}
			}
		}
		return n, example
	}
	i := 0
	for ; i < len(tl.Breakers) && tl.Breakers[i].T <= recovered; i++ {
		if b := tl.Breakers[i]; breakerMatches(a, b) {
			state[b.Pod+"/"+b.Downstream] = b.To
		}
	}
	closedAt := recovered
	n, example := notClosed()
	for ; n > 0 && i < len(tl.Breakers); i++ {
		b := tl.Breakers[i]
		if !breakerMatches(a, b) {
			continue
		}
		state[b.Pod+"/"+b.Downstream] = b.To
		closedAt = b.T
		n, example = notClosed()
	}
	if n > 0 {
		r.Value, r.Measured = -1, fmt.Sprintf("%d breaker(s) still not closed at the end", n)
		r.Detail = fmt.Sprintf("%s recovered at %s; the breaker %s (and %d more) never closed", opened.Downstream, recovered, example, n-1)
		return
	}
	took := closedAt - recovered
	r.Value, r.EvidenceAt, r.Passed = took.Seconds(), at(closedAt), took <= within
	r.Measured = fmt.Sprintf("%s after %s recovered", took.Round(time.Millisecond), opened.Downstream)
	r.Detail = fmt.Sprintf("first opened at %s (pod %s); %s had a ready endpoint again at %s; every breaker closed at %s", opened.T, opened.Pod, opened.Downstream, recovered, closedAt)
}
