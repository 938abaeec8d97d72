package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// NodeOutages take nodes off the network and bring them back, as a
// NodeOutage means: machines lost. Only a cluster whose machines mcpsim
// controls has them (kind: kind.Cluster); elsewhere NodeOutage is refused
// before anything runs.
type NodeOutages interface {
	// Isolate cuts the node off: nothing reaches it, nothing leaves it.
	Isolate(ctx context.Context, node string) error
	// Restore undoes Isolate (and does nothing to a node not isolated).
	Restore(ctx context.Context, node string) error
}

// controlPlaneLabel marks the nodes an outage never takes: the sim has
// no control plane, and on a real cluster the run would go with it.
const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// nodeOutages are the outages in force during a run, by fault.
type nodeOutages struct {
	b    *Backend
	down map[string][]string
}

// inject isolates the worker nodes the fault's selector matches now.
func (o *nodeOutages) inject(ctx context.Context, f *scenario.Fault, at time.Duration) timeline.Fault {
	rec := timeline.Fault{Name: f.Name(), Kind: f.Kind(), Action: f.Action(), At: at}
	if o.b.opts.NodeOutages == nil {
		// Only a checks-only backend (IsolatesNodes) gets here.
		rec.Error = "this backend has no way to take nodes off the network"
		return rec
	}
	sel := labels.SelectorFromSet(f.NodeOutage.Spec.Selector)
	list, err := o.b.opts.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		rec.Error = "listing nodes: " + err.Error()
		return rec
	}
	var targets []string
	for _, n := range list.Items {
		if _, cp := n.Labels[controlPlaneLabel]; !cp {
			targets = append(targets, n.Name)
		}
	}
	slices.Sort(targets)
	if len(targets) == 0 {
		// As the sim: an outage that takes nothing down must not pass
		// for one that had no effect.
		rec.Error = fmt.Sprintf("no worker node matches %v", f.NodeOutage.Spec.Selector)
		return rec
	}
	var failed []string
	for _, name := range targets {
		if err := o.b.opts.NodeOutages.Isolate(ctx, name); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		rec.Targets = append(rec.Targets, name)
	}
	if o.down == nil {
		o.down = map[string][]string{}
	}
	o.down[rec.Name] = rec.Targets
	if len(failed) > 0 {
		rec.Error = strings.Join(failed, "; ")
	}
	return rec
}

// restore brings back the nodes of one outage.
func (o *nodeOutages) restore(ctx context.Context, fault string) error {
	var errs []error
	var left []string
	for _, name := range o.down[fault] {
		if err := o.b.opts.NodeOutages.Restore(ctx, name); err != nil {
			errs = append(errs, err)
			left = append(left, name)
		}
	}
	// What could not be restored is tried again at the end of the run.
	if o.down[fault] = left; len(left) == 0 {
		delete(o.down, fault)
	}
	return errors.Join(errs...)
}

// restoreAll ends every outage still in force and waits (bounded) until
// those nodes are Ready again, so that the run's namespace can go (the
// kubelet must confirm its pods' deletion) and the next run finds the
// cluster whole.
func (o *nodeOutages) restoreAll(timeout time.Duration) error {
	if len(o.down) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var nodes []string
	for _, down := range o.down {
		nodes = append(nodes, down...)
	}
	slices.Sort(nodes)
	// A restoration that fails (the node's iptables busy, the Docker
	// daemon slow) is tried again every second until the time is up.
	var errs []error
	_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		errs = errs[:0]
		for _, fault := range slices.Sorted(maps.Keys(o.down)) {
			if err := o.restore(ctx, fault); err != nil {
				errs = append(errs, err)
			}
		}
		return len(o.down) == 0, nil
	})
	if len(o.down) > 0 {
		return fmt.Errorf("nodes left off the network (`mcpsim cluster clean` restores them): %w", errors.Join(errs...))
	}
	return waitNodesReady(ctx, o.b, nodes)
}

// waitNodesReady polls until each node's Ready condition is True.
func waitNodesReady(ctx context.Context, b *Backend, nodes []string) error {
	var waiting string
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		for _, name := range nodes {
			n, err := b.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil || !nodeReady(n) {
				waiting = name
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("node %s restored from its outage but not Ready: %w", waiting, err)
	}
	return nil
}
