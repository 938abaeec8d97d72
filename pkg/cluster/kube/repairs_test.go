package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// The operator's Events as the API server serves them through core/v1
// (the recorder writes events.k8s.io/v1: note → message, regarding →
// involvedObject), with the notes reconciler.go writes.
func TestRepairFromEvent(t *testing.T) {
	eventTime := time.Date(2026, 11, 28, 4, 0, 0, 123456000, time.UTC)
	arrived := eventTime.Add(300 * time.Millisecond)
	pol := &corev1.ObjectReference{Kind: "SelfHealPolicy", Name: "gateway-healer"}
	ev := func(reason, action, note string) *corev1.Event {
		return &corev1.Event{Reason: reason, Action: action, Message: "self-heal gateway-healer: " + note, Related: pol,
			EventTime:      metav1.NewMicroTime(eventTime),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "gateway-a"}}
	}
	want := func(stage, event, action, result string) *timeline.Repair {
		return &timeline.Repair{Policy: "gateway-healer", Pod: "gateway-a", Stage: stage, Event: event, Action: action, Result: result}
	}
	for _, tc := range []struct {
		name string
		e    *corev1.Event
		want *timeline.Repair // nil: not a repair step
	}{
		{"detected", ev("SelfHealDetected", "Detect", "InstanceDown after 3 failed health checks"),
			want(timeline.RepairDetected, "InstanceDown", "", "")},
		{"restart started", ev("SelfHealAction", "restart", "restart (attempt 1) for InstanceDown gateway-a"),
			want(timeline.RepairAction, "InstanceDown", "restart", "")},
		{"restart failed: its outcome is the step", ev("SelfHealAction", "restart", "restart (attempt 1) failed: pods \"gateway-a\" is forbidden"), nil},
		{"rejoin", ev("SelfHealAction", "Rejoin", "rejoin: its health check passes again"),
			want(timeline.RepairAction, "", "rejoin", "")},
		{"succeeded", ev("SelfHealOutcome", "Outcome", "restart for InstanceDown gateway-a: succeeded"),
			want(timeline.RepairOutcome, "InstanceDown", "restart", "succeeded")},
		{"retrying", ev("SelfHealOutcome", "Outcome", "restart for InstanceDown gateway-a: attempt 1 timed out; retrying"),
			want(timeline.RepairOutcome, "InstanceDown", "restart", "attempt 1 timed out; retrying")},
		{"skipped", ev("SelfHealOutcome", "Outcome", "restart for InstanceDown gateway-a: skipped: 2 serving, minAvailable 2"),
			want(timeline.RepairOutcome, "InstanceDown", "restart", "skipped: 2 serving, minAvailable 2")},
		{"breaker scale", ev("SelfHealOutcome", "Outcome", "scale for CircuitBreakerTripped gateway-a → payment: succeeded"),
			want(timeline.RepairOutcome, "CircuitBreakerTripped", "scale", "succeeded")},
		{"rejoin failed", ev("SelfHealOutcome", "Outcome", "rejoin failed: conflict"),
			want(timeline.RepairOutcome, "", "rejoin", "failed: conflict")},
		{"another reason", ev("Killing", "", "Stopping container gateway"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, at, ok := repairFromEvent(tc.e, arrived)
			if tc.want == nil {
				if ok {
					t.Fatalf("a repair step: %+v", got)
				}
				return
			}
			if !ok || got != *tc.want {
				t.Fatalf("got %+v (%v), want %+v", got, ok, *tc.want)
			}
			if !at.Equal(eventTime) {
				t.Fatalf("at %v, want the eventTime %v", at, eventTime)
			}
		})
	}
	// A core/v1 Event without eventTime (an older recorder) is placed at
	// its firstTimestamp; the policy comes from the note without related.
	e := ev("SelfHealDetected", "", "InstanceDown after 3 failed health checks")
	e.EventTime, e.Related = metav1.MicroTime{}, nil
	e.FirstTimestamp = metav1.NewTime(eventTime.Truncate(time.Second))
	if rp, at, ok := repairFromEvent(e, arrived); !ok || rp.Policy != "gateway-healer" || !at.Equal(eventTime.Truncate(time.Second)) {
		t.Fatalf("legacy Event: %+v at %v (%v)", rp, at, ok)
	}
}

// The recorder places the steps on the scenario's clock, in time order,
// and a pod self-heal restarted is deleted by self-heal, not by the fault
// that hung it.
func TestRecorderRepairs(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC)
	r := &recorder{tl: timeline.New(time.Time{}), services: map[string]*timeline.Service{}, pods: map[string]*wallPod{}}
	r.start(t0)
	r.fault(timeline.Fault{Name: "one-hangs", Kind: "PodHang", At: 120 * time.Second, Targets: []string{"gateway-a"}})
	r.pod(t0.Add(-30*time.Second), "gateway-a", "gateway", "n1", true, false)
	r.repair(t0.Add(133*time.Second), timeline.Repair{Pod: "gateway-a", Stage: timeline.RepairAction, Action: "restart"})
	r.repair(t0.Add(131*time.Second), timeline.Repair{Pod: "gateway-a", Stage: timeline.RepairDetected})
	r.pod(t0.Add(133200*time.Millisecond), "gateway-a", "gateway", "n1", false, true)
	tl := r.finish()
	if len(tl.Repairs) != 2 || tl.Repairs[0].T != 131*time.Second || tl.Repairs[1].T != 133*time.Second {
		t.Fatalf("repairs %+v", tl.Repairs)
	}
	if len(tl.Pods) != 1 || tl.Pods[0].Cause != timeline.CauseSelfHeal || tl.Pods[0].Deleted != 133200*time.Millisecond {
		t.Fatalf("pods %+v", tl.Pods)
	}
}
