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
