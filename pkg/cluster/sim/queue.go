package sim

import (
	"time"
)

// event is a control-plane event: a closure due at a virtual time, or,
// without one, a request or answer held by the network (hop) reaching the
// end of its delay. Ties run in the order they were scheduled (seq),
// which keeps runs deterministic. Held packets carry their hop instead
// of a closure, as a network delay holds every request it applies to:
// a closure each was an allocation per request.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
	hop hopRef
}

// eventQueue orders control-plane events by (at, seq), a strict order, in
// a binary min-heap written out for its one element type. container/heap
// would serve, but it boxes every event pushed into an interface (an
// allocation each) and calls Less and Swap through one: a large run's
// kubelets and controllers push millions of events (thousands of pods
// probed every few seconds), and container/heap took a twentieth of its
// time. Sifts move a hole and write the sifted event once.
type eventQueue struct {
	items []event
	seq   uint64
}

// before is the queue's order.
func (e *event) before(o *event) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

func (q *eventQueue) push(at time.Duration, fn func()) {
	q.pushEvent(event{at: at, fn: fn})
}

// pushHeld schedules the end of hop r's delay in the network.
func (q *eventQueue) pushHeld(at time.Duration, r hopRef) {
	q.pushEvent(event{at: at, hop: r})
}

func (q *eventQueue) pushEvent(e event) {
	q.seq++
	e.seq = q.seq
	h := append(q.items, event{})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	q.items = h
}

func (q *eventQueue) peek() (time.Duration, bool) {
	if len(q.items) == 0 {
		return 0, false
	}
	return q.items[0].at, true
}

// pop takes the earliest event off the queue (there must be one).
func (q *eventQueue) pop() event {
	h := q.items
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = event{} // no reference left to its closure
	h = h[:n]
	if n > 0 {
		i := 0
		for {
			m := 2*i + 1
			if m >= n {
				break
			}
			if r := m + 1; r < n && h[r].before(&h[m]) {
				m = r
			}
			if !h[m].before(&last) {
				break
			}
			h[i] = h[m]
			i = m
		}
		h[i] = last
	}
	q.items = h
	return top
}
