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
	Name   string `json:"name"`
	Type   string `json:"type"`
	Passed bool   `json:"passed"`
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
		r := Result{Name: a.Name, Type: a.Type}
		switch a.Type {
		case scenario.AssertReplicasReach:
			replicasReach(a, tl, &r)
		case scenario.AssertReadyRecovers:
			readyRecovers(a, tl, &r)
		case scenario.AssertLatency:
			latency(a, tl, &r)
		case scenario.AssertErrorRate:
			errorRate(a, tl, &r)
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
	return f.At, fmt.Sprintf("fault %s at %s", a.Fault, f.At), nil
}

func count(s timeline.Sample, of string) int32 {
	if of == "desired" {
		return s.Desired
	}
	return s.Ready
}

func replicasReach(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	want, within := *a.AtLeast, a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("%s replicas ≥ %d within %s", a.Of, want, within)
	t0, from, err := anchor(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	deadline := t0 + within
	var best int32 = -1
	for _, s := range tl.Samples {
		if s.T < t0 {
			continue
		}
		c := count(s, a.Of)
		if c >= want {
			took := s.T - t0
			r.Value, r.EvidenceAt = took.Seconds(), at(s.T)
			r.Measured = fmt.Sprintf("%s after %s", took, from)
			r.Passed = s.T <= deadline
			r.Detail = fmt.Sprintf("%s replicas reached %d at %s", a.Of, c, s.T)
			if !r.Passed {
				r.Detail += fmt.Sprintf(", %s late", s.T-deadline)
			}
			return
		}
		if s.T <= deadline && c > best {
			best = c
		}
	}
	r.Value = -1
	r.Measured = fmt.Sprintf("never reached %d (highest %d within the limit)", want, max(best, 0))
	r.Detail = fmt.Sprintf("%s replicas stayed below %d from %s to the end of the run", a.Of, want, from)
	if deadline > tl.Duration {
		r.Detail += fmt.Sprintf("; the limit (%s) lies past the end of the run (%s)", deadline, tl.Duration)
	}
}

func readyRecovers(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	want, within := *a.AtLeast, a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("ready ≥ %d again within %s", want, within)
	t0, from, err := anchor(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	dipped := false
	var low int32 = 1<<31 - 1
	for _, s := range tl.Samples {
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
			r.Measured = fmt.Sprintf("%s after %s", took, from)
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
func window(w *scenario.Window, tl *timeline.Timeline) ([]timeline.Request, time.Duration, time.Duration) {
	from, to := time.Duration(0), tl.Duration
	if w != nil {
		from = w.From.Duration
		if w.To != nil {
			to = w.To.Duration
		}
	}
	return tl.Window(from, to), from, to
}

func latency(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	q, limit := *a.Quantile, a.Max.Duration
	r.Unit, r.Limit = "s", limit.Seconds()
	name := quantileName(q)
	r.Threshold = fmt.Sprintf("%s ≤ %s", name, limit)
	reqs, from, to := window(a.Window, tl)
	// Latency objectives are judged on successful requests; failures are
	// the error-rate assertion's business (a refused connection is fast).
	var ok []timeline.Request
	for _, req := range reqs {
		if req.OK() {
			ok = append(ok, req)
		}
	}
	if len(ok) == 0 {
		r.Measured = "no successful requests"
		r.Detail = fmt.Sprintf("no request succeeded in [%s, %s): nothing to measure", from, to)
		return
	}
	v, _ := timeline.Quantile(ok, q)
	r.Value = v.Seconds()
	r.Passed = v <= limit
	r.Measured = fmt.Sprintf("%s = %s", name, v.Round(time.Microsecond))
	for _, req := range ok {
		if req.Latency == v {
			r.EvidenceAt = at(req.Sent)
			break
		}
	}
	r.Detail = fmt.Sprintf("exact %s of %d successful requests sent in [%s, %s)", name, len(ok), from, to)
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

func errorRate(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	limit := *a.MaxRatio
	r.Unit, r.Limit = "ratio", limit
	r.Threshold = fmt.Sprintf("error rate ≤ %s%%", trimFloat(limit*100))
	reqs, from, to := window(a.Window, tl)
	if len(reqs) == 0 {
		r.Measured = "no requests"
		r.Detail = fmt.Sprintf("no request was sent in [%s, %s): nothing to measure", from, to)
		return
	}
	failed := 0
	var first *time.Duration
	kinds := map[string]int{}
	for _, req := range reqs {
		if !req.OK() {
			failed++
			if first == nil {
				first = at(req.Sent)
			}
			msg := tl.ErrorKinds[req.Err]
			if msg == "" {
				msg = fmt.Sprintf("HTTP %d", req.Code)
			}
			kinds[msg]++
		}
	}
	rate := float64(failed) / float64(len(reqs))
	r.Value, r.Passed = rate, rate <= limit
	r.Measured = fmt.Sprintf("%s%% (%d of %d)", trimFloat(rate*100), failed, len(reqs))
	r.EvidenceAt = first
	r.Detail = fmt.Sprintf("requests sent in [%s, %s)", from, to)
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
