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

// TestNodeCPUCountedWhenItCanBeContended steps a run event by event and
// checks the CPU accounting after each: a node whose pods' limits add up
// to no more than its CPU is not counted (its pods always get their
// limit), one whose limits exceed it is, from the moment they do.
//
// One 1-core node; x requests 100m and is limited to 300m, so one to
// three pods (300m–900m of limits) cannot contend for the core and four
// (1.2 cores) can. Poisson 60 req/s of 10ms exponential work offers 0.6
// cores: the HPA (target 50% of 100m) asks for 0.6/0.05 = 12 pods,
// capped at 4, and goes from 1 to 4 at its first sync (30s; doubling
// allows 2, the legacy rule max(2 × 1, 4) = 4) while the first pod is
// busy: the node crosses from uncounted to counted with requests in
// flight, which is when the demands must be counted afresh (the four
// pods then want up to 1.2 cores, more than the node has: it is
// contended at times). A pod-kill at 90s takes one away: its replacement
// waits for its memory (four pods' requests fill the node's 1Gi) and
// binds as the killed pod leaves, in the same instant: uncounted and
// counted again within one event.
func TestNodeCPUCountedWhenItCanBeContended(t *testing.T) {
	sc := parsePools(t, "2m", `      - {name: a, count: 1, cpu: "1", memory: 1Gi}`, `  services:
    - name: x
      role: gateway
      replicas: 1
      resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {cpu: 300m}}
      work: {cpu: 10ms}
      hpa:
        minReplicas: 1
        maxReplicas: 4
        metrics:
          - type: Resource
            resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  load: {profile: poisson, rate: 60, timeout: 5s}
  faults:
    - {at: 90s, apiVersion: chaos-mesh.org/v1alpha1, kind: PodChaos, metadata: {name: kill-one}, spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: x}}}}`)
	w := newWorld(plan(t, sc, 3, nil))
	n := w.nodes[0]
	var counted, uncounted, contended, crossings int
	was := n.mayContend
	for w.step(w.end, true) {
		limits, used := 0.0, 0.0
		for _, p := range n.pods {
			limits += p.maxLimit
			if p.cpuFree == n.mayContend {
				t.Fatalf("%s: pod %s cpuFree=%v on a node with mayContend=%v", w.now, p.name, p.cpuFree, n.mayContend)
			}
			used += p.srv.usage()
		}
		if n.mayContend != (limits > n.cores) {
			t.Fatalf("%s: limits %.3f on %.0f cores, mayContend=%v", w.now, limits, n.cores, n.mayContend)
		}
		if used > n.cores*(1+1e-9) {
			t.Fatalf("%s: the pods use %.3f cores of %.0f", w.now, used, n.cores)
		}
		if n.mayContend != was {
			crossings++
			was = n.mayContend
		}
		if !n.mayContend {
			uncounted++
			for _, p := range n.pods {
				if p.srv.capacity != p.limit {
					t.Fatalf("%s: %s may use %.3f cores on an uncontended node, its limit is %.3f", w.now, p.name, p.srv.capacity, p.limit)
				}
			}
			continue
		}
		counted++
		sum := 0.0
		for _, p := range n.pods {
			if want := p.want(); !p.gone && p.demand != want {
				t.Fatalf("%s: %s wants %.3f cores, counted %.3f", w.now, p.name, want, p.demand)
			}
			sum += p.demand
		}
		if math.Abs(sum-n.demand) > 1e-9 {
			t.Fatalf("%s: the node counts %.6f cores wanted, its pods %.6f", w.now, n.demand, sum)
		}
		if n.contended != (n.demand > n.cores*(1+1e-12)) {
			t.Fatalf("%s: %.3f cores wanted of %.0f, contended=%v", w.now, n.demand, n.cores, n.contended)
		}
		if n.contended {
			contended++
		}
	}
	if uncounted == 0 || counted == 0 || contended == 0 || crossings != 1 {
		t.Fatalf("%d events uncounted, %d counted (%d contended), %d crossings: the run did not cross as planned", uncounted, counted, contended, crossings)
	}
}
