package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// checkFault says whether a fault can run: with Chaos Mesh on the cluster,
// every PodChaos action; without it, PodChaos pod-kill, executed by mcpsim
// exactly as Chaos Mesh's controller does it (resolve the selector and
// mode, delete the pods with the grace period); NodeOutage where the
// backend has NodeOutages (kind). The error is about the field, so that
// the CLI shows it at its place in the file.
func (b *Backend) checkFault(i int, f *scenario.Fault) *field.Error {
	p := field.NewPath("spec", "faults").Index(i)
	switch {
	case f.NodeOutage != nil:
		if b.opts.NodeOutages == nil && !b.opts.IsolatesNodes {
			return field.Forbidden(p.Child("kind"), "NodeOutage needs a cluster whose machines mcpsim controls (backend kind, or the sim)")
		}
	case b.held(f):
		// Held by mcpsim's delayer instead of Chaos Mesh (netdelay.go).
		if _, err := delaySpec(f.NetworkChaos, p); err != nil {
			err.Detail += " (" + b.opts.NoNetem + ")"
			return err
		}
	case NeedsNetem(f) && b.opts.ChaosMesh && b.opts.NoNetem != "":
		return field.Forbidden(p.Child("spec", "action"), string(f.NetworkChaos.Spec.Action)+" needs the kernel's netem queueing discipline: "+b.opts.NoNetem)
	case f.PodHang != nil, b.opts.ChaosMesh:
		// PodHang goes through the reference service's admin endpoint.
	case f.NetworkChaos != nil || f.StressChaos != nil:
		return field.Forbidden(p.Child("kind"), f.Name()+": "+f.Kind()+" needs Chaos Mesh on the cluster (kind installs it by itself; kube: --chaos-mesh)")
	case f.PodChaos != nil && f.PodChaos.Spec.Action != chaosv1alpha1.PodKillAction:
		return field.Forbidden(p.Child("spec", "action"), string(f.PodChaos.Spec.Action)+" needs Chaos Mesh on the cluster (kind: run with --chaos-mesh; pod-kill runs without it)")
	}
	return nil
}

// NeedsNetem reports whether f is a NetworkChaos whose action chaos-daemon
// builds on tc netem (delay, loss, duplicate, corrupt, netem): on nodes
// without netem, one mcpsim holds the packets of itself (kind) or refuses.
func NeedsNetem(f *scenario.Fault) bool {
	if f.NetworkChaos == nil {
		return false
	}
	switch f.NetworkChaos.Spec.Action {
	case chaosv1alpha1.DelayAction, chaosv1alpha1.LossAction, chaosv1alpha1.DuplicateAction, chaosv1alpha1.CorruptAction, chaosv1alpha1.NetemAction:
		return true
	}
	return false
}

// injectPodKill runs a PodChaos pod-kill in the run's namespace: the
// scenario's namespace "default" (or none) stands for it, as on the sim.
func (b *Backend) injectPodKill(ctx context.Context, ns string, f *scenario.Fault, obs *observer, rng *rand.Rand, at time.Duration) timeline.Fault {
	pc := f.PodChaos
	return b.actOnPods(ctx, ns, f, pc.Spec.PodSelector, obs, rng, at, "deleting pods", func(name string) error {
		return b.opts.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(pc.Spec.GracePeriod)})
	})
}

// injectPodHang delivers a PodHang through each picked pod's admin
// endpoint (POST /admin/hang, for the fault's duration when it has one);
// unhangPods ends it.
func (b *Backend) injectPodHang(ctx context.Context, ns string, f *scenario.Fault, obs *observer, rng *rand.Rand, at time.Duration) timeline.Fault {
	q := url.Values{}
	if d, ok := f.Duration(); ok {
		q.Set("for", d.String())
	}
	return b.actOnPods(ctx, ns, f, f.PodHang.Spec.PodSelector, obs, rng, at, "hanging pods", func(name string) error {
		return b.adminCall(ctx, ns, name, "POST", "admin/hang", q)
	})
}

// actOnPods picks a fault's pods (selectPods) and applies act to each: the
// fault's record, its targets, and what failed, under what.
func (b *Backend) actOnPods(ctx context.Context, ns string, f *scenario.Fault, ps chaosv1alpha1.PodSelector, obs *observer, rng *rand.Rand, at time.Duration, what string, act func(pod string) error) timeline.Fault {
	rec := timeline.Fault{Name: f.Name(), Kind: f.Kind(), Action: f.Action(), At: at}
	targets, err := b.selectPods(ctx, ns, ps, obs, rng)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Targets = targets
	var failed []string
	for _, name := range targets {
		if err := act(name); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(failed) > 0 {
		rec.Error = what + ": " + strings.Join(failed, "; ")
	}
	return rec
}

// unhangPods ends a PodHang on its targets (those still there).
func (b *Backend) unhangPods(ctx context.Context, ns string, targets []string) error {
	var failed []string
	for _, name := range targets {
		if err := b.adminCall(ctx, ns, name, "DELETE", "admin/hang", nil); err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("ending the hang: %s", strings.Join(failed, "; "))
	}
	return nil
}

// proxyAdminCall sends method path?query to the pod's reference service
// through the API server's pod proxy.
func (b *Backend) proxyAdminCall(ctx context.Context, ns, pod, method, path string, query url.Values) error {
	req := b.opts.Client.CoreV1().RESTClient().Verb(method).Namespace(ns).Resource("pods").
		Name(fmt.Sprintf("http:%s:%d", pod, reference.Port)).SubResource("proxy").Suffix(path)
	for k, vs := range query {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	return req.Do(ctx).Error()
}

// selectPods resolves a Chaos Mesh pod selector and mode in the run's
// namespace as Chaos Mesh's controller does: the pods that match now, in
// name order, picked by mode.
func (b *Backend) selectPods(ctx context.Context, ns string, ps chaosv1alpha1.PodSelector, obs *observer, rng *rand.Rand) ([]string, error) {
	sel := inRunNamespace(ps.Selector, ns)
	if err := b.checkNodeNames(ctx, sel); err != nil {
		return nil, err
	}
	all, err := obs.pods.List(everything)
	if err != nil {
		return nil, err
	}
	var candidates []string
	for _, p := range all {
		if p.DeletionTimestamp != nil {
			continue
		}
		t := faults.Target{Name: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, Phase: string(p.Status.Phase), Labels: p.Labels}
		var nodeLabels map[string]string
		if len(sel.NodeSelectors) > 0 && p.Spec.NodeName != "" {
			if n, err := b.opts.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{}); err == nil {
				nodeLabels = n.Labels
			}
		}
		if ok, err := faults.Matches(&sel, t, nodeLabels); err == nil && ok {
			candidates = append(candidates, p.Name)
		}
	}
	slices.Sort(candidates)
	idx, err := faults.SelectByMode(rng, ps.Mode, ps.Value, len(candidates))
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, i := range idx {
		targets = append(targets, candidates[i])
	}
	slices.Sort(targets)
	return targets, nil
}

// checkNodeNames refuses a selector naming nodes the cluster does not
// have: a scenario written for the sim names its nodes (zone-a-0), real
// nodes have other names, and a selector that picks nothing must say why.
func (b *Backend) checkNodeNames(ctx context.Context, sels ...chaosv1alpha1.PodSelectorSpec) error {
	for _, sel := range sels {
		for _, name := range sel.Nodes {
			if _, err := b.opts.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				return fmt.Errorf("selector.nodes: this cluster has no node %q (a sim node's name?); select it on every backend with nodeSelectors: {%s: %s}", name, scenario.NodeLabel, name)
			}
		}
	}
	return nil
}

// inRunNamespace returns a copy of a Chaos Mesh selector in the run's
// namespace: the scenario's "default" (or no namespace) stands for it, as
// on the sim.
func inRunNamespace(sel chaosv1alpha1.PodSelectorSpec, ns string) chaosv1alpha1.PodSelectorSpec {
	sel.Namespaces = slices.Clone(sel.Namespaces)
	for i, n := range sel.Namespaces {
		if n == "default" {
			sel.Namespaces[i] = ns
		}
	}
	if len(sel.Namespaces) == 0 {
		sel.Namespaces = []string{ns}
	}
	if len(sel.Pods) > 0 {
		pods := make(map[string][]string, len(sel.Pods))
		for k, v := range sel.Pods {
			if k == "default" {
				k = ns
			}
			pods[k] = v
		}
		sel.Pods = pods
	}
	return sel
}
