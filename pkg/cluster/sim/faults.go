package sim

import (
	"slices"
	"strings"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// The sim's fault kinds, one file each: PodChaos (podchaos.go),
// NodeOutage (nodes.go), NetworkChaos (network.go), StressChaos
// (stress.go), PodHang (hang.go).
func faultKinds() faults.Registry[*world] {
	return faults.Registry[*world]{
		"PodChaos":              {Check: checkPodChaos, Inject: (*world).injectPodChaos},
		scenario.NodeOutageKind: {Check: func(*scenario.Fault, *field.Path) error { return nil }, Inject: (*world).injectNodeOutage},
		"NetworkChaos":          {Check: checkNetworkChaos, Inject: (*world).injectNetworkChaos},
		"StressChaos":           {Check: checkStressChaos, Inject: (*world).injectStressChaos},
		scenario.PodHangKind:    {Check: func(*scenario.Fault, *field.Path) error { return nil }, Inject: (*world).injectPodHang},
	}
}

// inject applies a fault: its kind's injector resolves the targets (as
// Chaos Mesh does, against the pods or nodes that exist now), the
// injection is recorded, then the injector acts.
func (w *world) inject(f *scenario.Fault) {
	kind, err := w.kinds.Lookup(f)
	if err != nil {
		return // refused by Check
	}
	rec := timeline.Fault{Name: f.Name(), Kind: f.Kind(), Action: f.Action(), At: w.now}
	targets, act, err := kind.Inject(w, f)
	if err != nil {
		rec.Error = err.Error()
		w.tl.Faults = append(w.tl.Faults, rec)
		w.tl.AddEvent(w.now, "FaultFailed", rec.Name, rec.Error)
		return
	}
	rec.Targets = targets
	w.tl.Faults = append(w.tl.Faults, rec)
	w.injected[f] = len(w.tl.Faults) - 1
	w.faults = append(w.faults, rec.Name)
	w.tl.AddEvent(w.now, "FaultInjected", rec.Name, faultLabel(f)+": "+strings.Join(rec.Targets, ", "))
	if r := act(); r != nil {
		w.recoveries[f] = r
	}
}

// faultLabel names what a fault does in its events: kind and action
// ("PodChaos pod-kill"), or the kind alone when it has a single action.
func faultLabel(f *scenario.Fault) string {
	if f.NodeOutage != nil || f.PodHang != nil {
		return f.Kind()
	}
	return f.Kind() + " " + f.Action()
}

// endFault is a fault's end: its object is deleted (its duration is over,
// or the run ended) and what it did is recovered.
func (w *world) endFault(f *scenario.Fault) {
	i, ok := w.injected[f]
	if !ok {
		return
	}
	end := w.now
	w.tl.Faults[i].End = &end
	if r := w.recoveries[f]; r != nil {
		delete(w.recoveries, f)
		r()
	}
	w.tl.AddEvent(w.now, "FaultRecovered", w.tl.Faults[i].Name, "the chaos object is deleted")
}

// selectPods resolves a Chaos Mesh pod selector and mode as its
// controller does: the pods that match now (namespaces default to the
// chaos object's, "default" when it has none), in name order, picked by
// mode with the world's PRNG.
func (w *world) selectPods(ps chaosv1alpha1.PodSelector, namespace string) ([]*pod, error) {
	if namespace == "" {
		namespace = "default"
	}
	sel := ps.Selector
	if len(sel.Namespaces) == 0 {
		sel.Namespaces = []string{namespace}
	}
	var candidates []*pod
	for _, s := range w.services {
		for _, p := range s.pods {
			if p.deleting || p.gone {
				continue
			}
			t := faults.Target{Name: p.name, Namespace: "default", Phase: string(corev1.PodPending), Labels: s.labels}
			var nodeLabels map[string]string
			if p.node != nil {
				t.Node, nodeLabels = p.node.name, p.node.labels
			}
			if p.running {
				t.Phase = string(corev1.PodRunning)
			}
			if ok, err := faults.Matches(&sel, t, nodeLabels); err == nil && ok {
				candidates = append(candidates, p)
			}
		}
	}
	slices.SortFunc(candidates, func(a, b *pod) int { return strings.Compare(a.name, b.name) })
	idx, err := faults.SelectByMode(w.rng.Std(), ps.Mode, ps.Value, len(candidates))
	if err != nil {
		return nil, err
	}
	out := make([]*pod, len(idx))
	for k, i := range idx {
		out[k] = candidates[i]
	}
	return out, nil
}

func podNames(ps []*pod) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}

// checkFaults is Check's part for faults: every kind must be registered
// and every field it sets modelled.
func checkFaults(sc *scenario.Scenario) error {
	kinds := faultKinds()
	for i := range sc.Spec.Faults {
		f := &sc.Spec.Faults[i]
		p := field.NewPath("spec", "faults").Index(i)
		k, err := kinds.Lookup(f)
		if err != nil {
			return cluster.UnsupportedAt("sim", p.Child("kind").String(), "%v", err)
		}
		if err := k.Check(f, p); err != nil {
			return cluster.UnsupportedField("sim", err)
		}
	}
	return nil
}
