package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestZoneOutage: four gateway pods, one on each of four nodes in two
// zones (least-allocated scoring spreads them); zone-a's machines stop at
// 60s for 10 minutes. Expected from Kubernetes' timings:
//   - requests routed to zone-a's two pods (half of them) get no answer
//     and fail at the client's 1s timeout;
//   - the node lifecycle controller marks zone-a NotReady 50s after the
//     last heartbeat (0-10s old) at its next 5s look: between 100s and
//     115s; the two pods turn not Ready, leave the endpoints 1s later, and
//     from then on nothing fails (before 117s at the latest);
//   - the controller taints zone-a's nodes NoExecute one every 10s
//     (--node-eviction-rate 0.1 in a wholly lost zone while zone-b is
//     healthy): the first at its NotReady, the second at its own or 10s
//     after the first, whichever is later (100s-125s); 300s after each
//     taint (400s-425s) its pod is evicted and replaced in zone-b (zone-a
//     is tainted unreachable), ready 2s + 1s after: 4 ready again by 431s,
//     the two evictions at least 10s apart;
//   - the outage's record ends at 660s.
func TestZoneOutage(t *testing.T) {
	src := `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: zone}
spec:
  duration: 12m
  cluster:
    nodePools:
      - {name: zone-a, count: 2, cpu: "4", memory: 8Gi, labels: {topology.kubernetes.io/zone: zone-a}}
      - {name: zone-b, count: 2, cpu: "4", memory: 8Gi, labels: {topology.kubernetes.io/zone: zone-b}}
  services:
    - name: gateway
      role: gateway
      replicas: 4
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 5ms}
      startupLatency: {min: 2s, max: 2s}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 5}
  load: {profile: constant, rate: 40, timeout: 1s}
  faults:
    - at: 60s
      apiVersion: mcpsim.dev/v1alpha2
      kind: NodeOutage
      metadata: {name: zone-a-down}
      spec: {selector: {topology.kubernetes.io/zone: zone-a}, duration: 10m}
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`
	sc, err := scenario.Parse("zone.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tl := runScenario(t, sc, 9)
	gw := tl.EntryService()
	r90, r120, r431 := readyAt(t, gw, 90*time.Second), readyAt(t, gw, 120*time.Second), readyAt(t, gw, 431*time.Second)
	if r90 != 4 || r120 != 2 || r431 != 4 {
		t.Fatalf("ready at 90s %d (want 4: the API does not know yet), at 120s %d (want 2), at 431s %d (want 4)", r90, r120, r431)
	}
	var evictions []time.Duration
	for _, e := range tl.Events {
		if e.Kind == "TaintManagerEviction" {
			evictions = append(evictions, e.T)
		}
	}
	if len(evictions) != 2 || evictions[0] < 400*time.Second || evictions[1] > 425*time.Second || evictions[1]-evictions[0] < 10*time.Second {
		t.Fatalf("evictions at %v: want two in [400s, 425s], at least 10s apart", evictions)
	}
	failed := 0
	for _, r := range gw.Requests {
		if r.OK() {
			continue
		}
		failed++
		if r.Sent() < 60*time.Second || r.Sent() >= 117*time.Second || !strings.Contains(tl.ErrorKinds[r.Err()], "timeout") {
			t.Fatalf("request at %s failed (%s): only timeouts between the outage and the endpoint removal are expected", r.Sent(), tl.ErrorKinds[r.Err()])
		}
	}
	// About half of 40 req/s for 40-55s.
	if failed < 700 || failed > 1200 {
		t.Fatalf("%d requests failed, want about 20/s for 40-55s", failed)
	}
	replacedInB := 0
	for _, e := range tl.Events {
		if e.Kind == "Scheduled" && e.T > 400*time.Second && strings.Contains(e.Message, "zone-b") {
			replacedInB++
		}
		if e.Kind == "Scheduled" && e.T > 60*time.Second && strings.Contains(e.Message, "zone-a") {
			t.Fatalf("a pod was scheduled on a lost node: %+v", e)
		}
	}
	if replacedInB != 2 {
		t.Fatalf("%d replacements scheduled in zone-b, want 2", replacedInB)
	}
	if f := tl.Faults[0]; f.End == nil || *f.End != 660*time.Second || len(f.Targets) != 2 {
		t.Fatalf("fault record %+v", f)
	}
}

// TestNoExecuteTaintsFollowZoneState: the node lifecycle controller's
// eviction rate depends on the state of the lost nodes' zone (Kubernetes
// v1.34 defaults). One pod per node (required anti-affinity), tolerating
// the unreachable taint for 30s; the lost nodes stop at 60s and are
// NotReady by 115s, so every eviction that happens comes by 115s + 10s
// per node before it + 30s, well inside the 10-minute run:
//   - zone-a with 4 nodes, 2 lost (50% < 55%): a normal zone, one taint
//     every 10s: 2 evictions, at least 10s apart;
//   - 3 of 4 lost (75% ≥ 55%, more than 2) in a zone of at most 50
//     nodes: partial disruption once the third is NotReady, and no taint
//     from then on: the node NotReady last is never evicted, and at most
//     the two before it are;
//   - both zones of one node each lost: every zone wholly lost, the
//     controller stops evicting: none.
func TestNoExecuteTaintsFollowZoneState(t *testing.T) {
	for _, c := range []struct {
		name         string
		pools        string
		lost         string
		replicas     int
		wantEvicted  int // -n: at most n, never the node NotReady last
		wantInterval time.Duration
	}{
		{"normal zone", "{name: a, count: 4, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: a}}, {name: b, count: 2, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: b}}",
			"{mcpsim.dev/node: a-0}, {mcpsim.dev/node: a-1}", 6, 2, 10 * time.Second},
		{"partial disruption", "{name: a, count: 4, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: a}}, {name: b, count: 2, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: b}}",
			"{mcpsim.dev/node: a-0}, {mcpsim.dev/node: a-1}, {mcpsim.dev/node: a-2}", 6, -2, 10 * time.Second},
		{"every zone lost", "{name: a, count: 1, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: a}}, {name: b, count: 1, cpu: \"4\", memory: 8Gi, labels: {topology.kubernetes.io/zone: b}}",
			"{mcpsim.dev/node: a-0}, {mcpsim.dev/node: b-0}", 2, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var faults strings.Builder
			for i, sel := range strings.Split(c.lost, ", ") {
				fmt.Fprintf(&faults, "    - {at: 60s, apiVersion: mcpsim.dev/v1alpha2, kind: NodeOutage, metadata: {name: down-%d}, spec: {selector: %s}}\n", i, sel)
			}
			src := fmt.Sprintf(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: zones}
spec:
  duration: 10m
  cluster:
    nodePools: [%s]
  services:
    - name: gateway
      role: gateway
      replicas: %d
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      tolerations:
        - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: gateway}}}
  load: {profile: constant, rate: 10, timeout: 1s}
  faults:
%s  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`, c.pools, c.replicas, faults.String())
			sc, err := scenario.Parse("zones.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			tl := runScenario(t, sc, 3)
			var evictions []time.Duration
			var evictedNodes []string
			lastNotReady := ""
			podNode := map[string]string{}
			for _, p := range tl.Pods {
				podNode[p.Name] = p.Node
			}
			for _, e := range tl.Events {
				switch e.Kind {
				case "TaintManagerEviction":
					evictions = append(evictions, e.T)
					evictedNodes = append(evictedNodes, podNode[e.Object])
				case "NodeNotReady":
					lastNotReady = e.Object
				}
			}
			switch {
			case c.wantEvicted >= 0 && len(evictions) != c.wantEvicted:
				t.Fatalf("evictions at %v, want %d", evictions, c.wantEvicted)
			case c.wantEvicted < 0 && (len(evictions) > -c.wantEvicted || slices.Contains(evictedNodes, lastNotReady)):
				t.Fatalf("evictions at %v from %v: want at most %d, none from %s (NotReady last)", evictions, evictedNodes, -c.wantEvicted, lastNotReady)
			}
			for i := 1; i < len(evictions); i++ {
				if evictions[i]-evictions[i-1] < c.wantInterval {
					t.Errorf("evictions at %v: want them at least %s apart", evictions, c.wantInterval)
				}
			}
		})
	}
}
