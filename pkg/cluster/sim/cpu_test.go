package sim

import (
	"fmt"
	"math"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

func mustQuantity(t *testing.T, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestNodeCPUIsShared: 4 pods of 2-core limits on one node, Poisson load
// of 320 req/s × 20ms = 6.4 cores of work. On a 16-core node every pod
// serves at ρ = 1.6/2 = 0.8 and nothing fails; on a 2-core node the pods
// together get 2 cores: ρ = 3.2, the queue grows until the client's 2s
// timeout, and most requests fail.
func TestNodeCPUIsShared(t *testing.T) {
	run := func(cpu string) (failed, total int) {
		sc := parse(t, "5m", fmt.Sprint(`  services:
    - name: one
      role: user
      replicas: 4
      resources: {requests: {cpu: 100m}, limits: {cpu: "2"}}
      work: {cpu: 20ms}
  load: {profile: poisson, rate: 320, timeout: 2s}`))
		// parse gives 4 nodes of 16 cores; make it one node of cpu.
		sc.Spec.Cluster.NodePools[0].Count = 1
		sc.Spec.Cluster.NodePools[0].CPU = mustQuantity(t, cpu)
		tl := runScenario(t, sc, 2)
		for _, r := range tl.EntryService().Requests {
			if !r.OK() {
				failed++
			}
		}
		return failed, len(tl.EntryService().Requests)
	}
	// At ρ = 0.8 a request of the exponential work's far tail (e^-10 of
	// them are 10× the mean) can still take 2s: a handful may time out.
	if f, n := run("16"); float64(f) > 0.001*float64(n) || n < 90000 {
		t.Fatalf("16 cores: %d of %d failed, want almost none", f, n)
	}
	if f, n := run("2"); float64(f) < 0.5*float64(n) {
		t.Fatalf("2 cores for 6.4 cores of work: only %d of %d failed", f, n)
	}
}

// TestCFSSharesFollowRequests: x and y, with no CPU limit, share one
// 1-core node; a gateway on another node calls both for every request
// (Poisson 200 req/s), so each is offered 200 × 10ms = 2 cores, far more
// than the node has, and always has requests in flight. CFS gives a busy
// node's CPU in proportion to the requests (cpu.shares): x 750m, y 250m,
// so the samples show 750 and 250 millicores used.
func TestCFSSharesFollowRequests(t *testing.T) {
	tl := sharedCore(t, "{requests: {cpu: 750m}}", "{requests: {cpu: 250m}}", nil)
	for name, want := range map[string]float64{"x": 750, "y": 250} {
		if got := meanMillicores(tl.Service(name).Samples[5:]); math.Abs(got-want) > 5 {
			t.Errorf("%s used %.0f millicores on average, want %.0f", name, got, want)
		}
	}
}

// sharedCore runs x and y, with the given resources, on one 1-core node
// under the CPU quota model q for 2 minutes; a gateway on another node
// calls both for every request (Poisson 200 req/s), so each is offered
// 200 × 10ms = 2 cores, far more than the node has, and always has
// requests in flight (no timeouts, no breakers).
func sharedCore(t *testing.T, xResources, yResources string, q *scenario.CPUQuota) *timeline.Timeline {
	t.Helper()
	onPool := func(pool string) string {
		return `{nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: mcpsim.dev/pool, operator: In, values: [` + pool + `]}]}]}}}`
	}
	sc := parse(t, "2m", `  services:
    - name: gw
      role: gateway
      resources: {requests: {cpu: "1"}}
      work: {cpu: 10us, distribution: constant}
      affinity: `+onPool("a")+`
      calls:
        - {service: x, timeout: 1h, circuitBreaker: {disabled: true}}
        - {service: y, timeout: 1h, circuitBreaker: {disabled: true}}
    - name: x
      role: user
      resources: `+xResources+`
      work: {cpu: 10ms, distribution: constant}
      affinity: `+onPool("shared")+`
    - name: y
      role: payment
      resources: `+yResources+`
      work: {cpu: 10ms, distribution: constant}
      affinity: `+onPool("shared")+`
  load: {profile: poisson, rate: 200, timeout: 1h}`)
	pools := sc.Spec.Cluster.NodePools
	shared := pools[0]
	shared.Name, shared.Count, shared.CPU = "shared", 1, mustQuantity(t, "1")
	sc.Spec.Cluster.NodePools = append(pools[:1], shared)
	sc.Spec.Cluster.CPUQuota = q
	return runScenario(t, sc, 4)
}

// meanMillicores is the mean CPU of samples, in millicores.
func meanMillicores(samples []timeline.Sample) float64 {
	var sum float64
	for _, s := range samples {
		sum += float64(s.CPUMillicores)
	}
	return sum / float64(len(samples))
}
