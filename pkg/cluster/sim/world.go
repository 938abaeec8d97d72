// Package sim is the simulated cluster: a deterministic discrete-event
// model of nodes, a Deployment and its pods, the scheduler, metrics-server,
// the HPA controller (package hpa, the Kubernetes algorithm itself), the
// load balancer and the reference service, all in virtual time. It never
// reads the wall clock and takes all randomness from one seeded PRNG, so
// the same plan and seed give the same timeline.
package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/mcpsim/mcpsim/pkg/cluster"
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
	wl   *scenario.Workload
	rng  *rand.Rand
	now  time.Duration
	end  time.Duration

	events  eventQueue
	servers serverQueue
	tl      *timeline.Timeline

	nodes   []*node
	pods    []*pod // every pod not yet gone, in creation order
	podSeq  int
	desired int32
	lb      []*pod // the endpoints the load balancer routes to

	arrivals    *loadgen.Arrivals
	nextArrival time.Duration
	hasArrival  bool

	cpuPerRequest float64 // mean core-seconds per request
	timeout       time.Duration

	// Every pod of the workload has the same requests and CPU capacity.
	podCPU, podMem int64
	podCapacity    float64

	affinity *nodeaffinity.RequiredNodeAffinity
	hpa      *hpaController
	faults   []string // names of faults injected so far
	lastReq  int      // progress: requests seen at the previous report
}

func newWorld(plan *cluster.Plan) *world {
	sc := plan.Scenario
	w := &world{
		plan:          plan,
		sc:            sc,
		wl:            &sc.Spec.Workload,
		rng:           rand.New(rand.NewPCG(plan.Seed, plan.Seed^0x9e3779b97f4a7c15)),
		end:           sc.Spec.Duration.Duration,
		tl:            timeline.New(Epoch),
		cpuPerRequest: sc.Spec.Load.CPUPerRequest.Seconds(),
		timeout:       sc.Spec.Load.Timeout.Duration,
	}
	w.tl.Duration = w.end
	w.podCPU, w.podMem, w.podCapacity = podResources(w.wl.Resources)
	if a := w.wl.Affinity; a != nil && a.NodeAffinity != nil {
		ra := nodeaffinity.GetRequiredNodeAffinity(&corev1.Pod{Spec: corev1.PodSpec{Affinity: a}})
		w.affinity = &ra
	}
	w.buildNodes()
	if plan.Pacer != nil {
		w.arrivals = loadgen.NewArrivals(plan.Pacer, plan.LoadStart, plan.LoadDuration)
		w.nextArrival, w.hasArrival = w.arrivals.Next()
	}
	w.desired = *w.wl.Replicas
	w.tl.AddEvent(0, "DeploymentCreated", w.wl.Name, fmt.Sprintf("replicas=%d", w.desired))
	w.reconcileReplicaSet()
	w.scheduleMetricsServer()
	w.rollout()
	if w.wl.HPA != nil {
		w.hpa = newHPAController(w)
	}
	for i := range sc.Spec.Faults {
		f := &sc.Spec.Faults[i]
		w.events.push(f.At.Duration, func() { w.inject(f) })
	}
	w.events.push(0, w.sample)
	return w
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
	for w.now < maxRollout && int32(len(w.lb)) < w.desired {
		t, ok := w.events.peek()
		if !ok || t > maxRollout {
			break
		}
		w.now = t
		w.events.pop().fn()
	}
	if int32(len(w.lb)) < w.desired {
		w.tl.AddEvent(w.now, "RolloutIncomplete", w.wl.Name, fmt.Sprintf("%d of %d replicas ready after %s; starting the scenario anyway", len(w.lb), w.desired, w.now))
	} else {
		w.tl.AddEvent(w.now, "RolloutComplete", w.wl.Name, fmt.Sprintf("%d replicas ready", w.desired))
	}
	w.rebase(w.now)
}

// rebase moves virtual time so that now becomes 0.
func (w *world) rebase(d time.Duration) {
	for _, p := range w.pods {
		p.created -= d
		p.bound -= d
		p.started -= d
		p.readySince -= d
		p.srv.last -= d
		p.scrapeT -= d
		p.sampleT -= d
	}
	for i := range w.events.items {
		w.events.items[i].at -= d
	}
	for i := range w.tl.Events {
		w.tl.Events[i].T -= d
	}
	w.now = 0
}

// run advances virtual time to the end of the scenario. At equal times,
// control-plane events run first, then server completions, then arrivals.
func (w *world) run(ctx context.Context) error {
	const checkEvery = 1 << 14
	for steps := 0; ; steps++ {
		if steps%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t, kind := w.end, 0
		if et, ok := w.events.peek(); ok && et <= t {
			t, kind = et, 1
		}
		if len(w.servers) > 0 && w.servers[0].next < t {
			t, kind = w.servers[0].next, 2
		}
		if w.hasArrival && w.nextArrival < t {
			t, kind = w.nextArrival, 3
		}
		if kind == 0 {
			break
		}
		w.now = t
		switch kind {
		case 1:
			w.events.pop().fn()
		case 2:
			w.serveEvents(w.servers[0])
		case 3:
			w.arrive()
			w.nextArrival, w.hasArrival = w.arrivals.Next()
		}
	}
	w.now = w.end
	w.finish()
	return nil
}

// finish closes the run: requests still in flight at the end are not
// counted (they have no outcome yet), and requests are put in send order.
func (w *world) finish() {
	w.tl.SortRequests()
	w.tl.AddEvent(w.end, "RunFinished", "", fmt.Sprintf("%d requests", len(w.tl.Requests)))
}

// arrive routes one request to an endpoint, as kube-proxy in iptables mode
// does: uniformly at random.
func (w *world) arrive() {
	if len(w.lb) == 0 {
		w.tl.AddRequest(w.now, networkRTT, 0, errNoEndpoints)
		return
	}
	p := w.lb[w.rng.IntN(len(w.lb))]
	if p.gone {
		// Killed, but the endpoint removal has not reached kube-proxy.
		w.tl.AddRequest(w.now, networkRTT, 0, errRefused)
		return
	}
	s := &p.srv
	s.advance(w.now)
	s.add(w.now, w.rng.ExpFloat64()*w.cpuPerRequest)
	next, has := s.nextEvent(w.timeout)
	w.servers.update(s, next, has)
}

// serveEvents records the completions and timeouts due on s now.
func (w *world) serveEvents(s *server) {
	s.advance(w.now)
	for {
		arrival, ok := s.popCompleted()
		if !ok {
			break
		}
		w.tl.AddRequest(arrival, w.now-arrival+networkRTT, 200, "")
	}
	for {
		arrival, ok := s.popTimedOut(w.now, w.timeout)
		if !ok {
			break
		}
		w.tl.AddRequest(arrival, w.timeout, 0, errTimeout)
	}
	next, has := s.nextEvent(w.timeout)
	w.servers.update(s, next, has)
}

// sample records an observation and reports progress.
func (w *world) sample() {
	var s timeline.Sample
	s.T, s.Desired, s.Endpoints, s.CPUUtilization = w.now, w.desired, int32(len(w.lb)), -1
	for _, p := range w.pods {
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
	if w.hpa != nil {
		s.CPUUtilization = w.hpa.utilization
	}
	w.tl.Samples = append(w.tl.Samples, s)
	if w.plan.Progress != nil && w.plan.ProgressEvery > 0 && w.now%w.plan.ProgressEvery == 0 {
		w.progress(s)
	}
	if next := w.now + sampleEvery; next <= w.end {
		w.events.push(next, w.sample)
	}
}

func (w *world) progress(s timeline.Sample) {
	reqs := w.tl.Requests[w.lastReq:]
	w.lastReq = len(w.tl.Requests)
	st := cluster.Status{T: w.now, Duration: w.end, Desired: s.Desired, Ready: s.Ready, Faults: w.faults}
	if n := len(reqs); n > 0 {
		st.RPS = float64(n) / w.plan.ProgressEvery.Seconds()
		lat := make([]time.Duration, n)
		failed := 0
		for i, r := range reqs {
			lat[i] = r.Latency
			if !r.OK() {
				failed++
			}
		}
		st.P99 = timeline.QuantileOf(lat, 0.99)
		st.ErrorRate = float64(failed) / float64(n)
	}
	w.plan.Progress(st)
}

// at converts virtual time to the wall-clock time the cluster's objects
// carry.
func (w *world) at(t time.Duration) time.Time { return Epoch.Add(t) }
