package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// recordingOutages is a NodeOutages that records what it is asked to do;
// failRestore makes a node's first restoration fail.
type recordingOutages struct {
	mu          sync.Mutex
	calls       []string
	down        map[string]bool
	failRestore string
}

func (o *recordingOutages) Isolate(_ context.Context, node string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, "isolate "+node)
	o.down[node] = true
	return nil
}

func (o *recordingOutages) Restore(_ context.Context, node string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, "restore "+node)
	if node == o.failRestore {
		o.failRestore = ""
		return errors.New("iptables is busy")
	}
	delete(o.down, node)
	return nil
}

func outageScenario(t *testing.T, fault string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("outage.yaml", []byte(strings.Replace(fakeScenario, "  assertions:\n", "  faults:\n    - "+fault+"\n  assertions:\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestNodeOutageOnKind: a zone outage at 1s for 1s isolates the zone's
// workers (never the control plane, which the selector also matches) and
// restores them at 2s; the fault is recorded with its nodes and end. An
// outage to the end of the run is restored when the run ends, a failed
// restoration retried then, and every node must be Ready before the run
// returns. Without NodeOutages (a cluster mcpsim did not create) the
// scenario is refused.
func TestNodeOutageOnKind(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("{}")) }))
	defer target.Close()
	ready := corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}
	zoneA := map[string]string{corev1.LabelTopologyZone: "zone-a"}
	newOutages := func() *recordingOutages { return &recordingOutages{down: map[string]bool{}} }
	run := func(t *testing.T, fault string, o *recordingOutages) (calls []string, rec string) {
		sc := outageScenario(t, fault)
		client := fakeCluster(t)
		for _, n := range []*corev1.Node{
			{ObjectMeta: metav1.ObjectMeta{Name: "kind-control-plane", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a", controlPlaneLabel: ""}}, Status: ready},
			{ObjectMeta: metav1.ObjectMeta{Name: "kind-worker2", Labels: zoneA}, Status: ready},
			{ObjectMeta: metav1.ObjectMeta{Name: "kind-worker", Labels: zoneA}, Status: ready},
			{ObjectMeta: metav1.ObjectMeta{Name: "kind-worker3", Labels: map[string]string{corev1.LabelTopologyZone: "zone-b"}}, Status: ready},
		} {
			if err := client.Tracker().Add(n); err != nil {
				t.Fatal(err)
			}
		}
		b := New(Options{Name: "kind", Client: client, Target: target.URL, NodeOutages: o})
		if err := b.Check(sc); err != nil {
			t.Fatal(err)
		}
		tl, err := runPlan(b, sc)
		if err != nil {
			t.Fatal(err)
		}
		if len(tl.Faults) != 1 {
			t.Fatalf("faults %+v", tl.Faults)
		}
		f := tl.Faults[0]
		// Wall-clock times: the schedule's, plus what the machine takes
		// to act (a second at most, as the other real-time tests allow).
		in := func(d, from time.Duration) bool { return d >= from && d < from+time.Second }
		at, end := "?", "none"
		if in(f.At, time.Second) {
			at = "1s"
		}
		if f.End != nil {
			end = "?"
			if in(*f.End, 2*time.Second) {
				end = "2s"
			}
		}
		return o.calls, fmt.Sprintf("%s %v at %s end %s err %q", f.Kind, f.Targets, at, end, f.Error)
	}

	t.Run("with a duration", func(t *testing.T) {
		calls, rec := run(t, "{at: 1s, apiVersion: mcpsim.dev/v1alpha2, kind: NodeOutage, metadata: {name: zone-a-down}, spec: {selector: {topology.kubernetes.io/zone: zone-a}, duration: 1s}}", newOutages())
		// n1 is fakeCluster's node, a worker in zone-a.
		if want := "[isolate kind-worker isolate kind-worker2 isolate n1 restore kind-worker restore kind-worker2 restore n1]"; fmt.Sprint(calls) != want {
			t.Fatalf("calls %v, want %s", calls, want)
		}
		if want := `NodeOutage [kind-worker kind-worker2 n1] at 1s end 2s err ""`; rec != want {
			t.Fatalf("record %s, want %s", rec, want)
		}
	})
	t.Run("to the end, a restoration failing once", func(t *testing.T) {
		o := newOutages()
		o.failRestore = "kind-worker3"
		calls, rec := run(t, "{at: 1s, apiVersion: mcpsim.dev/v1alpha2, kind: NodeOutage, metadata: {name: b-down}, spec: {selector: {topology.kubernetes.io/zone: zone-b}}}", o)
		if want := "[isolate kind-worker3 restore kind-worker3 restore kind-worker3]"; fmt.Sprint(calls) != want {
			t.Fatalf("calls %v, want %s", calls, want)
		}
		if len(o.down) != 0 {
			t.Fatalf("left isolated: %v", o.down)
		}
		if want := `NodeOutage [kind-worker3] at 1s end none err ""`; rec != want {
			t.Fatalf("record %s, want %s", rec, want)
		}
	})
	t.Run("no worker matches", func(t *testing.T) {
		calls, rec := run(t, "{at: 1s, apiVersion: mcpsim.dev/v1alpha2, kind: NodeOutage, metadata: {name: c-down}, spec: {selector: {topology.kubernetes.io/zone: zone-c}}}", newOutages())
		if len(calls) != 0 || !strings.Contains(rec, `err "no worker node matches map[topology.kubernetes.io/zone:zone-c]"`) {
			t.Fatalf("calls %v, record %s", calls, rec)
		}
	})
	t.Run("refused without NodeOutages", func(t *testing.T) {
		sc := outageScenario(t, "{at: 1s, apiVersion: mcpsim.dev/v1alpha2, kind: NodeOutage, metadata: {name: x}, spec: {selector: {a: b}}}")
		err := New(Options{Name: "kube", Target: target.URL}).Check(sc)
		var ue *cluster.UnsupportedError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "NodeOutage needs a cluster whose machines mcpsim controls") {
			t.Fatalf("got %v", err)
		}
		// The checks of kind, before its cluster exists, accept it.
		if err := New(Options{Name: "kind", Target: target.URL, IsolatesNodes: true}).Check(sc); err != nil {
			t.Fatalf("with IsolatesNodes: %v", err)
		}
	})
}
