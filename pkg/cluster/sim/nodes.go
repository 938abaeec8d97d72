package sim

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Node outage, as Kubernetes v1.34 lives through it. The machines stop:
// their pods' requests in flight get no answer, and requests still routed
// to them hang until their callers' timeouts (a dead host answers
// nothing). The API does not know yet: the node lifecycle controller marks
// the node NotReady once its kubelet has not renewed its heartbeat for
// the node-monitor grace period (50s; the heartbeat is at most 10s old
// when the outage starts, and the controller looks every 5s), sets the
// node's pods not Ready (they leave the endpoints) and taints the node
// unreachable. Pods tolerate that taint for 300s (the DefaultToleration
// Seconds admission plug-in); then they are evicted and the ReplicaSet
// replaces them on other nodes. When the machines come back, the kubelet
// restarts the containers of the pods not evicted, and the evicted ones
// are gone for good.
const (
	nodeMonitorGracePeriod = 50 * time.Second
	nodeHeartbeatPeriod    = 10 * time.Second
	nodeMonitorPeriod      = 5 * time.Second
	unreachableToleration  = 300 * time.Second
)

// unreachableTaints are what the node lifecycle controller puts on a node
// it has lost: NoSchedule (TaintNodesByCondition) and NoExecute
// (taint-based eviction).
var unreachableTaints = []corev1.Taint{
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
}

func (w *world) injectNodeOutage(f *scenario.Fault) ([]string, func() faults.Recovery, error) {
	no := f.NodeOutage
	sel := labels.SelectorFromSet(no.Spec.Selector)
	var down []*node
	var names []string
	for _, n := range w.nodes {
		if !n.down && sel.Matches(labels.Set(n.labels)) {
			down = append(down, n)
			names = append(names, n.name)
		}
	}
	if len(down) == 0 {
		return nil, nil, fmt.Errorf("no node matches %v", no.Spec.Selector)
	}
	act := func() faults.Recovery {
		for _, n := range down {
			w.nodeDown(n)
		}
		return func() {
			for _, n := range down {
				w.nodeUp(n)
			}
		}
	}
	return names, act, nil
}

func (w *world) nodeDown(n *node) {
	n.down = true
	n.outage++
	outage := n.outage
	w.tl.AddEvent(w.now, "NodeDown", n.name, "the machine stopped")
	for _, p := range slices.Clone(n.pods) {
		w.loseHops(p)
		w.stopStress(p, nil)
		p.appDown = true
	}
	// The last heartbeat was up to 10s ago; the controller notices at its
	// next look after the grace period.
	heartbeat := w.now - time.Duration(w.rng.Int64N(int64(nodeHeartbeatPeriod)))
	detect := heartbeat + nodeMonitorGracePeriod
	detect += time.Duration(w.rng.Int64N(int64(nodeMonitorPeriod)))
	w.events.push(max(detect, w.now), func() {
		if n.down && n.outage == outage {
			w.nodeNotReady(n)
		}
	})
}

func (w *world) nodeNotReady(n *node) {
	n.taints = append(slices.Clone(n.taints), unreachableTaints...)
	w.tl.AddEvent(w.now, "NodeNotReady", n.name, "the kubelet stopped posting node status")
	outage := n.outage
	// The taint manager evicts each pod when its toleration of the
	// NoExecute taint runs out (300s unless its spec says otherwise).
	evictAt := map[time.Duration]bool{}
	for _, p := range slices.Clone(n.pods) {
		w.setNotReady(p, "node "+n.name+" is not ready")
		if d := p.svc.place.unreachable; d >= 0 && !evictAt[d] {
			evictAt[d] = true
			w.events.push(w.now+d, func() { w.evictFrom(n, outage, d) })
		}
	}
}

// evictFrom deletes the pods of n that tolerate its unreachable taint for
// d, if n is still in the same outage.
func (w *world) evictFrom(n *node, outage int, d time.Duration) {
	if !n.down || n.outage != outage {
		return
	}
	for _, p := range slices.Clone(n.pods) {
		if p.gone || p.deleting || p.svc.place.unreachable != d {
			continue
		}
		w.markDeleting(p, timeline.CauseFault)
		w.tl.AddEvent(w.now, "TaintManagerEviction", p.name, fmt.Sprintf("node %s unreachable for %s: deleting the pod", n.name, d))
		w.reconcileReplicaSet(p.svc)
	}
}

// nodeUp brings n back: its taint goes, evicted pods are gone for good,
// the others' containers restart.
func (w *world) nodeUp(n *node) {
	if !n.down {
		return
	}
	n.down = false
	n.outage++
	n.taints = slices.DeleteFunc(slices.Clone(n.taints), func(t corev1.Taint) bool { return slices.Contains(unreachableTaints, t) })
	w.tl.AddEvent(w.now, "NodeReady", n.name, "the machine is back")
	for _, p := range slices.Clone(n.pods) {
		if p.deleting {
			w.removeFromLB(p)
			w.podGone(p)
			continue
		}
		p.life++
		w.setNotReady(p, "container restarting after the node came back")
		w.restartContainer(p)
	}
	w.retryPending()
}

// loseHops: the requests on p get no answer any more. Each ends at its
// caller's deadline, as a timeout.
func (w *world) loseHops(p *pod) {
	for _, i := range w.hopsOn(p) {
		w.hops[i].state = hopLost
	}
}
