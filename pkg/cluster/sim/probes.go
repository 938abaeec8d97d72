package sim

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Probes, as the kubelet runs them: each of a container's probes fires
// initialDelaySeconds after the container starts and then every
// periodSeconds. A probe is an HTTP request like any other: it waits its
// turn on the pod's CPU (probeWork of it), so an overloaded pod can fail
// it, and it fails at once when nothing listens. It fails when it takes
// longer than timeoutSeconds. failureThreshold consecutive failures turn
// the pod not Ready (readiness; it leaves the endpoints) or restart the
// container (liveness, with the kubelet's back-off); successThreshold
// consecutive successes make it Ready again.

// probeWork is the CPU a probe costs the reference service (/readyz and
// /healthz answer from memory).
const probeWork = 50e-6 // core-seconds

type probeKind uint8

const (
	probeNone probeKind = iota
	probeReadiness
	probeLiveness
	probeHealth // the self-heal controller's check (selfheal.go)
)

func (k probeKind) spec(s *service) *corev1.Probe {
	if k == probeReadiness {
		return s.probe
	}
	return s.liveness
}

// startProbes starts the probes of p's container (of its current life).
func (w *world) startProbes(p *pod) {
	p.readyOK, p.readyFail, p.liveFail = 0, 0, 0
	for _, k := range []probeKind{probeReadiness, probeLiveness} {
		pr := k.spec(p.svc)
		if pr == nil {
			continue
		}
		// One closure per probe for the container's life, scheduled
		// again at every tick: a kubelet probes every few seconds, and a
		// closure each time was most of a large run's allocations.
		life, kind := p.life, k
		var tick func()
		tick = func() { w.probeTick(p, kind, life, tick) }
		w.events.push(w.now+time.Duration(pr.InitialDelaySeconds)*time.Second, tick)
	}
}

// probeTick sends one probe and schedules the next (tick, which calls
// probeTick again).
func (w *world) probeTick(p *pod, k probeKind, life int, tick func()) {
	if p.life != life || p.gone || p.deleting || (p.node != nil && p.node.down) {
		return // a new container has its own probes; a stopped node has no kubelet
	}
	pr := k.spec(p.svc)
	w.events.push(w.now+time.Duration(pr.PeriodSeconds)*time.Second, tick)
	if p.appDown || p.starting {
		// Nothing listens: refused at once.
		w.probeResult(p, k, life, false)
		return
	}
	w.sendProbe(p, k, life, time.Duration(pr.TimeoutSeconds)*time.Second)
}

// sendProbe sends a probe of kind k to p: a request of probeWork on its
// CPU that fails if it takes longer than timeout. tag is the container's
// life (kubelet probes) or the healer's index (health checks).
func (w *world) sendProbe(p *pod, k probeKind, tag int, timeout time.Duration) {
	i := w.newProbeHop(p, k, tag)
	w.deadlines.push(w.probeDeadlines(timeout), w.now+timeout, w.ref(i))
	if len(w.netFaults) > 0 && w.holdRequest(i, p) {
		return
	}
	if p.hung {
		// No answer: the probe fails at its deadline.
		w.hops[i].pod, w.hops[i].state = p, hopLost
		return
	}
	w.startWork(p, i, probeWork)
}

// probeDeadlines is the deadline queue of probes with this timeout (one
// queue per distinct timeout keeps each in time order).
func (w *world) probeDeadlines(timeout time.Duration) *fifo {
	q, ok := w.probeQueues[timeout]
	if !ok {
		q = &fifo{}
		w.probeQueues[timeout] = q
		w.deadlines.add(q)
	}
	return q
}

// probeResult applies a probe's outcome to the pod's state.
func (w *world) probeResult(p *pod, k probeKind, life int, ok bool) {
	if p.life != life || p.gone || p.deleting {
		return
	}
	pr := k.spec(p.svc)
	switch k {
	case probeReadiness:
		if ok {
			p.readyOK, p.readyFail = p.readyOK+1, 0
			if !p.ready && p.readyOK >= int(pr.SuccessThreshold) {
				w.becameReady(p)
			}
			return
		}
		p.readyFail, p.readyOK = p.readyFail+1, 0
		if p.ready && p.readyFail >= int(pr.FailureThreshold) {
			w.setNotReady(p, "readiness probe failed")
		}
	case probeLiveness:
		if ok {
			p.liveFail = 0
			return
		}
		if p.liveFail++; p.liveFail >= int(pr.FailureThreshold) {
			w.containerKill(p, "liveness probe failed: the kubelet restarts the container")
		}
	}
}
