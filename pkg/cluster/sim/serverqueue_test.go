package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestServerQueueOrder: through random updates, removals, far times
// (beyond the wheel), times due now and a rebase, the queue always gives
// the server with the least (next event, number), as a scan of every
// server does.
func TestServerQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var q serverQueue
	srvs := make([]*server, 300)
	for i := range srvs {
		srvs[i] = &server{}
		q.add(srvs[i])
	}
	queued := map[int32]time.Duration{}
	now := time.Duration(0)
	maxQueued, farSeen := 0, 0
	want := func() (time.Duration, int32, bool) {
		best, id, ok := time.Duration(0), int32(-1), false
		for i, at := range queued {
			if !ok || at < best || (at == best && i < id) {
				best, id, ok = at, i, true
			}
		}
		return best, id, ok
	}
	for step := 0; step < 200000; step++ {
		s := srvs[rng.IntN(len(srvs))]
		switch r := rng.IntN(10); {
		case r < 2:
			q.update(s, 0, false, now)
			delete(queued, s.id)
		default:
			var ahead time.Duration
			switch rng.IntN(4) {
			case 0:
				ahead = 0 // due now: ties
			case 1:
				ahead = time.Duration(rng.Int64N(int64(2 * time.Second))) // often past the wheel
			default:
				ahead = time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
			}
			q.update(s, now+ahead, true, now)
			queued[s.id] = now + ahead
		}
		if step == 100000 {
			// The rollout's end: every time shifts so that now is 0.
			q.rebase(now)
			for id := range queued {
				queued[id] -= now
			}
			now = 0
		}
		if len(queued) > maxQueued {
			maxQueued = len(queued)
		}
		if len(q.far.heap) > 0 {
			farSeen++
		}
		at, srv, ok := q.peek(now)
		wat, wid, wok := want()
		if ok != wok || (ok && (at != wat || srv.id != wid)) {
			t.Fatalf("step %d: peek %v %v %v, want %v server %d %v", step, at, srv, ok, wat, wid, wok)
		}
		if ok && rng.IntN(3) == 0 {
			now = at // the event is handled: time moves to it
			q.update(srv, 0, false, now)
			delete(queued, srv.id)
		}
	}
	if maxQueued < 100 || farSeen < 1000 {
		t.Fatalf("the test did not exercise the queue: at most %d queued, far servers in %d steps", maxQueued, farSeen)
	}
}

// TestServerQueueCrowdedSlot: a thousand servers due at the same instant
// (a kubelet's probes of pods started together), and a few due a little
// earlier and later in the same slot, come out in (time, number) order as
// they are served one by one; no slot holds more than slotCrowd of them,
// so finding the next one never walks the whole crowd (the rest wait in
// the far heap).
func TestServerQueueCrowdedSlot(t *testing.T) {
	var q serverQueue
	srvs := make([]*server, 1003)
	for i := range srvs {
		srvs[i] = &server{}
		q.add(srvs[i])
	}
	const at = 5 * time.Millisecond
	// Queued in a shuffled order of numbers, as completions come.
	rng := rand.New(rand.NewPCG(5, 6))
	for _, i := range rng.Perm(1000) {
		q.update(srvs[i+3], at, true, 0)
	}
	q.update(srvs[2], at+time.Microsecond, true, 0) // same slot, later
	q.update(srvs[1], at-time.Microsecond, true, 0) // same slot, earlier
	q.update(srvs[0], at, true, 0)                  // ties with the crowd, least number
	for sl, slot := range q.slots {
		if n := slot.size; n > slotCrowd {
			t.Fatalf("slot %d holds %d servers, at most %d", sl, n, slotCrowd)
		}
	}
	if len(q.far.heap) < 1000-slotCrowd {
		t.Fatalf("%d servers in the far heap, want the crowd beyond the slot's %d", len(q.far.heap), slotCrowd)
	}
	want := []int32{1, 0}
	for i := 3; i < 1003; i++ {
		want = append(want, int32(i))
	}
	want = append(want, 2)
	now := time.Duration(0)
	for k, w := range want {
		got, srv, ok := q.peek(now)
		if !ok || srv.id != w {
			t.Fatalf("%dth served: server %v at %v (%v), want server %d", k, srv, got, ok, w)
		}
		now = got
		q.update(srv, 0, false, now)
	}
	if _, _, ok := q.peek(now); ok || q.inWheel != 0 || len(q.far.heap) != 0 {
		t.Fatalf("servers left: %d in the wheel, %d far", q.inWheel, len(q.far.heap))
	}
}
