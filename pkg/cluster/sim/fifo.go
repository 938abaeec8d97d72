package sim

import (
	"math"
	"time"
)

// fifo holds timed hop references pushed in time order: the deadlines of
// one fixed timeout, or the network delay of calls. Pushing at virtual
// time now with a fixed offset keeps it sorted, so a slice with a head
// index serves where a heap would cost a logarithm per request.
type fifo struct {
	items []timed
	head  int
	idx   int // its index in its fifoSet, if any
}

type timed struct {
	at time.Duration
	r  hopRef
}

func (q *fifo) push(at time.Duration, r hopRef) { q.items = append(q.items, timed{at, r}) }

func (q *fifo) peek() (time.Duration, bool) {
	if q.head == len(q.items) {
		return 0, false
	}
	return q.items[q.head].at, true
}

func (q *fifo) pop() hopRef {
	r := q.items[q.head].r
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return r
}

// rebase shifts every time by -d.
func (q *fifo) rebase(d time.Duration) {
	for i := q.head; i < len(q.items); i++ {
		q.items[i].at -= d
	}
}

// fifoSet is the deadline queues (the client's, each call's, one per
// probe timeout) with the earliest deadline among them kept at hand: the
// run loop asks for the next deadline on every event. heads mirrors each
// queue's head time (noDeadline when empty) in one small array, so that
// finding the earliest again after a pop reads neither the queues nor
// their items. At equal times the queue added first goes first, as a scan
// of the queues in order would have it.
type fifoSet struct {
	queues []*fifo
	heads  []time.Duration
	// next is 1 + the index of the queue with the earliest head, 0 when
	// all are empty (so that the zero fifoSet is empty).
	next int
}

const noDeadline = time.Duration(math.MaxInt64)

// add adds an empty queue to the set.
func (s *fifoSet) add(q *fifo) {
	q.idx = len(s.queues)
	s.queues = append(s.queues, q)
	s.heads = append(s.heads, noDeadline)
}

// push pushes r, due at, onto q, one of the set's queues.
func (s *fifoSet) push(q *fifo, at time.Duration, r hopRef) {
	q.push(at, r)
	if s.heads[q.idx] != noDeadline {
		return // q was not empty: its head is unchanged
	}
	s.heads[q.idx] = at
	if n := s.next - 1; n < 0 || at < s.heads[n] || (at == s.heads[n] && q.idx < n) {
		s.next = q.idx + 1
	}
}

// peek is the earliest deadline.
func (s *fifoSet) peek() (time.Duration, bool) {
	if s.next == 0 {
		return 0, false
	}
	return s.heads[s.next-1], true
}

// first is the request of the earliest deadline (there must be one).
func (s *fifoSet) first() hopRef {
	q := s.queues[s.next-1]
	return q.items[q.head].r
}

// pop removes the earliest deadline (there must be one).
func (s *fifoSet) pop() hopRef {
	q := s.queues[s.next-1]
	r := q.pop()
	s.headChanged(q)
	return r
}

// dropStale removes the earliest deadline and every one after it in its
// queue up to the first whose request is not over in w: one search for
// the earliest head then serves a whole run of deadlines that need no
// event. (It takes the world rather than a func so that w.over inlines:
// nearly every request's deadline is dropped here.)
func (s *fifoSet) dropStale(w *world) {
	q := s.queues[s.next-1]
	q.pop()
	for q.head < len(q.items) && w.over(q.items[q.head].r) {
		q.pop()
	}
	s.headChanged(q)
}

// headChanged updates heads after q's head was popped and finds the
// earliest head again.
func (s *fifoSet) headChanged(q *fifo) {
	s.heads[q.idx] = noDeadline
	if t, ok := q.peek(); ok {
		s.heads[q.idx] = t
	}
	s.next = 0
	best := noDeadline
	for i, t := range s.heads {
		if t < best {
			s.next, best = i+1, t
		}
	}
}

// rebase shifts every time by -d (which keeps their order).
func (s *fifoSet) rebase(d time.Duration) {
	for i, q := range s.queues {
		q.rebase(d)
		if s.heads[i] != noDeadline {
			s.heads[i] -= d
		}
	}
}
