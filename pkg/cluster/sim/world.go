// Package sim is the simulated cluster: a deterministic discrete-event
// model of nodes, the services' Deployments and pods, the scheduler,
// metrics-server, the HPA controller (package hpa, the Kubernetes
// algorithm itself), the load balancers, the reference services with
// their calls and circuit breakers (package reference), all in virtual
// time. It never reads the wall clock and takes all randomness from one
// seeded PRNG, so the same plan and seed give the same timeline.
package sim

import (
	"context"
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/internal/pcg"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Epoch is the wall-clock instant virtual time 0 stands for in reports and
// in the times the HPA sees. It is fixed so that reports are reproducible.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Errors a client sees, in the words Vegeta's results use.
const (
	errTimeout     = "timeout: client deadline exceeded while awaiting headers"
	errRefused     = "connect: connection refused"
	errReset       = "read: connection reset by peer"
	errNoEndpoints = "connect: connection refused (service has no ready endpoints)"
	errCanceled    = "canceled: the caller gave up"
)

// networkRTT is added to every response: loopback-to-pod round trip in a
// kind-sized cluster.
const networkRTT = 500 * time.Microsecond

// sampleEvery is the timeline's observation interval.
const sampleEvery = time.Second

// Backend is the sim cluster.Backend.
type Backend struct{}

var _ cluster.Backend = Backend{}

// Name implements cluster.Backend.
func (Backend) Name() string { return "sim" }

// Check implements cluster.Backend: what the schema allows but the sim
// does not model yet.
func (Backend) Check(sc *scenario.Scenario) error {
	if err := checkFaults(sc); err != nil {
		return err
	}
	for i := range sc.Spec.Services {
		s := &sc.Spec.Services[i]
		if s.HPA != nil {
			for j, m := range s.HPA.Metrics {
				if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil || m.Resource.Name != corev1.ResourceCPU {
					return cluster.UnsupportedAt("sim", fmt.Sprintf("spec.services[%d].hpa.metrics[%d]", i, j), "only the cpu Resource metric is modelled")
				}
			}
		}
		if len(s.Calls) > maxCalls {
			return cluster.UnsupportedAt("sim", fmt.Sprintf("spec.services[%d].calls", i), "at most %d calls per service", maxCalls)
		}
	}
	return nil
}

// Run implements cluster.Backend. Cancelling ctx stops the run early with
// ctx's error; the sim holds nothing outside memory to clean up.
func (Backend) Run(ctx context.Context, plan *cluster.Plan) (*timeline.Timeline, error) {
	w := newWorld(plan)
	if err := w.run(ctx); err != nil {
		return nil, err
	}
	return w.tl, nil
}

// world is one simulated cluster.
type world struct {
	plan *cluster.Plan
	sc   *scenario.Scenario
	// rng is math/rand/v2's numbers without its interface (pcg): drawn
	// two or three times a request.
	rng *pcg.Rand
	now time.Duration
	end time.Duration

	events  eventQueue
	servers serverQueue

	// noExecuteNext: per zone (zoneKey), when the node lifecycle
	// controller's rate limiter next lets a lost node be tainted NoExecute
	// (nodes.go)
	noExecuteNext map[string]time.Duration
	tl            *timeline.Timeline

	nodes    []*node
	services []*service
	podSpecs []*corev1.PodTemplateSpec // the services' pod templates
	sched    *scheduler
	entry    *service

	// Requests in flight (requests.go).
	hops            []hop
	freeHops        []int32
	clientDeadlines *fifo
	deadlines       fifoSet // the client's, then each call's, then the probes'
	network         fifo

	arrivals      *loadgen.Arrivals
	nextArrival   time.Duration
	hasArrival    bool
	clientTimeout time.Duration
	// keepAlive: the client's requests go on kept connections, idle ones
	// on a stack, most recently used last (keepalive.go).
	keepAlive bool
	idleConns []clientConn
	// cfsPeriod is the CFS period of the Periodic CPU quota model, 0 for
	// the Fluid one (quota.go).
	cfsPeriod time.Duration

	kinds      faults.Registry[*world]
	faults     []string                // names of faults injected so far
	injected   map[*scenario.Fault]int // fault -> its timeline record
	recoveries map[*scenario.Fault]faults.Recovery
	netFaults  []*netFault // NetworkChaos in force (network.go)
	// probe deadlines, one queue per distinct timeout (probes.go)
	probeQueues map[time.Duration]*fifo
	healers     []*healer // self-heal policies (selfheal.go)
	// progress: client requests answered since the previous report
	progLat    []time.Duration
	progFailed int
}

func newWorld(plan *cluster.Plan) *world {
	sc := plan.Scenario
	w := &world{
		plan:            plan,
		sc:              sc,
		rng:             pcg.New(plan.Seed, plan.Seed^0x9e3779b97f4a7c15),
		end:             sc.Spec.Duration.Duration,
		tl:              timeline.New(Epoch),
		clientTimeout:   sc.Spec.Load.Timeout.Duration,
		keepAlive:       sc.Spec.Load.KeepAlive,
		cfsPeriod:       sc.Spec.Cluster.CFSPeriod(),
		clientDeadlines: &fifo{},
		injected:        map[*scenario.Fault]int{},
		kinds:           faultKinds(),
		recoveries:      map[*scenario.Fault]faults.Recovery{},
		probeQueues:     map[time.Duration]*fifo{},
	}
	w.tl.Duration = w.end
	w.tl.Entry = sc.Spec.Load.Target
	w.tl.CPUQuota = scenario.CPUQuotaFluid
	if w.cfsPeriod > 0 {
		w.tl.CPUQuota = fmt.Sprintf("%s %s", scenario.CPUQuotaPeriodic, w.cfsPeriod)
	}
	w.deadlines.add(w.clientDeadlines)
	w.newServices()
	for _, s := range w.services {
		if s.name == sc.Spec.Load.Target {
			w.entry = s
		}
	}
	w.reserveRecords()
	w.buildNodes()
	w.newScheduler()
	w.resolveSymmetry()
	if plan.Pacer != nil && w.entry != nil {
		w.arrivals = loadgen.NewArrivals(plan.Pacer, plan.LoadStart, plan.LoadDuration)
		w.nextArrival, w.hasArrival = w.arrivals.Next()
	}
	for _, s := range w.services {
		w.tl.AddEvent(0, "DeploymentCreated", s.name, fmt.Sprintf("replicas=%d", s.desired))
		w.reconcileReplicaSet(s)
		w.scheduleMetricsServer(s)
	}
	// The self-heal policies exist before the rollout, as the real
	// backend deploys the operator with the services: their checks keep
	// the phase that gives them (one interval after the policy is seen).
	w.newHealers()
	w.rollout()
	for _, s := range w.services {
		if s.spec.HPA != nil {
			s.hpa = newHPAController(w, s)
		}
	}
	schedule := plan.Schedule
	if schedule == nil {
		schedule = cluster.Schedule(sc)
	}
	for _, a := range schedule {
		// Load runs from the pacer; a pod-kill has nothing to undo at its
		// end (the fault record keeps its targets).
		f := a.Fault
		switch {
		case a.Kind == cluster.FaultStart:
			w.events.push(a.At, func() { w.inject(f) })
		case a.Kind == cluster.FaultEnd:
			w.events.push(a.At, func() { w.endFault(f) })
		}
	}
	w.events.push(0, w.sample)
	return w
}

// reserveRecords sizes each service's records for the requests the load
// will make (the mean, plus 2% and a little for a Poisson count): growing
// a slice of millions of records by appending would copy it again and
// again and hold two copies at its peak.
func (w *world) reserveRecords() {
	if w.entry == nil {
		return
	}
	expected := scenario.ExpectedRequests(&w.sc.Spec.Load)
	perRequest, _ := scenario.RequestsPerService(w.sc, w.entry.name)
	for _, s := range w.services {
		n := int(expected*float64(perRequest[s.name])*1.02) + 1024
		s.rec.Requests = make([]timeline.Request, 0, n)
	}
}

// rolledOut reports whether every service has its desired replicas in
// its endpoints.
func (w *world) rolledOut() bool {
	for _, s := range w.services {
		if int32(len(s.lb)) < s.desired {
			return false
		}
	}
	return true
}

// maxRollout bounds the initial rollout: a Deployment that cannot become
// ready (no node fits) starts the scenario anyway, and the report shows it.
const maxRollout = 10 * time.Minute

// rollout deploys the workload before the scenario's clock starts, as a
// harness on a real cluster applies the Deployment and waits for it to be
// available before it starts load: the scenario's time 0 is the moment
// every replica is ready and in the endpoints. Times before it are
// negative in the timeline.
func (w *world) rollout() {
	for !w.rolledOut() && w.step(maxRollout, false) {
	}
	for _, s := range w.services {
		if int32(len(s.lb)) < s.desired {
			w.tl.AddEvent(w.now, "RolloutIncomplete", s.name, fmt.Sprintf("%d of %d replicas ready after %s; starting the scenario anyway", len(s.lb), s.desired, w.now))
		} else {
			w.tl.AddEvent(w.now, "RolloutComplete", s.name, fmt.Sprintf("%d replicas ready", s.desired))
		}
	}
	w.rebase(w.now)
}

// rebase moves virtual time so that now becomes 0.
func (w *world) rebase(d time.Duration) {
	for _, s := range w.services {
		for _, p := range s.pods {
			p.created -= d
			p.bound -= d
			p.started -= d
			p.readySince -= d
			p.srv.last -= d
			if q := p.srv.q; q != nil {
				q.start -= d
				q.until -= d
			}
			p.scrapeT -= d
			p.sampleT -= d
		}
	}
	for i := range w.events.items {
		w.events.items[i].at -= d
	}
	w.deadlines.rebase(d)
	w.network.rebase(d)
	w.servers.rebase(d)
	for i := range w.hops {
		w.hops[i].sent -= d
	}
	for i := range w.tl.Events {
		w.tl.Events[i].T -= d
	}
	w.now = 0
}

// Kinds of the next event of the run loop, in the order they run at equal
// times: control-plane events, server completions, calls reaching their
// downstream, deadlines, new client requests.
const (
	nextNone = iota
	nextControl
	nextServer
	nextNetwork
	nextDeadline
	nextArrival
)

// run advances virtual time to the end of the scenario.
func (w *world) run(ctx context.Context) error {
	const checkEvery = 1 << 14
	for steps := 0; ; steps++ {
		if steps%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !w.step(w.end, true) {
			break
		}
	}
	w.now = w.end
	w.finish()
	return nil
}

// step runs the next event due at or before until (arrivals only with
// load); it reports false when there is none.
func (w *world) step(until time.Duration, load bool) bool {
	{
		t, kind := until, nextNone
		if et, ok := w.events.peek(); ok && et <= t {
			t, kind = et, nextControl
		}
		st, srv, ok := w.servers.peek(w.now)
		if ok && st < t {
			t, kind = st, nextServer
		}
		if nt, ok := w.network.peek(); ok && nt < t {
			t, kind = nt, nextNetwork
		}
		if load {
			// In the run proper, the deadlines of requests already over
			// are dropped rather than being events of their own:
			// expiring one would change nothing but the clock, which the
			// next event sets anyway (run ends at w.end). Most requests
			// end well before their deadline, so this is a third of the
			// run's events; and as their queue's later deadlines are
			// mostly over too, they are dropped a run at a time. The
			// rollout keeps them as events: its last event's time
			// becomes the scenario's start.
			for {
				dt, ok := w.deadlines.peek()
				if !ok || dt >= t {
					break
				}
				if !w.over(w.deadlines.first()) {
					t, kind = dt, nextDeadline
					break
				}
				w.deadlines.dropStale(w)
			}
		} else if dt, ok := w.deadlines.peek(); ok && dt < t {
			t, kind = dt, nextDeadline
		}
		if load && w.hasArrival && w.nextArrival < t {
			t, kind = w.nextArrival, nextArrival
		}
		if kind == nextNone {
			return false
		}
		w.now = t
		switch kind {
		case nextControl:
			if e := w.events.pop(); e.fn != nil {
				e.fn()
			} else {
				w.released(e.hop)
			}
		case nextServer:
			w.serveEvents(srv)
		case nextNetwork:
			w.arrived(w.network.pop())
			// The calls of a fan-out reach their services at the same
			// instant: those due now are handled here, as long as no
			// control event or server completion is due now too (those
			// go first at equal times, see above), which saves each the
			// search for the next event.
			for w.networkDueNow(t) {
				w.arrived(w.network.pop())
			}
		case nextDeadline:
			w.expired(w.deadlines.pop())
		case nextArrival:
			w.arrive()
			w.nextArrival, w.hasArrival = w.arrivals.Next()
		}
	}
	return true
}

// networkDueNow reports whether the next event is, again, the network
// queue's, at t (now): what step would choose next.
func (w *world) networkDueNow(t time.Duration) bool {
	if nt, ok := w.network.peek(); !ok || nt != t {
		return false
	}
	if et, ok := w.events.peek(); ok && et <= t {
		return false
	}
	st, _, ok := w.servers.peek(t)
	return !ok || st > t
}

// finish closes the run: requests still in flight at the end are not
// counted (they have no outcome yet). Records are in send order already:
// each was reserved when its request was sent.
func (w *world) finish() {
	// The requests still in flight are the hops still live: their
	// records were reserved and never written (newHop).
	first := make([]int, len(w.services))
	for i, s := range w.services {
		first[i] = len(s.rec.Requests)
	}
	for i := range w.hops {
		h := &w.hops[i]
		if h.state == hopFree || h.probe != probeNone {
			continue
		}
		h.svc.rec.Requests[h.rec] = timeline.NewRequest(0, inFlight, 0, 0, false)
		first[h.svc.idx] = min(first[h.svc.idx], int(h.rec))
	}
	for i, s := range w.services {
		// Those before the first still in flight (nearly all) stay where
		// they are.
		reqs := s.rec.Requests[:first[i]]
		for _, r := range s.rec.Requests[first[i]:] {
			if r.Latency() != inFlight {
				reqs = append(reqs, r)
			}
		}
		clear(s.rec.Requests[len(reqs):])
		s.rec.Requests = reqs
	}
	n := 0
	if w.entry != nil {
		n = len(w.entry.rec.Requests)
	}
	w.tl.AddEvent(w.end, "RunFinished", "", fmt.Sprintf("%d requests", n))
}

// sample records an observation of every service and reports progress.
func (w *world) sample() {
	for _, svc := range w.services {
		var s timeline.Sample
		s.T, s.Desired, s.Endpoints, s.CPUUtilization = w.now, svc.desired, int32(len(svc.lb)), -1
		// CPU used since the last sample: the pods' counters, plus what
		// pods that went away used before they did.
		used := svc.goneCPU
		for _, p := range svc.pods {
			p.srv.advance(w.now)
			used += p.srv.cpu
		}
		if w.now > 0 {
			s.CPUMillicores = int32(math.Round((used - svc.sampledCPU) / sampleEvery.Seconds() * 1000))
		}
		svc.sampledCPU = used
		for _, p := range svc.pods {
			if p.deleting {
				continue
			}
			s.Pods++
			if p.ready {
				s.Ready++
			}
			if p.node == nil {
				s.Pending++
			}
		}
		if svc.hpa != nil {
			s.CPUUtilization = svc.hpa.utilization
		}
		svc.rec.Samples = append(svc.rec.Samples, s)
	}
	if w.plan.Progress != nil && w.plan.ProgressEvery > 0 && w.now%w.plan.ProgressEvery == 0 && w.entry != nil {
		w.progress(w.entry.rec.Samples[len(w.entry.rec.Samples)-1])
	}
	if next := w.now + sampleEvery; next <= w.end {
		w.events.push(next, w.sample)
	}
}

// progressDone counts a client request's outcome for the next progress
// report (only when someone listens).
func (w *world) progressDone(latency time.Duration, ok bool) {
	if w.plan.Progress == nil {
		return
	}
	w.progLat = append(w.progLat, latency)
	if !ok {
		w.progFailed++
	}
}

func (w *world) progress(s timeline.Sample) {
	st := cluster.Status{T: w.now, Duration: w.end, Desired: s.Desired, Ready: s.Ready, Faults: w.faults}
	if n := len(w.progLat); n > 0 {
		st.RPS = float64(n) / w.plan.ProgressEvery.Seconds()
		// By selection: a sort of every latency of the interval cost a
		// tenth of a large run (300,000 a line at 10,000 req/s).
		st.P99 = timeline.QuantileSelect(w.progLat, 0.99)
		st.ErrorRate = float64(w.progFailed) / float64(n)
	}
	w.progLat, w.progFailed = w.progLat[:0], 0
	w.plan.Progress(st)
}

// at converts virtual time to the wall-clock time the cluster's objects
// carry.
func (w *world) at(t time.Duration) time.Time { return Epoch.Add(t) }
