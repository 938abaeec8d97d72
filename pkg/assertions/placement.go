package assertions

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// placement checks, at the start and after every change from the anchor
// on (a pod bound or deleted, a node NotReady or Ready again), where the
// service's pods are: the pods counted are those bound to a node and not
// being deleted. The skew is taken over the domains of the nodes that are
// Ready at that moment (a lost zone is no domain to balance against), as
// the most minus the fewest pods in one of them.
func placement(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	r.Threshold = placementThreshold(a)
	r.Unit = "pods"
	if a.MaxSkew != nil {
		r.Limit = float64(*a.MaxSkew)
	} else if a.MaxPerNode != nil {
		r.Limit = float64(*a.MaxPerNode)
	}
	t0, from, err := anchorOrStart(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	if len(tl.Nodes) == 0 {
		r.Measured, r.Detail = "n/a", "the backend recorded no nodes and pods, so placement cannot be judged"
		return
	}
	labels := map[string]map[string]string{}
	for _, n := range tl.Nodes {
		labels[n.Name] = n.Labels
	}
	type change struct {
		t    time.Duration
		node string
		pods int  // +1 bound, -1 deleted
		down bool // node readiness change
		up   bool
	}
	var changes []change
	scheduled := false
	for _, p := range tl.Pods {
		if p.Service != a.Service || p.Node == "" {
			continue
		}
		scheduled = true
		changes = append(changes, change{t: p.Bound, node: p.Node, pods: 1})
		if p.Deleted >= 0 {
			changes = append(changes, change{t: p.Deleted, node: p.Node, pods: -1})
		}
	}
	if !scheduled {
		r.Measured, r.Detail = "n/a", fmt.Sprintf("no pod of %s was ever scheduled", a.Service)
		return
	}
	for _, e := range tl.Events {
		switch e.Kind {
		case "NodeNotReady":
			changes = append(changes, change{t: e.T, node: e.Object, down: true})
		case "NodeReady":
			changes = append(changes, change{t: e.T, node: e.Object, up: true})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].t < changes[j].t })

	onNode := map[string]int{}
	notReady := map[string]bool{}
	worstSkew, worstPerNode := 0, 0
	check := func(t time.Duration) string {
		perDomain := map[string]int{}
		for _, n := range tl.Nodes {
			if v, ok := n.Labels[a.TopologyKey]; ok && !notReady[n.Name] {
				perDomain[v] += 0 // the domain exists
			}
		}
		for node, c := range onNode {
			if c == 0 {
				continue
			}
			worstPerNode = max(worstPerNode, c)
			if a.MaxPerNode != nil && c > int(*a.MaxPerNode) {
				return fmt.Sprintf("at %s, %d pods on node %s (at most %d allowed)", t, c, node, *a.MaxPerNode)
			}
			v, ok := labels[node][a.TopologyKey]
			if a.Domains != nil && (!ok || !slices.Contains(a.Domains, v)) {
				return fmt.Sprintf("at %s, a pod ran on node %s, in %s=%q, outside %v", t, node, a.TopologyKey, v, a.Domains)
			}
			if _, live := perDomain[v]; ok && live {
				perDomain[v] += c
			}
		}
		if len(perDomain) > 0 {
			lo, hi, loD, hiD := int(^uint(0)>>1), -1, "", ""
			for _, d := range slices.Sorted(maps.Keys(perDomain)) {
				c := perDomain[d]
				if c < lo {
					lo, loD = c, d
				}
				if c > hi {
					hi, hiD = c, d
				}
			}
			worstSkew = max(worstSkew, hi-lo)
			if a.MaxSkew != nil && hi-lo > int(*a.MaxSkew) {
				return fmt.Sprintf("at %s, skew %d across %s: %d pods in %s, %d in %s (%s)", t, hi-lo, a.TopologyKey, hi, hiD, lo, loD, describeDomains(perDomain))
			}
		}
		return ""
	}
	apply := func(c change) {
		switch {
		case c.down:
			notReady[c.node] = true
		case c.up:
			delete(notReady, c.node)
		default:
			onNode[c.node] += c.pods
		}
	}
	i := 0
	for ; i < len(changes) && changes[i].t <= t0; i++ {
		apply(changes[i])
	}
	violation := check(t0)
	// The run ends at its duration: what a real backend sees after it
	// (nodes restored, pods deleted with the namespace) is clean-up.
	for violation == "" && i < len(changes) && changes[i].t < tl.Duration {
		t := changes[i].t
		for ; i < len(changes) && changes[i].t == t; i++ {
			apply(changes[i])
		}
		violation = check(t)
	}
	r.Value = float64(worstSkew)
	if a.MaxSkew == nil && a.MaxPerNode != nil {
		r.Value = float64(worstPerNode)
	}
	r.Measured = fmt.Sprintf("max skew %d, max %d per node", worstSkew, worstPerNode)
	if violation != "" {
		r.Detail = violation
		return
	}
	r.Passed = true
	r.Detail = fmt.Sprintf("held from %s to the end of the run", from)
}

func placementThreshold(a *scenario.Assertion) string {
	var parts []string
	if a.MaxSkew != nil {
		parts = append(parts, fmt.Sprintf("skew ≤ %d across %s", *a.MaxSkew, a.TopologyKey))
	}
	if a.MaxPerNode != nil {
		parts = append(parts, fmt.Sprintf("≤ %d per node", *a.MaxPerNode))
	}
	if a.Domains != nil {
		parts = append(parts, fmt.Sprintf("only in %s %s", a.TopologyKey, strings.Join(a.Domains, ", ")))
	}
	return a.Service + " pods: " + strings.Join(parts, "; ")
}

func describeDomains(m map[string]int) string {
	var parts []string
	for _, d := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", d, m[d]))
	}
	return strings.Join(parts, ", ")
}

// rescheduledWithin pairs every pod deleted by a fault with its
// replacement: in order of deletion, the earliest-Ready pod of the same
// service created at or after the deletion and not yet paired. The
// ReplicaSet creates one pod per deleted one at once, so the pairing
// follows it; a pod created later by a scale-out may stand in, which is
// still a Ready replacement.
func rescheduledWithin(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	within := a.Within.Duration
	r.Unit, r.Limit = "s", within.Seconds()
	r.Threshold = fmt.Sprintf("every %s pod deleted by a fault has a Ready replacement within %s", a.Service, within)
	t0, from, err := anchorOrStart(a.After, tl)
	if err != nil {
		r.Measured, r.Detail = "n/a", err.Error()
		return
	}
	var evicted, fresh []timeline.Pod
	for _, p := range tl.Pods {
		if p.Service != a.Service {
			continue
		}
		if p.Cause == timeline.CauseFault && p.Deleted >= t0 {
			evicted = append(evicted, p)
		}
		if p.FirstReady >= 0 {
			fresh = append(fresh, p)
		}
	}
	if len(evicted) == 0 {
		r.Measured = "n/a"
		r.Detail = fmt.Sprintf("no pod of %s was deleted by a fault after %s: nothing was rescheduled", a.Service, from)
		return
	}
	sort.SliceStable(evicted, func(i, j int) bool { return evicted[i].Deleted < evicted[j].Deleted })
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].FirstReady < fresh[j].FirstReady })
	used := make([]bool, len(fresh))
	worst, worstPod := time.Duration(-1), ""
	for _, e := range evicted {
		found := -1
		for i, p := range fresh {
			if !used[i] && p.Created >= e.Deleted {
				found = i
				break
			}
		}
		if found < 0 {
			r.Value = -1
			r.Measured = fmt.Sprintf("%s not replaced", e.Name)
			r.Detail = fmt.Sprintf("%s was deleted at %s and no replacement became Ready by the end of the run (%s)", e.Name, e.Deleted, tl.Duration)
			return
		}
		used[found] = true
		if took := fresh[found].FirstReady - e.Deleted; took > worst {
			worst, worstPod = took, fmt.Sprintf("%s (deleted at %s) → %s Ready at %s", e.Name, e.Deleted, fresh[found].Name, fresh[found].FirstReady)
		}
	}
	r.Value = worst.Seconds()
	r.EvidenceAt = at(t0)
	r.Measured = fmt.Sprintf("slowest %s", worst.Round(time.Millisecond))
	r.Passed = worst <= within
	r.Detail = fmt.Sprintf("%d pods deleted by faults after %s; slowest: %s", len(evicted), from, worstPod)
}

// readinessFlaps counts the service's pods' Ready → not Ready transitions
// (the NotReady events of its pods) in the window.
func readinessFlaps(a *scenario.Assertion, tl *timeline.Timeline, r *Result) {
	from, to := bounds(a.Window, tl)
	ofService := map[string]bool{}
	for _, p := range tl.Pods {
		if p.Service == a.Service {
			ofService[p.Name] = true
		}
	}
	count, first, last := 0, time.Duration(-1), time.Duration(-1)
	pods := map[string]int{}
	for _, e := range tl.Events {
		if e.Kind != "NotReady" || !ofService[e.Object] || e.T < from || e.T >= to {
			continue
		}
		count++
		pods[e.Object]++
		if first < 0 {
			first = e.T
		}
		last = e.T
	}
	r.Unit, r.Value = "count", float64(count)
	r.Measured = fmt.Sprintf("%d transitions", count)
	span := fmt.Sprintf("[%s, %s)", from, to)
	if a.AtMost != nil {
		r.Limit = float64(*a.AtMost)
		r.Threshold = fmt.Sprintf("%s Ready → not Ready ≤ %d in %s", a.Service, *a.AtMost, span)
		r.Passed = count <= int(*a.AtMost)
	} else {
		r.Limit = float64(*a.AtLeast)
		r.Threshold = fmt.Sprintf("%s Ready → not Ready ≥ %d in %s", a.Service, *a.AtLeast, span)
		r.Passed = count >= int(*a.AtLeast)
	}
	if count == 0 {
		r.Detail = fmt.Sprintf("no pod of %s turned not Ready in %s", a.Service, span)
		return
	}
	r.EvidenceAt = at(first)
	r.Detail = fmt.Sprintf("%d pods turned not Ready %d times in %s, first at %s, last at %s", len(pods), count, span, first, last)
}

// anchorOrStart is anchor, with the run's start when there is none.
func anchorOrStart(a *scenario.Anchor, tl *timeline.Timeline) (time.Duration, string, error) {
	if a == nil {
		return 0, "t=0s", nil
	}
	return anchor(a, tl)
}
