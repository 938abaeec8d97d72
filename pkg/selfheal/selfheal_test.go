package selfheal

import (
	"strings"
	"testing"
	"time"
)

// The seed's example: InstanceDown → restart, timeout 5s, 3 retries.
func seedPolicy() Policy {
	return Policy{Name: "p", Target: "payment",
		HealthCheck:   HealthCheck{Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second, FailureThreshold: 3},
		Subscriptions: []Subscription{{Event: InstanceDown, Action: Restart, Timeout: 5 * time.Second, Retries: 3}},
		RateLimit:     RateLimit{MaxConcurrent: 1, MinAvailable: 2}}
}

func TestInstanceDownAfterTheThresholdOnce(t *testing.T) {
	e := New(seedPolicy())
	t0 := time.Unix(0, 0)
	for i := 1; i <= 5; i++ {
		ev, _ := e.Health("p-1", false, t0)
		if (ev != nil) != (i == 3) {
			t.Fatalf("failure %d: event %v, want one at the 3rd only", i, ev)
		}
	}
	e.Health("p-1", true, t0)
	for i := 1; i <= 3; i++ {
		if ev, _ := e.Health("p-1", false, t0); (ev != nil) != (i == 3) {
			t.Fatalf("after recovering, failure %d: event %v", i, ev)
		}
	}
}

func TestRestartRetriesThenGivesUp(t *testing.T) {
	e := New(seedPolicy())
	t0 := time.Unix(100, 0)
	ds, skipped := e.Handle(Event{Type: InstanceDown, Instance: "p-1"}, View{Serving: 3}, t0)
	if len(ds) != 1 || len(skipped) != 0 || ds[0].Action != Restart || ds[0].Attempt != 1 || !ds[0].Deadline.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("decisions %+v, skipped %+v", ds, skipped)
	}
	// Nothing completes: attempts 2, 3 and 4 follow each 5s deadline (3
	// retries), then the engine gives up.
	now := t0
	for attempt := 2; attempt <= 5; attempt++ {
		now = now.Add(5 * time.Second)
		if more, _ := e.Expire(now.Add(-time.Nanosecond)); len(more) != 0 {
			t.Fatalf("expired before its deadline: %+v", more)
		}
		more, outs := e.Expire(now)
		if attempt <= 4 {
			if len(more) != 1 || more[0].Attempt != attempt || !strings.Contains(outs[0].Result, "retrying") {
				t.Fatalf("attempt %d: %+v %+v", attempt, more, outs)
			}
			continue
		}
		if len(more) != 0 || len(outs) != 1 || !strings.Contains(outs[0].Result, "gave up: attempt 4 timed out after 5s") {
			t.Fatalf("after 3 retries: %+v %+v", more, outs)
		}
	}
	if e.Pending() != 0 {
		t.Fatalf("%d still pending", e.Pending())
	}
}

func TestRateLimit(t *testing.T) {
	e := New(seedPolicy())
	t0 := time.Unix(0, 0)
	// Serving 2 with minAvailable 2: restarting one would leave 1.
	if ds, skipped := e.Handle(Event{Type: InstanceDown, Instance: "p-1"}, View{Serving: 2}, t0); len(ds) != 0 || !strings.Contains(skipped[0].Result, "below minAvailable 2") {
		t.Fatalf("%+v %+v", ds, skipped)
	}
	ds, _ := e.Handle(Event{Type: InstanceDown, Instance: "p-1"}, View{Serving: 4}, t0)
	// maxConcurrent 1: a second repair waits.
	if more, skipped := e.Handle(Event{Type: InstanceDown, Instance: "p-2"}, View{Serving: 4}, t0); len(more) != 0 || !strings.Contains(skipped[0].Result, "maxConcurrent 1") {
		t.Fatalf("%+v %+v", more, skipped)
	}
	if _, outs := e.Completed(ds[0].ID, true, t0); len(outs) != 1 || outs[0].Result != "succeeded" {
		t.Fatalf("%+v", outs)
	}
	if more, _ := e.Handle(Event{Type: InstanceDown, Instance: "p-2"}, View{Serving: 4}, t0); len(more) != 1 {
		t.Fatal("a repair after the first completed was refused")
	}
}

func TestIsolateUntilHealthy(t *testing.T) {
	p := seedPolicy()
	p.Subscriptions = []Subscription{{Event: InstanceDown, Action: Isolate, Timeout: time.Second}}
	e := New(p)
	t0 := time.Unix(0, 0)
	ds, _ := e.Handle(Event{Type: InstanceDown, Instance: "p-1"}, View{Serving: 3}, t0)
	e.Completed(ds[0].ID, true, t0)
	if _, d := e.Health("p-1", false, t0); d != nil {
		t.Fatal("rejoined while failing")
	}
	if _, d := e.Health("p-1", true, t0); d == nil || d.Action != Rejoin {
		t.Fatalf("no rejoin once healthy: %+v", d)
	}
}

func TestScaleOnTrippingBreakers(t *testing.T) {
	p := seedPolicy()
	p.Subscriptions = []Subscription{{Event: CircuitBreakerTripped, Action: Scale, Timeout: time.Minute}}
	e := New(p)
	ds, _ := e.Handle(Event{Type: CircuitBreakerTripped, Instance: "gateway-1", Downstream: "payment"}, View{Serving: 1}, time.Unix(0, 0))
	if len(ds) != 1 || ds[0].Action != Scale || ds[0].Downstream != "payment" {
		t.Fatalf("%+v: scale is not held back by minAvailable", ds)
	}
}

// TestRefusedRepairIsRaisedAgain: a repair the rate limit refuses is not
// forgotten: the instance's next failed check raises InstanceDown again
// (threshold 3: checks 1-3 raise it, the 4th raises it again after the
// refusal), while an instance whose repair is in progress is not raised
// twice.
func TestRefusedRepairIsRaisedAgain(t *testing.T) {
	e := New(seedPolicy()) // threshold 3, minAvailable 2
	t0 := time.Unix(0, 0)
	var ev *Event
	for i := 0; i < 3; i++ {
		ev, _ = e.Health("p-1", false, t0)
	}
	if ev == nil {
		t.Fatal("no InstanceDown at the third failure")
	}
	// Two serving (p-1 among them): restarting it would leave one.
	if ds, skipped := e.Handle(*ev, View{Serving: 2}, t0); len(ds) != 0 || len(skipped) != 1 {
		t.Fatalf("%+v %+v", ds, skipped)
	}
	ev, _ = e.Health("p-1", false, t0.Add(5*time.Second))
	if ev == nil {
		t.Fatal("the refused instance was not raised again at its next failure")
	}
	ds, _ := e.Handle(*ev, View{Serving: 3}, t0.Add(5*time.Second))
	if len(ds) != 1 {
		t.Fatalf("with 3 serving the restart should start: %+v", ds)
	}
	if again, _ := e.Health("p-1", false, t0.Add(10*time.Second)); again != nil {
		t.Fatal("raised again while its restart is in progress")
	}
}

// TestTargetAlreadyOut: an instance Kubernetes already took out of the
// endpoints costs nothing to restart: with 2 serving and minAvailable 2
// the restart of a third, not serving, is allowed; of a serving one, not.
func TestTargetAlreadyOut(t *testing.T) {
	p := seedPolicy()
	p.RateLimit.MinAvailable = 2
	e := New(p)
	t0 := time.Unix(0, 0)
	if ds, _ := e.Handle(Event{Type: InstanceDown, Instance: "p-3"}, View{Serving: 2, TargetOut: true}, t0); len(ds) != 1 {
		t.Fatalf("restart of an instance out of the endpoints refused: %+v", ds)
	}
	e2 := New(p)
	if ds, _ := e2.Handle(Event{Type: InstanceDown, Instance: "p-2"}, View{Serving: 2}, t0); len(ds) != 0 {
		t.Fatalf("restart of a serving instance allowed with 2 serving and minAvailable 2: %+v", ds)
	}
}
