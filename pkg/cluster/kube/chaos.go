package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// With Chaos Mesh on the cluster (Options.ChaosMesh), a scenario's faults
// are applied as the Chaos Mesh objects they are, in the run's namespace,
// at their time, and deleted at their end; deletion waits until Chaos
// Mesh's finalizers have run, that is until it has recovered what it did.
// Whatever happens, every object created is deleted before the namespace.

var (
	podChaosGVR     = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "podchaos"}
	networkChaosGVR = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "networkchaos"}
	stressChaosGVR  = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "stresschaos"}
)

// chaosObjects are the Chaos Mesh objects a run created.
type chaosObjects struct {
	b       *Backend
	ns      string
	created []chaosRef
	// targetsWait bounds the wait for Chaos Mesh to report its targets.
	targetsWait time.Duration
}

type chaosRef struct {
	gvr  schema.GroupVersionResource
	name string
}

// chaosObject is a fault's Chaos Mesh object, with its selectors in the
// run's namespace, its kind, its resource, and its pod selectors (its own
// and its target's).
type chaosObject struct {
	obj       runtime.Object
	kind      string
	gvr       schema.GroupVersionResource
	selectors []chaosv1alpha1.PodSelectorSpec
}

func chaosKind(f *scenario.Fault, ns string) chaosObject {
	switch {
	case f.NetworkChaos != nil:
		nc := f.NetworkChaos.DeepCopy()
		nc.Spec.Selector = inRunNamespace(nc.Spec.Selector, ns)
		sels := []chaosv1alpha1.PodSelectorSpec{nc.Spec.Selector}
		if nc.Spec.Target != nil {
			nc.Spec.Target.Selector = inRunNamespace(nc.Spec.Target.Selector, ns)
			sels = append(sels, nc.Spec.Target.Selector)
		}
		return chaosObject{nc, "NetworkChaos", networkChaosGVR, sels}
	case f.StressChaos != nil:
		st := f.StressChaos.DeepCopy()
		st.Spec.Selector = inRunNamespace(st.Spec.Selector, ns)
		return chaosObject{st, "StressChaos", stressChaosGVR, []chaosv1alpha1.PodSelectorSpec{st.Spec.Selector}}
	}
	pc := f.PodChaos.DeepCopy()
	pc.Spec.Selector = inRunNamespace(pc.Spec.Selector, ns)
	return chaosObject{pc, "PodChaos", podChaosGVR, []chaosv1alpha1.PodSelectorSpec{pc.Spec.Selector}}
}

// apply creates the fault's Chaos Mesh object in ns ("default" in the
// scenario stands for the run's namespace, as on the sim) and returns its
// record once Chaos Mesh has picked its targets (or after 20s).
func (c *chaosObjects) apply(ctx context.Context, f *scenario.Fault, at time.Duration) timeline.Fault {
	co := chaosKind(f, c.ns)
	obj, kind, gvr := co.obj, co.kind, co.gvr
	name := f.Name()
	rec := timeline.Fault{Name: name, Kind: f.Kind(), Action: f.Action(), At: at}
	if err := c.b.checkNodeNames(ctx, co.selectors...); err != nil {
		rec.Error = err.Error()
		return rec
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	u := &unstructured.Unstructured{Object: raw}
	u.SetAPIVersion("chaos-mesh.org/v1alpha1")
	u.SetKind(kind)
	u.SetNamespace(c.ns)
	u.SetLabels(map[string]string{"app.kubernetes.io/managed-by": "mcpsim"})
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	res := c.b.opts.Dynamic.Resource(gvr).Namespace(c.ns)
	if _, err := res.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		rec.Error = "creating the " + kind + ": " + err.Error()
		return rec
	}
	c.created = append(c.created, chaosRef{gvr, name})
	waitFor := c.targetsWait
	if waitFor == 0 {
		waitFor = 20 * time.Second
	}
	// The targets Chaos Mesh picked are in its status (the same shape for
	// every kind), each with its phase: the fault is in force when every
	// one is Injected. A target Chaos Mesh keeps failing to inject (it
	// retries at once) is an error, with Chaos Mesh's reason: an effect
	// is measured, never assumed.
	var failed string
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, waitFor, true, func(ctx context.Context) (bool, error) {
		got, err := res.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		var status chaosv1alpha1.ChaosStatus
		st, _, _ := unstructured.NestedMap(got.Object, "status")
		if runtime.DefaultUnstructuredConverter.FromUnstructured(st, &status) != nil {
			return false, nil
		}
		targets, injected, why := recordsState(status.Experiment.Records)
		rec.Targets, failed = targets, why
		return (len(targets) > 0 && injected) || failed != "", nil
	})
	switch {
	case ctx.Err() != nil:
	case failed != "":
		rec.Error = "Chaos Mesh could not inject it: " + failed
	case len(rec.Targets) == 0:
		// As the sim records a selector that matches nothing: a fault
		// that hit no pod must not pass for one that had no effect.
		rec.Error = fmt.Sprintf("Chaos Mesh selected no pod within %s: the selector matches no pod of the run", waitFor)
	}
	return rec
}

// injectFailures is how many failed injections of one target make a
// fault failed (Chaos Mesh retries a failed one at once, again and again).
const injectFailures = 3

// recordsState reads Chaos Mesh's records: the targets (pod names, sorted),
// whether every one is injected, and, for a target that failed to be
// injected injectFailures times, why.
func recordsState(records []*chaosv1alpha1.Record) (targets []string, injected bool, failed string) {
	injected = true
	for _, r := range records {
		id := r.Id
		if i := strings.LastIndex(id, "/"); i >= 0 {
			id = id[i+1:]
		}
		targets = append(targets, id)
		if r.Phase == chaosv1alpha1.Injected {
			continue
		}
		injected = false
		n, last := 0, ""
		for _, e := range r.Events {
			if e.Type == chaosv1alpha1.TypeFailed && e.Operation == chaosv1alpha1.Apply {
				n, last = n+1, e.Message
			}
		}
		if n >= injectFailures && failed == "" {
			failed = fmt.Sprintf("%s: %s", id, last)
		}
	}
	slices.Sort(targets)
	return slices.Compact(targets), injected, failed
}

// remove deletes the named chaos object and waits (bounded) until Chaos
// Mesh has recovered and removed its finalizers.
func (c *chaosObjects) remove(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gvr := podChaosGVR
	for _, r := range c.created {
		if r.name == name {
			gvr = r.gvr
		}
	}
	res := c.b.opts.Dynamic.Resource(gvr).Namespace(c.ns)
	if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting chaos object %s: %w", name, err)
	}
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := res.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("chaos object %s still there after 2 minutes (Chaos Mesh has not recovered it): %w", name, err)
	}
	c.created = slices.DeleteFunc(c.created, func(r chaosRef) bool { return r.name == name })
	return nil
}

// removeAll deletes every object still there.
func (c *chaosObjects) removeAll() error {
	var errs []string
	for _, r := range slices.Clone(c.created) {
		if err := c.remove(r.name); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
