package sim

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Node CPU is shared the way the kernel's CFS shares it between the pods
// of a node: a pod's CPU request is its weight (cpu.shares), its CPU limit
// a hard cap (the CFS quota), and a pod with no limit may use any idle CPU
// of its node. As long as the pods of a node together want no more than
// its allocatable CPU, each gets what it wants; beyond that, the node's CPU
// is divided by weighted max-min fairness (water-filling): no pod gets
// more than it wants, and the rest is shared in proportion to requests.
// A pod wants min(limit, requests in flight + its stressors' load) cores
// (one request runs on one core at a time; stress.go).

// minWeight is CFS's smallest cpu.shares (2) in cores: a pod with no CPU
// request still gets a sliver.
const minWeight = 0.002

// want is the CPU pod p would use now, in cores. (The builtin min and
// max give math.Min's and math.Max's results, NaN and -0 included, but
// inline: the hot path calls them millions of times.)
func (p *pod) want() float64 { return min(p.limit, float64(p.srv.live)+p.srv.stressWant) }

// cpuChanged re-divides p's node after the requests in flight on p
// changed (or p left the node). It is two calls a request, and most end
// at once: a pod whose node cannot be contended (limitsChanged) gets what
// it wants, and nobody keeps count. That check is all that inlines; the
// rest is redivide.
func (w *world) cpuChanged(p *pod) {
	if !p.cpuFree {
		w.redivide(p)
	}
}

// redivide is cpuChanged on a node that can be contended.
func (w *world) redivide(p *pod) {
	n := p.node
	if n == nil {
		return
	}
	want := 0.0
	if !p.gone {
		want = p.want()
	}
	if want == p.demand {
		// Nothing on the node changed: its division stands (n.demand
		// would gain an exact 0, and water-filling the same demands gives
		// the same shares). Most requests that arrive at or leave a busy
		// pod end here without touching the node.
		return
	}
	n.demand += want - p.demand
	p.demand = want
	w.divide(n)
}

// divide shares n's CPU by what its pods want now (n.demand): by
// water-filling when they want more than it has, else each its limit.
func (w *world) divide(n *node) {
	if n.demand > n.cores*(1+1e-12) {
		n.contended = true
		w.waterFill(n)
		return
	}
	w.uncontend(n)
}

// uncontend gives every pod of n its limit again, if n was contended.
func (w *world) uncontend(n *node) {
	if n.contended {
		n.contended = false
		for _, q := range n.pods {
			w.setCapacity(q, q.limit)
		}
	}
}

// waterFill divides n's CPU among its pods by weighted max-min fairness.
func (w *world) waterFill(n *node) {
	active := n.fill[:0]
	for _, q := range n.pods {
		if q.demand > 0 {
			active = append(active, q)
		} else {
			w.setCapacity(q, q.limit) // idle: recomputed when work arrives
		}
	}
	n.fill = active
	// Pods that want least per unit of weight are satisfied first.
	slices.SortFunc(active, func(a, b *pod) int {
		if c := cmp.Compare(a.demand/a.weight, b.demand/b.weight); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	remaining, weights := n.cores, 0.0
	for _, q := range active {
		weights += q.weight
	}
	for _, q := range active {
		share := remaining * q.weight / weights
		alloc := min(q.demand, share)
		remaining -= alloc
		weights -= q.weight
		w.setCapacity(q, alloc)
	}
}

// setCapacity changes the CPU a pod's server may use from now on.
func (w *world) setCapacity(p *pod, cores float64) {
	s := &p.srv
	if s.capacity == cores {
		return
	}
	s.advance(w.now)
	s.capacity = cores
	s.setRate()
	w.reschedule(s)
}

// limitsChanged tells n's pods whether their node can be contended at
// all after a pod joined or left it. A pod wants at most its limit (want;
// under the Periodic model, its burst), so when the limits of the pods
// bound to a node add up to no more than its CPU, each always gets what
// it wants and nothing about the node needs counting: most nodes of most
// runs. The demands are counted again, from what the pods want now, when
// the node can be contended once more.
func (w *world) limitsChanged(n *node) {
	limits := 0.0
	for _, q := range n.pods {
		limits += q.maxLimit
	}
	mayContend := limits > n.cores
	for _, q := range n.pods {
		q.cpuFree = !mayContend
	}
	switch {
	case mayContend == n.mayContend:
		// Counted all along, or needs no count still.
	case !mayContend:
		w.uncontend(n)
	default:
		n.demand = 0
		for _, q := range n.pods {
			q.demand = 0
			if !q.gone {
				q.demand = q.want()
			}
			n.demand += q.demand
		}
		w.divide(n) // (n was not contended: uncounted nodes never are)
	}
	n.mayContend = mayContend
}

// bindCPU puts a scheduled pod on its node's CPU.
func (w *world) bindCPU(p *pod) {
	n := p.node
	p.limit = p.svc.podLimit
	if p.limit == 0 || p.limit > n.cores {
		p.limit = n.cores // no limit: the whole node
	}
	p.weight = math.Max(p.svc.podWeight, minWeight)
	if w.cfsPeriod > 0 && p.svc.podLimit > 0 {
		w.startQuota(p)
	}
	p.maxLimit = p.limit
	p.srv.capacity = p.limit
	p.srv.setRate()
	n.pods = append(n.pods, p)
	w.limitsChanged(n)
}

// unbindCPU takes a pod that is gone off its node's CPU.
func (w *world) unbindCPU(p *pod) {
	n := p.node
	if n == nil {
		return
	}
	w.cpuChanged(p) // p.gone: it wants nothing now
	if i := slices.Index(n.pods, p); i >= 0 {
		n.pods = slices.Delete(n.pods, i, i+1)
	}
	p.cpuFree = false
	w.limitsChanged(n)
}
