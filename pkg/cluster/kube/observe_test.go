package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// observe starts an observer of namespace ns on client for the fake
// scenario; it stops with the test.
func observe(t *testing.T, ctx context.Context, client *fake.Clientset) *recorder {
	t.Helper()
	sc, err := scenario.Parse("fake.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(sc, nil)
	obs, err := startObserver(ctx, client, "ns", sc, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.stop)
	return r
}

// TestObserverRecordsNodeReadiness: the nodes are watched, as the sim
// reports them: a node whose Ready condition turns False is a NodeNotReady
// event with the node lifecycle controller's message, and back to True a
// NodeReady. The placement assertions read these to know the live zones;
// without them a lost zone on a real cluster would count as an empty
// domain and every spread would fail.
func TestObserverRecordsNodeReadiness(t *testing.T) {
	client := fakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	setReady := func(status corev1.ConditionStatus, msg string) {
		t.Helper()
		n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Message: msg}}
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Ready before the watch starts: no event, the run did not see it.
	setReady(corev1.ConditionTrue, "kubelet is posting ready status")
	// A control plane in zone-a, as kind makes it: not one of the
	// scenario's nodes.
	cp := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cp", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a", controlPlaneLabel: ""}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, cp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := observe(t, ctx, client)
	if len(r.tl.Nodes) != 1 || r.tl.Nodes[0].Name != "n1" || r.tl.Nodes[0].Labels[corev1.LabelTopologyZone] != "zone-a" {
		t.Fatalf("nodes = %+v, want n1 in zone-a (and not the control plane)", r.tl.Nodes)
	}
	waitFor := func(kind, msg string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, e := range r.events {
				if e.kind == kind && e.object == "n1" && e.message == msg {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %s of n1 (%q) among %+v", kind, msg, r.events)
		}
	}
	setReady(corev1.ConditionUnknown, "Kubelet stopped posting node status.")
	waitFor("NodeNotReady", "Kubelet stopped posting node status.")
	// A status update that leaves Ready as it is (a heartbeat) is no event.
	setReady(corev1.ConditionUnknown, "Kubelet stopped posting node status.")
	setReady(corev1.ConditionTrue, "kubelet is posting ready status")
	waitFor("NodeReady", "kubelet is posting ready status")
	r.mu.Lock()
	defer r.mu.Unlock()
	count := map[string]int{}
	for _, e := range r.events {
		count[e.kind]++
	}
	if count["NodeNotReady"] != 1 || count["NodeReady"] != 1 {
		t.Errorf("events %v: want one NodeNotReady and one NodeReady", count)
	}
}

// TestObserverTimesPodsToTheMillisecond: a pod's creation is when the
// watch first sees it, not its creationTimestamp, which has whole seconds
// only: on kind, a replacement the ReplicaSet created 50ms after the
// taint manager deleted its predecessor had a creationTimestamp before
// that deletion, and rescheduledWithin found it no replacement.
func TestObserverTimesPodsToTheMillisecond(t *testing.T) {
	client := fakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := observe(t, ctx, client)
	before := time.Now()
	// As the API server writes it: truncated to the second.
	stamp := metav1.NewTime(before.Truncate(time.Second))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gateway-r1", Namespace: "ns", Labels: map[string]string{"app": "gateway"}, CreationTimestamp: stamp}}
	if _, err := client.CoreV1().Pods("ns").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var created time.Time
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if p := r.pods["gateway-r1"]; p != nil {
			created = p.created
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatal("the pod was never recorded")
	}
	if created.Before(before) {
		t.Errorf("created %v, before the pod was made (%v): the truncated creationTimestamp %v was used", created, before, stamp)
	}
}

// TestErrorClassDropsTheLocalAddress: Go names a connection's local
// address in its errors, a new source port each time; the report counts
// failures by kind, so the same failure must read the same.
func TestErrorClassDropsTheLocalAddress(t *testing.T) {
	for in, want := range map[string]string{
		`Get "http://172.18.0.2:30080/": dial tcp :53007->172.18.0.2:30080: connect: connection refused`:         `Get "http://172.18.0.2:30080/": dial tcp 172.18.0.2:30080: connect: connection refused`,
		`Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:41234->127.0.0.1:8080: read: connection reset by peer`: `Get "http://127.0.0.1:8080/": read tcp 127.0.0.1:8080: read: connection reset by peer`,
		`Get "http://[::1]:8080/": dial tcp6 [::1]:40000->[::1]:8080: i/o timeout`:                               `Get "http://[::1]:8080/": dial tcp6 [::1]:8080: i/o timeout`,
		`context deadline exceeded (Client.Timeout exceeded while awaiting headers)`:                             `context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
		``: ``,
	} {
		if got := errorClass(in); got != want {
			t.Errorf("errorClass(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}
