package sim

import (
	"fmt"
	"time"
)

// Container faults, with Chaos Mesh's semantics and the kubelet's
// reactions.
//
// container-kill: Chaos Mesh's daemon kills the container (SIGKILL); its
// requests in flight fail. The kubelet sees it exit, the pod's Ready
// condition turns False, and the container is restarted (restartPolicy
// Always) after the kubelet's back-off: at once the first time, then 10s,
// doubling up to 5 minutes, reset once a container has run for 10 minutes
// (pkg/kubelet: backOff with initial 10s and cap 300s).
//
// pod-failure: Chaos Mesh replaces the pod's container images with a pause
// image for the fault's duration. The application stops (requests in
// flight fail), nothing answers on its port (requests routed to it are
// refused), and the readiness probe fails: the kubelet marks the pod not
// Ready after failureThreshold consecutive failed probes. When the fault
// ends the image is restored, the container restarts and becomes Ready as
// a new one does.

// Kubelet container restart back-off.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

func (w *world) containerKill(p *pod, reason string) {
	if p.gone || p.deleting || p.appDown {
		return
	}
	w.tl.AddEvent(w.now, "Killing", p.name, reason)
	w.appStopped(p)
	w.setNotReady(p, "container exited")
	p.restarts++
	delay := p.backoff
	if w.now-p.started >= backoffReset {
		delay = 0
	}
	p.backoff = min(max(2*delay, backoffInitial), backoffMax)
	if delay > 0 {
		w.tl.AddEvent(w.now, "BackOff", p.name, fmt.Sprintf("back-off %s restarting the container", delay))
	}
	life := p.life
	w.events.push(w.now+delay, func() {
		if p.life == life {
			w.restartContainer(p)
		}
	})
}

func (w *world) podFailure(p *pod, reason string) {
	if p.gone || p.deleting || p.failing {
		return
	}
	w.tl.AddEvent(w.now, "PodFailure", p.name, reason)
	w.appStopped(p)
	p.failing = true
	// The pause container runs in the application's place: its probes
	// fail (nothing listens) and turn the pod not Ready (probes.go).
	w.startProbes(p)
}

// endPodFailure restores the pod's image: the container restarts.
func (w *world) endPodFailure(p *pod) {
	if p.gone || p.deleting || !p.failing {
		return
	}
	p.failing = false
	w.setNotReady(p, "container restarting")
	w.restartContainer(p)
}

// appStopped ends the application process of p: its requests in flight
// fail, and readiness events of the old process are void.
func (w *world) appStopped(p *pod) {
	w.stopStress(p, nil) // stressors die with their container
	w.killHops(p)        // the pod's CPU demand is re-divided there
	p.appDown, p.running = true, false
	p.life++
}

// restartContainer starts p's container again after its start-up time.
func (w *world) restartContainer(p *pod) {
	if p.gone || p.deleting || p.failing {
		return
	}
	w.startContainer(p)
}

// setNotReady turns p's Ready condition False; it leaves the endpoints
// after the endpoints delay.
func (w *world) setNotReady(p *pod, why string) {
	if !p.ready {
		return
	}
	p.ready, p.readySince = false, w.now
	w.tl.AddEvent(w.now, "NotReady", p.name, why)
	w.events.push(w.now+p.svc.endpointsDelay, func() {
		if !p.ready {
			w.removeFromLB(p)
		}
	})
}
