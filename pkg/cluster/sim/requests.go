package sim

import (
	"time"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// A request is a small call tree: one hop per service request. The hop of
// the entry service is the client's request; each attempt of a downstream
// call is a child hop. Hops live in a slab (world.hops) and are referred
// to by index and generation, so that a reference to a hop that finished
// and whose slot was reused is recognised as stale.

// Hop states.
const (
	hopFree      uint8 = iota
	hopTransit         // a call on its way to the downstream (network time)
	hopWorking         // in its pod's server
	hopCalling         // its own work done, waiting for its calls
	hopFinishing       // being finished: its calls must not report back
	hopLost            // on a machine that stopped, or lost by the network: only its deadline ends it
	hopHeld            // its request held by a network fault on its way to pod (network.go)
	hopReplying        // its answer (reply) held by a network fault on its way back
)

// inFlight marks, at the end of the run, the record of a request that
// has no outcome yet: those are dropped.
const inFlight = time.Duration(-1)

// maxCalls bounds the calls of one service (validated).
const maxCalls = 8

type hop struct {
	gen   uint32
	state uint8
	svc   *service
	pod   *pod
	job   int32 // server job while working, else -1
	// sent is when the caller sent it (the client for the entry hop).
	sent time.Duration
	// rec is the hop's record at its service, reserved when it was sent
	// so that records are in send order without sorting.
	rec      int32
	parent   hopRef // idx -1 for the client's request
	call     int8   // which of the parent's calls this hop is an attempt of
	ticket   reference.Ticket
	degraded bool
	reply    outcome // an answer held by the network
	// connLife is the life of the pod's container the client's
	// keep-alive connection was opened to (keepalive.go).
	connLife int32
	// probe marks a probe (probes.go): no record, no caller. probeTag is
	// the container life a kubelet probe belongs to, or the index of the
	// healer whose health check it is.
	probe    probeKind
	probeTag int
	// pending counts the calls not finished (parallel fan-out).
	pending  int8
	attempts [maxCalls]uint8
	children [maxCalls]hopRef // the attempt in flight of each call (zero: none)
}

type hopRef struct {
	idx int32
	gen uint32
}

var noHop = hopRef{idx: -1}

func (w *world) ref(i int32) hopRef { return hopRef{i, w.hops[i].gen} }

// live returns the hop r refers to, if it is still the same request.
func (w *world) live(r hopRef) (*hop, bool) {
	if r.idx < 0 {
		return nil, false
	}
	h := &w.hops[r.idx]
	return h, h.gen == r.gen && h.state != hopFree
}

// over reports whether the request r referred to is over (its hop freed,
// its slot perhaps reused): a deadline or network delay of it is void.
func (w *world) over(r hopRef) bool {
	_, live := w.live(r)
	return !live
}

// newHop starts a hop of a request to s: the client's (parent noHop) or
// call call of parent. Its record at s is reserved, unless it is a probe
// (newProbeHop), which has none. One function for both, so that every
// request pays one call here.
func (w *world) newHop(s *service, parent hopRef, call int8, record bool) int32 {
	i := takeSlot(&w.hops, &w.freeHops)
	h := &w.hops[i]
	// Cleared, then set field by field: a composite literal would be
	// built aside and copied, twice the work on every request. The
	// cleared children need no noHop: a zero hopRef is never live (a
	// hop's generation is at least 1 once it was allocated), nor any
	// hop's reference.
	gen := h.gen + 1
	*h = hop{}
	h.gen, h.state, h.svc, h.sent, h.parent, h.call, h.job = gen, hopTransit, s, w.now, parent, call, -1
	if !record {
		h.rec = -1
		return i
	}
	// The record's slot is reserved, not written: finishHop writes it
	// once, and finish marks those of requests still in flight. A slot
	// within the capacity reserved at the start is zero until then.
	n := len(s.rec.Requests)
	h.rec = int32(n)
	if n < cap(s.rec.Requests) {
		s.rec.Requests = s.rec.Requests[:n+1]
	} else {
		s.rec.Requests = append(s.rec.Requests, timeline.Request{})
	}
	return i
}

// newProbeHop is a probe of p: no record, no caller.
func (w *world) newProbeHop(p *pod, k probeKind, tag int) int32 {
	i := w.newHop(p.svc, noHop, 0, false)
	h := &w.hops[i]
	h.probe, h.probeTag = k, tag
	return i
}

func (w *world) freeHop(i int32) {
	h := &w.hops[i]
	h.state, h.svc, h.pod, h.probe = hopFree, nil, nil, probeNone
	h.gen++
	w.freeHops = append(w.freeHops, i)
}

// outcome is how a hop ended, in the words of Vegeta's results: one of
// the few the sim gives, by number, its status and error read from the
// tables below.
type outcome uint8

const (
	outcomeOK outcome = iota
	outcomeBadGateway
	outcomeTimeout
	outcomeRefused
	outcomeReset
	outcomeNoEndpoints
	// A hop abandoned by its caller (the caller timed out, failed or was
	// itself abandoned), with the status a server logs for it.
	outcomeCanceled
	outcomes // how many there are
)

var (
	outcomeCode = [outcomes]uint16{outcomeOK: 200, outcomeBadGateway: 502, outcomeCanceled: reference.StatusClientClosed}
	outcomeErr  = [outcomes]string{
		outcomeTimeout:     errTimeout,
		outcomeRefused:     errRefused,
		outcomeReset:       errReset,
		outcomeNoEndpoints: errNoEndpoints,
		outcomeCanceled:    errCanceled,
	}
)

func (o outcome) code() uint16 { return outcomeCode[o] }
func (o outcome) err() string  { return outcomeErr[o] }

// ok: a status 2xx or 3xx and no error, which of the sim's outcomes only
// outcomeOK is.
func (o outcome) ok() bool { return o == outcomeOK }

// arrive sends one client request to the entry service.
func (w *world) arrive() {
	i := w.newHop(w.entry, noHop, 0, true)
	w.deadlines.push(w.clientDeadlines, w.now+w.clientTimeout, w.ref(i))
	w.deliver(i)
}

// deliver routes a hop to one of its service's endpoints, as kube-proxy in
// iptables mode does: uniformly at random.
func (w *world) deliver(i int32) {
	h := &w.hops[i]
	s := h.svc
	var p *pod
	if w.keepAlive && h.parent.idx < 0 {
		// The client's request: on a kept connection (keepalive.go).
		p = w.takeConn(i)
	} else if len(s.lb) > 0 {
		p = s.lb[w.rng.IntN(len(s.lb))]
	}
	if p == nil {
		w.finishHop(i, outcomeNoEndpoints)
		return
	}
	if len(w.netFaults) > 0 && w.holdRequest(i, p) {
		return
	}
	w.reach(i, p)
}

// reach is hop i's request reaching pod p.
func (w *world) reach(i int32, p *pod) {
	h := &w.hops[i]
	if (p.node != nil && p.node.down) || p.hung {
		// A dead host (or a hung application) answers nothing: the
		// request hangs until its caller's deadline.
		h.pod, h.state = p, hopLost
		return
	}
	if p.gone || p.appDown {
		// Killed (or its application down), but the endpoint removal has
		// not reached kube-proxy: nothing listens.
		w.finishHop(i, outcomeRefused)
		return
	}
	if h.probe != probeNone {
		w.startWork(p, i, probeWork)
		return
	}
	s := h.svc
	work := s.work
	if !s.constantWork {
		work *= w.rng.ExpFloat64()
	}
	w.startWork(p, i, work)
}

// startWork puts hop i's work (core-seconds) on pod p's server.
func (w *world) startWork(p *pod, i int32, work float64) {
	h := &w.hops[i]
	h.pod, h.state = p, hopWorking
	srv := &p.srv
	srv.advance(w.now)
	h.job = srv.add(i, work)
	w.cpuChanged(p)
	// reschedule, written out here and in serveEvents: the two are every
	// request's way through the server queue, and the call between
	// costs a sixth of what the update does.
	next, has := srv.nextEvent()
	w.servers.update(srv, next, has, w.now)
}

// reschedule places srv in the server queue by its next completion.
func (w *world) reschedule(srv *server) {
	next, has := srv.nextEvent()
	w.servers.update(srv, next, has, w.now)
}

// serveEvents handles the completions due on srv now.
func (w *world) serveEvents(srv *server) {
	srv.advance(w.now)
	if srv.q != nil {
		w.quotaTick(srv.pod)
	}
	// An empty job heap has no completion and no next event (but a
	// quota's, quota.go): most servers empty with the one completion
	// they had, and the two calls that would find that out cost about 2%
	// of a run.
	for len(srv.heap) > 0 {
		i, ok := srv.popCompleted()
		if !ok {
			break
		}
		w.workDone(i)
	}
	w.cpuChanged(srv.pod)
	var next time.Duration
	has := false
	if len(srv.heap) > 0 || srv.q != nil {
		next, has = srv.nextEvent() // reschedule (see startWork)
	}
	w.servers.update(srv, next, has, w.now)
}

// workDone moves a hop whose own work is done on to its calls.
func (w *world) workDone(i int32) {
	h := &w.hops[i]
	h.job = -1
	s := h.svc
	if len(s.calls) == 0 || h.probe != probeNone {
		w.finishHop(i, outcomeOK)
		return
	}
	h.state = hopCalling
	if s.sequential {
		w.dispatch(i, 0)
		return
	}
	h.pending = int8(len(s.calls))
	gen := h.gen
	for c := range s.calls {
		if hh := &w.hops[i]; hh.gen != gen || hh.state != hopCalling {
			return // a call failed with no fallback: the hop is over
		}
		w.dispatch(i, int8(c))
	}
}

// dispatch makes one attempt of call c of hop i, through its pod's
// breaker for that call.
func (w *world) dispatch(i int32, c int8) {
	h := &w.hops[i]
	cs := &h.svc.calls[c]
	var ticket reference.Ticket
	if b := h.pod.breakers[c]; b != nil {
		t, err := b.Allow()
		if err != nil {
			// Rejected without being sent: no retry, the fallback answers.
			w.callFailed(i, c)
			return
		}
		ticket = t
	}
	h.attempts[c]++
	j := w.newHop(cs.target, hopRef{i, h.gen}, c, true)
	// The new hop's reference, read once: each w.ref(j) after a store
	// into w.hops would read its generation again.
	hj := &w.hops[j]
	hj.ticket = ticket
	r := hopRef{j, hj.gen}
	w.hops[i].children[c] = r // (newHop may have moved the slab: not h)
	w.deadlines.push(cs.deadlines, w.now+cs.timeout, r)
	w.network.push(w.now+networkRTT, r)
}

// arrived is the end of a call's network time.
func (w *world) arrived(r hopRef) {
	if h, ok := w.live(r); ok && h.state == hopTransit {
		w.deliver(r.idx)
	}
}

// expired is a hop's deadline: its caller gives up on it.
func (w *world) expired(r hopRef) {
	if _, ok := w.live(r); ok {
		w.finishHop(r.idx, outcomeTimeout)
	}
}

// finishHop ends hop i: it records the outcome at its service, abandons
// its calls still in flight and reports to its caller.
func (w *world) finishHop(i int32, o outcome) {
	if len(w.netFaults) > 0 && w.holdReply(i, o) {
		return
	}
	h := &w.hops[i]
	if h.probe != probeNone {
		p, k, tag := h.pod, h.probe, h.probeTag
		w.stopHop(i)
		w.freeHop(i)
		if k == probeHealth {
			w.healthResult(tag, p, o.ok())
		} else {
			w.probeResult(p, k, tag, o.ok())
		}
		return
	}
	latency := w.now - h.sent
	if h.parent.idx < 0 {
		// The client's view: plus the round trip to the entry service; a
		// timeout is the client's deadline.
		latency += networkRTT
		if o == outcomeTimeout {
			latency = w.clientTimeout
		}
	}
	h.svc.rec.Requests[h.rec] = timeline.NewRequest(h.sent, latency, o.code(), w.tl.ErrorKind(o.err()), h.degraded && o.ok())
	if h.parent.idx < 0 {
		w.progressDone(latency, o.ok())
		if w.keepAlive {
			w.putConn(h.pod, h.connLife, o)
		}
	}
	if h.state == hopWorking && h.job < 0 {
		// stopHop's whole work for a hop whose own work is done and
		// that made no calls (most hops), without the call.
		h.state = hopFinishing
	} else {
		w.stopHop(i)
		h = &w.hops[i]
	}
	parentRef, call, degraded, ticket := h.parent, h.call, h.degraded, h.ticket
	self := w.ref(i)
	w.freeHop(i)
	p, ok := w.live(parentRef)
	if !ok || p.state != hopCalling || p.children[call] != self {
		return
	}
	p.children[call] = noHop
	if b := p.pod.breakers[call]; b != nil {
		if o.ok() {
			b.Done(ticket, reference.Success)
		} else {
			b.Done(ticket, reference.Failure)
		}
	}
	if !o.ok() {
		if int(p.attempts[call]) <= int(p.svc.calls[call].retries) {
			w.dispatch(parentRef.idx, call)
		} else {
			w.callFailed(parentRef.idx, call)
		}
		return
	}
	p.degraded = p.degraded || degraded
	w.callDone(parentRef.idx, call)
}

// callFailed applies call c's fallback: static answers it (the request is
// degraded), none fails hop i with a 502.
func (w *world) callFailed(i int32, c int8) {
	h := &w.hops[i]
	if !h.svc.calls[c].fallback {
		w.finishHop(i, outcomeBadGateway)
		return
	}
	h.degraded = true
	w.callDone(i, c)
}

// callDone moves hop i on after call c finished (answered or fallen
// back).
func (w *world) callDone(i int32, c int8) {
	h := &w.hops[i]
	if h.svc.sequential {
		if int(c)+1 < len(h.svc.calls) {
			w.dispatch(i, c+1)
			return
		}
	} else if h.pending--; h.pending > 0 {
		return
	}
	w.finishHop(i, outcomeOK)
}

// stopHop takes a finishing hop out of its server and abandons its calls
// in flight (each recorded as canceled at its service).
func (w *world) stopHop(i int32) {
	h := &w.hops[i]
	switch h.state {
	case hopWorking:
		if h.job >= 0 {
			srv := &h.pod.srv
			srv.advance(w.now)
			srv.cancel(h.job)
			h.job = -1
			w.cpuChanged(h.pod)
			w.reschedule(srv)
		}
	case hopCalling:
		h.state = hopFinishing
		n := len(h.svc.calls)
		for c := 0; c < n; c++ {
			h = &w.hops[i]
			r := h.children[c]
			ch, ok := w.live(r)
			if !ok {
				continue
			}
			if b := h.pod.breakers[c]; b != nil {
				b.Done(ch.ticket, reference.Excluded)
			}
			w.finishHop(r.idx, outcomeCanceled)
		}
	}
	w.hops[i].state = hopFinishing
}

// killHops ends every request on pod p: those in its server and those
// waiting for their calls (their connections are reset).
func (w *world) killHops(p *pod) {
	for _, i := range w.hopsOn(p) {
		w.finishHop(i, outcomeReset)
	}
	if p.node != nil && p.node.down {
		return
	}
	// Requests that hung on the process (PodHang) are reset with it: the
	// kernel closes its connections.
	for i := range w.hops {
		if h := &w.hops[i]; h.pod == p && h.state == hopLost {
			w.finishHop(int32(i), outcomeReset)
		}
	}
}

// hopsOn empties p's server and returns the requests on p: in its server
// or waiting for their calls.
func (w *world) hopsOn(p *pod) []int32 {
	p.srv.advance(w.now)
	for _, i := range p.srv.drain() {
		w.hops[i].job = -1
	}
	w.servers.update(&p.srv, 0, false, w.now)
	w.cpuChanged(p)
	var out []int32
	for i := range w.hops {
		h := &w.hops[i]
		if h.pod == p && (h.state == hopWorking || h.state == hopCalling) {
			out = append(out, int32(i))
		}
	}
	return out
}
