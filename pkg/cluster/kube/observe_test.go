package kube

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestObserverRecordsNodeReadiness: the nodes are watched, as the sim
// reports them: a node whose Ready condition turns False is a NodeNotReady
// event with the node lifecycle controller's message, and back to True a
// NodeReady. The placement assertions read these to know the live zones;
// without them a lost zone on a real cluster would count as an empty
// domain and every spread would fail.
func TestObserverRecordsNodeReadiness(t *testing.T) {
	client := fakeCluster(t)
	sc, err := scenario.Parse("fake.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
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
	r := newRecorder(sc, nil)
	obs, err := startObserver(ctx, client, "ns", sc, r)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.stop()
	if len(r.tl.Nodes) != 1 || r.tl.Nodes[0].Name != "n1" || r.tl.Nodes[0].Labels[corev1.LabelTopologyZone] != "zone-a" {
		t.Fatalf("nodes = %+v, want n1 in zone-a", r.tl.Nodes)
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
