package sim

import "time"

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
// probe timeout) with the earliest head among them kept at hand: the run
// loop asks for the next deadline on every event, and peeking each queue
// each time cost more than the deadlines themselves. A queue's head
// changes only when it is popped or pushed while empty, so only then is
// the earliest head looked for again. At equal times the queue added
// first goes first, as a scan of the queues in order would have it.
type fifoSet struct {
	queues []*fifo
	next   *fifo // the queue with the earliest head; nil when all are empty
}

// add adds an empty queue to the set.
func (s *fifoSet) add(q *fifo) {
	q.idx = len(s.queues)
	s.queues = append(s.queues, q)
}

// push pushes r, due at, onto q, one of the set's queues.
func (s *fifoSet) push(q *fifo, at time.Duration, r hopRef) {
	q.push(at, r)
	if len(q.items)-q.head != 1 {
		return // q was not empty: its head is unchanged
	}
	if s.next == nil {
		s.next = q
		return
	}
	if nt, _ := s.next.peek(); at < nt || (at == nt && q.idx < s.next.idx) {
		s.next = q
	}
}

// peek is the earliest deadline.
func (s *fifoSet) peek() (time.Duration, bool) {
	if s.next == nil {
		return 0, false
	}
	return s.next.peek()
}

// pop removes the earliest deadline (there must be one).
func (s *fifoSet) pop() hopRef {
	r := s.next.pop()
	s.next = nil
	var t time.Duration
	for _, q := range s.queues {
		if qt, ok := q.peek(); ok && (s.next == nil || qt < t) {
			s.next, t = q, qt
		}
	}
	return r
}

// rebase shifts every time by -d (which keeps their order).
func (s *fifoSet) rebase(d time.Duration) {
	for _, q := range s.queues {
		q.rebase(d)
	}
}
