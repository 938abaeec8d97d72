package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// NetworkDelayer holds what pods send for a while, as a NetworkChaos
// delay or loss does, on a cluster whose nodes' kernel has no netem (the
// queueing discipline Chaos Mesh builds those actions on) and whose nodes
// mcpsim controls: kind.Cluster runs `mcpsim netdelay`, an NFQUEUE
// delayer, on the nodes of the pods (package netdelay). Elsewhere such a
// scenario is refused before anything runs.
type NetworkDelayer interface {
	// Delay starts holding, under id, every packet the pods send.
	Delay(ctx context.Context, id int, spec cluster.PacketDelay, pods []cluster.DelayedPod) error
	// Undelay ends delay id: what it held is let go; it says what the
	// delayers saw.
	Undelay(ctx context.Context, id int) (string, error)
}

// delaySpec reads what a NetworkChaos asks of a delayer, or why a delayer
// cannot do it: netem holds a pod's packets on its interface, to the
// targets given or to everything; the delayer holds everything the pod
// sends, so only the second.
func delaySpec(nc *chaosv1alpha1.NetworkChaos, p *field.Path) (cluster.PacketDelay, *field.Error) {
	s := &nc.Spec
	sp := p.Child("spec")
	var d cluster.PacketDelay
	switch {
	case s.Target != nil:
		return d, field.Forbidden(sp.Child("target"), "holding packets to a target needs the kernel's netem; without it mcpsim holds everything a pod sends (leave out target)")
	case len(s.ExternalTargets) > 0:
		return d, field.Forbidden(sp.Child("externalTargets"), "holding packets to a target needs the kernel's netem; without it mcpsim holds everything a pod sends (leave out externalTargets)")
	case s.Device != "" && s.Device != "eth0":
		return d, field.Forbidden(sp.Child("device"), "without the kernel's netem mcpsim holds what a pod sends on its network interface, eth0")
	case s.Duplicate != nil || s.Corrupt != nil || s.Bandwidth != nil || s.Rate != nil:
		return d, field.Forbidden(sp.Child("action"), "duplicate, corrupt and rate need the kernel's netem; without it mcpsim does delay and loss only")
	case s.Delay != nil && s.Delay.Reorder != nil:
		return d, field.Forbidden(sp.Child("delay", "reorder"), "reorder needs the kernel's netem; without it mcpsim does delay and loss only")
	}
	d.Netem = scenario.NetemOf(s)
	return d, nil
}

// networkDelays are the delays in force during a run, by fault, each with
// its delayer's id.
type networkDelays struct {
	b      *Backend
	end    time.Duration // the run's
	ids    map[string]int
	nextID int
}

// held reports whether fault f is run by the delayer rather than by
// Chaos Mesh: a netem action on nodes without netem.
func (b *Backend) held(f *scenario.Fault) bool {
	return NeedsNetem(f) && b.opts.NoNetem != "" &&
		(b.opts.Delayer != nil || b.opts.DelaysWithoutNetem)
}

// inject picks the fault's pods as Chaos Mesh would and has the delayer
// hold what they send.
func (o *networkDelays) inject(ctx context.Context, ns string, f *scenario.Fault, obs *observer, rng *rand.Rand, at time.Duration) timeline.Fault {
	rec := timeline.Fault{Name: f.Name(), Kind: f.Kind(), Action: f.Action(), At: at}
	if o.b.opts.Delayer == nil {
		// Only a checks-only backend (DelaysWithoutNetem) gets here.
		rec.Error = "this backend has no way to hold pods' packets"
		return rec
	}
	spec, ferr := delaySpec(f.NetworkChaos, field.NewPath("fault"))
	if ferr != nil {
		rec.Error = ferr.Error()
		return rec
	}
	spec.For = o.end - at
	if d, ok := f.Duration(); ok {
		spec.For = min(d, spec.For)
	}
	spec.Seed = rng.Uint64()
	targets, err := o.b.selectPods(ctx, ns, f.NetworkChaos.Spec.PodSelector, obs, rng)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	var pods []cluster.DelayedPod
	var missing []string
	for _, name := range targets {
		p, err := obs.pods.Pods(ns).Get(name)
		if err != nil || p.Spec.NodeName == "" || p.Status.PodIP == "" {
			missing = append(missing, name)
			continue
		}
		pods = append(pods, cluster.DelayedPod{Name: name, Node: p.Spec.NodeName, IP: p.Status.PodIP})
	}
	if len(pods) == 0 {
		rec.Error = fmt.Sprintf("no pod to hold the packets of (selected: %v; without a node or an address: %v)", targets, missing)
		return rec
	}
	if o.ids == nil {
		o.ids = map[string]int{}
	}
	id := o.nextID
	o.nextID++
	if err := o.b.opts.Delayer.Delay(ctx, id, spec, pods); err != nil {
		rec.Error = "holding the pods' packets: " + err.Error()
		return rec
	}
	o.ids[rec.Name] = id
	for _, p := range pods {
		rec.Targets = append(rec.Targets, p.Name)
	}
	if len(missing) > 0 {
		rec.Error = fmt.Sprintf("not held (no node or address yet): %v", missing)
	}
	return rec
}

// restore ends one fault's delay and says what its delayers saw.
func (o *networkDelays) restore(ctx context.Context, fault string) (string, error) {
	id, ok := o.ids[fault]
	if !ok {
		return "", nil
	}
	summary, err := o.b.opts.Delayer.Undelay(ctx, id)
	if err == nil {
		delete(o.ids, fault)
	}
	return summary, err
}

// restoreAll ends every delay still in force (the run's end, an error, a
// Ctrl-C), within timeout.
func (o *networkDelays) restoreAll(timeout time.Duration) error {
	if len(o.ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, fault := range slices.Sorted(maps.Keys(o.ids)) {
		if _, err := o.restore(ctx, fault); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fault, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("packets still held (`mcpsim cluster clean` lets them go): %w", errors.Join(errs...))
	}
	return nil
}
