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
// it has lost: NoSchedule (TaintNodesByCondition, at once) and NoExecute
// (taint-based eviction, rate-limited per zone: see queueNoExecute).
var (
	noScheduleUnreachable = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	noExecuteUnreachable  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	unreachableTaints     = []corev1.Taint{noScheduleUnreachable, noExecuteUnreachable}
)

// The node lifecycle controller puts NoExecute taints on the lost nodes of
// a zone through a rate limiter (kube-controller-manager's defaults,
// v1.34): a token bucket of burst 1 at --node-eviction-rate, 0.1 nodes a
// second, in a zone that is healthy or wholly lost; 0 (no taint, so no
// eviction) in a partially disrupted zone (more than 2 nodes and at least
// --unhealthy-zone-threshold, 55%, of them NotReady) of at most
// --large-cluster-size-threshold (50) nodes, and
// --secondary-node-eviction-rate (0.01) in a larger one; and nowhere when
// every zone is wholly lost (the controller then suspects its own
// connectivity). So the second node of a lost zone is tainted, and its
// pods evicted, 10s after the first (seen on kind: 195.8s and 205.6s).
const (
	nodeEvictionInterval          = 10 * time.Second  // 1 / 0.1 per second
	secondaryNodeEvictionInterval = 100 * time.Second // 1 / 0.01 per second
	unhealthyZoneThreshold        = 0.55
	largeClusterSizeThreshold     = 50
)

// zoneKey is a node's zone as Kubernetes keys it (region and zone,
// nodetopology.GetZoneKey): the node lifecycle controller's zones and the
// scheduler's node tree.
func zoneKey(n *node) string {
	return n.labels[corev1.LabelTopologyRegion] + ":\x00:" + n.labels[corev1.LabelTopologyZone]
}

// zoneStates reports whether every zone is wholly lost (NotReady), and
// whether n's zone is partially disrupted in a way that stops its
// evictions (secondary: it only slows them, a zone of more than 50).
func (w *world) zoneStates(n *node) (allLost, stopped, secondary bool) {
	type count struct{ size, notReady int }
	zones := map[string]*count{}
	for _, m := range w.nodes {
		c := zones[zoneKey(m)]
		if c == nil {
			c = &count{}
			zones[zoneKey(m)] = c
		}
		c.size++
		if m.notReady {
			c.notReady++
		}
	}
	allLost = true
	for _, c := range zones {
		allLost = allLost && c.notReady == c.size
	}
	c := zones[zoneKey(n)]
	if c.notReady < c.size && c.notReady > 2 && float64(c.notReady)/float64(c.size) >= unhealthyZoneThreshold {
		if c.size <= largeClusterSizeThreshold {
			stopped = true
		} else {
			secondary = true
		}
	}
	return allLost, stopped, secondary
}

// queueNoExecute asks the zone's rate limiter to taint the lost node n
// NoExecute: at once if the zone's token is there, else when it comes
// (one per 10s; 100s in a large, partially disrupted zone); not at all in
// a small partially disrupted zone, or while every zone is lost.
func (w *world) queueNoExecute(n *node) {
	allLost, stopped, secondary := w.zoneStates(n)
	if allLost || stopped {
		return
	}
	interval := nodeEvictionInterval
	if secondary {
		interval = secondaryNodeEvictionInterval
	}
	if w.noExecuteNext == nil {
		w.noExecuteNext = map[string]time.Duration{}
	}
	z := zoneKey(n)
	at := w.now
	if next, ok := w.noExecuteNext[z]; ok && next > at {
		at = next
	}
	w.noExecuteNext[z] = at + interval
	n.taintQueued = true
	outage, gen := n.outage, n.taintGen
	w.events.push(at, func() {
		if !n.down || n.outage != outage || n.taintGen != gen {
			return
		}
		n.taintQueued = false
		// The zone may have turned since: the queue only moves while
		// the zone's limiter lets it.
		if allLost, stopped, _ := w.zoneStates(n); allLost || stopped {
			return
		}
		w.taintNoExecute(n)
	})
}

// untaintAll is the controller's answer to every zone being lost: it
// suspects its own connectivity, takes the NoExecute taints off every
// node (the pending evictions are cancelled) and stops tainting until a
// node is back.
func (w *world) untaintAll() {
	for _, m := range w.nodes {
		if m.notReady {
			m.taintGen++
			m.taintQueued = false
			m.taints = slices.DeleteFunc(slices.Clone(m.taints), func(t corev1.Taint) bool { return t == noExecuteUnreachable })
		}
	}
	w.noExecuteNext = nil
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
	n.notReady = true
	n.taints = append(slices.Clone(n.taints), noScheduleUnreachable)
	w.tl.AddEvent(w.now, "NodeNotReady", n.name, "the kubelet stopped posting node status")
	for _, p := range slices.Clone(n.pods) {
		w.setNotReady(p, "node "+n.name+" is not ready")
	}
	if allLost, _, _ := w.zoneStates(n); allLost {
		w.untaintAll()
		return
	}
	w.queueNoExecute(n)
}

// taintNoExecute puts the NoExecute taint on a lost node: the taint
// manager evicts each of its pods when its toleration of the taint runs
// out (300s unless its spec says otherwise).
func (w *world) taintNoExecute(n *node) {
	n.taints = append(slices.Clone(n.taints), noExecuteUnreachable)
	outage, gen := n.outage, n.taintGen
	evictAt := map[time.Duration]bool{}
	for _, p := range n.pods {
		if d := p.svc.place.unreachable; d >= 0 && !evictAt[d] {
			evictAt[d] = true
			w.events.push(w.now+d, func() {
				if n.taintGen == gen {
					w.evictFrom(n, outage, d)
				}
			})
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
	n.notReady = false
	n.taintQueued = false
	n.outage++
	// A node back ends the controller's all-zones-lost mode: the nodes
	// still lost and not tainted are queued again.
	for _, m := range w.nodes {
		if m.notReady && !m.taintQueued && !slices.Contains(m.taints, noExecuteUnreachable) {
			w.queueNoExecute(m)
		}
	}
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
