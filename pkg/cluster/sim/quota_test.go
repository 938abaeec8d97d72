package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// everyPacer sends a hit every interval from 0.
type everyPacer struct{ interval time.Duration }

func (p everyPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return time.Duration(hits)*p.interval - elapsed, false
}

func (p everyPacer) Rate(time.Duration) float64 { return float64(time.Second) / float64(p.interval) }

// onePod500m is a scenario of one service, "one", of one pod requesting
// and limited to 500m on a node of cpu cores, with constant work per
// request, the given load and CPU quota model.
func onePod500m(t *testing.T, duration, cpu, work, load string, quota *scenario.CPUQuota) *scenario.Scenario {
	t.Helper()
	sc := parse(t, duration, `  services:
    - name: one
      role: user
      resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
      work: {cpu: `+work+`, distribution: constant}
  load: `+load)
	sc.Spec.Cluster.NodePools[0].Count = 1
	sc.Spec.Cluster.NodePools[0].CPU = mustQuantity(t, cpu)
	sc.Spec.Cluster.CPUQuota = quota
	return sc
}

// loneRequests runs one pod limited to 500m on a 4-core node, under the
// given CPU quota model, and sends it 100 requests of 80ms of CPU each,
// 1.037s apart: each is alone on the pod, in a period none of its
// predecessors ran in. It returns their latencies in milliseconds.
func loneRequests(t *testing.T, quota *scenario.CPUQuota) ([]float64, *timeline.CFSStats) {
	t.Helper()
	sc := onePod500m(t, "103s", "4", "80ms", "{profile: constant, rate: 1, timeout: 30s}", quota)
	w := newWorld(plan(t, sc, 1, everyPacer{1037 * time.Millisecond}))
	if err := w.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, r := range w.tl.EntryService().Requests {
		if !r.OK() {
			t.Fatalf("request failed: %+v %s", r, w.tl.ErrorKinds[r.Err()])
		}
		out = append(out, float64(r.Latency())/1e6)
	}
	if len(out) != 100 {
		t.Fatalf("%d requests, want 100 (at 0, 1.037s, ... 102.663s)", len(out))
	}
	return out, w.tl.EntryService().CFS
}

// TestFluidQuotaCapsEveryInstant: under the Fluid model a pod limited to
// 500m serves a lone request at half a core: 80ms of work take 160ms,
// plus the 0.5ms network round trip.
func TestFluidQuotaCapsEveryInstant(t *testing.T) {
	ls, cfs := loneRequests(t, nil)
	for _, l := range ls {
		if math.Abs(l-160.5) > 1e-3 {
			t.Fatalf("latency %.3fms, want 160.5ms", l)
		}
	}
	if cfs != nil {
		t.Errorf("throttling figures %+v under Fluid", cfs)
	}
}

// TestPeriodicQuotaThrottlesPerPeriod: under the Periodic model (100ms
// periods, so 50ms of CPU per period for a 500m limit) a lone request runs
// at a full core until the quota is used up. Starting φ ms into a period,
// 80ms of work:
//
//   - φ ≤ 50: 50ms run by φ+50, throttled to 100, 30ms more: done at 130,
//     latency 130−φ (80 to 130);
//   - 50 < φ ≤ 70: 100−φ run by 100, the other φ−20 ≤ 50 in the next
//     period: done at 80+φ, latency 80;
//   - φ > 70: 100−φ by 100, 50 more by 150, throttled to 200, the last
//     φ−70: done at 130+φ, latency 130.
//
// 1.037s apart, the requests start at phases o, o+37, o+74, ... mod 100:
// 100 requests take each phase o+k ms (k = 0..99) once, for some o in
// [0, 1). The mean latency over them is (Σ_{k<50} (130−o−k) + 20×80 +
// 30×130)/100 = 107.75 − o/2 for 0 < o < 1 (107.25 at o = 0, where φ = 70
// gives 80): within [107.25, 107.75]. Every latency is within [80, 130].
// All plus the 0.5ms round trip. (Fluid: 160.5ms for every one.)
//
// The quota runs out once for each request of the first and third
// cases: 50 + 30 = 80 requests (79 or 81 where a phase of exactly 50 or
// 70 ends its work or a period at the moment the quota runs out). Each
// request runs in 2 periods (3 in the third case), so at least 230
// periods elapse with the pod running (the probes' add more, never
// throttled: 50µs each).
func TestPeriodicQuotaThrottlesPerPeriod(t *testing.T) {
	ls, cfs := loneRequests(t, &scenario.CPUQuota{Model: scenario.CPUQuotaPeriodic})
	t.Logf("throttling %+v", cfs)
	if cfs == nil || cfs.Throttled < 79 || cfs.Throttled > 81 || cfs.Periods < 230 {
		t.Errorf("throttling %+v, want 79 to 81 throttled of at least 230 periods", cfs)
	}
	sum := 0.0
	for _, l := range ls {
		if l < 80.5-1e-3 || l > 130.5+1e-3 {
			t.Errorf("latency %.3fms, want within [80.5, 130.5]ms", l)
		}
		sum += l
	}
	if mean := sum / float64(len(ls)); mean < 107.75-1e-3 || mean > 108.25+1e-3 {
		t.Errorf("mean latency %.3fms, want within [107.75, 108.25]ms", mean)
	}
}

// TestPeriodicQuotaKeepsTheAverage: a pod limited to 500m and offered a
// whole core (Poisson 50 req/s × 20ms) is never idle, so it uses its
// limit, 500 millicores, on average under either model: the Periodic
// model runs it at up to 2 cores (GOMAXPROCS for a 500m limit) for 50ms
// of every 100ms period and throttles it for the rest.
func TestPeriodicQuotaKeepsTheAverage(t *testing.T) {
	for _, q := range []*scenario.CPUQuota{nil, {Model: scenario.CPUQuotaPeriodic}} {
		tl := runScenario(t, onePod500m(t, "3m", "16", "20ms", "{profile: poisson, rate: 50, timeout: 2s}", q), 3)
		if got := meanMillicores(tl.Service("one").Samples[5:]); math.Abs(got-500) > 2 {
			t.Errorf("%v: the pod used %.1f millicores on average, want its limit, 500", q, got)
		}
		// Periodic: busy in every period of the load's 3 minutes (1,800),
		// it uses its quota up in every one; before the load only probes
		// ran, never to the end of a quota.
		cfs := tl.Service("one").CFS
		t.Logf("%v: throttling %+v", q, cfs)
		if q != nil && (cfs == nil || cfs.Throttled < 1795 || cfs.Throttled > 1801 || cfs.Periods-cfs.Throttled > 20) {
			t.Errorf("throttling %+v, want every one of the load's 1,800 periods throttled, and only a few probes' periods not", cfs)
		}
	}
}

// TestThrottledPodLeavesItsCPUToItsNeighbour: x (request and limit
// 250m) and y (request 250m, no limit) share one 1-core node, both
// offered 2 cores of work. Fluid: x is capped at 250m and y takes the
// other 750m. Periodic: both want the whole core, and CFS shares it by
// their requests, equal, half each, until x has used its 25ms of the 100ms
// period (50ms in); x is then throttled and y has the core to itself for
// the other 50ms: x 25ms, y 25+50 = 75ms a period. So 250m and 750m
// under both models; a throttled pod that kept its claim on the node
// would leave y 500m.
func TestThrottledPodLeavesItsCPUToItsNeighbour(t *testing.T) {
	for _, q := range []*scenario.CPUQuota{nil, {Model: scenario.CPUQuotaPeriodic}} {
		tl := sharedCore(t, "{requests: {cpu: 250m}, limits: {cpu: 250m}}", "{requests: {cpu: 250m}}", q)
		for name, want := range map[string]float64{"x": 250, "y": 750} {
			if got := meanMillicores(tl.Service(name).Samples[5:]); math.Abs(got-want) > 5 {
				t.Errorf("%v: %s used %.0f millicores on average, want %.0f", q, name, got, want)
			}
		}
	}
}
