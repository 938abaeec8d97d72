package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestChaosObjectsInTheRunNamespace: a scenario's PodChaos is created in
// the run's namespace, its selector's "default" namespace rewritten to it,
// labelled as mcpsim's, and removeAll leaves none behind.
func TestChaosObjectsInTheRunNamespace(t *testing.T) {
	sc, err := scenario.Parse("f.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: fail-one}
      spec: {action: pod-failure, mode: one, duration: 1s, selector: {namespaces: [default], labelSelectors: {app: payment}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{podChaosGVR: "PodChaosList"})
	// Chaos Mesh's controller, as far as the backend sees it: the
	// object's status names the pods it picked.
	dyn.PrependReactor("create", "podchaos", func(a k8stesting.Action) (bool, runtime.Object, error) {
		u := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"id": "mcpsim-f-1/payment-x1", "selectorKey": ".", "phase": "Injected"}}, "status", "experiment", "containerRecords")
		return false, nil, nil
	})
	b := New(Options{Name: "kind", Dynamic: dyn, ChaosMesh: true, Target: "http://127.0.0.1:1"})
	if err := b.Check(sc); err != nil {
		t.Fatalf("pod-failure with Chaos Mesh: %v", err)
	}
	c := &chaosObjects{b: b, ns: "mcpsim-f-1", targetsWait: 100 * time.Millisecond}
	rec := c.apply(context.Background(), &sc.Spec.Faults[0], time.Second)
	if rec.Error != "" || rec.Name != "fail-one" || rec.Action != "pod-failure" || len(rec.Targets) != 1 || rec.Targets[0] != "payment-x1" {
		t.Fatalf("record %+v", rec)
	}
	got, err := dyn.Resource(podChaosGVR).Namespace("mcpsim-f-1").Get(context.Background(), "fail-one", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nss, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "selector", "namespaces")
	if len(nss) != 1 || nss[0] != "mcpsim-f-1" || got.GetLabels()["app.kubernetes.io/managed-by"] != "mcpsim" {
		t.Fatalf("namespaces %v, labels %v", nss, got.GetLabels())
	}
	if err := c.removeAll(); err != nil {
		t.Fatal(err)
	}
	list, _ := dyn.Resource(podChaosGVR).Namespace("mcpsim-f-1").List(context.Background(), metav1.ListOptions{})
	if len(list.Items) != 0 || len(c.created) != 0 {
		t.Fatalf("left behind: %d objects", len(list.Items))
	}
	// Without Chaos Mesh, only pod-kill runs.
	if err := New(Options{Name: "kind", Target: "http://127.0.0.1:1"}).Check(sc); err == nil {
		t.Fatal("pod-failure accepted without Chaos Mesh")
	}
}

// TestNetworkChaosInTheRunNamespace: a partition's source and target
// selectors both name the run's namespace; without Chaos Mesh the
// scenario is refused.
func TestNetworkChaosInTheRunNamespace(t *testing.T) {
	sc, err := scenario.Parse("n.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: cut}
      spec:
        action: partition
        mode: all
        direction: to
        duration: 1s
        selector: {labelSelectors: {app: gateway}}
        target: {mode: all, selector: {namespaces: [default], labelSelectors: {app: payment}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := New(Options{Name: "kind", Target: "http://127.0.0.1:1"}).Check(sc); err == nil || !strings.Contains(err.Error(), "needs Chaos Mesh") {
		t.Fatalf("without Chaos Mesh: %v", err)
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{networkChaosGVR: "NetworkChaosList"})
	b := New(Options{Name: "kind", Dynamic: dyn, ChaosMesh: true, Target: "http://127.0.0.1:1"})
	c := &chaosObjects{b: b, ns: "run-ns", targetsWait: 50 * time.Millisecond}
	rec := c.apply(context.Background(), &sc.Spec.Faults[0], time.Second)
	// No controller fills the fake object's status: Chaos Mesh picked no
	// pod, which the record says rather than pass for an injection.
	if !strings.Contains(rec.Error, "selected no pod") || rec.Kind != "NetworkChaos" || rec.Action != "partition" {
		t.Fatalf("record %+v", rec)
	}
	got, err := dyn.Resource(networkChaosGVR).Namespace("run-ns").Get(context.Background(), "cut", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "selector", "namespaces")
	dst, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "target", "selector", "namespaces")
	if len(src) != 1 || src[0] != "run-ns" || len(dst) != 1 || dst[0] != "run-ns" {
		t.Fatalf("selector namespaces %v → %v", src, dst)
	}
	if err := c.removeAll(); err != nil {
		t.Fatal(err)
	}
}

// TestSimNodeNamesRefused: a selector naming a node the cluster does not
// have (a sim node's name) fails the fault with the portable alternative,
// and no chaos object is created; a real node's name is applied.
func TestSimNodeNamesRefused(t *testing.T) {
	sc, err := scenario.Parse("s.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: StressChaos
      metadata: {name: noisy}
      spec: {mode: all, selector: {nodes: [zone-a-0]}, stressors: {cpu: {workers: 1, load: 100}}, duration: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{stressChaosGVR: "StressChaosList"})
	client := fake.NewSimpleClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "mcpsim-worker", Labels: map[string]string{scenario.NodeLabel: "zone-a-0"}}})
	b := New(Options{Name: "kind", Client: client, Dynamic: dyn, ChaosMesh: true, Target: "http://127.0.0.1:1"})
	c := &chaosObjects{b: b, ns: "mcpsim-s-1", targetsWait: 50 * time.Millisecond}
	rec := c.apply(context.Background(), &sc.Spec.Faults[0], time.Second)
	if !strings.Contains(rec.Error, `no node "zone-a-0"`) || !strings.Contains(rec.Error, "nodeSelectors: {mcpsim.dev/node: zone-a-0}") {
		t.Fatalf("error %q", rec.Error)
	}
	if list, _ := dyn.Resource(stressChaosGVR).Namespace("mcpsim-s-1").List(context.Background(), metav1.ListOptions{}); len(list.Items) != 0 || len(c.created) != 0 {
		t.Fatalf("created %d objects for a refused fault", len(list.Items))
	}
	// The real node's name passes the check (and, with no Chaos Mesh
	// controller to pick targets here, fails only for picking none).
	sc.Spec.Faults[0].StressChaos.Spec.Selector.Nodes = []string{"mcpsim-worker"}
	rec = c.apply(context.Background(), &sc.Spec.Faults[0], time.Second)
	if !strings.Contains(rec.Error, "selected no pod") || len(c.created) != 1 {
		t.Fatalf("record %+v, created %d", rec, len(c.created))
	}
}

// TestChaosMeshInjectionFailureIsAFaultError: a target Chaos Mesh keeps
// failing to inject (here as on a kernel without netem: "unable to set
// tcs") fails the fault with Chaos Mesh's reason as soon as it has failed
// three times, instead of passing for a fault in force; two failures
// and then success is a fault in force.
func TestChaosMeshInjectionFailureIsAFaultError(t *testing.T) {
	sc, err := scenario.Parse("d.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow}
      spec: {action: delay, mode: all, selector: {labelSelectors: {app: payment}}, delay: {latency: 200ms}, duration: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		phase    string
		failures int
		want     string
	}{
		{"never injected", "Not Injected", 3, "Chaos Mesh could not inject it: payment-x1: unable to set tcs for pod payment-x1"},
		{"injected after two failures", "Injected", 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{networkChaosGVR: "NetworkChaosList"})
			dyn.PrependReactor("create", "networkchaos", func(a k8stesting.Action) (bool, runtime.Object, error) {
				u := a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured)
				var events []any
				for range c.failures {
					events = append(events, map[string]any{"type": "Failed", "operation": "Apply", "message": "unable to set tcs for pod payment-x1", "timestamp": "2026-11-28T06:00:00Z"})
				}
				_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"id": "mcpsim-d-1/payment-x1", "selectorKey": ".", "phase": c.phase, "events": events}}, "status", "experiment", "containerRecords")
				return false, nil, nil
			})
			gets := 0
			dyn.PrependReactor("get", "networkchaos", func(k8stesting.Action) (bool, runtime.Object, error) {
				gets++
				return false, nil, nil
			})
			b := New(Options{Name: "kind", Dynamic: dyn, ChaosMesh: true, Target: "http://127.0.0.1:1"})
			c2 := &chaosObjects{b: b, ns: "mcpsim-d-1", targetsWait: 2 * time.Second}
			rec := c2.apply(context.Background(), &sc.Spec.Faults[0], time.Second)
			if rec.Error != c.want || fmt.Sprint(rec.Targets) != "[payment-x1]" {
				t.Fatalf("record %+v, want error %q", rec, c.want)
			}
			// Decided on the first look at the status, not by waiting.
			if gets != 1 {
				t.Fatalf("%d looks at the status, want 1", gets)
			}
		})
	}
}

// TestNetemActionsRefusedWithoutNetem: where the nodes' kernel has no
// netem, NetworkChaos delay, loss, duplicate and corrupt are refused at
// their action; partition (iptables) is not.
func TestNetemActionsRefusedWithoutNetem(t *testing.T) {
	b := New(Options{Name: "kind", ChaosMesh: true, NoNetem: "no netem here", Target: "http://127.0.0.1:1"})
	for action, refused := range map[string]bool{"delay": true, "loss": true, "duplicate": true, "corrupt": true, "partition": false} {
		extra := map[string]string{"delay": "delay: {latency: 10ms}", "loss": "loss: {loss: '10'}", "duplicate": "duplicate: {duplicate: '10'}", "corrupt": "corrupt: {corrupt: '10'}", "partition": "direction: to, target: {mode: all, selector: {labelSelectors: {app: gateway}}}"}[action]
		sc, err := scenario.Parse("n.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: net}
      spec: {action: `+action+`, mode: all, selector: {labelSelectors: {app: payment}}, `+extra+`}
`))
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		err = b.Check(sc)
		if got := err != nil && strings.Contains(err.Error(), "spec.faults[0].spec.action") && strings.Contains(err.Error(), "no netem here"); got != refused {
			t.Errorf("%s: refused %v, want %v (%v)", action, err != nil, refused, err)
		}
	}
}
