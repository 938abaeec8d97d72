package sim

import (
	"container/heap"
	"time"
)

// event is a control-plane event: a closure due at a virtual time. Ties
// run in the order they were scheduled (seq), which keeps runs
// deterministic.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

// eventQueue orders control-plane events by (at, seq). Control-plane
// events are few (pod lifecycle, scrapes, syncs, samples), so
// container/heap serves; the per-request hot path has its own queues
// (server.go).
type eventQueue struct {
	items eventHeap
	seq   uint64
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*h = old[:len(old)-1]
	return e
}

func (q *eventQueue) push(at time.Duration, fn func()) {
	q.seq++
	heap.Push(&q.items, event{at: at, seq: q.seq, fn: fn})
}

func (q *eventQueue) peek() (time.Duration, bool) {
	if len(q.items) == 0 {
		return 0, false
	}
	return q.items[0].at, true
}

func (q *eventQueue) pop() event { return heap.Pop(&q.items).(event) }
