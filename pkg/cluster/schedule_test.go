package cluster

import (
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestSchedule: a 5m run with load from 10s for 2m, a pod-kill at 1m (no
// duration: it lasts to the end, no end action) and a pod-failure at 2m
// for 30s (ends at 2m30s), in time order, ends before starts at equal
// times.
func TestSchedule(t *testing.T) {
	sc, err := scenario.Parse("s.yaml", []byte(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: s}
spec:
  duration: 5m
  cluster: {nodePools: [{name: a, count: 1, cpu: "4", memory: 8Gi}]}
  services: [{name: gw, role: gateway, resources: {requests: {cpu: 100m}}, work: {cpu: 1ms}}]
  load: {profile: constant, rate: 1, timeout: 1s, start: 10s, duration: 2m}
  faults:
    - {at: 1m, apiVersion: chaos-mesh.org/v1alpha1, kind: PodChaos, metadata: {name: kill}, spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: gw}}}}
    - {at: 2m, apiVersion: chaos-mesh.org/v1alpha1, kind: PodChaos, metadata: {name: fail}, spec: {action: pod-failure, mode: one, duration: 30s, selector: {labelSelectors: {app: gw}}}}
  assertions: [{name: any, type: errorRate, maxRatio: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		at   time.Duration
		kind ActionKind
		name string
	}
	want := []step{
		{10 * time.Second, LoadStart, ""},
		{time.Minute, FaultStart, "kill"},
		{2 * time.Minute, FaultStart, "fail"},
		{2*time.Minute + 10*time.Second, LoadStop, ""},
		{2*time.Minute + 30*time.Second, FaultEnd, "fail"},
		{5 * time.Minute, End, ""},
	}
	got := Schedule(sc)
	if len(got) != len(want) {
		t.Fatalf("%d actions, want %d: %+v", len(got), len(want), got)
	}
	for i, a := range got {
		name := ""
		if a.Fault != nil {
			name = a.Fault.Name()
		}
		if a.At != want[i].at || a.Kind != want[i].kind || name != want[i].name {
			t.Errorf("action %d: %s %s %s, want %s %s %s", i, a.At, a.Kind, name, want[i].at, want[i].kind, want[i].name)
		}
	}
}
