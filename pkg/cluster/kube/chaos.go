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

var podChaosGVR = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "podchaos"}

// chaosObjects are the Chaos Mesh objects a run created.
type chaosObjects struct {
	b       *Backend
	ns      string
	created []string // PodChaos names
	// targetsWait bounds the wait for Chaos Mesh to report its targets.
	targetsWait time.Duration
}

// apply creates the fault's PodChaos in ns ("default" in the scenario
// stands for the run's namespace, as on the sim) and returns its record
// once Chaos Mesh has picked its targets (or after 20s).
func (c *chaosObjects) apply(ctx context.Context, f *scenario.Fault, at time.Duration) timeline.Fault {
	pc := f.PodChaos.DeepCopy()
	rec := timeline.Fault{Name: pc.Name, Kind: "PodChaos", Action: string(pc.Spec.Action), At: at}
	pc.Namespace = c.ns
	pc.Labels = map[string]string{"app.kubernetes.io/managed-by": "mcpsim"}
	sel := &pc.Spec.Selector
	for i, n := range sel.Namespaces {
		if n == "default" {
			sel.Namespaces[i] = c.ns
		}
	}
	if len(sel.Namespaces) == 0 {
		sel.Namespaces = []string{c.ns}
	}
	if len(sel.Pods) > 0 {
		if v, ok := sel.Pods["default"]; ok {
			delete(sel.Pods, "default")
			sel.Pods[c.ns] = v
		}
	}
	pc.TypeMeta = metav1.TypeMeta{APIVersion: "chaos-mesh.org/v1alpha1", Kind: "PodChaos"}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pc)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	obj := &unstructured.Unstructured{Object: raw}
	unstructured.RemoveNestedField(obj.Object, "status")
	res := c.b.opts.Dynamic.Resource(podChaosGVR).Namespace(c.ns)
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		rec.Error = "creating the PodChaos: " + err.Error()
		return rec
	}
	c.created = append(c.created, pc.Name)
	// The targets Chaos Mesh picked are in its status.
	waitFor := c.targetsWait
	if waitFor == 0 {
		waitFor = 20 * time.Second
	}
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, waitFor, true, func(ctx context.Context) (bool, error) {
		got, err := res.Get(ctx, pc.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		var status chaosv1alpha1.PodChaos
		if runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &status) != nil {
			return false, nil
		}
		var targets []string
		for _, r := range status.Status.Experiment.Records {
			id := r.Id
			if i := strings.LastIndex(id, "/"); i >= 0 {
				id = id[i+1:]
			}
			targets = append(targets, id)
		}
		if len(targets) == 0 {
			return false, nil
		}
		slices.Sort(targets)
		rec.Targets = slices.Compact(targets)
		return true, nil
	})
	return rec
}

// remove deletes the named PodChaos and waits (bounded) until Chaos Mesh
// has recovered and removed its finalizers.
func (c *chaosObjects) remove(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := c.b.opts.Dynamic.Resource(podChaosGVR).Namespace(c.ns)
	if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting PodChaos %s: %w", name, err)
	}
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := res.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("PodChaos %s still there after 2 minutes (Chaos Mesh has not recovered it): %w", name, err)
	}
	c.created = slices.DeleteFunc(c.created, func(n string) bool { return n == name })
	return nil
}

// removeAll deletes every object still there.
func (c *chaosObjects) removeAll() error {
	var errs []string
	for _, name := range slices.Clone(c.created) {
		if err := c.remove(name); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
