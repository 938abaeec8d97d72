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

// tl has ready replicas 3 until 10s, 1 from 10s to 19s, 3 from 20s; desired
// goes 3 → 5 at 30s; one fault "kill" at 10s; 200 requests, one per 100ms,
// latencies 1..200ms, the ten sent in [10s, 11s) failing.
func tl() *timeline.Timeline {
	t := timeline.New(time.Unix(0, 0))
	t.Duration = 60 * time.Second
	for s := 0; s <= 60; s++ {
		sm := timeline.Sample{T: time.Duration(s) * time.Second, Ready: 3, Desired: 3}
		if s >= 10 && s < 20 {
			sm.Ready = 1
		}
		if s >= 30 {
			sm.Desired = 5
		}
		t.Samples = append(t.Samples, sm)
	}
	t.Faults = []timeline.Fault{{Name: "kill", At: 10 * time.Second}, {Name: "broken", At: 5 * time.Second, Error: "no pod is selected"}}
	for i := 0; i < 200; i++ {
		sent := time.Duration(i) * 100 * time.Millisecond
		if sent >= 10*time.Second && sent < 11*time.Second {
			t.AddRequest(sent, time.Millisecond, 0, "connect: connection refused")
			continue
		}
		t.AddRequest(sent, time.Duration(i+1)*time.Millisecond, 200, "")
	}
	return t
}

func eval(a scenario.Assertion) Result {
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
