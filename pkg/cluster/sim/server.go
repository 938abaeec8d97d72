package sim

import (
	"math"
	"time"
)

// server is one pod's HTTP server as a processor-sharing queue: every
// request in flight gets an equal share of the pod's CPU, and one request
// can use at most one core (a request is served by one goroutine). This is
// the M/G/1-PS (or M/G/c-PS for more than one core) model; its mean
// response time is insensitive to the service-time distribution, which is
// what makes it checkable against queueing results.
//
// Instead of updating every request's remaining work on each arrival, the
// server keeps the attained service v that every request in flight has
// received; a request arriving when the attained service is v0 with work w
// completes when v reaches v0+w. Requests are therefore kept in a min-heap
// by finish value. Deadlines are not the server's business: a request
// whose caller gave up is cancelled (cancel), and dropped from the heap
// lazily.
type server struct {
	pod      *pod
	capacity float64 // cores it may use now: its limit, or its share of a busy node (cpu.go)
	v        float64 // attained service per request in flight, core-seconds
	last     time.Duration
	live     int     // requests in flight
	cpu      float64 // CPU used so far, core-seconds
	// stress are the CPU stressors running in the pod's cgroup, and
	// stressWant the cores they want together (stress.go).
	stress     []*stressor
	stressWant float64

	jobs []job
	free []int32
	heap []int32 // by finish

	// idx is its position in the world's server heap (-1 when absent).
	idx int
}

type job struct {
	finish float64
	hop    int32 // the request (world.hops index)
	done   bool  // cancelled; still in the heap
}

// rate is the service rate of each request in flight, in cores.
func (s *server) rate() float64 {
	if s.live == 0 {
		return 0
	}
	if s.stress != nil {
		r, _ := s.stressShares()
		return r
	}
	return min(1, s.capacity/float64(s.live))
}

// advance moves the server's accounting to now.
func (s *server) advance(now time.Duration) {
	if now <= s.last {
		return
	}
	if s.stress != nil {
		dt := seconds(now - s.last)
		r, stress := s.stressShares()
		s.v += r * dt
		s.cpu += (r*float64(s.live) + stress) * dt
	} else if s.live > 0 {
		dt := seconds(now - s.last)
		r := s.rate()
		s.v += r * dt
		s.cpu += r * float64(s.live) * dt
	}
	s.last = now
}

// seconds is d.Seconds(), bit for bit, with the common case of an
// interval under a second as one division: Seconds computes
// float64(d/Second) + float64(d%Second)/1e9, which for 0 ≤ d < 1s is
// 0 + float64(d)/1e9, exactly float64(d)/1e9.
func seconds(d time.Duration) float64 {
	if 0 <= d && d < time.Second {
		return float64(d) / 1e9
	}
	return d.Seconds()
}

// add starts request hop needing work core-seconds (after advance) and
// returns its job index.
func (s *server) add(hop int32, work float64) int32 {
	i := takeSlot(&s.jobs, &s.free)
	s.jobs[i] = job{finish: s.v + work, hop: hop}
	s.live++
	s.heapPush(i)
	return i
}

// cancel stops job i (after advance): the caller went away.
func (s *server) cancel(i int32) {
	if !s.jobs[i].done {
		s.jobs[i].done = true
		s.live--
	}
}

// finishEpsilon absorbs float rounding when a completion is due exactly now.
const finishEpsilon = 1e-12

// popCompleted returns the request of the next job completed by now, if
// any.
func (s *server) popCompleted() (int32, bool) {
	for len(s.heap) > 0 {
		i := s.heap[0]
		j := &s.jobs[i]
		if j.done {
			s.heapPop()
			s.free = append(s.free, i)
			continue
		}
		if j.finish > s.v+finishEpsilon {
			return 0, false
		}
		s.heapPop()
		s.live--
		s.free = append(s.free, i)
		return j.hop, true
	}
	return 0, false
}

// drain empties the server (the pod was killed) and returns the requests
// that were in flight.
func (s *server) drain() []int32 {
	var out []int32
	for _, i := range s.heap {
		if !s.jobs[i].done {
			out = append(out, s.jobs[i].hop)
		}
	}
	s.jobs, s.free, s.heap, s.live = nil, nil, nil, 0
	return out
}

// nextEvent is the time of the next completion, if any.
func (s *server) nextEvent() (time.Duration, bool) {
	for len(s.heap) > 0 && s.jobs[s.heap[0]].done {
		i := s.heapPop()
		s.free = append(s.free, i)
	}
	if s.live == 0 || len(s.heap) == 0 {
		return 0, false
	}
	remaining := (s.jobs[s.heap[0]].finish - s.v) / s.rate()
	// Round up so that the completion is due when the event fires.
	return s.last + time.Duration(math.Ceil(max(remaining, 0)*1e9)), true
}

func (s *server) heapLess(a, b int32) bool { return s.jobs[a].finish < s.jobs[b].finish }

func (s *server) heapPush(i int32) {
	s.heap = append(s.heap, i)
	k := len(s.heap) - 1
	for k > 0 {
		p := (k - 1) / 2
		if !s.heapLess(s.heap[k], s.heap[p]) {
			break
		}
		s.heap[k], s.heap[p] = s.heap[p], s.heap[k]
		k = p
	}
}

func (s *server) heapPop() int32 {
	top := s.heap[0]
	n := len(s.heap) - 1
	s.heap[0] = s.heap[n]
	s.heap = s.heap[:n]
	k := 0
	for {
		l, r, m := 2*k+1, 2*k+2, k
		if l < n && s.heapLess(s.heap[l], s.heap[m]) {
			m = l
		}
		if r < n && s.heapLess(s.heap[r], s.heap[m]) {
			m = r
		}
		if m == k {
			break
		}
		s.heap[k], s.heap[m] = s.heap[m], s.heap[k]
		k = m
	}
	return top
}

// serverQueue orders the servers that have work by their next event; it is
// an indexed heap so that a server's position can be updated in place.
// Each entry carries its server's next-event time beside the pointer, so
// that comparisons, the heap's most frequent operation, read the heap's
// own array and not a server each.
type serverQueue []queuedServer

type queuedServer struct {
	next time.Duration
	s    *server
}

func (q serverQueue) less(i, j int) bool { return q[i].next < q[j].next }

func (q serverQueue) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].s.idx, q[j].s.idx = i, j
}

func (q *serverQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.swap(i, p)
		i = p
	}
}

func (q *serverQueue) down(i int) {
	n := len(*q)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		q.swap(i, m)
		i = m
	}
}

// update places s by its next event, or removes it when it has none.
func (q *serverQueue) update(s *server, next time.Duration, has bool) {
	switch {
	case has && s.idx < 0:
		s.idx = len(*q)
		*q = append(*q, queuedServer{next, s})
		q.up(s.idx)
	case has:
		e := &(*q)[s.idx]
		old := e.next
		e.next = next
		if next < old {
			q.up(s.idx)
		} else {
			q.down(s.idx)
		}
	case s.idx >= 0:
		i := s.idx
		last := len(*q) - 1
		q.swap(i, last)
		(*q)[last] = queuedServer{}
		*q = (*q)[:last]
		s.idx = -1
		if i < last {
			q.down(i)
			q.up(i)
		}
	}
}
