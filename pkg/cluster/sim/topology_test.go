package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// parse parses a v1alpha2 scenario whose spec body (below duration and
// cluster) is given.
func parse(t testing.TB, duration, body string) *scenario.Scenario {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: t}
spec:
  duration: %s
  cluster:
    nodePools:
      - {name: a, count: 4, cpu: "16", memory: 64Gi}
%s
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`, duration, body)
	sc, err := scenario.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return sc
}

func runScenario(t testing.TB, sc *scenario.Scenario, seed uint64) *timeline.Timeline {
	t.Helper()
	pacer, err := loadgen.Pacer(&sc.Spec.Load, seed)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := Backend{}.Run(context.Background(), &cluster.Plan{Scenario: sc, Seed: seed, Pacer: pacer, LoadStart: sc.Spec.Load.Start.Duration, LoadDuration: sc.Spec.Load.Duration.Duration})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

// readyAt is a service's ready replicas in its sample at t; a missing
// sample fails the test.
func readyAt(t testing.TB, s *timeline.Service, at time.Duration) int32 {
	t.Helper()
	for _, x := range s.Samples {
		if x.T == at {
			return x.Ready
		}
	}
	t.Fatalf("%s has no sample at %s", s.Name, at)
	return 0
}

func meanLatency(t testing.TB, reqs []timeline.Request, tl *timeline.Timeline) (float64, int) {
	t.Helper()
	var sum float64
	for _, r := range reqs {
		if !r.OK() {
			t.Fatalf("request failed: %+v %s", r, tl.ErrorKinds[r.Err()])
		}
		sum += r.Latency().Seconds()
	}
	return sum / float64(len(reqs)), len(reqs)
}

// TestPoissonMatchesMM1PS: one pod of one core serving exponential work
// of mean S = 2ms to Poisson arrivals at rate λ is an M/M/1-PS queue with
// ρ = λS; its mean response time is S/(1-ρ), plus the 0.5ms network round
// trip the sim adds. The run lengths give each ρ enough requests for the
// sample mean to be well within 2% (the variance of the mean grows like
// 1/(1-ρ)^4: ρ = 0.9 needs millions of requests).
func TestPoissonMatchesMM1PS(t *testing.T) {
	const S = 0.002
	for _, c := range []struct {
		rho      float64
		duration string
	}{{0.3, "20m"}, {0.6, "30m"}, {0.8, "2h"}, {0.9, "6h"}} {
		t.Run(fmt.Sprintf("rho=%.1f", c.rho), func(t *testing.T) {
			if testing.Short() && c.rho > 0.8 {
				t.Skip("long run")
			}
			rate := int(math.Round(c.rho / S))
			sc := parse(t, c.duration, fmt.Sprintf(`  services:
    - name: one
      role: user
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 2ms}
  load:
    profile: poisson
    rate: %d
    timeout: 1h`, rate))
			tl := runScenario(t, sc, 11)
			got, n := meanLatency(t, tl.EntryService().Requests, tl)
			want := S/(1-c.rho) + networkRTT.Seconds()
			t.Logf("ρ=%.1f: mean %.4fms over %d requests, theory %.4fms", c.rho, got*1000, n, want*1000)
			if rel := math.Abs(got-want) / want; rel > 0.02 {
				t.Errorf("ρ=%.1f: mean %.4fms over %d requests, M/M/1-PS gives %.4fms (%.1f%% off, limit 2%%)", c.rho, got*1000, n, want*1000, rel*100)
			}
		})
	}
}

// TestSequentialChainMatchesBCMP: gateway → user, then order, called one
// after the other; one single-core pod each, exponential work of 2, 4 and
// 3ms, Poisson arrivals at 150/s. Every station is a processor-sharing
// queue fed by Poisson traffic (a PS station's departures are Poisson:
// it is quasi-reversible), so the network has product form (BCMP) and the
// mean end-to-end time is the sum of S_i/(1-ρ_i):
//
//	gateway ρ = 0.30: 2/0.70 =  2.857ms
//	user    ρ = 0.60: 4/0.40 = 10.000ms
//	order   ρ = 0.45: 3/0.55 =  5.455ms
//
// = 18.312ms, plus the network: the client's round trip and one per call
// (3 × 0.5ms), 19.812ms in all. The waiting gateway request holds no
// gateway CPU, as in the reference gateway.
func TestSequentialChainMatchesBCMP(t *testing.T) {
	sc := parse(t, "1h", `  services:
    - name: gateway
      role: gateway
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 2ms}
      fanOut: sequential
      calls:
        - {service: user, timeout: 1h}
        - {service: order, timeout: 1h}
    - name: user
      role: user
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 4ms}
    - name: order
      role: order
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 3ms}
  load:
    profile: poisson
    rate: 150
    timeout: 1h`)
	tl := runScenario(t, sc, 5)
	got, n := meanLatency(t, tl.EntryService().Requests, tl)
	want := 0.002/0.7 + 0.004/0.4 + 0.003/0.55 + 3*networkRTT.Seconds()
	t.Logf("end-to-end mean %.3fms over %d requests, BCMP %.3fms", got*1000, n, want*1000)
	if rel := math.Abs(got-want) / want; rel > 0.03 {
		t.Errorf("end-to-end mean %.3fms over %d requests, BCMP gives %.3fms (%.1f%% off, limit 3%%)", got*1000, n, want*1000, rel*100)
	}
	// Every gateway request called user and order once each.
	for _, name := range []string{"user", "order"} {
		if m := len(tl.Service(name).Requests); m < n-10 || m > n+10 {
			t.Errorf("%s received %d requests for %d gateway requests", name, m, n)
		}
	}
	if len(tl.Breakers) != 0 {
		t.Errorf("a healthy chain tripped breakers: %+v", tl.Breakers[0])
	}
	// Each service uses λ·S_i of CPU on average: 150/s × 2, 4 and 3ms =
	// 300, 600 and 450 millicores (the samples' CPU, within 3%).
	for name, want := range map[string]float64{"gateway": 300, "user": 600, "order": 450} {
		if got := meanMillicores(tl.Service(name).Samples[1:]); math.Abs(got-want)/want > 0.03 {
			t.Errorf("%s used %.0f millicores on average, want %.0f", name, got, want)
		}
	}
}

// TestBreakerTripsOnThePolicyCount: all payment pods are killed at 1m and
// stay down (a 5-minute start-up). The gateway (one pod, constant 1ms of
// work, evenly spaced requests every 10ms, so calls never overlap) calls
// payment through a breaker with the seed policy. Payment must see
// exactly 6 failed calls (more than 5 consecutive failures opens it),
// none while the breaker is open, and exactly one trial each time 10s of
// open state have passed; every gateway answer meanwhile is degraded, not
// failed.
func TestBreakerTripsOnThePolicyCount(t *testing.T) {
	sc := parse(t, "3m", `  services:
    - name: gateway
      role: gateway
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 1ms, distribution: constant}
      calls: [{service: payment, timeout: 1s}]
    - name: payment
      role: payment
      replicas: 2
      resources: {requests: {cpu: "1"}}
      work: {cpu: 1ms, distribution: constant}
      startupLatency: {min: 5m, max: 5m}
  load:
    profile: constant
    rate: 100
    timeout: 2s
  faults:
    - at: 1m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill-payment}
      spec: {action: pod-kill, mode: all, selector: {labelSelectors: {app: payment}}}`)
	// The rollout waits for payment's 5-minute start-up: time 0 is when
	// both are ready, and the kill replaces them with pods that take 5
	// more minutes, past the end of the run.
	tl := runScenario(t, sc, 3)
	pay := tl.Service("payment")
	var failures []time.Duration
	for _, r := range pay.Requests {
		if !r.OK() {
			failures = append(failures, r.Sent())
		}
	}
	var opens, halfOpens []time.Duration
	for _, b := range tl.Breakers {
		switch b.To {
		case "open":
			opens = append(opens, b.T)
		case "half-open":
			halfOpens = append(halfOpens, b.T)
		}
	}
	if len(opens) == 0 {
		t.Fatal("the breaker never opened")
	}
	before := 0
	for _, f := range failures {
		if f < opens[0] {
			before++
		}
	}
	if before != 6 {
		t.Fatalf("%d failed calls before the breaker opened, want 6 (ConsecutiveFailures > 5)", before)
	}
	// Between 1m and 3m: open at ~1m, then a trial every 10s-and-a-bit:
	// each trial fails, reopens, and is the only call of its interval.
	if len(halfOpens) < 10 || len(halfOpens) > 12 || len(opens) != len(halfOpens)+1 {
		t.Fatalf("%d openings and %d trials in 2 minutes of outage", len(opens), len(halfOpens))
	}
	for i, h := range halfOpens {
		gap := h - opens[i]
		if gap <= 10*time.Second || gap > 10*time.Second+10*time.Millisecond {
			t.Errorf("trial %d came %v after the opening, want just over 10s (the next request after expiry)", i, gap)
		}
	}
	if got, want := len(failures), 6+len(halfOpens); got != want {
		t.Errorf("payment saw %d failed calls, want 6 + one per trial = %d", got, want)
	}
	for _, r := range tl.EntryService().Requests {
		if !r.OK() {
			t.Fatalf("a gateway request failed (%s): the static fallback should answer", tl.ErrorKinds[r.Err()])
		}
	}
}
