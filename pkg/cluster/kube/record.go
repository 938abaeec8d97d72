package kube

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// recorder builds the timeline from concurrent sources (informer handlers,
// Vegeta's results, the sampling loop). Events are kept with their wall
// time and placed relative to time 0 at the end, so that the rollout's
// events are negative, as in the sim.
type recorder struct {
	mu       sync.Mutex
	tl       *timeline.Timeline
	t0       time.Time
	events   []wallEvent
	services map[string]*timeline.Service
	entry    *timeline.Service
	faults   []string
	recent   []timeline.Request // since the last progress report
	statusAt time.Duration      // the last progress report
	pods     map[string]*wallPod
	podOrder []string
	repairs  []wallRepair
}

// wallRepair is a self-heal step on the wall clock (its T set at the end).
type wallRepair struct {
	at time.Time
	rp timeline.Repair
}

// wallPod is a pod's life on the wall clock, placed on the scenario's
// clock at the end (as events are).
type wallPod struct {
	service                       string
	node                          string
	created, bound, ready, delete time.Time
}

type wallEvent struct {
	at                    time.Time
	kind, object, message string
}

func newRecorder(sc *scenario.Scenario, plan *cluster.Plan) *recorder {
	r := &recorder{tl: timeline.New(time.Time{}), services: map[string]*timeline.Service{}, pods: map[string]*wallPod{}}
	r.tl.Duration = sc.Spec.Duration.Duration
	r.tl.Entry = sc.Spec.Load.Target
	for i := range sc.Spec.Services {
		s := &sc.Spec.Services[i]
		r.services[s.Name] = r.tl.AddService(s.Name, s.Role)
	}
	r.entry = r.services[sc.Spec.Load.Target]
	return r
}

func (r *recorder) start(t0 time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t0 = t0
	r.tl.Start = t0
}

func (r *recorder) event(at time.Time, kind, object, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, wallEvent{at, kind, object, message})
}

// repair records a step of the self-heal operator's work, read from its
// Kubernetes Event.
func (r *recorder) repair(at time.Time, rp timeline.Repair) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repairs = append(r.repairs, wallRepair{at, rp})
}

// localAddr matches the local address Go's net errors name before the
// remote one ("dial tcp :53007->172.18.0.2:30080", "read tcp
// 172.18.0.1:53007->..."): a new source port for every connection.
var localAddr = regexp.MustCompile(`\b((?:tcp|udp)[46]?) \S*->`)

// errorClass is an error message without its connection's local address,
// so that the same failure is one kind of error in the report (overload-
// flapping's refused connections on kind were 16 kinds for 16 requests,
// and a long run could exhaust the timeline's 65,535 kinds).
func errorClass(msg string) string {
	if !strings.Contains(msg, "->") {
		return msg // no local address: spare the regexp
	}
	return localAddr.ReplaceAllString(msg, "$1 ")
}

// result records one of Vegeta's results at the entry service.
func (r *recorder) result(res *vegeta.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req := timeline.NewRequest(res.Timestamp.Sub(r.t0), res.Latency, res.Code, r.tl.ErrorKind(errorClass(res.Error)), false)
	if req.OK() && res.Headers.Get(reference.DegradedHeader) != "" {
		req = req.AsDegraded()
	}
	r.entry.Requests = append(r.entry.Requests, req)
	r.recent = append(r.recent, req)
}

func (r *recorder) sample(name string, s timeline.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.services[name].Samples = append(r.services[name].Samples, s)
}

func (r *recorder) breakers(ts []timeline.BreakerTransition) {
	if len(ts) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tl.Breakers = append(r.tl.Breakers, ts...)
	for _, b := range ts {
		r.events = append(r.events, wallEvent{r.t0.Add(b.T), "CircuitBreaker", b.Pod, fmt.Sprintf("breaker to %s: %s → %s", b.Downstream, b.From, b.To)})
	}
}

// pod records what the pod informer saw of a pod of service svc at now:
// its creation, its binding to a node, its first Ready and the start of
// its deletion, each the first time it is seen. Its creation is its first
// sighting, milliseconds after the fact (the watch starts before anything
// is applied): its creationTimestamp has whole seconds only, and a
// replacement created 50ms after its predecessor's deletion would seem to
// predate it.
func (r *recorder) pod(now time.Time, name, svc, node string, ready, deleting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[name]
	if p == nil {
		p = &wallPod{service: svc, created: now}
		r.pods[name] = p
		r.podOrder = append(r.podOrder, name)
	}
	if node != "" && p.node == "" {
		p.node, p.bound = node, now
	}
	if ready && p.ready.IsZero() {
		p.ready = now
	}
	if deleting && p.delete.IsZero() {
		p.delete = now
	}
}

// nodes records the cluster's nodes and their labels.
func (r *recorder) nodes(ns []timeline.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tl.Nodes = ns
}

// podRecords places the pods on the scenario's clock. A deletion is
// self-heal's when the operator started restarting the pod before it
// (the pod a fault hung is the one it restarts, as on the sim), the
// fault's when the pod was a fault's target or the taint manager evicted
// it, the ReplicaSet's (a scale-down) otherwise.
func (r *recorder) podRecords() {
	restarted := map[string]time.Duration{}
	for _, rp := range r.tl.Repairs {
		if _, seen := restarted[rp.Pod]; !seen && rp.Stage == timeline.RepairAction && rp.Action == selfheal.Restart {
			restarted[rp.Pod] = rp.T
		}
	}
	byFault := map[string]bool{}
	for _, f := range r.tl.Faults {
		for _, t := range f.Targets {
			byFault[t] = true
		}
	}
	for _, e := range r.events {
		if e.kind == "TaintManagerEviction" {
			byFault[e.object] = true
		}
	}
	rel := func(t time.Time) time.Duration {
		if t.IsZero() {
			return -1
		}
		return t.Sub(r.t0)
	}
	for _, name := range r.podOrder {
		p := r.pods[name]
		rec := timeline.Pod{Name: name, Service: p.service, Created: p.created.Sub(r.t0), Node: p.node, FirstReady: rel(p.ready), Deleted: rel(p.delete)}
		if p.node != "" {
			rec.Bound = p.bound.Sub(r.t0)
		}
		if rec.Deleted >= 0 {
			rec.Cause = timeline.CauseScaleDown
			if byFault[name] {
				rec.Cause = timeline.CauseFault
			}
			// The Event may be written a little after the deletion it
			// announces: a second's slack.
			if t, ok := restarted[name]; ok && t <= rec.Deleted+time.Second {
				rec.Cause = timeline.CauseSelfHeal
			}
		}
		r.tl.Pods = append(r.tl.Pods, rec)
	}
}

// faultEnded records when a fault's object was deleted.
func (r *recorder) faultEnded(name string, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.tl.Faults {
		if r.tl.Faults[i].Name == name && r.tl.Faults[i].End == nil {
			r.tl.Faults[i].End = &at
		}
	}
}

func (r *recorder) fault(f timeline.Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tl.Faults = append(r.tl.Faults, f)
	r.faults = append(r.faults, f.Name)
}

// status is the progress since the last call, at t.
func (r *recorder) status(t time.Duration, s timeline.Sample) cluster.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := cluster.Status{T: t, Duration: r.tl.Duration, Desired: s.Desired, Ready: s.Ready, Faults: slices.Clone(r.faults)}
	since := t - r.statusAt
	r.statusAt = t
	if n := len(r.recent); n > 0 && since > 0 {
		st.RPS = float64(n) / since.Seconds()
		lat := make([]time.Duration, 0, n)
		failed := 0
		for _, q := range r.recent {
			lat = append(lat, q.Latency())
			if !q.OK() {
				failed++
			}
		}
		st.P99 = timeline.QuantileSelect(lat, 0.99)
		st.ErrorRate = float64(failed) / float64(n)
	}
	r.recent = r.recent[:0]
	return st
}

// finish places the events on the scenario's clock and sorts what came in
// out of order.
func (r *recorder) finish() *timeline.Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortStableFunc(r.events, func(a, b wallEvent) int { return a.at.Compare(b.at) })
	for _, e := range r.events {
		r.tl.AddEvent(e.at.Sub(r.t0), e.kind, e.object, e.message)
	}
	slices.SortStableFunc(r.tl.Breakers, func(a, b timeline.BreakerTransition) int { return cmp.Compare(a.T, b.T) })
	slices.SortStableFunc(r.repairs, func(a, b wallRepair) int { return a.at.Compare(b.at) })
	for _, w := range r.repairs {
		w.rp.T = w.at.Sub(r.t0)
		r.tl.Repairs = append(r.tl.Repairs, w.rp)
	}
	r.podRecords()
	r.tl.SortRequests()
	return r.tl
}
