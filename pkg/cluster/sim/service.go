package sim

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// service is one reference service of the scenario: its Deployment's pods,
// its endpoints, its HPA and what a request costs it. Its pods' spec comes
// from the same objects the real backends apply (reference.Objects).
type service struct {
	name   string
	role   string
	spec   *scenario.Service
	rec    *timeline.Service
	labels map[string]string

	// Every pod of the service has the same requests and CPU limit; its
	// CPU request in cores is its weight on its node (cpu.go).
	podCPU, podMem int64
	podLimit       float64
	podWeight      float64
	idx            int           // index in world.services
	place          *placement    // scheduling rules (scheduler.go)
	probe          *corev1.Probe // readiness
	liveness       *corev1.Probe
	startup        scenario.LatencyRange
	endpointsDelay time.Duration

	work         float64 // mean core-seconds per request
	constantWork bool
	calls        []callSpec
	sequential   bool

	desired int32
	pods    []*pod // every pod not yet gone, in creation order
	podSeq  int
	lb      []*pod // the endpoints the load balancers route to
	hpa     *hpaController

	// CPU accounting for samples, core-seconds: used by pods now gone,
	// and the total at the last sample.
	goneCPU, sampledCPU float64
}

// callSpec is one downstream call of a service.
type callSpec struct {
	target    *service
	timeout   time.Duration
	retries   int32
	fallback  bool // static fallback; false fails the request
	policy    reference.BreakerPolicy
	noBreaker bool
	// deadlines of this call's attempts in flight (one fixed timeout)
	deadlines *fifo
}

// newServices builds the services from reference.Objects(scenario).
func (w *world) newServices() {
	objs := reference.Objects(w.sc, "default", reference.DefaultImage)
	byName := map[string]*service{}
	for i := range objs {
		o := &objs[i]
		spec := &w.sc.Spec.Services[i]
		tmpl := &o.Deployment.Spec.Template
		ctr := &tmpl.Spec.Containers[0]
		s := &service{
			name: o.Config.Name, role: o.Config.Role, spec: spec, labels: tmpl.Labels,
			probe: ctr.ReadinessProbe, liveness: ctr.LivenessProbe, startup: *spec.StartupLatency, endpointsDelay: spec.EndpointsDelay.Duration,
			work: time.Duration(o.Config.Work.CPU).Seconds(), constantWork: o.Config.Work.Distribution == scenario.DistributionConstant,
			sequential: o.Config.FanOut == scenario.FanOutSequential,
			desired:    *o.Deployment.Spec.Replicas,
		}
		s.podCPU, s.podMem, s.podLimit = podResources(ctr.Resources)
		s.podWeight = float64(s.podCPU) / 1000
		s.idx = len(w.services)
		w.podSpecs = append(w.podSpecs, tmpl)
		s.rec = w.tl.AddService(s.name, s.role)
		w.services = append(w.services, s)
		byName[s.name] = s
	}
	for i, s := range w.services {
		for _, c := range objs[i].Config.Calls {
			cs := callSpec{target: byName[c.Service], timeout: time.Duration(c.Timeout), retries: int32(c.Retries),
				fallback: c.Fallback == scenario.FallbackStatic, policy: c.Breaker, noBreaker: c.NoBreak, deadlines: &fifo{}}
			s.calls = append(s.calls, cs)
			w.deadlines.add(cs.deadlines)
		}
	}
}

// newBreakers gives a new pod of s one breaker per call, reporting its
// transitions to the timeline.
func (w *world) newBreakers(s *service, p *pod) {
	if len(s.calls) == 0 {
		return
	}
	p.breakers = make([]*reference.BreakerMachine, len(s.calls))
	for c := range s.calls {
		cs := &s.calls[c]
		if cs.noBreaker {
			continue
		}
		downstream := cs.target.name
		b := reference.NewBreakerMachine(cs.policy, w, func(from, to reference.BreakerState, _ time.Time) {
			w.tl.Breakers = append(w.tl.Breakers, timeline.BreakerTransition{T: w.now, Service: s.name, Pod: p.name, Downstream: downstream, From: from.String(), To: to.String()})
			if to == reference.Open {
				w.breakerOpened(p, downstream)
			}
			w.tl.AddEvent(w.now, "CircuitBreaker", p.name, fmt.Sprintf("breaker to %s: %s → %s", downstream, from, to))
		})
		p.breakers[c] = &b
	}
}

// Now implements reference.Clock for the breakers: virtual time.
func (w *world) Now() time.Time { return Epoch.Add(w.now) }
