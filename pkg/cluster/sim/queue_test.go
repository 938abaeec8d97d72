package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestEventQueueOrder: events pushed at random times, many of them equal
// (a tie runs in the order it was scheduled), some while others are being
// popped, and some earlier than events already queued, come out in
// (time, order of scheduling): the same order as a stable sort by time of
// every event ever pushed, restricted to those not yet popped.
func TestEventQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var q eventQueue
	type pushed struct {
		at  time.Duration
		tag int
	}
	var pending []pushed // by (at, tag): tags grow in push order
	insert := func(p pushed) {
		i := len(pending)
		for i > 0 && pending[i-1].at > p.at {
			i--
		}
		pending = append(pending, pushed{})
		copy(pending[i+1:], pending[i:])
		pending[i] = p
	}
	now, tag, popped, maxLen := time.Duration(0), 0, 0, 0
	var got int
	for step := 0; step < 100000; step++ {
		if rng.IntN(5) < 3 || len(pending) == 0 {
			// Times on a coarse grid so that ties are common.
			at := now + time.Duration(rng.IntN(50))*time.Millisecond
			tag++
			tg := tag
			q.push(at, func() { got = tg })
			insert(pushed{at, tg})
			maxLen = max(maxLen, len(pending))
			continue
		}
		at, ok := q.peek()
		if !ok || at != pending[0].at {
			t.Fatalf("step %d: peek = %v, %v; want %v", step, at, ok, pending[0].at)
		}
		e := q.pop()
		e.fn()
		if e.at != pending[0].at || got != pending[0].tag {
			t.Fatalf("step %d: popped the event scheduled %dth at %v; want the %dth at %v", step, got, e.at, pending[0].tag, pending[0].at)
		}
		now = e.at
		pending = pending[1:]
		popped++
	}
	if _, ok := q.peek(); ok != (len(pending) > 0) || len(q.items) != len(pending) {
		t.Fatalf("queue holds %d events; want %d", len(q.items), len(pending))
	}
	// The test must have exercised a deep heap and many pops.
	if popped < 30000 || maxLen < 100 {
		t.Fatalf("popped %d, at most %d queued: the test did not exercise the heap", popped, maxLen)
	}
}
