//go:build e2e

package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/selfheal/operator"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// The operator under test checks every 2s with a 1s timeout and calls a
// pod down after 3 failures; 2 gateway pods, minAvailable 1 (the other pod
// keeps serving, so the restart is allowed).
const selfHealE2EScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: selfheal-e2e}
spec:
  duration: 2m
  cluster:
    nodePools:
      - {name: node, count: 3, cpu: "2", memory: 4Gi}
  services:
    - {name: gateway, role: gateway, replicas: 2, work: {cpu: 2ms}, resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
  load: {profile: constant, rate: 1, timeout: 2s}
  selfHeal:
    - name: gateway-healer
      target: gateway
      healthCheck: {path: /healthz, interval: 2s, timeout: 1s, failureThreshold: 3}
      subscriptions:
        - {event: InstanceDown, action: restart, timeout: 5s, retries: 3}
      rateLimit: {maxConcurrent: 1, minAvailable: 1}
  assertions:
    - {name: errors, type: errorRate, maxRatio: 1}
`

// TestE2ESelfHealOperator deploys the operator as the backend does (CRD,
// Role, Deployment of the reference image running `serve --role
// selfheal`, the policy) next to 2 gateway pods on the kind cluster
// `mcpsim`, hangs one pod through the API server's pod proxy (POST
// /admin/hang) and waits for the operator's Events about that pod —
// SelfHealDetected, SelfHealAction restart, SelfHealOutcome succeeded —
// and for the pod's deletion; then its replacement is Ready, the policy's
// status counts one detection and one repair, and no other pod was
// touched.
//
// Expected times after the hang (derived from the policy): the first
// check that reaches the hung pod starts within one interval (0-2s) and
// fails at its 1s timeout; the 2nd and 3rd fail 2s and 4s later, so the
// detection is at 5-7s after the hang (a check sent just before the hang
// that arrives after it fails too: 4.9s at the earliest). We allow 3s
// more for the operator's reconcile queue and the Event's write on 2
// busy cores: detection in [4.5s, 10s]. The restart deletes the pod with
// a 0s grace period (the object goes at once; the kubelet stops the
// container), so it succeeds within the action's 5s timeout: repaired
// ≤ 15s after the hang. The ReplicaSet's replacement starts from an image
// already on the node: Ready within 30s of the repair.
func TestE2ESelfHealOperator(t *testing.T) {
	client, dyn := e2eClients(t)
	sc, err := scenario.Parse("selfheal-e2e.yaml", []byte(selfHealE2EScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := New(Options{Name: "kind", Client: client, Dynamic: dyn, RolloutTimeout: 3 * time.Minute, Log: testLog{t}})
	ns := fmt.Sprintf("mcpsim-selfheal-e2e-%05d", rand.IntN(100000))
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "mcpsim", "mcpsim.dev/scenario": "selfheal-e2e"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.deleteNamespace(ns); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	if err := b.apply(ctx, ns, sc); err != nil {
		t.Fatal(err)
	}
	if err := b.deploySelfHeal(ctx, ns, sc); err != nil {
		t.Fatal(err)
	}
	if err := b.waitRollout(ctx, ns, sc, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("gateway and operator ready in %s", time.Since(start).Round(100*time.Millisecond))
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gateway"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("gateway pods: %v %v", pods, err)
	}
	// Let the operator see both pods healthy first: its first round has
	// run once its policy has a lastCheckTime.
	waitFor(ctx, t, 30*time.Second, "the policy's first check", func() bool {
		p, err := dyn.Resource(policyGVR).Namespace(ns).Get(ctx, "gateway-healer", metav1.GetOptions{})
		if err != nil {
			return false
		}
		healthy, _, _ := unstructured.NestedInt64(p.Object, "status", "healthy")
		return healthy == 2
	})
	hung, spared := pods.Items[0], pods.Items[1]
	events, err := client.CoreV1().Events(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", hung.Name).String()})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Stop()
	hangAt := time.Now()
	if err := b.proxyAdminCall(ctx, ns, hung.Name, "POST", "admin/hang", nil); err != nil {
		t.Fatalf("POST /admin/hang through the pod proxy: %v", err)
	}
	t.Logf("hung %s", hung.Name)

	steps := map[string]time.Duration{}
	var order []string
	deadline := time.After(60 * time.Second)
	for steps[timeline.RepairOutcome] == 0 {
		select {
		case ev, ok := <-events.ResultChan():
			if !ok {
				t.Fatal("the Event watch ended")
			}
			e, ok := ev.Object.(*corev1.Event)
			if !ok {
				continue
			}
			rp, at, ok := repairFromEvent(e, time.Now())
			if !ok {
				continue
			}
			t.Logf("%s +%s: %s", e.Reason, at.Sub(hangAt).Round(time.Millisecond), e.Message)
			if e.Related == nil || e.Related.Kind != "SelfHealPolicy" || e.Related.Name != "gateway-healer" {
				t.Errorf("%s: related %v, want the SelfHealPolicy gateway-healer", e.Reason, e.Related)
			}
			if e.ReportingController != operator.Name {
				t.Errorf("%s: reporting controller %q, want %q", e.Reason, e.ReportingController, operator.Name)
			}
			if _, seen := steps[rp.Stage]; !seen {
				steps[rp.Stage] = at.Sub(hangAt)
				order = append(order, rp.Stage)
			}
			switch rp.Stage {
			case timeline.RepairAction:
				if rp.Action != "restart" || rp.Event != "InstanceDown" {
					t.Errorf("action %+v, want restart for InstanceDown", rp)
				}
			case timeline.RepairOutcome:
				if rp.Action != "restart" || rp.Result != "succeeded" {
					t.Fatalf("outcome %+v, want restart succeeded", rp)
				}
			}
		case <-deadline:
			t.Fatalf("60s after the hang, the operator's steps were %v", steps)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint([]string{timeline.RepairDetected, timeline.RepairAction, timeline.RepairOutcome}) {
		t.Errorf("steps in the order %v, want detected, action, outcome", order)
	}
	if d := steps[timeline.RepairDetected]; d < 4500*time.Millisecond || d > 10*time.Second {
		t.Errorf("detected %s after the hang, want 4.5-10s (3 failed checks 2s apart, each 1s)", d)
	}
	if r := steps[timeline.RepairOutcome]; r > 15*time.Second {
		t.Errorf("repaired %s after the hang, want ≤ 15s", r)
	}
	// The pod is gone (a replacement has another name).
	if _, err := client.CoreV1().Pods(ns).Get(ctx, hung.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the hung pod after its restart: %v, want not found", err)
	}
	waitFor(ctx, t, 30*time.Second, "2 Ready gateway pods again", func() bool {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gateway"})
		if err != nil {
			return false
		}
		ready := 0
		for i := range l.Items {
			if l.Items[i].DeletionTimestamp == nil && podReady(&l.Items[i]) {
				ready++
			}
		}
		return ready == 2
	})
	t.Logf("2 ready again %s after the hang", time.Since(hangAt).Round(100*time.Millisecond))
	p, err := client.CoreV1().Pods(ns).Get(ctx, spared.Name, metav1.GetOptions{})
	if err != nil || p.UID != spared.UID || p.DeletionTimestamp != nil {
		t.Errorf("the healthy pod %s was touched: %v", spared.Name, err)
	}
	pol, err := dyn.Resource(policyGVR).Namespace(ns).Get(ctx, "gateway-healer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	det, _, _ := unstructured.NestedInt64(pol.Object, "status", "detections")
	rep, _, _ := unstructured.NestedInt64(pol.Object, "status", "repairs")
	if det != 1 || rep != 1 {
		t.Errorf("policy status: %d detections, %d repairs, want 1 and 1", det, rep)
	}
}

func waitFor(ctx context.Context, t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) || ctx.Err() != nil {
			t.Fatalf("%s: not after %s", what, d)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
