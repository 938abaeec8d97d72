package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// fakeCluster is client-go's fake clientset with one node, n1 in zone-a,
// where every Deployment is ready once created and has one Ready pod,
// <name>-x1, on n1, as a ReplicaSet would make it.
func fakeCluster(t *testing.T) *fake.Clientset {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}
	client := fake.NewClientset(node)
	client.PrependReactor("create", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.CreateAction).GetObject().(*appsv1.Deployment)
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas = *d.Spec.Replicas, *d.Spec.Replicas, *d.Spec.Replicas
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-x1", Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
			Spec:   corev1.PodSpec{NodeName: "n1"},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
		if err := client.Tracker().Add(pod); err != nil {
			t.Error(err)
		}
		return false, nil, nil
	})
	return client
}

// TestPodHangThroughTheAdminEndpoint: a PodHang of gateway's pod at 1s
// for 1s is a POST /admin/hang?for=1s to gateway-x1 through the pod
// proxy at 1s and a DELETE at 2s, recorded as a fault with its target
// and end.
func TestPodHangThroughTheAdminEndpoint(t *testing.T) {
	src := strings.Replace(fakeScenario, "  assertions:\n", `  faults:
    - {at: 1s, apiVersion: mcpsim.dev/v1alpha2, kind: PodHang, metadata: {name: stuck}, spec: {mode: one, duration: 1s, selector: {labelSelectors: {app: gateway}}}}
  assertions:
`, 1)
	sc, err := scenario.Parse("fake.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) }))
	defer target.Close()
	b := New(Options{Name: "kube", Client: fakeCluster(t), Target: target.URL, NodePort: 30080})
	var mu sync.Mutex
	var calls []string
	b.adminCall = func(_ context.Context, _, pod, method, path string, q url.Values) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, fmt.Sprintf("%s %s %s?%s", method, pod, path, q.Encode()))
		return nil
	}
	if err := b.Check(sc); err != nil {
		t.Fatal(err)
	}
	tl, err := runPlan(b, sc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"POST gateway-x1 admin/hang?for=1s", "DELETE gateway-x1 admin/hang?"}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("admin calls %q, want %q", calls, want)
	}
	if len(tl.Faults) != 1 || tl.Faults[0].Kind != scenario.PodHangKind || fmt.Sprint(tl.Faults[0].Targets) != "[gateway-x1]" || tl.Faults[0].End == nil {
		t.Fatalf("fault record %+v", tl.Faults)
	}
	if at, end := tl.Faults[0].At, *tl.Faults[0].End; at < time.Second || end < 2*time.Second || end > 3*time.Second {
		t.Fatalf("hang from %v to %v, want from 1s to 2s", at, end)
	}
}

// runPlan runs sc on b as the runner would, with seed 1.
func runPlan(b *Backend, sc *scenario.Scenario) (*timeline.Timeline, error) {
	pacer, err := loadgen.Pacer(&sc.Spec.Load, 1)
	if err != nil {
		return nil, err
	}
	return b.Run(context.Background(), &cluster.Plan{Scenario: sc, Seed: 1, Schedule: cluster.Schedule(sc), Pacer: pacer, LoadDuration: sc.Spec.Load.Duration.Duration})
}

const fakeScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: fake}
spec:
  duration: 3s
  cluster:
    nodePools:
      - {name: a, count: 1, cpu: "2", memory: 4Gi}
  services:
    - {name: gateway, role: gateway, replicas: 2, work: {cpu: 1ms}, calls: [{service: payment}], resources: {requests: {cpu: 100m}}}
    - {name: payment, role: payment, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}}}
  load: {profile: constant, rate: 50, timeout: 1s}
  assertions:
    - {name: errors, type: errorRate, maxRatio: 0}
`

// TestRunOnAFakeCluster runs the real backend against client-go's fake
// clientset (Deployments become ready when created) and a loopback HTTP
// server standing in for the entry service: the namespace is created and
// deleted, the objects are applied with the sim's labels, the load is
// recorded (50/s for 3s: 150 requests, every 10th answered degraded), and
// every service is sampled once a second, 0s to 3s; the timeline has the
// API server's version.
func TestRunOnAFakeCluster(t *testing.T) {
	sc, err := scenario.Parse("fake.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if served.Add(1)%10 == 0 {
			w.Header().Set(reference.DegradedHeader, "true")
		}
		w.Write([]byte("{}"))
	}))
	defer target.Close()
	client := fakeCluster(t)
	client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.34.4"}
	var namespaces []string
	client.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		namespaces = append(namespaces, a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace).Name)
		return false, nil, nil
	})
	b := New(Options{Name: "kube", Client: client, Target: target.URL, NodePort: 30080})
	if err := b.Check(sc); err != nil {
		t.Fatal(err)
	}
	tl, err := runPlan(b, sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(namespaces) != 1 {
		t.Fatalf("namespaces created: %v", namespaces)
	}
	if tl.KubernetesVersion != "v1.34.4" {
		t.Fatalf("Kubernetes version %q, want the API server's v1.34.4", tl.KubernetesVersion)
	}
	if _, err := client.CoreV1().Namespaces().Get(context.Background(), namespaces[0], metav1.GetOptions{}); err == nil {
		t.Fatalf("namespace %s left behind", namespaces[0])
	}
	gw := tl.EntryService()
	if n := len(gw.Requests); n < 148 || n > 151 {
		t.Fatalf("%d requests recorded, want 150 (50/s for 3s)", n)
	}
	degraded := 0
	for _, r := range gw.Requests {
		if !r.OK() {
			t.Fatalf("request failed: %+v %s", r, tl.ErrorKinds[r.Err()])
		}
		if r.Degraded() {
			degraded++
		}
		// The attack starts when the load-start action runs, a little
		// after time 0: its last hit may be sent just past 3s.
		if r.Sent() < 0 || r.Sent() > 3*time.Second+100*time.Millisecond {
			t.Fatalf("request sent at %v, outside the run", r.Sent())
		}
	}
	if degraded < 14 || degraded > 15 {
		t.Fatalf("%d degraded answers, want every 10th of 150", degraded)
	}
	for _, s := range tl.Services {
		if len(s.Samples) != 4 || s.Samples[3].T != 3*time.Second {
			t.Fatalf("%s: %d samples (last %+v), want 0s..3s", s.Name, len(s.Samples), s.Samples[len(s.Samples)-1])
		}
	}
	if len(tl.Nodes) != 1 || tl.Nodes[0].Labels[corev1.LabelTopologyZone] != "zone-a" {
		t.Fatalf("nodes %+v, want n1 in zone-a", tl.Nodes)
	}
	var gwPod *timeline.Pod
	for i := range tl.Pods {
		if tl.Pods[i].Name == "gateway-x1" {
			gwPod = &tl.Pods[i]
		}
	}
	if gwPod == nil || gwPod.Service != "gateway" || gwPod.Node != "n1" || gwPod.FirstReady == -1 {
		t.Fatalf("pod records %+v: want gateway-x1 of gateway on n1, Ready", tl.Pods)
	}
	if last := tl.Service("gateway").Samples[3]; last.Desired != 2 {
		t.Fatalf("gateway desired %d, want 2 from its Deployment", last.Desired)
	}
}
