package assertions

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

func d(s string) *metav1.Duration {
	v, _ := time.ParseDuration(s)
	return &metav1.Duration{Duration: v}
}

// tl's entry service gw has ready replicas 3 until 10s, 1 from 10s to 19s,
// 3 from 20s; desired goes 3 → 5 at 30s and back to 2 at 45s; one fault
// "kill" at 10s; 200 requests, one per 100ms, latencies 1..200ms, the ten
// sent in [10s, 11s) failing and the twenty sent in [11s, 13s) degraded.
// Its downstream pay has no endpoint from 10s to 24s; gw's two pods have
// breakers toward pay: gw-1 opens at 12s, goes half-open at 22.5s, opens
// again at 22.5s, half-open at 33s and closes at 33s; gw-2 opens at 13s
// and its pod goes away at 20s.
func tl() *timeline.Timeline {
	t := timeline.New(time.Unix(0, 0))
	t.Duration = 60 * time.Second
	t.Entry = "gw"
	gw := t.AddService("gw", "gateway")
	pay := t.AddService("pay", "payment")
	for s := 0; s <= 60; s++ {
		sm := timeline.Sample{T: time.Duration(s) * time.Second, Ready: 1, Desired: 1, Endpoints: 1}
		if s >= 10 && s < 24 {
			sm.Ready, sm.Endpoints = 0, 0
		}
		pay.Samples = append(pay.Samples, sm)
	}
	b := func(t0 float64, pod, from, to string) timeline.BreakerTransition {
		return timeline.BreakerTransition{T: time.Duration(t0 * float64(time.Second)), Service: "gw", Pod: pod, Downstream: "pay", From: from, To: to}
	}
	t.Breakers = []timeline.BreakerTransition{
		b(12, "gw-1", "closed", "open"), b(13, "gw-2", "closed", "open"), b(20, "gw-2", "open", "removed"),
		b(22.5, "gw-1", "open", "half-open"), b(22.5, "gw-1", "half-open", "open"),
		b(33, "gw-1", "open", "half-open"), b(33, "gw-1", "half-open", "closed"),
	}
	for s := 0; s <= 60; s++ {
		sm := timeline.Sample{T: time.Duration(s) * time.Second, Ready: 3, Desired: 3}
		if s >= 10 && s < 20 {
			sm.Ready = 1
		}
		if s >= 30 {
			sm.Desired = 5
		}
		if s >= 45 {
			sm.Desired = 2
		}
		gw.Samples = append(gw.Samples, sm)
	}
	t.Faults = []timeline.Fault{{Name: "kill", At: 10 * time.Second}, {Name: "broken", At: 5 * time.Second, Error: "no pod is selected"}}
	for i := 0; i < 200; i++ {
		sent := time.Duration(i) * 100 * time.Millisecond
		if sent >= 10*time.Second && sent < 11*time.Second {
			t.AddRequest(gw, sent, time.Millisecond, 0, "connect: connection refused")
			continue
		}
		t.AddRequest(gw, sent, time.Duration(i+1)*time.Millisecond, 200, "")
		r := gw.Requests[len(gw.Requests)-1]
		gw.Requests[len(gw.Requests)-1] = timeline.NewRequest(r.Sent(), r.Latency(), r.Code(), r.Err(), sent >= 11*time.Second && sent < 13*time.Second)
	}
	return t
}

func eval(a scenario.Assertion) Result {
	if a.Service == "" {
		a.Service = "gw"
	}
	sc := &scenario.Scenario{Spec: scenario.Spec{Assertions: []scenario.Assertion{a}}}
	return Evaluate(sc, tl())[0]
}

func TestReplicasReach(t *testing.T) {
	r := eval(scenario.Assertion{Type: "replicasReach", Of: "desired", AtLeast: ptr.To[int32](5), Within: d("25s"), After: &scenario.Anchor{Time: d("10s")}})
	if !r.Passed || r.Value != 20 || *r.EvidenceAt != 30*time.Second {
		t.Fatalf("reached at 30s, 20s after 10s, within 25s: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "replicasReach", Of: "desired", AtLeast: ptr.To[int32](5), Within: d("15s"), After: &scenario.Anchor{Time: d("10s")}})
	if r.Passed || !strings.Contains(r.Detail, "5s late") {
		t.Fatalf("late: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "replicasReach", Of: "ready", AtLeast: ptr.To[int32](4), Within: d("15s"), After: &scenario.Anchor{Time: d("0s")}})
	if r.Passed || !strings.Contains(r.Measured, "never reached 4 (highest 3") {
		t.Fatalf("never: %+v", r)
	}
}

func TestReadyRecovers(t *testing.T) {
	ok := eval(scenario.Assertion{Type: "readyRecovers", AtLeast: ptr.To[int32](3), Within: d("10s"), After: &scenario.Anchor{Fault: "kill"}})
	if !ok.Passed || ok.Value != 10 || !strings.Contains(ok.Detail, "fell to 1") {
		t.Fatalf("recovered 10s after the fault: %+v", ok)
	}
	slow := eval(scenario.Assertion{Type: "readyRecovers", AtLeast: ptr.To[int32](3), Within: d("9s"), After: &scenario.Anchor{Fault: "kill"}})
	if slow.Passed {
		t.Fatalf("10s > 9s passed: %+v", slow)
	}
	never := eval(scenario.Assertion{Type: "readyRecovers", AtLeast: ptr.To[int32](1), Within: d("5s"), After: &scenario.Anchor{Fault: "kill"}})
	if !never.Passed || never.Value != 0 {
		t.Fatalf("never dipped below 1: %+v", never)
	}
	failed := eval(scenario.Assertion{Type: "readyRecovers", AtLeast: ptr.To[int32](1), Within: d("5s"), After: &scenario.Anchor{Fault: "broken"}})
	if failed.Passed || !strings.Contains(failed.Detail, "failed to inject") {
		t.Fatalf("a fault that failed cannot anchor a pass: %+v", failed)
	}
}

func TestLatencyAndErrorRate(t *testing.T) {
	r := eval(scenario.Assertion{Type: "latency", Quantile: ptr.To(0.5), Max: d("50ms")})
	// 190 successes with latencies 1..100 and 111..200ms: the 95th is 95ms.
	if r.Passed || r.Value != 0.095 || !strings.Contains(r.Detail, "190 successful") {
		t.Fatalf("p50 over successes: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "latency", Quantile: ptr.To(0.99), Max: d("10ms"), Window: &scenario.Window{From: metav1.Duration{}, To: d("1s")}})
	if !r.Passed || r.Value != 0.010 {
		t.Fatalf("p99 of [0,1s): %+v", r)
	}
	e := eval(scenario.Assertion{Type: "errorRate", MaxRatio: ptr.To(0.04)})
	if e.Passed || e.Value != 0.05 || *e.EvidenceAt != 10*time.Second || !strings.Contains(e.Detail, "10 × connect: connection refused") {
		t.Fatalf("10 of 100 failed: %+v", e)
	}
	e = eval(scenario.Assertion{Type: "errorRate", MaxRatio: ptr.To(0.0), Window: &scenario.Window{From: *d("20s")}})
	if e.Passed || e.Measured != "no requests" {
		t.Fatalf("empty window must not pass: %+v", e)
	}
}

func TestReplicasAtMost(t *testing.T) {
	// desired drops to 2 at 45s: 15s after 30s.
	r := eval(scenario.Assertion{Type: "replicasReach", Of: "desired", AtMost: ptr.To[int32](2), Within: d("20s"), After: &scenario.Anchor{Time: d("30s")}})
	if !r.Passed || r.Value != 15 || !strings.Contains(r.Threshold, "≤ 2") {
		t.Fatalf("scaled down at 45s: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "replicasReach", Of: "desired", AtMost: ptr.To[int32](1), Within: d("20s"), After: &scenario.Anchor{Time: d("30s")}})
	if r.Passed || !strings.Contains(r.Measured, "never reached 1 (lowest 2") {
		t.Fatalf("never as low as 1: %+v", r)
	}
}

func TestDegradedAndAvailability(t *testing.T) {
	// 200 requests: 10 failed, 20 degraded, 170 ok.
	r := eval(scenario.Assertion{Type: "degradedRate", MaxRatio: ptr.To(0.1)})
	if !r.Passed || r.Value != 0.1 || *r.EvidenceAt != 11*time.Second || !strings.Contains(r.Detail, "170 ok, 20 degraded, 10 failed") {
		t.Fatalf("degraded 20 of 200: %+v", r)
	}
	a := eval(scenario.Assertion{Type: "availability", MinRatio: ptr.To(0.96)})
	if a.Passed || a.Value != 0.95 {
		t.Fatalf("availability 190 of 200 = 95%% < 96%%: %+v", a)
	}
	a = eval(scenario.Assertion{Type: "availability", MinRatio: ptr.To(0.95)})
	if !a.Passed {
		t.Fatalf("95%% ≥ 95%%: %+v", a)
	}
	other := eval(scenario.Assertion{Type: "errorRate", Service: "pay", MaxRatio: ptr.To(0.0)})
	if other.Passed || other.Measured != "no requests" {
		t.Fatalf("pay received nothing: %+v", other)
	}
	missing := eval(scenario.Assertion{Type: "errorRate", Service: "ghost", MaxRatio: ptr.To(0.0)})
	if missing.Passed || !strings.Contains(missing.Detail, "ghost") {
		t.Fatalf("unknown service: %+v", missing)
	}
}

func TestBreakerOpens(t *testing.T) {
	// The first opening after the fault at 10s is gw-1's at 12s: 2s.
	r := eval(scenario.Assertion{Type: "breakerOpens", Downstream: "pay", Within: d("5s"), After: &scenario.Anchor{Fault: "kill"}})
	if !r.Passed || r.Value != 2 || *r.EvidenceAt != 12*time.Second {
		t.Fatalf("opened 2s after the fault: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "breakerOpens", Within: d("1s"), After: &scenario.Anchor{Fault: "kill"}})
	if r.Passed {
		t.Fatalf("2s > 1s: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "breakerOpens", Within: d("5s"), After: &scenario.Anchor{Time: d("40s")}})
	if r.Passed || r.Measured != "never opened" {
		t.Fatalf("nothing opens after 40s: %+v", r)
	}
}

func TestBreakerCloses(t *testing.T) {
	// pay has an endpoint again at 24s; gw-2's breaker went with its pod
	// at 20s, gw-1's closes at 33s: 9s after the recovery.
	r := eval(scenario.Assertion{Type: "breakerCloses", Downstream: "pay", Within: d("10s")})
	if !r.Passed || r.Value != 9 || *r.EvidenceAt != 33*time.Second || !strings.Contains(r.Detail, "again at 24s") {
		t.Fatalf("closed 9s after recovery: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "breakerCloses", Downstream: "pay", Within: d("8s")})
	if r.Passed {
		t.Fatalf("9s > 8s: %+v", r)
	}
	r = eval(scenario.Assertion{Type: "breakerCloses", Within: d("8s"), After: &scenario.Anchor{Time: d("40s")}})
	if r.Passed || r.Measured != "never opened" {
		t.Fatalf("nothing to close after 40s: %+v", r)
	}
}

// TestBreakerClosesAfterAFaultThatKeepsEndpoints: a partition from 10s to
// 30s leaves pay's endpoint in place (pay always has one here); gw-1's
// breaker opens at 12s and closes at 33s. Recovery is the fault's end
// (30s), not the first endpoint (12s): closed 3s after it.
func TestBreakerClosesAfterAFaultThatKeepsEndpoints(t *testing.T) {
	t0 := tl()
	for i := range t0.Service("pay").Samples {
		t0.Service("pay").Samples[i].Endpoints = 1
	}
	end := 30 * time.Second
	t0.Faults[0].End = &end
	t0.Breakers = []timeline.BreakerTransition{
		{T: 12 * time.Second, Service: "gw", Pod: "gw-1", Downstream: "pay", From: "closed", To: "open"},
		{T: 33 * time.Second, Service: "gw", Pod: "gw-1", Downstream: "pay", From: "half-open", To: "closed"},
	}
	a := scenario.Assertion{Type: "breakerCloses", Service: "gw", Downstream: "pay", Within: d("5s"), After: &scenario.Anchor{Fault: "kill"}}
	sc := &scenario.Scenario{Spec: scenario.Spec{Assertions: []scenario.Assertion{a}}}
	r := Evaluate(sc, t0)[0]
	if !r.Passed || r.Value != 3 {
		t.Fatalf("closed 3s after the fault's end: %+v", r)
	}
}
