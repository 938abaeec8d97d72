package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// The self-heal controller in the sim: package selfheal decides (the same
// code the operator runs), the sim carries out. Its health checks are
// HTTP requests from the controller to each instance of the target, on the
// instance's CPU like any request (probes.go); a circuit breaker of a
// caller opening toward the target is a CircuitBreakerTripped event.
// Actions: restart deletes the pod (as pod-kill does, with the kubelet's
// minimum grace) and succeeds at once, as the operator counts a pod
// terminating as restarted; isolate removes its labels,
// as the operator does: it leaves the endpoints and its ReplicaSet, which
// replaces it, until its health check passes (adopted again, one pod too
// many: the ReplicaSet deletes one by its ranking); scale adds a replica
// to the service.

type healer struct {
	w   *world
	idx int
	eng *selfheal.Engine
	svc *service
}

func (w *world) newHealers() {
	for i := range w.sc.Spec.SelfHeal {
		p := w.sc.Spec.SelfHeal[i].EnginePolicy()
		h := &healer{w: w, idx: len(w.healers), eng: selfheal.New(p)}
		for _, s := range w.services {
			if s.name == p.Target {
				h.svc = s
			}
		}
		if h.svc == nil {
			continue // validation forbids it
		}
		w.healers = append(w.healers, h)
		w.events.push(p.HealthCheck.Interval, h.tick)
	}
}

func (h *healer) now() time.Time { return h.w.at(h.w.now) }

func (h *healer) event(kind, object, msg string) {
	h.w.tl.AddEvent(h.w.now, kind, object, "self-heal "+h.eng.Policy().Name+": "+msg)
}

// tick checks every instance and expires late repairs.
func (h *healer) tick() {
	w := h.w
	p := h.eng.Policy()
	for _, pd := range slices.Clone(h.svc.pods) {
		// Scheduled and started (a stopped application still counts: the
		// pod is there, it just does not answer).
		if pd.gone || pd.deleting || pd.node == nil || (!pd.running && !pd.appDown) {
			continue
		}
		w.healthCheck(h, pd)
	}
	h.carryOut(h.eng.Expire(h.now()))
	if next := w.now + p.HealthCheck.Interval; next <= w.end {
		w.events.push(next, h.tick)
	}
}

// healthCheck sends one check to pd: a request that must answer within
// the policy's timeout.
func (w *world) healthCheck(h *healer, pd *pod) {
	if pd.node != nil && pd.node.down {
		// A dead host does not answer: the check times out.
		w.events.push(w.now+h.eng.Policy().HealthCheck.Timeout, func() { w.healthResult(h.idx, pd, false) })
		return
	}
	if pd.appDown || pd.starting {
		w.healthResult(h.idx, pd, false)
		return
	}
	w.sendProbe(pd, probeHealth, h.idx, h.eng.Policy().HealthCheck.Timeout)
}

// healthResult feeds a check's result to the engine.
func (w *world) healthResult(idx int, pd *pod, ok bool) {
	h := w.healers[idx]
	if pd.gone {
		h.eng.Forget(pd.name)
		return
	}
	ev, rejoin := h.eng.Health(pd.name, ok, h.now())
	if rejoin != nil {
		h.rejoin(pd)
	}
	if ev != nil {
		h.event("SelfHealDetected", pd.name, fmt.Sprintf("%s after %d failed health checks", ev.Type, h.eng.Policy().HealthCheck.FailureThreshold))
		h.repair(timeline.Repair{Pod: pd.name, Stage: timeline.RepairDetected, Event: ev.Type})
		h.handle(*ev)
	}
}

// breakerOpened is a caller's breaker toward downstream opening.
func (w *world) breakerOpened(caller *pod, downstream string) {
	for _, h := range w.healers {
		if h.svc.name != downstream {
			continue
		}
		h := h
		ev := selfheal.Event{Type: selfheal.CircuitBreakerTripped, Instance: caller.name, Downstream: downstream}
		// Not inside the breaker's own call: as its own event, now.
		w.events.push(w.now, func() { h.handle(ev) })
	}
}

func (h *healer) handle(ev selfheal.Event) {
	// Serving: the endpoints but the pods being deleted (they leave them
	// an endpoints delay later, but no longer count on).
	v := selfheal.View{}
	for _, pd := range h.svc.lb {
		if !pd.deleting {
			v.Serving++
		}
	}
	if pd := h.find(ev.Instance); pd != nil && !pd.inLB {
		v.TargetOut = true
	}
	ds, outs := h.eng.Handle(ev, v, h.now())
	h.record(outs)
	h.carryOut(ds, nil)
}

func (h *healer) record(outs []selfheal.Outcome) {
	for _, o := range outs {
		h.event("SelfHealOutcome", o.Event.Instance, fmt.Sprintf("%s for %s: %s", o.Action, o.Event, o.Result))
		h.repair(timeline.Repair{Pod: o.Event.Instance, Stage: timeline.RepairOutcome, Event: o.Event.Type, Action: o.Action, Result: o.Result})
	}
}

// repair records a step of the policy's work for assertions.
func (h *healer) repair(r timeline.Repair) {
	r.T, r.Policy = h.w.now, h.eng.Policy().Name
	h.w.tl.Repairs = append(h.w.tl.Repairs, r)
}

// carryOut executes decisions.
func (h *healer) carryOut(ds []selfheal.Decision, outs []selfheal.Outcome) {
	w := h.w
	h.record(outs)
	for _, d := range ds {
		h.event("SelfHealAction", d.Instance, fmt.Sprintf("%s (attempt %d) for %s", d.Action, d.Attempt, d.Event))
		h.repair(timeline.Repair{Pod: d.Instance, Stage: timeline.RepairAction, Event: d.Event.Type, Action: d.Action})
		switch d.Action {
		case selfheal.Restart:
			pd := h.find(d.Instance)
			if pd == nil {
				h.completed(d.ID, true) // gone already
				continue
			}
			// The operator deletes the pod with grace period 0 and counts
			// the restart done once the pod is terminating: at once (the
			// kubelet still gives the process its 2s minimum grace).
			w.killPodFor(pd, 0, "self-heal "+h.eng.Policy().Name+": restart", timeline.CauseSelfHeal)
			h.completed(d.ID, true)
		case selfheal.Isolate:
			if pd := h.find(d.Instance); pd != nil && !pd.isolated {
				// The operator removes the labels the Services select on;
				// the ReplicaSet selects on them too, so it orphans the
				// pod and creates a replacement at once.
				pd.isolated = true
				w.events.push(w.now+pd.svc.endpointsDelay, func() {
					if pd.isolated {
						w.removeFromLB(pd)
					}
				})
				w.reconcileReplicaSet(pd.svc)
			}
			h.completed(d.ID, true)
		case selfheal.Scale:
			target := h.svc
			for _, s := range w.services {
				if s.name == d.Downstream {
					target = s
				}
			}
			limit := int32(scenario.MaxReplicas)
			if hp := target.spec.HPA; hp != nil {
				limit = hp.MaxReplicas
			}
			if target.desired < limit {
				target.desired++
				w.tl.AddEvent(w.now, "ScalingReplicaSet", target.name, fmt.Sprintf("self-heal scaled to %d", target.desired))
				w.reconcileReplicaSet(target)
			}
			h.completed(d.ID, true)
		}
	}
}

func (h *healer) completed(id int, ok bool) {
	h.carryOut(h.eng.Completed(id, ok, h.now()))
}

func (h *healer) find(name string) *pod {
	for _, pd := range h.svc.pods {
		if pd.name == name && !pd.gone && !pd.deleting {
			return pd
		}
	}
	return nil
}

// rejoin ends an isolation: the pod's label is back; it rejoins the
// endpoints if Ready.
func (h *healer) rejoin(pd *pod) {
	if !pd.isolated {
		return
	}
	pd.isolated = false
	h.event("SelfHealAction", pd.name, "rejoin: its health check passes again")
	h.repair(timeline.Repair{Pod: pd.name, Stage: timeline.RepairAction, Action: selfheal.Rejoin})
	w := h.w
	// Its labels back, the ReplicaSet adopts it again and, one pod over,
	// deletes one by its ranking.
	w.reconcileReplicaSet(pd.svc)
	if pd.deleting {
		return
	}
	w.events.push(w.now+pd.svc.endpointsDelay, func() {
		if pd.ready && !pd.gone && !pd.deleting && !pd.inLB && !pd.isolated {
			pd.inLB = true
			pd.svc.lb = append(pd.svc.lb, pd)
		}
	})
}

// podGoneForHealers forgets a pod that is gone.
func (w *world) podGoneForHealers(pd *pod) {
	for _, h := range w.healers {
		h.eng.Forget(pd.name)
	}
}
