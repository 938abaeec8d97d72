package sim

import (
	"math/bits"
	"time"
)

// serverQueue orders the servers that have work by their next event, and
// servers due at the same time by their number: a strict total order, so
// the server that comes out first does not depend on how the queue is
// laid out. It is the hottest structure of a run: two updates per
// request a server serves, and a look at the earliest on every event.
//
// A binary heap spent most of that on branches it could not predict, one
// a level, on every update. Next events are mostly milliseconds ahead, so
// the queue is a timing wheel: 4,096 slots of 65.5 µs reaching 268 ms
// past now, each slot a doubly linked list of its servers (by server
// number) and a bit in a bitmap of the slots in use. An update unlinks the
// server and links it into its new slot, in a few writes; the earliest is
// found, when it is asked for and not known, at the first slot in use
// from now's on (a bitmap scan) as the least (time, number) of its list.
// The wheel never holds a time that slots could confuse: every queued
// time is at or after now (events are handled in time order), and one
// reaching past the wheel when queued goes to a heap of far servers
// instead (far), which the earliest is also compared with.
//
// Nor does a slot hold more than slotCrowd servers: the rest of them go
// to the far heap too. Servers crowd a slot when their events fall due
// together (a kubelet's probes of hundreds of pods started together, all
// answered at once), and finding the earliest of n servers in one slot,
// n times as they are served, would take n²/2 steps (the large run spent
// a fifth of its time so: lists of 700 walked 100,000 times).
type serverQueue struct {
	servers []*server // by server number (every pod's, gone or not, as the timeline keeps every pod)
	// By server number: its next event, slot and neighbours, in one
	// entry so that an update reads one place (and checks one bound).
	ent []wheelEntry

	slots   [wheelSlots]wheelSlot
	used    [wheelWords]uint64 // slots whose list is not empty
	inWheel int                // servers on the wheel
	far     serverHeap

	// The earliest server (-1: none), when known, with its time and
	// server at hand: the run loop peeks on every event.
	minKnown bool
	min      int32
	minAt    time.Duration
	minSrv   *server
}

// wheelSlot is a slot's list: its first server (number + 1; 0: none) and
// how many it holds, side by side as an update reads both.
type wheelSlot struct{ head, size int32 }

// wheelEntry is a server's place in the queue.
type wheelEntry struct {
	at   time.Duration // its next event, when queued
	slot int32         // its slot, or inFar, notQueued
	// its neighbours in the slot's list (server number + 1; 0: none)
	prev, next int32
}

const (
	wheelShift = 16 // a slot spans 2^16 ns
	wheelSlots = 4096
	wheelWords = wheelSlots / 64
	slotCrowd  = 16 // the most servers a slot holds

	notQueued = -1
	inFar     = -2
)

// add numbers a new server, not yet queued.
func (q *serverQueue) add(s *server) {
	s.id = int32(len(q.servers))
	q.servers = append(q.servers, s)
	q.ent = append(q.ent, wheelEntry{slot: notQueued})
	q.far.pos = append(q.far.pos, -1)
}

// peek is the server with the earliest next event; now is the current
// time (no queued event is before it).
func (q *serverQueue) peek(now time.Duration) (time.Duration, *server, bool) {
	if !q.minKnown {
		q.findMin(now)
	}
	return q.minAt, q.minSrv, q.min >= 0
}

// setMin makes server id, due at, the earliest.
func (q *serverQueue) setMin(id int32, at time.Duration) {
	q.min, q.minAt, q.minSrv = id, at, q.servers[id]
}

// findMin finds the earliest server.
func (q *serverQueue) findMin(now time.Duration) {
	q.min, q.minKnown, q.minAt, q.minSrv = -1, true, 0, nil
	best := queuedServer{}
	if now >= 0 && q.inWheel > 0 {
		start := uint(now>>wheelShift) & (wheelSlots - 1)
		w := start >> 6
		used := q.used[w] >> (start & 63) << (start & 63)
		for k := 0; ; k++ {
			if used != 0 {
				sl := w<<6 | uint(bits.TrailingZeros64(used))
				for id := q.slots[sl].head - 1; id >= 0; {
					e := &q.ent[id]
					if c := (queuedServer{e.at, id}); q.min < 0 || c.before(best) {
						q.min, best = id, c
					}
					id = e.next - 1
				}
				break
			}
			if k == wheelWords {
				break
			}
			w = (w + 1) & (wheelWords - 1)
			used = q.used[w]
			if k == wheelWords-1 {
				// Back at the first word: only the slots before start.
				used &= 1<<(start&63) - 1
			}
		}
	}
	if len(q.far.heap) > 0 && (q.min < 0 || q.far.heap[0].before(best)) {
		best = q.far.heap[0]
		q.min = best.id
	}
	if q.min >= 0 {
		q.setMin(q.min, best.next)
	}
}

// update places s by its next event, or removes it when it has none; now
// is the current time (next is not before it). It is the queue's hot
// path, two calls per request served: taking the server off its slot's
// list and putting it on its new one are written out here, and only the
// far heap's cases are calls.
func (q *serverQueue) update(s *server, t time.Duration, has bool, now time.Duration) {
	id := s.id
	e := &q.ent[id]
	switch sl := e.slot; {
	case sl >= 0:
		p, n := e.prev, e.next
		if p != 0 {
			q.ent[p-1].next = n
		} else if q.slots[sl].head = n; n == 0 {
			q.used[sl>>6] &^= 1 << (sl & 63)
		}
		if n != 0 {
			q.ent[n-1].prev = p
		}
		q.slots[sl].size--
		q.inWheel--
		e.slot = notQueued
		if q.min == id {
			q.minKnown = false
		}
	case sl == inFar:
		q.remove(id)
	}
	if !has {
		return
	}
	e.at = t
	if sl := int32(t>>wheelShift) & (wheelSlots - 1); now >= 0 && t >= now && t>>wheelShift-now>>wheelShift < wheelSlots && q.slots[sl].size < slotCrowd {
		e.slot = sl
		h := q.slots[sl].head
		e.prev, e.next = 0, h
		if h != 0 {
			q.ent[h-1].prev = id + 1
		}
		q.slots[sl].head = id + 1
		q.used[sl>>6] |= 1 << (sl & 63)
		q.slots[sl].size++
		q.inWheel++
	} else {
		e.slot = inFar
		q.far.update(id, t, true)
	}
	if q.minKnown && (q.min < 0 || (queuedServer{t, id}).before(queuedServer{q.minAt, q.min})) {
		q.setMin(id, t)
	}
}

// remove takes server id off the queue.
func (q *serverQueue) remove(id int32) {
	if q.ent[id].slot == inFar {
		q.far.update(id, 0, false)
		q.ent[id].slot = notQueued
		if q.min == id {
			q.minKnown = false
		}
		return
	}
	q.update(q.servers[id], 0, false, 0)
}

// rebase shifts every time by -d (which keeps their order); now becomes
// 0.
func (q *serverQueue) rebase(d time.Duration) {
	for id, s := range q.servers {
		if q.ent[id].slot == notQueued {
			continue
		}
		t := q.ent[id].at
		q.remove(int32(id))
		q.update(s, t-d, true, 0)
	}
	q.minKnown = false
}
