package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// netChaosScenario is fakeScenario with one NetworkChaos of the given
// spec fields at 1s.
func netChaosScenario(t *testing.T, spec string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("n.yaml", []byte(fakeScenario+`  faults:
    - at: 1s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow}
      spec: {mode: all, selector: {labelSelectors: {app: payment}}, `+spec+`}
`))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestNetemActionsHeldWithoutNetem: where the nodes' kernel has no netem
// but mcpsim can hold the pods' packets itself (kind), NetworkChaos delay
// and loss on everything a pod sends are accepted, even without Chaos
// Mesh; what only netem can do is refused at its field, with the reason.
func TestNetemActionsHeldWithoutNetem(t *testing.T) {
	b := New(Options{Name: "kind", NoNetem: "no netem here", DelaysWithoutNetem: true, Target: "http://127.0.0.1:1"})
	for spec, refusedAt := range map[string]string{
		"action: delay, delay: {latency: 200ms}":                                                                               "",
		"action: delay, delay: {latency: 50ms, jitter: 10ms, correlation: '25'}":                                               "",
		"action: loss, loss: {loss: '10', correlation: '5'}":                                                                   "",
		"action: netem, delay: {latency: 5ms}, loss: {loss: '1'}":                                                              "",
		"action: duplicate, duplicate: {duplicate: '10'}":                                                                      "spec.faults[0].spec.action",
		"action: corrupt, corrupt: {corrupt: '10'}":                                                                            "spec.faults[0].spec.action",
		"action: delay, delay: {latency: 5ms, reorder: {reorder: '10', gap: 1}}":                                               "spec.faults[0].spec.delay.reorder",
		"action: delay, delay: {latency: 5ms}, direction: to, target: {mode: all, selector: {labelSelectors: {app: gateway}}}": "spec.faults[0].spec.target",
		"action: delay, delay: {latency: 5ms}, externalTargets: [example.com]":                                                 "spec.faults[0].spec.externalTargets",
		"action: delay, delay: {latency: 5ms}, device: eth1":                                                                   "spec.faults[0].spec.device",
	} {
		err := b.Check(netChaosScenario(t, spec))
		switch {
		case refusedAt == "" && err != nil:
			t.Errorf("%s: refused: %v", spec, err)
		case refusedAt != "" && (err == nil || !strings.Contains(err.Error(), refusedAt) || !strings.Contains(err.Error(), "no netem here")):
			t.Errorf("%s: %v, want refused at %s with the reason", spec, err, refusedAt)
		}
	}
}

// fakeDelayer records what the backend asks of it.
type fakeDelayer struct {
	calls []string
	specs []cluster.PacketDelay
	fail  error
}

func (d *fakeDelayer) Delay(_ context.Context, id int, spec cluster.PacketDelay, pods []cluster.DelayedPod) error {
	d.calls = append(d.calls, fmt.Sprintf("delay %d %v", id, pods))
	d.specs = append(d.specs, spec)
	return d.fail
}

func (d *fakeDelayer) Undelay(_ context.Context, id int) (string, error) {
	d.calls = append(d.calls, fmt.Sprintf("undelay %d", id))
	return "held 42 packets", nil
}

// TestDelayHoldsTheSelectedPods: a delay of payment's packets picks
// payment's pods as Chaos Mesh does (not the gateway's, nor one without
// an address yet), hands the delayer each pod's node and address with the
// fault's latency, for the fault's time (30s, within the run's 3s: 2s
// from 1s), and lets go at the fault's end, once; what is still held at
// the end of the run is let go then.
func TestDelayHoldsTheSelectedPods(t *testing.T) {
	sc := netChaosScenario(t, "action: delay, delay: {latency: 200ms, jitter: 10ms}, duration: 30s")
	pod := func(name, app, node, ip string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{PodIP: ip, Phase: corev1.PodRunning}}
	}
	client := fake.NewClientset(pod("payment-a", "payment", "w1", "10.244.1.5"), pod("payment-b", "payment", "w2", "10.244.2.7"),
		pod("payment-c", "payment", "w2", ""), pod("gateway-a", "gateway", "w1", "10.244.1.6"))
	ctx := context.Background()
	obs, err := startObserver(ctx, client, "ns", sc, newRecorder(sc, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.stop()
	d := &fakeDelayer{}
	b := New(Options{Name: "kind", Client: client, NoNetem: "no netem here", Delayer: d, Target: "http://127.0.0.1:1"})
	f := &sc.Spec.Faults[0]
	if !b.held(f) {
		t.Fatal("a delay on nodes without netem is not held by the delayer")
	}
	delays := &networkDelays{b: b, end: sc.Spec.Duration.Duration}
	rec := delays.inject(ctx, "ns", f, obs, rand.New(rand.NewPCG(1, 2)), time.Second)
	if want := "[payment-a payment-b]"; fmt.Sprint(rec.Targets) != want || !strings.Contains(rec.Error, "payment-c") {
		t.Fatalf("targets %v (error %q), want %s and payment-c not held for want of an address", rec.Targets, rec.Error, want)
	}
	if want := "delay 0 [{payment-a w1 10.244.1.5} {payment-b w2 10.244.2.7}]"; len(d.calls) != 1 || d.calls[0] != want {
		t.Fatalf("delayer calls %q, want %q", d.calls, want)
	}
	if s := d.specs[0]; s.Latency != 200*time.Millisecond || s.Jitter != 10*time.Millisecond || s.For != 2*time.Second {
		t.Fatalf("spec %+v, want 200ms ± 10ms for 2s (the run's 3s from 1s, before the fault's 30s)", s)
	}
	seen, err := delays.restore(ctx, "slow")
	if err != nil || seen != "held 42 packets" {
		t.Fatalf("restore: %q, %v", seen, err)
	}
	if err := delays.restoreAll(time.Second); err != nil || len(d.calls) != 2 {
		t.Fatalf("restoreAll after the end: %v, calls %q (want nothing more)", err, d.calls)
	}
	// Injected again and left in force: the end of the run lets go.
	delays.inject(ctx, "ns", f, obs, rand.New(rand.NewPCG(1, 2)), time.Second)
	if err := delays.restoreAll(time.Second); err != nil || d.calls[len(d.calls)-1] != "undelay 1" {
		t.Fatalf("restoreAll: %v, calls %q", err, d.calls)
	}
	// A delayer that fails leaves nothing to let go, and says why.
	d.fail = errors.New("no iptables")
	if rec := delays.inject(ctx, "ns", f, obs, rand.New(rand.NewPCG(1, 2)), time.Second); !strings.Contains(rec.Error, "no iptables") || len(delays.ids) != 0 {
		t.Fatalf("failed delay: %+v, in force %v", rec, delays.ids)
	}
}

// TestNeedsNetem: the NetworkChaos actions chaos-daemon builds on netem
// need it, a partition (iptables) does not, nor does any other fault.
func TestNeedsNetem(t *testing.T) {
	for spec, want := range map[string]bool{
		"action: delay, delay: {latency: 10ms}":                    true,
		"action: loss, loss: {loss: '5'}":                          true,
		"action: netem, delay: {latency: 10ms}, loss: {loss: '5'}": true,
		"action: partition":                                        false,
	} {
		sc := netChaosScenario(t, spec)
		if got := NeedsNetem(&sc.Spec.Faults[0]); got != want {
			t.Errorf("%s: NeedsNetem %v, want %v", spec, got, want)
		}
	}
	if NeedsNetem(&scenario.Fault{}) {
		t.Error("a fault that is no NetworkChaos needs netem")
	}
}
