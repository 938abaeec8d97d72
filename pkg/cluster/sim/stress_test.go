package sim

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// TestStressShares: CFS inside one pod, max-min fairness with equal
// weights among its requests (each wants a core) and stress-ng workers
// (each wants load cores), over what the pod gets.
func TestStressShares(t *testing.T) {
	cases := []struct {
		name          string
		capacity      float64
		live          int
		stress        []*stressor
		request, used float64
	}{
		// 3 tasks wanting a core each on 1 core: a third each.
		{"two full workers", 1, 1, []*stressor{{2, 1}}, 1.0 / 3, 2.0 / 3},
		// fair share 1/2 is what the worker wants: it gets it, the
		// request the other half.
		{"one half worker", 1, 1, []*stressor{{1, 0.5}}, 0.5, 0.5},
		// 2 cores: the worker's 0.5 and a whole core for the request.
		{"room for both", 2, 1, []*stressor{{1, 0.5}}, 1, 0.5},
		// no request: 4 full workers share the core.
		{"idle pod", 1, 0, []*stressor{{4, 1}}, 0, 1},
		// 0.1 ≤ 1/3: satisfied; 0.9 left for the request and the full
		// worker, 0.45 each.
		{"two groups", 1, 1, []*stressor{{1, 0.1}, {1, 1}}, 0.45, 0.55},
	}
	for _, c := range cases {
		s := server{capacity: c.capacity, live: c.live, stress: c.stress}
		r, st := s.stressShares()
		if math.Abs(r-c.request) > 1e-12 || math.Abs(st-c.used) > 1e-12 {
			t.Errorf("%s: request %.4f stress %.4f, want %.4f %.4f", c.name, r, st, c.request, c.used)
		}
	}
}

// parsePools is parse with the given node pools.
func parsePools(t testing.TB, duration, pools, body string) *scenario.Scenario {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: t}
spec:
  duration: %s
  cluster:
    nodePools:
%s
%s
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`, duration, pools, body)
	sc, err := scenario.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return sc
}

func stressChaos(selector, cpu string) string {
	return `
  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: StressChaos
      metadata: {name: burn}
      spec: {mode: all, duration: 20s, selector: ` + selector + `, stressors: {cpu: ` + cpu + `}}`
}

// cpuAt is a service's CPU use in its sample at t.
func cpuAt(t *testing.T, s *timeline.Service, at time.Duration) int32 {
	t.Helper()
	for _, x := range s.Samples {
		if x.T == at {
			return x.CPUMillicores
		}
	}
	t.Fatalf("%s has no sample at %s", s.Name, at)
	return 0
}

// TestStressSlowsItsPod: one pod limited to 1 core serves evenly spaced
// requests of 10ms of CPU at 10 req/s: alone on its core each takes 10ms
// + 0.5ms of network. Stressors in its cgroup from 20s to 40s:
//
//   - 2 workers at 100%: three tasks want a core each, each gets 1/3: a
//     request takes 30ms, 30.5ms in all. The pod is saturated at its limit
//     all the time: 1000m.
//   - 1 worker at 50%: the fair share 1/2 is what the worker wants; the
//     request gets the other half: 20ms, 20.5ms. CPU: the worker's 500m
//     all the time plus the requests' 10 × 10ms = 100m: 600m.
//
// Before and after: 10.5ms and 100m.
func TestStressSlowsItsPod(t *testing.T) {
	for _, c := range []struct {
		cpu     string
		latency time.Duration
		milli   int32
	}{{"{workers: 2, load: 100}", 30500 * time.Microsecond, 1000}, {"{workers: 1, load: 50}", 20500 * time.Microsecond, 600}} {
		sc := parse(t, "60s", `  services:
    - name: gateway
      role: gateway
      replicas: 1
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 10ms, distribution: constant}
  load: {profile: constant, rate: 10, timeout: 2s}`+stressChaos("{labelSelectors: {app: gateway}}", c.cpu))
		tl := runScenario(t, sc, 1)
		gw := tl.EntryService()
		check := func(from, to, want time.Duration) {
			for _, r := range gw.Window(from, to) {
				if !r.OK() || !within(r.Latency(), want, 100*time.Microsecond) {
					t.Fatalf("%s: request at %s took %s, want %s", c.cpu, r.Sent(), r.Latency(), want)
				}
			}
		}
		check(time.Second, 20*time.Second, 10500*time.Microsecond)
		check(20*time.Second, 40*time.Second, c.latency)
		check(40*time.Second, 60*time.Second, 10500*time.Microsecond)
		for _, at := range []time.Duration{25 * time.Second, 35 * time.Second} {
			if m := cpuAt(t, gw, at); math.Abs(float64(m-c.milli)) > 10 {
				t.Errorf("%s: CPU at %s = %dm, want %dm", c.cpu, at, m, c.milli)
			}
		}
		if m := cpuAt(t, gw, 50*time.Second); math.Abs(float64(m-100)) > 10 {
			t.Errorf("%s: CPU at 50s = %dm, want 100m after the fault", c.cpu, m)
		}
	}
}

// TestStressSlowsNeighbours: one node of 2 cores holds the victim
// (request 500m, no limit: the node's idle CPU is its to use) serving
// 10ms requests at 10 req/s, and the noisy pod (request 1500m, limit 2),
// idle. Two full stressors in the noisy pod make it want 2 cores; with a
// request in flight the victim wants 1: 3 > 2, the node is contended and
// CFS shares it by requests (500m : 1500m). Water-filling: the noisy pod
// wants least per unit of weight (2/1.5 < 1/0.5); its share 2 × 1.5/2 =
// 1.5 cores < 2, it gets 1.5; the victim the 0.5 left: its requests take
// 20ms instead of 10ms, 20.5ms with the network. Without the stressors,
// or with them limited to 1 core (workers 1), the node is not contended
// and the victim keeps its 10.5ms.
func TestStressSlowsNeighbours(t *testing.T) {
	for _, c := range []struct {
		cpu  string
		want time.Duration
	}{{"{workers: 2, load: 100}", 20500 * time.Microsecond}, {"{workers: 1, load: 100}", 10500 * time.Microsecond}} {
		sc := parsePools(t, "60s", `      - {name: a, count: 1, cpu: "2", memory: 8Gi}`, `  services:
    - name: victim
      role: gateway
      replicas: 1
      resources: {requests: {cpu: 500m}}
      work: {cpu: 10ms, distribution: constant}
    - name: noisy
      role: user
      replicas: 1
      resources: {requests: {cpu: 1500m}, limits: {cpu: "2"}}
      work: {cpu: 1ms}
  load: {target: victim, profile: constant, rate: 10, timeout: 2s}`+stressChaos("{labelSelectors: {app: noisy}}", c.cpu))
		tl := runScenario(t, sc, 1)
		for _, r := range tl.EntryService().Window(20*time.Second, 40*time.Second) {
			if !r.OK() || !within(r.Latency(), c.want, 100*time.Microsecond) {
				t.Fatalf("%s: victim request at %s took %s, want %s", c.cpu, r.Sent(), r.Latency(), c.want)
			}
		}
		for _, r := range tl.EntryService().Window(41*time.Second, 60*time.Second) {
			if !within(r.Latency(), 10500*time.Microsecond, 100*time.Microsecond) {
				t.Fatalf("%s: victim request at %s took %s after the fault", c.cpu, r.Sent(), r.Latency())
			}
		}
	}
}

// TestStressEndsWithItsContainer: a container-kill at 30s ends the
// stressors started at 20s in it (stress-ng dies with the container it
// was attached to); the restarted container runs none: its requests are
// back to 10.5ms before the fault's end at 40s.
func TestStressEndsWithItsContainer(t *testing.T) {
	sc := parse(t, "60s", `  services:
    - name: gateway
      role: gateway
      replicas: 1
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 10ms, distribution: constant}
      startupLatency: {min: 1s, max: 1s}
  load: {profile: constant, rate: 10, timeout: 2s}`+stressChaos("{labelSelectors: {app: gateway}}", "{workers: 2, load: 100}")+`
    - at: 30s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill}
      spec: {action: container-kill, mode: all, containerNames: [app], selector: {labelSelectors: {app: gateway}}}`)
	tl := runScenario(t, sc, 1)
	var after []timeline.Request
	for _, r := range tl.EntryService().Window(35*time.Second, 40*time.Second) {
		if r.OK() {
			after = append(after, r)
		}
	}
	if len(after) == 0 {
		t.Fatal("no request answered between the restart and the fault's end")
	}
	for _, r := range after {
		if !within(r.Latency(), 10500*time.Microsecond, 100*time.Microsecond) {
			t.Fatalf("request at %s took %s: the restarted container has no stressors", r.Sent(), r.Latency())
		}
	}
}

// TestStressChaosIsDeterministic and refused kinds.
func TestStressChaosChecksAndDeterminism(t *testing.T) {
	body := `  services:
    - name: gateway
      role: gateway
      replicas: 3
      resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}
      work: {cpu: 10ms}
  load: {profile: poisson, rate: 50, timeout: 2s}`
	sc := parse(t, "60s", body+strings.Replace(stressChaos("{labelSelectors: {app: gateway}}", "{workers: 1, load: 80}"), "mode: all", "mode: one", 1))
	if !reflect.DeepEqual(runScenario(t, sc, 5), runScenario(t, sc, 5)) {
		t.Fatal("same scenario and seed, different timelines")
	}
	for cpu, want := range map[string]string{
		"{workers: 1}, memory: {workers: 1, size: 10MB}": "spec.faults[0].spec.stressors.memory",
		"{workers: 1, options: [--cpu-method, fft]}":     "spec.faults[0].spec.stressors.cpu.options",
	} {
		err := Backend{}.Check(parse(t, "60s", body+stressChaos("{labelSelectors: {app: gateway}}", cpu)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Check = %v, want an error at %s", cpu, err, want)
		}
	}
}

// TestStressChaosWithoutCheck: a plan that skipped Check (a library
// caller) gets a failed fault in its timeline, not a panic.
func TestStressChaosWithoutCheck(t *testing.T) {
	sc := parse(t, "30s", `  services:
    - name: gateway
      role: gateway
      resources: {requests: {cpu: 500m}}
      work: {cpu: 1ms}
  load: {profile: constant, rate: 10, timeout: 2s}`+stressChaos("{labelSelectors: {app: gateway}}", "{workers: 1}"))
	sc.Spec.Faults[0].StressChaos.Spec.Stressors.CPUStressor = nil
	tl := runScenario(t, sc, 1)
	if len(tl.Faults) != 1 || tl.Faults[0].Error == "" {
		t.Fatalf("faults %+v: want one failed fault", tl.Faults)
	}
}
