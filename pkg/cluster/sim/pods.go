package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/hpa"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// node is one node of a pool.
type node struct {
	name   string
	labels map[string]string
	taints []corev1.Taint
	cpu    int64 // allocatable millicores
	mem    int64 // allocatable bytes
	reqCPU int64 // requested by bound pods
	reqMem int64
	// the scheduler's view (scheduler.go): index, domain of each topology
	// key (-1: no such label), requests with the non-zero defaults
	idx          int
	dom          []int32
	nzCPU, nzMem int64

	// outage (nodes.go): the machine is stopped; outage counts outages so
	// that events of an earlier one are void
	down     bool
	outage   int
	notReady bool // the node lifecycle controller has marked it NotReady
	// NoExecute tainting (nodes.go): queued in the zone's rate limiter;
	// taintGen counts taint removals so that their evictions are void
	taintQueued bool
	taintGen    int

	// CPU sharing (cpu.go)
	cores     float64 // allocatable CPU
	pods      []*pod  // bound pods, in binding order
	demand    float64 // cores the pods want now (counted while mayContend)
	contended bool
	// mayContend: the limits of its pods add up to more than its CPU
	// (limitsChanged)
	mayContend bool
	fill       []*pod // scratch for water-filling
}

// pod is one pod of a service.
type pod struct {
	// What every request reads of its pod comes first, in the pod's
	// first cache lines: a request reaching a pod reads its node and its
	// state flags, then its server and its breakers. A large run's
	// requests each go to one of thousands of pods, and every line they
	// read is a miss; the rest is read by controllers every few seconds.
	node *node
	svc  *service
	gone bool // no longer serving (killed, or drained after deletion)
	// hung: the application answers nothing (hang.go)
	hung bool
	// appDown: the container's application is down (killed, or
	// replaced by pause; chaos.go)
	appDown  bool
	deleting bool // graceful deletion in progress
	// cpuFree says that the pod's node cannot be contended, so its
	// demand is not counted (limitsChanged).
	cpuFree bool
	// life numbers the pod's container: events of an earlier life are
	// void (chaos.go), and a keep-alive connection dies with its life.
	life int
	srv  server
	// breakers are the pod's circuit breakers, one per call of its
	// service (nil where disabled): the reference service's state
	// machine without its lock, as the sim runs on one goroutine.
	breakers []*reference.BreakerMachine
	// CPU sharing (cpu.go): the pod's cap and weight in cores, and what it
	// wants now
	limit, weight, demand float64
	// maxLimit is the most the pod can want (its limit when bound; under
	// the Periodic model its burst).
	maxLimit float64

	name    string
	created time.Duration
	bound   time.Duration // scheduled and accepted by the kubelet: status.startTime
	running bool          // the container has started (phase Running)
	started time.Duration
	ready   bool
	// readySince is the Ready condition's lastTransitionTime.
	readySince time.Duration
	inLB       bool
	counted    bool // in the scheduler's spread counts (scheduler.go)
	rec        int  // index of the pod's record in the timeline

	// metrics-server's last two scrapes
	scraped   bool
	scrapeT   time.Duration
	scrapeCPU float64
	sample    int64 // millicores
	sampleT   time.Duration
	sampleWin time.Duration
	hasSample bool

	// starting: the container runs but its application does not listen
	// yet (the application's part of the start-up, startContainer)
	starting bool
	// container faults (chaos.go): pod-failure is active, the restarts
	// so far and the kubelet's back-off
	failing  bool
	restarts int
	backoff  time.Duration
	// isolated by the self-heal controller: out of the endpoints
	isolated bool
	// probe streaks (probes.go)
	readyOK, readyFail, liveFail int

	// what the HPA controller reads of the pod, kept to be reused
	hpaStart time.Time
	hpaReady hpa.ReadyCondition
	usage    []hpa.ContainerUsage
}

func (w *world) buildNodes() {
	for _, np := range w.sc.Spec.Cluster.NodePools {
		for i := int32(0); i < np.Count; i++ {
			n := &node{name: np.NodeName(i), cpu: np.CPU.MilliValue(), mem: np.Memory.Value(), taints: np.Taints}
			n.cores = float64(n.cpu) / 1000
			n.labels = np.NodeLabels(i)
			n.labels[corev1.LabelHostname] = n.name
			w.nodes = append(w.nodes, n)
			w.tl.Nodes = append(w.tl.Nodes, timeline.Node{Name: n.name, Labels: n.labels})
		}
	}
}

// podResources derives, once per run, a pod's requests and its CPU limit
// in cores (0: none; the pod may use its node's idle CPU).
func podResources(r corev1.ResourceRequirements) (cpu, mem int64, limit float64) {
	if q, ok := r.Requests[corev1.ResourceCPU]; ok {
		cpu = q.MilliValue()
	}
	if q, ok := r.Requests[corev1.ResourceMemory]; ok {
		mem = q.Value()
	}
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		limit = float64(q.MilliValue()) / 1000
	}
	return cpu, mem, limit
}

// activePods are the pods the ReplicaSet counts: not being deleted.
func (s *service) activePods() []*pod {
	var out []*pod
	for _, p := range s.pods {
		// An isolated pod has lost the label its ReplicaSet selects on: it
		// is orphaned, and replaced.
		if !p.deleting && !p.gone && !p.isolated {
			out = append(out, p)
		}
	}
	return out
}

// reconcileReplicaSet creates or deletes pods to match the desired count
// (the ReplicaSet controller, reacting at once to every change it watches).
func (w *world) reconcileReplicaSet(s *service) {
	active := s.activePods()
	diff := int(s.desired) - len(active)
	for ; diff > 0; diff-- {
		w.createPod(s)
	}
	if diff < 0 {
		slices.SortStableFunc(active, w.deletionOrder)
		for _, p := range active[:-diff] {
			w.deletePod(p)
		}
	}
}

// deletionOrder ranks pods for scale-down as the ReplicaSet controller
// does (controller.ActivePodsWithRanks): unscheduled before scheduled,
// pending before running, not ready before ready, ready for a shorter time
// before longer, newer before older.
func (w *world) deletionOrder(a, b *pod) int {
	key := func(p *pod) [3]int {
		k := [3]int{1, 1, 1}
		if p.node == nil {
			k[0] = 0
		}
		if !p.running {
			k[1] = 0
		}
		if !p.ready {
			k[2] = 0
		}
		return k
	}
	ka, kb := key(a), key(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] - kb[i]
		}
	}
	if a.ready && b.ready && a.readySince != b.readySince {
		return -cmp.Compare(a.readySince, b.readySince)
	}
	return -cmp.Compare(a.created, b.created)
}

func (w *world) createPod(s *service) {
	s.podSeq++
	p := &pod{name: fmt.Sprintf("%s-%05d", s.name, s.podSeq), svc: s, created: w.now, rec: len(w.tl.Pods)}
	w.tl.Pods = append(w.tl.Pods, timeline.Pod{Name: p.name, Service: s.name, Created: w.now, FirstReady: -1, Deleted: -1})
	p.srv = server{pod: p, last: w.now}
	w.servers.add(&p.srv)
	w.newBreakers(s, p)
	s.pods = append(s.pods, p)
	w.tl.AddEvent(w.now, "PodCreated", p.name, "")
	w.schedule(p)
}

// retryPending schedules pods that found no node, after resources freed.
func (w *world) retryPending() {
	if w.sched.retrying {
		return // a bind inside this pass: the pass goes on
	}
	w.sched.retrying = true
	defer func() { w.sched.retrying = false }()
	for _, s := range w.services {
		for _, p := range s.pods {
			if p.node == nil && !p.deleting && !p.gone {
				w.schedule(p)
			}
		}
	}
}

// startupLatency draws the time from scheduling (or a restart) to the
// application listening.
func (w *world) startupLatency(s *service) time.Duration {
	sl := s.startup
	startup := sl.Min.Duration
	if spread := sl.Max.Duration - sl.Min.Duration; spread > 0 {
		startup += time.Duration(w.rng.Int64N(int64(spread) + 1))
	}
	return startup
}

// startContainer starts p's container, which takes startupLatency in two
// parts, as on a real cluster: the kubelet's (sandbox and container with
// the image present, scenario.DefaultStartupMin at most), after which the
// container runs and the kubelet probes it, and the application's (the
// rest), after which it listens. The reference service waits that rest
// before it listens (reference.StartDelay). A probe sent in between finds
// nothing listening and fails at once, so a pod whose application takes
// longer than the probe's initial delay is Ready a whole probe period
// later: kind showed it (self-heal, 28s where the sim had 20s).
//
// The start is void when the container's life ends before it (killed,
// replaced by pause) or its node stops (no kubelet to start it).
func (w *world) startContainer(p *pod) {
	total := w.startupLatency(p.svc)
	kubelet := min(total, scenario.DefaultStartupMin)
	life := p.life
	w.events.push(w.now+kubelet, func() {
		if p.life != life || p.failing || (p.node != nil && p.node.down) {
			return
		}
		p.appDown = false
		if p.starting = total > kubelet; p.starting {
			// Pushed before the probes: a probe due the instant the
			// application listens finds it listening.
			w.events.push(w.now+total-kubelet, func() {
				if p.life == life {
					p.starting = false
				}
			})
		}
		w.containerStarted(p)
	})
}

func (w *world) containerStarted(p *pod) {
	if p.gone || p.deleting {
		return
	}
	p.running, p.started = true, w.now
	if p.restarts == 0 {
		p.readySince = p.bound // Ready=False since the kubelet accepted the pod
	}
	w.tl.AddEvent(w.now, "Started", p.name, "container started")
	w.startProbes(p)
}

func (w *world) becameReady(p *pod) {
	if p.gone || p.deleting || p.appDown {
		return
	}
	p.ready, p.readySince = true, w.now
	if r := &w.tl.Pods[p.rec]; r.FirstReady < 0 {
		r.FirstReady = w.now
	}
	w.tl.AddEvent(w.now, "Ready", p.name, "readiness probe succeeded")
	s := p.svc
	w.events.push(w.now+s.endpointsDelay, func() {
		if p.ready && !p.gone && !p.deleting && !p.inLB && !p.isolated {
			p.inLB = true
			s.lb = append(s.lb, p)
		}
	})
}

func (w *world) removeFromLB(p *pod) {
	if !p.inLB {
		return
	}
	p.inLB = false
	s := p.svc
	if i := slices.Index(s.lb, p); i >= 0 {
		s.lb = slices.Delete(s.lb, i, i+1)
	}
}

func (w *world) releaseNode(p *pod) {
	if p.node == nil {
		return
	}
	w.podUnbound(p)
	p.node.reqCPU -= p.svc.podCPU
	p.node.reqMem -= p.svc.podMem
	p.node.nzCPU -= p.svc.place.nzCPU
	p.node.nzMem -= p.svc.place.nzMem
}

// deletePod deletes a pod gracefully (scale-down): it leaves the endpoints
// after the endpoints delay, finishes the requests it has, then goes. The
// reference service handles SIGTERM by draining, so no request fails.
func (w *world) deletePod(p *pod) {
	w.markDeleting(p, timeline.CauseScaleDown)
	p.ready = false
	w.tl.AddEvent(w.now, "Killing", p.name, "scale down: graceful termination")
	w.events.push(w.now+p.svc.endpointsDelay, func() {
		w.removeFromLB(p)
		w.podGone(p)
	})
}

// kubeletMinGrace is the kubelet's floor on a container's grace period
// (minimumGracePeriodInSeconds, pkg/kubelet/kuberuntime, Kubernetes
// v1.34): even a pod deleted with gracePeriod 0 gets SIGTERM and 2s
// before SIGKILL.
const kubeletMinGrace = 2 * time.Second

// killPod deletes a pod as PodChaos pod-kill does, with its grace period
// (at least the kubelet's 2s). The pod stops being Ready at once, the
// ReplicaSet replaces it at once, and it leaves the endpoints after the
// endpoints delay; its process, the reference service, takes SIGTERM and
// keeps serving while it drains (reference.DefaultDrainDelay). When the
// grace period ends first, it is killed: requests still in flight fail
// (connection reset). A longer grace period lets it finish them and exit.
func (w *world) killPod(p *pod, grace time.Duration, reason string) {
	w.killPodFor(p, grace, reason, timeline.CauseFault)
}

// killPodFor is killPod with the deletion's cause for the pod's record.
func (w *world) killPodFor(p *pod, grace time.Duration, reason, cause string) {
	if p.gone || p.deleting {
		return
	}
	grace = max(grace, kubeletMinGrace)
	w.markDeleting(p, cause)
	p.ready = false
	w.tl.AddEvent(w.now, "Killing", p.name, fmt.Sprintf("%s (grace period %s)", reason, grace))
	w.reconcileReplicaSet(p.svc)
	w.events.push(w.now+p.svc.endpointsDelay, func() { w.removeFromLB(p) })
	if grace <= reference.DefaultDrainDelay {
		w.events.push(w.now+grace, func() {
			w.killHops(p)
			w.removeFromLB(p)
			w.podGone(p)
		})
		return
	}
	w.events.push(w.now+reference.DefaultDrainDelay, func() {
		w.removeFromLB(p)
		w.podGone(p)
	})
}

// podGone frees the pod's node and lets the ReplicaSet replace it.
func (w *world) podGone(p *pod) {
	if p.gone {
		return
	}
	p.gone, p.running = true, false
	p.srv.advance(w.now)
	p.svc.goneCPU += p.srv.cpu
	w.unbindCPU(p)
	for c, b := range p.breakers {
		if b != nil && b.State() != reference.Closed {
			// The breaker goes with its pod; assertions must not wait for
			// it to close.
			w.tl.Breakers = append(w.tl.Breakers, timeline.BreakerTransition{T: w.now, Service: p.svc.name, Pod: p.name,
				Downstream: p.svc.calls[c].target.name, From: b.State().String(), To: "removed"})
		}
	}
	w.releaseNode(p)
	w.podGoneForHealers(p)
	s := p.svc
	if i := slices.Index(s.pods, p); i >= 0 {
		s.pods = slices.Delete(s.pods, i, i+1)
	}
	w.reconcileReplicaSet(s)
	w.retryPending()
}
