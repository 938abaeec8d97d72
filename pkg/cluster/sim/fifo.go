package sim

import "time"

// fifo holds timed hop references pushed in time order: the deadlines of
// one fixed timeout, or the network delay of calls. Pushing at virtual
// time now with a fixed offset keeps it sorted, so a slice with a head
// index serves where a heap would cost a logarithm per request.
type fifo struct {
	items []timed
	head  int
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
