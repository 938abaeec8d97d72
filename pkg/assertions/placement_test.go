package assertions

import (
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

const zone = "topology.kubernetes.io/zone"

// zoneTimeline: nodes a-0, a-1 (zone a), b-0 (zone b), c-0 (zone c). The
// api pods: p1 on a-0, p2 on b-0, p3 on c-0 from 0s; zone a goes NotReady
// at 60s; p1 is evicted (a fault) at 100s and p4 is created at once,
// bound to b-0 at 100s and Ready at 103s; p5 is bound to a-1 at 200s
// (after zone a is back at 150s), never Ready.
func zoneTimeline() *timeline.Timeline {
	t := timeline.New(time.Unix(0, 0))
	t.Duration = 300 * time.Second
	t.Entry = "api"
	t.AddService("api", "gateway")
	for _, n := range []struct{ name, zone string }{{"a-0", "a"}, {"a-1", "a"}, {"b-0", "b"}, {"c-0", "c"}} {
		t.Nodes = append(t.Nodes, timeline.Node{Name: n.name, Labels: map[string]string{zone: n.zone}})
	}
	pod := func(name, node string, bound, ready, deleted time.Duration, cause string) timeline.Pod {
		return timeline.Pod{Name: name, Service: "api", Node: node, Created: bound, Bound: bound, FirstReady: ready, Deleted: deleted, Cause: cause}
	}
	s := time.Second
	t.Pods = []timeline.Pod{
		pod("p1", "a-0", 0, 2*s, 100*s, timeline.CauseFault),
		pod("p2", "b-0", 0, 2*s, -1, ""),
		pod("p3", "c-0", 0, 2*s, -1, ""),
		pod("p4", "b-0", 100*s, 103*s, -1, ""),
		pod("p5", "a-1", 200*s, -1, -1, ""),
	}
	t.Events = []timeline.Event{{T: 60 * s, Kind: "NodeNotReady", Object: "a-0"}, {T: 60 * s, Kind: "NodeNotReady", Object: "a-1"},
		{T: 150 * s, Kind: "NodeReady", Object: "a-0"}, {T: 150 * s, Kind: "NodeReady", Object: "a-1"}}
	return t
}

func evalOn(tl *timeline.Timeline, a scenario.Assertion) Result {
	a.Service = "api"
	if a.Type == scenario.AssertPlacement && a.TopologyKey == "" {
		a.TopologyKey = zone
	}
	sc := &scenario.Scenario{Spec: scenario.Spec{Assertions: []scenario.Assertion{a}}}
	return Evaluate(sc, tl)[0]
}

func TestPlacementSkew(t *testing.T) {
	// Counts per zone over time (Ready zones only):
	//   0-60s a1 b1 c1 -> skew 0
	//   60s: zone a NotReady -> domains b, c: 1, 1 -> 0
	//   100s: p1 deleted, p4 on b -> b2 c1 -> 1
	//   150s: zone a back with 0 pods -> a0 b2 c1 -> 2
	//   200s: p5 on a-1 -> a1 b2 c1 -> 1
	// So maxSkew 1 fails at 150s, maxSkew 2 holds throughout.
	r := evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, MaxSkew: ptr.To[int32](1)})
	if r.Passed || !strings.Contains(r.Detail, "at 2m30s, skew 2") || r.Value != 2 {
		t.Fatalf("maxSkew 1: %+v", r)
	}
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, MaxSkew: ptr.To[int32](2)})
	if !r.Passed || r.Value != 2 {
		t.Fatalf("maxSkew 2: %+v", r)
	}
	// From 200s on the skew is 1.
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, MaxSkew: ptr.To[int32](1), After: &scenario.Anchor{Time: d("200s")}})
	if !r.Passed || r.Value != 1 {
		t.Fatalf("maxSkew 1 from 200s: %+v", r)
	}
	// A run that ends at 140s never sees zone a come back (on kind the
	// lost nodes are restored at the clean-up, after the run): the skew
	// is 1 at most and maxSkew 1 holds.
	tl := zoneTimeline()
	tl.Duration = 140 * time.Second
	r = evalOn(tl, scenario.Assertion{Type: scenario.AssertPlacement, MaxSkew: ptr.To[int32](1)})
	if !r.Passed || r.Value != 1 {
		t.Fatalf("maxSkew 1 over a run of 140s: %+v", r)
	}
}

func TestPlacementPerNodeAndDomains(t *testing.T) {
	// b-0 holds p2 and p4 from 100s: two pods on one node.
	r := evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, MaxPerNode: ptr.To[int32](1)})
	if r.Passed || !strings.Contains(r.Detail, "at 1m40s, 2 pods on node b-0") {
		t.Fatalf("maxPerNode 1: %+v", r)
	}
	// Zones a, b and c are all used; {b, c} is broken from the start by p1.
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, Domains: []string{"b", "c"}})
	if r.Passed || !strings.Contains(r.Detail, "at 0s, a pod ran on node a-0") {
		t.Fatalf("domains b, c: %+v", r)
	}
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertPlacement, Domains: []string{"a", "b", "c"}})
	if !r.Passed {
		t.Fatalf("domains a, b, c: %+v", r)
	}
	// No pods recorded: no verdict can pass.
	empty := zoneTimeline()
	empty.Pods = nil
	if r := evalOn(empty, scenario.Assertion{Type: scenario.AssertPlacement, MaxSkew: ptr.To[int32](1)}); r.Passed {
		t.Fatalf("no pods: %+v", r)
	}
}

func TestRescheduledWithin(t *testing.T) {
	// p1 deleted at 100s; p4, created at 100s, Ready at 103s: 3s.
	r := evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertRescheduledWithin, Within: d("3s")})
	if !r.Passed || r.Value != 3 || !strings.Contains(r.Detail, "p1 (deleted at 1m40s) → p4 Ready at 1m43s") {
		t.Fatalf("within 3s: %+v", r)
	}
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertRescheduledWithin, Within: d("2s")})
	if r.Passed || r.Value != 3 {
		t.Fatalf("within 2s: %+v", r)
	}
	// Nothing deleted by a fault after 150s: the assertion cannot pass
	// vacuously.
	r = evalOn(zoneTimeline(), scenario.Assertion{Type: scenario.AssertRescheduledWithin, Within: d("1m"), After: &scenario.Anchor{Time: d("150s")}})
	if r.Passed || !strings.Contains(r.Detail, "no pod of api was deleted by a fault") {
		t.Fatalf("nothing evicted: %+v", r)
	}
	// A replacement that never becomes Ready fails.
	tl := zoneTimeline()
	tl.Pods[3].FirstReady = -1
	r = evalOn(tl, scenario.Assertion{Type: scenario.AssertRescheduledWithin, Within: d("1m")})
	if r.Passed || !strings.Contains(r.Measured, "p1 not replaced") {
		t.Fatalf("never Ready: %+v", r)
	}
}

func TestReadinessFlaps(t *testing.T) {
	tl := zoneTimeline()
	s := time.Second
	// p2 flaps at 30s and 90s, p3 at 95s; p1 at 70s; a NotReady of a pod
	// of another service does not count.
	tl.Pods = append(tl.Pods, timeline.Pod{Name: "other-1", Service: "other", FirstReady: -1, Deleted: -1})
	for _, e := range []struct {
		t   time.Duration
		pod string
	}{{30 * s, "p2"}, {70 * s, "p1"}, {90 * s, "p2"}, {95 * s, "p3"}, {96 * s, "other-1"}} {
		tl.Events = append(tl.Events, timeline.Event{T: e.t, Kind: "NotReady", Object: e.pod})
	}
	win := &scenario.Window{From: *d("60s"), To: d("100s")}
	// In [60s, 100s): p1 at 70s, p2 at 90s, p3 at 95s = 3.
	r := evalOn(tl, scenario.Assertion{Type: scenario.AssertReadinessFlaps, AtLeast: ptr.To[int32](3), Window: win})
	if !r.Passed || r.Value != 3 || *r.EvidenceAt != 70*s {
		t.Fatalf("atLeast 3: %+v", r)
	}
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertReadinessFlaps, AtMost: ptr.To[int32](2), Window: win}); r.Passed {
		t.Fatalf("atMost 2: %+v", r)
	}
	// The whole run: 4 of api's.
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertReadinessFlaps, AtMost: ptr.To[int32](4)}); !r.Passed || r.Value != 4 {
		t.Fatalf("atMost 4 over the run: %+v", r)
	}
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertReadinessFlaps, AtMost: ptr.To[int32](0), Window: &scenario.Window{From: *d("100s")}}); !r.Passed || r.Value != 0 {
		t.Fatalf("none after 100s: %+v", r)
	}
}
