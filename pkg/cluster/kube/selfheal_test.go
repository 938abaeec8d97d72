package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal/deploy"
)

const selfHealScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: heal}
spec:
  duration: 1m
  cluster:
    nodePools:
      - {name: a, count: 1, cpu: "2", memory: 4Gi}
  services:
    - {name: gateway, role: gateway, replicas: 2, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}}}
  load: {profile: constant, rate: 10, timeout: 1s}
  selfHeal:
    - name: heal-gateway
      target: gateway
      subscriptions: [{event: InstanceDown, action: restart}]
  assertions:
    - {name: errors, type: errorRate, maxRatio: 1}
`

func fakeDynamic() *dynfake.FakeDynamicClient {
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		crdGVR: "CustomResourceDefinitionList", policyGVR: "SelfHealPolicyList"})
	// The API server establishes a CRD shortly after it is created, and
	// an update keeps its status.
	established := func(a k8stesting.Action) (bool, runtime.Object, error) {
		u := a.(interface{ GetObject() runtime.Object }).GetObject().(*unstructured.Unstructured)
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Established", "status": "True"}}, "status", "conditions")
		return false, nil, nil
	}
	dyn.PrependReactor("create", "customresourcedefinitions", established)
	dyn.PrependReactor("update", "customresourcedefinitions", established)
	return dyn
}

func TestCheckSelfHeal(t *testing.T) {
	sc, err := scenario.Parse("heal.yaml", []byte(selfHealScenario))
	if err != nil {
		t.Fatal(err)
	}
	// The command checks with a backend that has no clients yet: a
	// scenario with self-heal passes; deploying it needs the dynamic client.
	if err := New(Options{Target: "http://127.0.0.1:1"}).Check(sc); err != nil {
		t.Fatalf("without clients: %v", err)
	}
	if err := New(Options{Target: "http://127.0.0.1:1"}).deploySelfHeal(context.Background(), "run-0", sc); err == nil || !strings.Contains(err.Error(), "dynamic client") {
		t.Fatalf("deploying without a dynamic client: %v", err)
	}
	b := New(Options{Dynamic: fakeDynamic(), Target: "http://127.0.0.1:1"})
	if err := b.Check(sc); err != nil {
		t.Fatal(err)
	}
	// The operator reads the callers' breakers: breaker trips run too.
	sc.Spec.SelfHeal[0].Subscriptions[0].Event = "CircuitBreakerTripped"
	if err := b.Check(sc); err != nil {
		t.Fatalf("breaker trips refused: %v", err)
	}
}

// The operator's objects and one SelfHealPolicy per scenario policy land
// in the run's namespace; the CRD is created, then updated by a second run.
func TestDeploySelfHeal(t *testing.T) {
	sc, err := scenario.Parse("heal.yaml", []byte(selfHealScenario))
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	client.PrependReactor("create", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.CreateAction).GetObject().(*appsv1.Deployment)
		d.Status.ReadyReplicas = *d.Spec.Replicas
		return false, nil, nil
	})
	dyn := fakeDynamic()
	b := New(Options{Client: client, Dynamic: dyn, RolloutTimeout: 5 * time.Second})
	ctx := context.Background()
	for _, ns := range []string{"run-1", "run-2"} {
		if err := b.deploySelfHeal(ctx, ns, sc); err != nil {
			t.Fatalf("%s: %v", ns, err)
		}
		if _, err := client.RbacV1().Roles(ns).Get(ctx, deploy.Name, metav1GetOptions); err != nil {
			t.Fatalf("%s: Role: %v", ns, err)
		}
		if _, err := client.RbacV1().RoleBindings(ns).Get(ctx, deploy.Name, metav1GetOptions); err != nil {
			t.Fatalf("%s: RoleBinding: %v", ns, err)
		}
		d, err := client.AppsV1().Deployments(ns).Get(ctx, deploy.Name, metav1GetOptions)
		if err != nil || d.Spec.Template.Spec.ServiceAccountName != deploy.Name {
			t.Fatalf("%s: Deployment %v %v", ns, d, err)
		}
		p, err := dyn.Resource(policyGVR).Namespace(ns).Get(ctx, "heal-gateway", metav1GetOptions)
		if err != nil {
			t.Fatalf("%s: SelfHealPolicy: %v", ns, err)
		}
		if app, _, _ := unstructured.NestedString(p.Object, "spec", "selector", "matchLabels", "app"); app != "gateway" {
			t.Fatalf("%s: selector %v", ns, p.Object["spec"])
		}
	}
	var crdWrites []string
	for _, a := range dyn.Actions() {
		if a.GetResource() == crdGVR && (a.GetVerb() == "create" || a.GetVerb() == "update") {
			crdWrites = append(crdWrites, a.GetVerb())
		}
	}
	if strings.Join(crdWrites, ",") != "create,create,update" { // the second create finds it and updates it
		t.Fatalf("CRD writes %v", crdWrites)
	}
}

var metav1GetOptions = metav1.GetOptions{}
