package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// build parses a scenario whose workload, load and extra spec are given.
func build(t testing.TB, duration, pools, workload, load, extra string) *scenario.Scenario {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: mcpsim.dev/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  duration: %s
  cluster:
    nodePools:
%s
  workload:
%s
  load:
%s
%s
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`, duration, pools, workload, load, extra)
	sc, err := scenario.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return sc
}

func plan(t testing.TB, sc *scenario.Scenario, seed uint64, pacer vegeta.Pacer) *cluster.Plan {
	t.Helper()
	if pacer == nil {
		var err error
		if pacer, err = loadgen.Pacer(&sc.Spec.Load, seed); err != nil {
			t.Fatal(err)
		}
	}
	return &cluster.Plan{Scenario: sc, Seed: seed, Pacer: pacer, LoadStart: sc.Spec.Load.Start.Duration, LoadDuration: sc.Spec.Load.Duration.Duration}
}

func run(t testing.TB, p *cluster.Plan) *timeline.Timeline {
	t.Helper()
	tl, err := Backend{}.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// poissonPacer releases hits with exponential gaps: Poisson arrivals, for
// checking the service model against M/M/1 results.
type poissonPacer struct {
	rate   float64
	rng    *rand.Rand
	next   time.Duration
	issued uint64
	armed  bool
}

func (p *poissonPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits != p.issued {
		p.issued, p.armed = hits, false
	}
	if !p.armed {
		p.next += time.Duration(p.rng.ExpFloat64() / p.rate * 1e9)
		p.armed = true
	}
	return p.next - elapsed, false
}

func (p *poissonPacer) Rate(time.Duration) float64 { return p.rate }

const onePool = `      - {name: a, count: 1, cpu: "16", memory: 64Gi}`

// TestProcessorSharingMatchesMM1: one pod of one core, Poisson arrivals at
// 50/s, exponential work of 10ms mean: ρ = 0.5 and M/M/1-PS gives a mean
// response time of S/(1-ρ) = 20ms (plus the 0.5ms network round trip), and
// the pod uses ρ = 0.5 cores on average.
func TestProcessorSharingMatchesMM1(t *testing.T) {
	sc := build(t, "30m", onePool, `    service: gateway
    replicas: 1
    resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}`, `    profile: constant
    rate: 50
    cpuPerRequest: 10ms
    timeout: 30s`, "")
	p := plan(t, sc, 7, &poissonPacer{rate: 50, rng: rand.New(rand.NewPCG(1, 2))})
	w := newWorld(p)
	if err := w.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sum float64
	n := 0
	for _, r := range w.tl.EntryService().Requests {
		if !r.OK() {
			t.Fatalf("request failed: %+v %s", r, w.tl.ErrorKinds[r.Err()])
		}
		sum += r.Latency().Seconds()
		n++
	}
	if n < 85000 {
		t.Fatalf("%d requests, want about 90,000", n)
	}
	mean := sum / float64(n)
	want := 0.010/(1-0.5) + networkRTT.Seconds()
	if math.Abs(mean-want)/want > 0.05 {
		t.Errorf("mean response %.2fms, M/M/1-PS predicts %.2fms (±5%%)", mean*1000, want*1000)
	}
	cpu := w.services[0].pods[0].srv.cpu / w.end.Seconds()
	if math.Abs(cpu-0.5) > 0.02 {
		t.Errorf("pod used %.3f cores on average, want ρ = 0.5", cpu)
	}
}

// TestOverloadTimesOut: arrivals beyond capacity pile up and requests past
// the client timeout become errors.
func TestOverloadTimesOut(t *testing.T) {
	sc := build(t, "2m", onePool, `    service: gateway
    replicas: 1
    resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}`, `    profile: constant
    rate: 100
    cpuPerRequest: 10ms
    timeout: 1s`, "")
	tl := run(t, plan(t, sc, 1, nil))
	timeouts := 0
	for _, r := range tl.EntryService().Requests {
		if !r.OK() && strings.Contains(tl.ErrorKinds[r.Err()], "timeout") {
			timeouts++
			if r.Latency() != time.Second {
				t.Fatalf("timed-out request latency %v, want the 1s timeout", r.Latency())
			}
		}
	}
	// Capacity is 50/s against 100/s offered: most requests time out.
	if timeouts < len(tl.EntryService().Requests)/3 {
		t.Fatalf("%d of %d requests timed out at twice the capacity", timeouts, len(tl.EntryService().Requests))
	}
}

// TestHPABehaviorTrajectory checks the replica trajectory that the
// behavior rules predict, computed by hand from docs/hpa-fidelity.md.
//
// Set-up: pods start in exactly 2s, are ready at once and join the
// endpoints 1s later, so the rollout takes 3s and metrics-server, which
// started with the cluster, scrapes at 12s, 27s, 42s, ... of scenario time.
// The HPA syncs at 15s, 30s, 45s, ... (first sync one period after
// creation). 400 req/s of 10ms each is 4 cores of demand; a pod may use
// 1 core against a 100m request, so every pod is far above the 50% target
// (≥ 500%) while the load lasts: the metric always asks for more than
// maxReplicas, and only the rules shape the trajectory.
//
// Scale-up, policy 1 Pod per 30s, window 0 (§7.2, §7.3):
//   - 15s: the first scrape (12s) gave no usage sample yet (a sample needs
//     two scrapes): FailedGetResourceMetric, no change.
//   - 30s: samples exist. periodStart = 2 − 0 → limit 3: 2 → 3.
//   - 45s: the +1 at 30s is 15s old (< 30s) → periodStart 2 → limit 3: stay.
//   - 60s: that event is exactly 30s old; ages < period count (strict), so
//     periodStart 3 → 4. And so every 30s: 5 at 90s, 6 at 120s, 7 at
//     150s, 8 (= maxReplicas) at 180s.
//
// Scale-down, window 60s, policy 50% per 30s: the load stops at 300s.
//   - the 312s scrape covers 297–312s (3s of load): usage is still high,
//     the raw proposal (stored in the history) is above 8.
//   - from 330s the proposals are 0, but the 60s window still holds the
//     high proposals of 285s–315s (age < 60s): stabilized at 8 until 375s,
//     when the newest high one (315s) is exactly 60s old and drops out.
//   - 375s: recommendation 0; periodStart 8 → int32(8 × 0.5) = 4: 8 → 4.
//   - 390s: the −4 at 375s is 15s old → periodStart 4 + 4 = 8 → limit 4,
//     min(limit, current) = 4: stay.
//   - 405s: it is 30s old, no longer counted → periodStart 4 → 2; minReplicas
//     is 2: 4 → 2.
func TestHPABehaviorTrajectory(t *testing.T) {
	sc := build(t, "10m", onePool, `    service: gateway
    replicas: 2
    resources: {requests: {cpu: 100m}, limits: {cpu: "1"}}
    startupLatency: {min: 2s, max: 2s}
    readinessProbe: {initialDelaySeconds: 0, periodSeconds: 1}
    hpa:
      minReplicas: 2
      maxReplicas: 8
      metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies: [{type: Pods, value: 1, periodSeconds: 30}]
        scaleDown:
          stabilizationWindowSeconds: 60
          policies: [{type: Percent, value: 50, periodSeconds: 30}]`, `    profile: steps
    steps:
      - {rate: 400, duration: 5m}
      - {rate: 0, duration: 5m}
    cpuPerRequest: 10ms
    timeout: 2s`, "")
	tl := run(t, plan(t, sc, 3, nil))
	type rescale struct {
		at   time.Duration
		size string
	}
	var got []rescale
	for _, e := range tl.Events {
		if e.Kind == "SuccessfulRescale" {
			size, _, _ := strings.Cut(strings.TrimPrefix(e.Message, "New size: "), ";")
			got = append(got, rescale{e.T, size})
		}
	}
	want := []rescale{{30 * time.Second, "3"}, {60 * time.Second, "4"}, {90 * time.Second, "5"}, {120 * time.Second, "6"},
		{150 * time.Second, "7"}, {180 * time.Second, "8"}, {375 * time.Second, "4"}, {405 * time.Second, "2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rescales:\n got %v\nwant %v", got, want)
	}
	// The timeline's desired replicas follow the same steps.
	for _, s := range tl.EntryService().Samples {
		if s.T == 100*time.Second && s.Desired != 5 || s.T == 400*time.Second && s.Desired != 4 || s.T == 500*time.Second && s.Desired != 2 {
			t.Fatalf("desired at %s = %d", s.T, s.Desired)
		}
	}
}

// TestPodKillIsReplaced: a killed pod's requests in flight fail, the
// ReplicaSet replaces it, and readiness returns.
func TestPodKillIsReplaced(t *testing.T) {
	sc := build(t, "1m", onePool, `    service: gateway
    replicas: 2
    resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
    startupLatency: {min: 3s, max: 3s}
    readinessProbe: {initialDelaySeconds: 1, periodSeconds: 1}`, `    profile: constant
    rate: 40
    cpuPerRequest: 20ms
    timeout: 2s`, `  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill-all}
      spec: {action: pod-kill, mode: all, selector: {labelSelectors: {app: gateway}}}`)
	tl := run(t, plan(t, sc, 5, nil))
	if len(tl.Faults) != 1 || len(tl.Faults[0].Targets) != 2 {
		t.Fatalf("faults: %+v", tl.Faults)
	}
	gw := tl.EntryService()
	// Killed at 20s; the replacements' containers run 2s later (the
	// kubelet's part of their 3s start), are probed 1s after that, when
	// the application listens: Ready at 23s.
	if r21, r25 := readyAt(t, gw, 21*time.Second), readyAt(t, gw, 25*time.Second); r21 != 0 || r25 != 2 {
		t.Fatalf("ready at 21s = %d (want 0), at 25s = %d (want 2)", r21, r25)
	}
	failed := 0
	for _, r := range tl.EntryService().Window(20*time.Second, 26*time.Second) {
		if !r.OK() {
			failed++
		}
	}
	// The killed pods serve their grace period until they leave the
	// endpoints (1s after the kill); the replacements join 1s after they
	// are Ready: no endpoint from 21s to 24s, 3s x 40 req/s = 120 sent
	// into nothing.
	if failed < 115 {
		t.Fatalf("only %d failures while no endpoint served for 3s at 40 req/s (want about 120)", failed)
	}
	for _, r := range tl.EntryService().Window(30*time.Second, 60*time.Second) {
		if !r.OK() {
			t.Fatalf("failure after recovery: %+v %s", r, tl.ErrorKinds[r.Err()])
		}
	}
}

// TestInsufficientCapacityLeavesPodsPending: the scheduler respects
// requests; pods that fit nowhere stay pending and the rollout is
// reported incomplete.
func TestInsufficientCapacityLeavesPodsPending(t *testing.T) {
	sc := build(t, "1m", `      - {name: small, count: 2, cpu: "1", memory: 4Gi}`, `    service: gateway
    replicas: 5
    resources: {requests: {cpu: 400m}}`, `    profile: constant
    rate: 10
    cpuPerRequest: 10ms
    timeout: 2s`, "")
	tl := run(t, plan(t, sc, 1, nil))
	last := tl.EntryService().Samples[len(tl.EntryService().Samples)-1]
	if last.Ready != 4 || last.Pending != 1 {
		t.Fatalf("2 nodes × 1 CPU hold 4 pods of 400m: ready %d pending %d", last.Ready, last.Pending)
	}
	found := false
	for _, e := range tl.Events {
		found = found || e.Kind == "RolloutIncomplete"
	}
	if !found {
		t.Fatal("no RolloutIncomplete event")
	}
}

// TestGracefulScaleDownLosesNothing: pods removed by a scale-down drain
// their requests.
func TestGracefulScaleDownLosesNothing(t *testing.T) {
	sc := build(t, "8m", onePool, `    service: gateway
    replicas: 6
    resources: {requests: {cpu: 200m}, limits: {cpu: 500m}}
    hpa:
      minReplicas: 2
      maxReplicas: 6
      metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
      behavior:
        scaleDown: {stabilizationWindowSeconds: 30}`, `    profile: constant
    rate: 20
    cpuPerRequest: 10ms
    timeout: 2s`, "")
	tl := run(t, plan(t, sc, 9, nil))
	if last := tl.EntryService().Samples[len(tl.EntryService().Samples)-1]; last.Desired != 2 {
		t.Fatalf("desired %d at the end: 20 req/s needs 2 pods at 50%%", last.Desired)
	}
	for _, r := range tl.EntryService().Requests {
		if !r.OK() {
			t.Fatalf("a request failed during scale-down: %+v %s", r, tl.ErrorKinds[r.Err()])
		}
	}
}

func TestCancelledContextStopsTheRun(t *testing.T) {
	sc := build(t, "1h", onePool, `    service: gateway
    replicas: 1
    resources: {requests: {cpu: 1}}`, `    profile: constant
    rate: 100
    cpuPerRequest: 1ms
    timeout: 2s`, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (Backend{}).Run(ctx, plan(t, sc, 1, nil)); err == nil {
		t.Fatal("a cancelled run returned no error")
	}
}
