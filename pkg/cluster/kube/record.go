package kube

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
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
}

type wallEvent struct {
	at                    time.Time
	kind, object, message string
}

func newRecorder(sc *scenario.Scenario, plan *cluster.Plan) *recorder {
	r := &recorder{tl: timeline.New(time.Time{}), services: map[string]*timeline.Service{}}
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

// result records one of Vegeta's results at the entry service.
func (r *recorder) result(res *vegeta.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	req := timeline.Request{Sent: res.Timestamp.Sub(r.t0), Latency: res.Latency, Code: res.Code, Err: r.tl.ErrorKind(res.Error)}
	req.Degraded = req.OK() && res.Headers.Get(reference.DegradedHeader) != ""
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

// status is the progress since the last call.
func (r *recorder) status(t, every time.Duration, s timeline.Sample) cluster.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := cluster.Status{T: t, Duration: r.tl.Duration, Desired: s.Desired, Ready: s.Ready, Faults: slices.Clone(r.faults)}
	if n := len(r.recent); n > 0 {
		st.RPS = float64(n) / every.Seconds()
		lat := make([]time.Duration, 0, n)
		failed := 0
		for _, q := range r.recent {
			lat = append(lat, q.Latency)
			if !q.OK() {
				failed++
			}
		}
		st.P99 = timeline.QuantileOf(lat, 0.99)
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
	r.tl.SortRequests()
	return r.tl
}
