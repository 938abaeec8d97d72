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
type serverQueue struct {
	servers []*server // by server number (every pod's, gone or not, as the timeline keeps every pod)
	// By server number: its next event when queued, its slot (or inFar,
	// notQueued), and its neighbours in the slot's list (server number +
	// 1; 0: none).
	at         []time.Duration
	slot       []int32
	prev, next []int32

	head    [wheelSlots]int32  // each slot's first server (number + 1; 0: none)
	used    [wheelWords]uint64 // slots whose list is not empty
	inWheel int                // servers on the wheel
	far     serverHeap

	// The earliest server (-1: none), when known.
	minKnown bool
	min      int32
}

const (
	wheelShift = 16 // a slot spans 2^16 ns
	wheelSlots = 4096
	wheelWords = wheelSlots / 64

	notQueued = -1
	inFar     = -2
)

// add numbers a new server, not yet queued.
func (q *serverQueue) add(s *server) {
	s.id = int32(len(q.servers))
	q.servers = append(q.servers, s)
	q.at = append(q.at, 0)
	q.slot = append(q.slot, notQueued)
	q.prev = append(q.prev, 0)
	q.next = append(q.next, 0)
	q.far.pos = append(q.far.pos, -1)
}

// peek is the server with the earliest next event; now is the current
// time (no queued event is before it).
func (q *serverQueue) peek(now time.Duration) (time.Duration, *server, bool) {
	if !q.minKnown {
		q.findMin(now)
	}
	if q.min < 0 {
		return 0, nil, false
	}
	return q.at[q.min], q.servers[q.min], true
}

// findMin finds the earliest server.
func (q *serverQueue) findMin(now time.Duration) {
	q.min, q.minKnown = -1, true
	best := queuedServer{}
	if now >= 0 && q.inWheel > 0 {
		start := uint(now>>wheelShift) & (wheelSlots - 1)
		w := start >> 6
		used := q.used[w] >> (start & 63) << (start & 63)
		for k := 0; ; k++ {
			if used != 0 {
				sl := w<<6 | uint(bits.TrailingZeros64(used))
				for id := q.head[sl] - 1; id >= 0; id = q.next[id] - 1 {
					if e := (queuedServer{q.at[id], id}); q.min < 0 || e.before(best) {
						q.min, best = id, e
					}
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
		q.min = q.far.heap[0].id
	}
}

// update places s by its next event, or removes it when it has none; now
// is the current time (next is not before it).
func (q *serverQueue) update(s *server, next time.Duration, has bool, now time.Duration) {
	id := s.id
	q.remove(id)
	if has {
		q.insert(id, next, now)
	}
}

func (q *serverQueue) insert(id int32, t, now time.Duration) {
	q.at[id] = t
	if now >= 0 && t >= now && t>>wheelShift-now>>wheelShift < wheelSlots {
		sl := int32(t>>wheelShift) & (wheelSlots - 1)
		q.slot[id] = sl
		h := q.head[sl]
		q.prev[id], q.next[id] = 0, h
		if h != 0 {
			q.prev[h-1] = id + 1
		}
		q.head[sl] = id + 1
		q.used[sl>>6] |= 1 << (sl & 63)
		q.inWheel++
	} else {
		q.slot[id] = inFar
		q.far.update(id, t, true)
	}
	if q.minKnown && (q.min < 0 || (queuedServer{t, id}).before(queuedServer{q.at[q.min], q.min})) {
		q.min = id
	}
}

func (q *serverQueue) remove(id int32) {
	switch sl := q.slot[id]; {
	case sl >= 0:
		p, n := q.prev[id], q.next[id]
		if p != 0 {
			q.next[p-1] = n
		} else if q.head[sl] = n; n == 0 {
			q.used[sl>>6] &^= 1 << (sl & 63)
		}
		if n != 0 {
			q.prev[n-1] = p
		}
		q.inWheel--
	case sl == inFar:
		q.far.update(id, 0, false)
	default:
		return
	}
	q.slot[id] = notQueued
	if q.min == id {
		q.minKnown = false
	}
}

// rebase shifts every time by -d (which keeps their order); now becomes
// 0.
func (q *serverQueue) rebase(d time.Duration) {
	for id := range q.servers {
		if q.slot[id] == notQueued {
			continue
		}
		t := q.at[id]
		q.remove(int32(id))
		q.insert(int32(id), t-d, 0)
	}
	q.minKnown = false
}
