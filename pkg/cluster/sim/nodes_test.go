package sim

import (
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
//   - 300s later (400s-415s) they are evicted and replaced in zone-b
//     (zone-a is tainted unreachable), ready 2s + 1s after: 4 ready again
//     by 421s;
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
	r90, r120, r421 := readyAt(t, gw, 90*time.Second), readyAt(t, gw, 120*time.Second), readyAt(t, gw, 421*time.Second)
	if r90 != 4 || r120 != 2 || r421 != 4 {
		t.Fatalf("ready at 90s %d (want 4: the API does not know yet), at 120s %d (want 2), at 421s %d (want 4)", r90, r120, r421)
	}
	failed := 0
	for _, r := range gw.Requests {
		if r.OK() {
			continue
		}
		failed++
		if r.Sent < 60*time.Second || r.Sent >= 117*time.Second || !strings.Contains(tl.ErrorKinds[r.Err], "timeout") {
			t.Fatalf("request at %s failed (%s): only timeouts between the outage and the endpoint removal are expected", r.Sent, tl.ErrorKinds[r.Err])
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
