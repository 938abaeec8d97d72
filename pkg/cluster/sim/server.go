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
	// r is rate(), kept by setRate whenever live, capacity or the
	// stressors change: advance and nextEvent read it on every event,
	// and its division would be on the way to every next event's time.
	r float64
	// stress are the CPU stressors running in the pod's cgroup, and
	// stressWant the cores they want together (stress.go).
	stress     []*stressor
	stressWant float64

	jobs []job
	free []int32
	heap []int32 // by finish

	// id numbers the server in the world's server queue.
	id int32
	// q is the pod's CPU quota under the Periodic model, nil under the
	// Fluid one (quota.go).
	q *cfsQuota
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
	return s.share()
}

// share is rate without stressors and with requests in flight: a core
// at most, else an equal share of the capacity. A lone request, the
// common case, needs no division (x/1 is x exactly), which would be on
// the way to the server's next event.
func (s *server) share() float64 {
	if s.live == 1 {
		return min(1, s.capacity)
	}
	return min(1, s.capacity/float64(s.live))
}

// setRate updates r after live, capacity or the stressors changed (after
// advance: the time before ran at the old rate). add and popCompleted,
// every request's way in and out, write its common case out: a call
// there would cost more than the share itself.
func (s *server) setRate() { s.r = s.rate() }

// advance moves the server's accounting to now.
func (s *server) advance(now time.Duration) {
	if now <= s.last {
		return
	}
	r, use := s.r, s.r*float64(s.live) // usage()
	if s.stress != nil {
		// usage() with stressors, its division computed once here.
		var stress float64
		r, stress = s.stressShares()
		use = r*float64(s.live) + stress
	}
	if s.q != nil {
		s.q.account(s.last, now, use)
	}
	if s.live > 0 || s.stress != nil {
		dt := seconds(now - s.last)
		s.v += r * dt
		s.cpu += use * dt
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
	if s.stress == nil { // setRate (live > 0)
		s.r = s.share()
	} else {
		s.setRate()
	}
	s.heapPush(i)
	return i
}

// cancel stops job i (after advance): the caller went away.
func (s *server) cancel(i int32) {
	if !s.jobs[i].done {
		s.jobs[i].done = true
		s.live--
		s.setRate()
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
		if s.stress == nil && s.live > 0 { // setRate
			s.r = s.share()
		} else {
			s.setRate()
		}
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
	s.setRate()
	return out
}

// nextEvent is the time of the next completion, if any (or, under a
// periodic quota, of the quota's next change, whichever is first).
func (s *server) nextEvent() (time.Duration, bool) {
	for len(s.heap) > 0 && s.jobs[s.heap[0]].done {
		i := s.heapPop()
		s.free = append(s.free, i)
	}
	if s.q != nil {
		return s.nextEventQuota()
	}
	return s.nextCompletion()
}

// nextCompletion is the time of the next completion at the present rate.
func (s *server) nextCompletion() (time.Duration, bool) {
	if s.live == 0 || len(s.heap) == 0 {
		return 0, false
	}
	return s.last + ceilSeconds((s.jobs[s.heap[0]].finish-s.v)/s.r), true
}

// ceilSeconds is s seconds rounded up to a nanosecond, 0 if negative, so
// that what falls due then is due when its event fires. (Not max(s, 0),
// which orders -0 below +0 and so costs more instructions: a -0 passes
// and gives the same 0ns, and a NaN stays NaN either way.)
func ceilSeconds(s float64) time.Duration {
	if s < 0 {
		return 0
	}
	return time.Duration(math.Ceil(s * 1e9))
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

// serverHeap is the servers whose next event is beyond the wheel's
// reach (serverQueue): a binary min-heap by (next event, server number),
// indexed so that a server's entry can be moved in place when its next
// event changes. Each entry carries its server's next-event time and
// number, so that comparisons read the heap's own array; a server's
// position is kept in pos, by server number; sifts move a hole and write
// the sifted entry once at the end.
type serverHeap struct {
	heap []queuedServer
	pos  []int32 // by server number: its index in heap, -1 when absent
}

type queuedServer struct {
	next time.Duration
	id   int32
}

// before is the queue's order: by next event, then by server number.
func (a queuedServer) before(b queuedServer) bool {
	return a.next < b.next || (a.next == b.next && a.id < b.id)
}

// set puts e at index i.
func (q *serverHeap) set(i int, e queuedServer) {
	q.heap[i] = e
	q.pos[e.id] = int32(i)
}

func (q *serverHeap) up(i int) {
	h := q.heap
	x := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !x.before(h[p]) {
			break
		}
		q.set(i, h[p])
		i = p
	}
	q.set(i, x)
}

func (q *serverHeap) down(i int) {
	h := q.heap
	n := len(h)
	x := h[i]
	for {
		l, r, m, mx := 2*i+1, 2*i+2, i, x
		if l < n && h[l].before(mx) {
			m, mx = l, h[l]
		}
		if r < n && h[r].before(mx) {
			m = r
		}
		if m == i {
			break
		}
		q.set(i, h[m])
		i = m
	}
	q.set(i, x)
}

// update places server id by its next event, or removes it when it has
// none.
func (q *serverHeap) update(id int32, next time.Duration, has bool) {
	i := int(q.pos[id])
	switch {
	case has && i < 0:
		q.heap = append(q.heap, queuedServer{next, id})
		q.up(len(q.heap) - 1)
	case has:
		old := q.heap[i]
		q.heap[i].next = next
		if q.heap[i].before(old) {
			q.up(i)
		} else {
			q.down(i)
		}
	case i >= 0:
		last := len(q.heap) - 1
		q.set(i, q.heap[last])
		q.heap = q.heap[:last]
		q.pos[id] = -1
		if i < last {
			q.down(i)
			q.up(i)
		}
	}
}
