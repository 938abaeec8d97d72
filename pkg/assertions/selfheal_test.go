package assertions

import (
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// healTimeline: api pods p1-p3 from 0s; p2 hangs at 120s (a PodHang), is
// detected at 131s, restarted at 131s, gone at 133s (the repair
// succeeded), and p4, created at 131s, is Ready at 136s. The endpoints:
// 3, 2 from 132s to 136s, 3 again from 137s.
func healTimeline() *timeline.Timeline {
	t := timeline.New(time.Unix(0, 0))
	t.Duration = 300 * time.Second
	t.Entry = "api"
	api := t.AddService("api", "gateway")
	s := time.Second
	for i := 0; i <= 300; i++ {
		ep := int32(3)
		if i >= 132 && i <= 136 {
			ep = 2
		}
		api.Samples = append(api.Samples, timeline.Sample{T: time.Duration(i) * s, Ready: ep, Endpoints: ep})
	}
	t.Pods = []timeline.Pod{
		{Name: "p1", Service: "api", Node: "n", FirstReady: 2 * s, Deleted: -1},
		{Name: "p2", Service: "api", Node: "n", FirstReady: 2 * s, Deleted: 131 * s, Cause: timeline.CauseSelfHeal},
		{Name: "p3", Service: "api", Node: "n", FirstReady: 2 * s, Deleted: -1},
		{Name: "p4", Service: "api", Node: "n", Created: 131 * s, Bound: 131 * s, FirstReady: 136 * s, Deleted: -1},
	}
	t.Faults = []timeline.Fault{{Name: "hang", Kind: scenario.PodHangKind, Action: "hang", At: 120 * s, Targets: []string{"p2"}}}
	t.Repairs = []timeline.Repair{
		{T: 131 * s, Pod: "p2", Stage: timeline.RepairDetected, Event: "InstanceDown"},
		{T: 131 * s, Pod: "p2", Stage: timeline.RepairAction, Event: "InstanceDown", Action: "restart"},
		{T: 133 * s, Pod: "p2", Stage: timeline.RepairOutcome, Event: "InstanceDown", Action: "restart", Result: "succeeded"},
	}
	return t
}

func TestSelfHealWithin(t *testing.T) {
	// Broken at 120s, repaired at 133s: 13s.
	r := evalOn(healTimeline(), scenario.Assertion{Type: scenario.AssertSelfHealWithin, Within: d("15s")})
	if !r.Passed || r.Value != 13 || !strings.Contains(r.Detail, "detected 11s later, repaired 13s later") {
		t.Fatalf("within 15s: %+v", r)
	}
	if r := evalOn(healTimeline(), scenario.Assertion{Type: scenario.AssertSelfHealWithin, Within: d("10s")}); r.Passed || r.Value != 13 {
		t.Fatalf("within 10s: %+v", r)
	}
	// Detected but never repaired.
	tl := healTimeline()
	tl.Repairs = tl.Repairs[:2]
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertSelfHealWithin, Within: d("1m")}); r.Passed || !strings.Contains(r.Detail, "detected at 2m11s but never repaired") {
		t.Fatalf("unrepaired: %+v", r)
	}
	// No fault that breaks a pod alive: nothing to judge, no pass.
	tl = healTimeline()
	tl.Faults[0].Kind, tl.Faults[0].Action = "PodChaos", "pod-kill"
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertSelfHealWithin, Within: d("1m")}); r.Passed {
		t.Fatalf("no broken pod: %+v", r)
	}
}

func TestNoCollateral(t *testing.T) {
	// The restart of p2 lasts from 131s to p4's Ready at 136s; the
	// endpoints are 2 at their lowest then.
	r := evalOn(healTimeline(), scenario.Assertion{Type: scenario.AssertNoCollateral, AtLeast: ptr.To[int32](2)})
	if !r.Passed || r.Value != 2 {
		t.Fatalf("atLeast 2: %+v", r)
	}
	r = evalOn(healTimeline(), scenario.Assertion{Type: scenario.AssertNoCollateral, AtLeast: ptr.To[int32](3)})
	if r.Passed || !strings.Contains(r.Detail, "during the restart of p2 (2m11s to 2m16s), api had 2 serving pods") {
		t.Fatalf("atLeast 3: %+v", r)
	}
	// Self-heal never acted: nothing to judge.
	tl := healTimeline()
	tl.Repairs = tl.Repairs[:1]
	if r := evalOn(tl, scenario.Assertion{Type: scenario.AssertNoCollateral, AtLeast: ptr.To[int32](1)}); r.Passed {
		t.Fatalf("no action: %+v", r)
	}
}
