package assertions

import (
	"fmt"
	"sort"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// brokenAlive says whether a fault leaves its pods alive but broken, the
// failures a self-heal policy exists for: a PodHang, a PodChaos
// pod-failure.
func brokenAlive(f timeline.Fault) bool {
	return f.Kind == scenario.PodHangKind || (f.Kind == "PodChaos" && f.Action == "pod-failure")
}

// selfHealWithin: every pod a fault broke (the fault named by after, or
// every PodHang and pod-failure) has a successful self-heal repair within
// Within of the fault's injection.
func selfHealWithin(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	within := a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("every %s pod broken by a fault is repaired by self-heal within %s", a.Service, within)
	ofService := map[string]bool{}
	for _, p := range tl.Pods {
		if p.Service == a.Service {
			ofService[p.Name] = true
		}
	}
	type target struct {
		pod   string
		fault timeline.Fault
	}
	var targets []target
	for _, f := range tl.Faults {
		chosen := brokenAlive(f)
		if a.After != nil && a.After.Fault != "" {
			chosen = f.Name == a.After.Fault
		}
		if !chosen || f.Error != "" {
			continue
		}
		for _, p := range f.Targets {
			if ofService[p] {
				targets = append(targets, target{p, f})
			}
		}
	}
	if len(targets) == 0 {
		r.Measured, r.Detail = "n/a", fmt.Sprintf("no fault broke a pod of %s: there was nothing to repair", a.Service)
		return
	}
	worst, worstDetail := time.Duration(-1), ""
	for _, t := range targets {
		detected, repaired := time.Duration(-1), time.Duration(-1)
		for _, rp := range tl.Repairs {
			if rp.Pod != t.pod || rp.T < t.fault.At {
				continue
			}
			if rp.Stage == timeline.RepairDetected && detected < 0 {
				detected = rp.T
			}
			if rp.Stage == timeline.RepairOutcome && rp.Result == "succeeded" && rp.Action != selfheal.Scale {
				repaired = rp.T
				break
			}
		}
		if repaired < 0 {
			r.Value = -1
			r.Measured = fmt.Sprintf("%s not repaired", t.pod)
			if detected < 0 {
				r.Detail = fmt.Sprintf("%s, broken by %s at %s, was never detected", t.pod, t.fault.Name, t.fault.At)
			} else {
				r.Detail = fmt.Sprintf("%s, broken by %s at %s, was detected at %s but never repaired", t.pod, t.fault.Name, t.fault.At, detected)
			}
			return
		}
		if took := repaired - t.fault.At; took > worst {
			worst = took
			worstDetail = fmt.Sprintf("%s: broken by %s at %s, detected %s later, repaired %s later", t.pod, t.fault.Name, t.fault.At, (detected - t.fault.At).Round(time.Millisecond), took.Round(time.Millisecond))
			r.EvidenceAt = at(repaired)
		}
	}
	r.Value = worst.Seconds()
	r.Passed = worst <= within
	r.Measured = fmt.Sprintf("slowest %s", worst.Round(time.Millisecond))
	r.Detail = fmt.Sprintf("%d pods repaired; slowest %s", len(targets), worstDetail)
}

// noCollateral: while self-heal has a pod of the service out (from a
// restart until its replacement is Ready, from an isolation until the pod
// rejoins), the service keeps at least AtLeast serving pods (Ready and in
// the endpoints), judged on the 1s samples.
func noCollateral(a *scenario.Assertion, tl *timeline.Timeline, svc *timeline.Service, r *Result) {
	want := *a.AtLeast
	r.Unit, r.Limit = "pods", float64(want)
	r.Threshold = fmt.Sprintf("%s keeps ≥ %d serving pods while self-heal repairs", a.Service, want)
	pods := map[string]timeline.Pod{}
	var fresh []timeline.Pod
	for _, p := range tl.Pods {
		if p.Service != a.Service {
			continue
		}
		pods[p.Name] = p
		if p.FirstReady >= 0 {
			fresh = append(fresh, p)
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].FirstReady < fresh[j].FirstReady })
	used := make([]bool, len(fresh))
	type span struct {
		from, to time.Duration
		what     string
	}
	var spans []span
	for i, rp := range tl.Repairs {
		p, ok := pods[rp.Pod]
		if !ok || rp.Stage != timeline.RepairAction {
			continue
		}
		switch rp.Action {
		case selfheal.Restart:
			end := tl.Duration
			if p.Deleted >= 0 {
				for j, q := range fresh {
					if !used[j] && q.Created >= p.Deleted {
						used[j], end = true, q.FirstReady
						break
					}
				}
			}
			spans = append(spans, span{rp.T, end, "restart of " + rp.Pod})
		case selfheal.Isolate:
			end := tl.Duration
			for _, q := range tl.Repairs[i+1:] {
				if q.Pod == rp.Pod && q.Action == selfheal.Rejoin {
					end = q.T
					break
				}
			}
			spans = append(spans, span{rp.T, end, "isolation of " + rp.Pod})
		}
	}
	if len(spans) == 0 {
		r.Measured, r.Detail = "n/a", fmt.Sprintf("self-heal never restarted or isolated a pod of %s: no collateral to judge", a.Service)
		return
	}
	low := int32(1<<31 - 1)
	for _, sp := range spans {
		for _, s := range svc.Samples {
			if s.T < sp.from || s.T > sp.to {
				continue
			}
			if s.Endpoints < low {
				low = s.Endpoints
				r.EvidenceAt = at(s.T)
			}
			if s.Endpoints < want {
				r.Value = float64(s.Endpoints)
				r.Measured = fmt.Sprintf("%d serving at %s", s.Endpoints, s.T)
				r.Detail = fmt.Sprintf("during the %s (%s to %s), %s had %d serving pods", sp.what, sp.from, sp.to, a.Service, s.Endpoints)
				return
			}
		}
	}
	r.Passed, r.Value = true, float64(low)
	r.Measured = fmt.Sprintf("lowest %d serving", low)
	r.Detail = fmt.Sprintf("%d self-heal repairs; at least %d pods served throughout", len(spans), low)
}
