package sim

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// netServices: a gateway of two pods calls payment; both do constant work
// (1ms and 2ms) on a core of their own, and the load is evenly spaced at
// 20 req/s, so no two requests meet on a CPU. Without faults a request
// takes exactly 1ms (gateway) + 0.5ms (the call's network time) + 2ms
// (payment) + 0.5ms (the client's round trip) = 4ms, and the call, as
// payment's record shows it, 2.5ms. Probes cost 50µs of CPU now and then:
// "exactly" is within 0.1ms.
func netServices(payReplicas int, callTimeout string) string {
	return fmt.Sprintf(`  services:
    - name: gateway
      role: gateway
      replicas: 2
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 1ms, distribution: constant}
      calls:
        - {service: payment, timeout: %s, fallback: static, circuitBreaker: {consecutiveFailures: 5, openFor: 10s}}
    - name: payment
      role: payment
      replicas: %d
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
      work: {cpu: 2ms, distribution: constant}
  load: {profile: constant, rate: 20, timeout: 10s}`, callTimeout, payReplicas)
}

const baseLatency = 4 * time.Millisecond

func networkChaos(spec string) string {
	return `
  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: net}
      spec: ` + spec
}

// extras are the client latencies of the requests sent in [from, to)
// minus the 4ms they take without faults.
func extras(t *testing.T, tl *timeline.Timeline, from, to time.Duration) []time.Duration {
	t.Helper()
	var out []time.Duration
	for _, r := range tl.EntryService().Window(from, to) {
		if !r.OK() || r.Degraded() {
			t.Fatalf("request at %s: code %d err %q degraded %v", r.Sent(), r.Code(), tl.ErrorKinds[r.Err()], r.Degraded())
		}
		out = append(out, r.Latency()-baseLatency)
	}
	if len(out) == 0 {
		t.Fatalf("no requests in [%s, %s)", from, to)
	}
	return out
}

func within(d, want, tol time.Duration) bool { return d >= want-tol && d <= want+tol }

// TestNetworkDelayOnADownstream: a 200ms delay on payment's pods (no
// target, direction to: the netem qdisc is on payment's interface and
// delays everything payment sends) delays each call's response by 200ms:
// every request sent while it lasts (20s to 40s) takes 4 + 200 = 204ms,
// payment's record of the call 2.5 + 200 = 202.5ms. Payment's readiness
// probes are answered 200ms late, well inside their 1s timeout: it stays
// ready. Before and after (its end deletes the qdisc) requests take 4ms.
func TestNetworkDelayOnADownstream(t *testing.T) {
	sc := parse(t, "60s", netServices(2, "500ms")+networkChaos(`{action: delay, mode: all, duration: 20s, selector: {labelSelectors: {app: payment}}, delay: {latency: 200ms}}`))
	tl := runScenario(t, sc, 1)
	const tol = 100 * time.Microsecond
	for _, w := range []struct {
		from, to time.Duration
		want     time.Duration
	}{{time.Second, 20 * time.Second, 0}, {20 * time.Second, 39700 * time.Millisecond, 200 * time.Millisecond}, {41 * time.Second, 60 * time.Second, 0}} {
		for _, e := range extras(t, tl, w.from, w.to) {
			if !within(e, w.want, tol) {
				t.Fatalf("[%s, %s): a request took %s more than without faults, want %s", w.from, w.to, e, w.want)
			}
		}
	}
	pay := tl.Service("payment")
	for _, r := range pay.Window(20*time.Second, 39700*time.Millisecond) {
		if !within(r.Latency(), 202500*time.Microsecond, tol) {
			t.Fatalf("payment call at %s took %s, want 202.5ms", r.Sent(), r.Latency())
		}
	}
	if r := readyAt(t, pay, 40*time.Second); r != 2 {
		t.Errorf("payment ready at 40s = %d, want 2: a 200ms delay does not fail a 1s probe", r)
	}
	f := tl.Faults[0]
	if f.Kind != "NetworkChaos" || f.Action != "delay" || f.End == nil || *f.End != 40*time.Second || len(f.Targets) != 2 {
		t.Fatalf("fault record %+v: want both payment pods, from 20s to 40s", f)
	}
}

// TestNetworkDelayOnTheEntry: the same delay on the gateway's pods
// delays what they send: the client's answers and the gateway's calls to
// payment, one latency each, so a request takes 4 + 2 × 200 = 404ms. With
// target payment the qdisc only delays what goes to payment: 204ms.
func TestNetworkDelayOnTheEntry(t *testing.T) {
	for _, c := range []struct {
		target string
		want   time.Duration
	}{{"", 400 * time.Millisecond}, {", target: {mode: all, selector: {labelSelectors: {app: payment}}}", 200 * time.Millisecond}} {
		sc := parse(t, "40s", netServices(2, "1s")+networkChaos(`{action: delay, mode: all, duration: 10s, selector: {labelSelectors: {app: gateway}}, delay: {latency: 200ms}`+c.target+`}`))
		tl := runScenario(t, sc, 1)
		for _, e := range extras(t, tl, 20*time.Second, 29*time.Second) {
			if !within(e, c.want, 100*time.Microsecond) {
				t.Fatalf("target %q: a request took %s more, want %s", c.target, e, c.want)
			}
		}
	}
}

// TestNetworkDelayDirection: a delay from payment (selector) with
// direction from and target gateway sits on the gateway's interface,
// for packets to payment: the calls' requests are delayed, not the
// answers to the client: 204ms. With direction both, both sides' qdiscs
// act: the request (gateway → payment) and the response (payment →
// gateway): 404ms.
func TestNetworkDelayDirection(t *testing.T) {
	for _, c := range []struct {
		direction string
		want      time.Duration
	}{{"from", 200 * time.Millisecond}, {"both", 400 * time.Millisecond}, {"to", 200 * time.Millisecond}} {
		sc := parse(t, "40s", netServices(2, "1s")+networkChaos(`{action: delay, mode: all, direction: `+c.direction+`, duration: 10s, selector: {labelSelectors: {app: payment}}, target: {mode: all, selector: {labelSelectors: {app: gateway}}}, delay: {latency: 200ms}}`))
		tl := runScenario(t, sc, 1)
		for _, e := range extras(t, tl, 20*time.Second, 29*time.Second) {
			if !within(e, c.want, 100*time.Microsecond) {
				t.Fatalf("direction %s: a request took %s more, want %s", c.direction, e, c.want)
			}
		}
	}
}

// meanStd is the sample mean and standard deviation in ms, and the lag-1
// autocorrelation of xs.
func meanStd(xs []time.Duration) (mean, std, lag1 float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += float64(x) / 1e6
	}
	mean /= n
	var v, c float64
	for i, x := range xs {
		d := float64(x)/1e6 - mean
		v += d * d
		if i > 0 {
			c += d * (float64(xs[i-1])/1e6 - mean)
		}
	}
	return mean, math.Sqrt(v / n), c / v
}

// TestNetworkJitter: latency 100ms, jitter 50ms on a single payment pod.
// netem without a distribution table draws the delay uniformly from
// [50ms, 150ms): mean 100ms, standard deviation 100/√12 = 28.9ms, and
// successive delays independent. With correlation 75% each random number
// is 0.25·U + 0.75·previous: the mean stays 100ms, the standard deviation
// shrinks by √((1−ρ)/(1+ρ)) = √(1/7) to 10.9ms and successive delays have
// correlation 0.75. 20 req/s for 10 minutes gives 12,000 delays: the
// sample mean's standard error is 28.9/√12000 = 0.26ms; allowed: 4 of
// them, 1.05ms.
func TestNetworkJitter(t *testing.T) {
	for _, c := range []struct {
		corr           string
		std, lag1, tol float64
	}{{"0", 28.87, 0, 0.05}, {"75", 10.91, 0.75, 0.08}} {
		sc := parse(t, "11m", netServices(1, "1s")+networkChaos(`{action: delay, mode: all, duration: 10m, selector: {labelSelectors: {app: payment}}, delay: {latency: 100ms, jitter: 50ms, correlation: "`+c.corr+`"}}`))
		tl := runScenario(t, sc, 1)
		xs := extras(t, tl, 20*time.Second, 619*time.Second)
		for _, x := range xs {
			if x < 50*time.Millisecond-100*time.Microsecond || x >= 150*time.Millisecond+100*time.Microsecond {
				t.Fatalf("correlation %s: a delay of %s, outside [50ms, 150ms)", c.corr, x)
			}
		}
		mean, std, lag1 := meanStd(xs)
		t.Logf("correlation %s%%: %d delays, mean %.2fms, std %.2fms, lag-1 autocorrelation %.3f", c.corr, len(xs), mean, std, lag1)
		if math.Abs(mean-100) > 1.05 {
			t.Errorf("correlation %s: mean delay %.2fms, want 100ms", c.corr, mean)
		}
		if math.Abs(std-c.std) > c.std*0.1 {
			t.Errorf("correlation %s: std %.2fms, want %.2fms", c.corr, std, c.std)
		}
		if math.Abs(lag1-c.lag1) > c.tol {
			t.Errorf("correlation %s: lag-1 autocorrelation %.3f, want %.2f", c.corr, lag1, c.lag1)
		}
	}
}

// TestNetworkLoss: loss 10% on payment's pods loses each response with
// p = 0.1, independently. A lost response is retransmitted after TCP's
// RTO, 200ms, doubling for each further loss: k losses cost
// 200ms·(2^k − 1), with probability p^k(1 − p). The mean extra time is
// Σ p^k(1−p)·200ms·(2^k−1) = 200ms·p/(1−2p) = 25ms; a share p = 10% of
// the calls is slowed at all. Its standard deviation is about 95ms (the
// sum of p^k(1−p)·(200(2^k−1))²: 3,600 + 3,240 + 1,764 + 810 + ... ms²),
// so 12,000 calls give the mean within 3 × 95/√12000 = 2.6ms and the share
// within 3 × √(0.09/12000) = 0.8%. The call timeout (5s) only ends the
// ≥ 5 losses in a row (p⁵ = 1e-5).
func TestNetworkLoss(t *testing.T) {
	sc := parse(t, "11m", netServices(2, "5s")+networkChaos(`{action: loss, mode: all, duration: 10m, selector: {labelSelectors: {app: payment}}, loss: {loss: "10"}}`))
	tl := runScenario(t, sc, 1)
	xs := extras(t, tl, 20*time.Second, 619*time.Second)
	slowed := 0
	for _, x := range xs {
		if x > time.Millisecond {
			slowed++
			// 200ms·(2^k − 1): 200, 600, 1400, 3000ms
			k := math.Log2(float64(x-100*time.Microsecond)/float64(tcpRTOMin) + 1)
			if math.Abs(k-math.Round(k)) > 0.01 {
				t.Fatalf("a call slowed by %s: not a sum of doubling RTOs from 200ms", x)
			}
		}
	}
	mean, _, _ := meanStd(xs)
	share := float64(slowed) / float64(len(xs))
	t.Logf("%d calls, mean extra %.2fms, %.2f%% slowed", len(xs), mean, share*100)
	if math.Abs(mean-25) > 2.6 {
		t.Errorf("mean extra time %.2fms, want 25ms (200ms·p/(1−2p))", mean)
	}
	if math.Abs(share-0.1) > 0.008 {
		t.Errorf("%.2f%% of calls slowed, want 10%%", share*100)
	}
	// After the fault: no loss.
	for _, x := range extras(t, tl, 621*time.Second, 660*time.Second) {
		if x > 100*time.Microsecond {
			t.Fatalf("a request after the fault took %s more", x)
		}
	}
}

// TestNetworkPartition: a partition of payment's pods (no target,
// direction to: payment's OUTPUT chain drops everything) from 20s for
// 20s. Calls still reach payment, but no answer comes back: each call
// fails at its 500ms timeout, and the gateway answers from its static
// fallback (degraded, 1ms + 500ms + 0.5ms). Each gateway pod gets about
// 10 calls a second; its breaker opens on the 6th consecutive failure
// (consecutiveFailures 5 means "more than 5"), the 6th call's timeout:
// about 20s + 0.5s + 0.5s, within 2.5s of the start for both pods. After
// the end (40s), each open breaker lets a trial through at most 10s
// (openFor) later; it succeeds and closes the breaker: from 51s on,
// nothing is degraded.
func TestNetworkPartition(t *testing.T) {
	sc := parse(t, "70s", netServices(2, "500ms")+networkChaos(`{action: partition, mode: all, duration: 20s, selector: {labelSelectors: {app: payment}}}`))
	tl := runScenario(t, sc, 1)
	pay := tl.Service("payment")
	calls := pay.Window(20*time.Second, 25*time.Second)
	if len(calls) < 6 {
		t.Fatalf("%d calls sent to payment in [20s, 25s)", len(calls))
	}
	for _, r := range calls {
		if r.OK() || tl.ErrorKinds[r.Err()] != errTimeout || r.Latency() != 500*time.Millisecond {
			t.Fatalf("call at %s: latency %s err %q, want a timeout at 500ms", r.Sent(), r.Latency(), tl.ErrorKinds[r.Err()])
		}
	}
	opened := map[string]time.Duration{}
	for _, b := range tl.Breakers {
		if b.To == "open" && b.T >= 20*time.Second && opened[b.Pod] == 0 {
			opened[b.Pod] = b.T
		}
	}
	if len(opened) != 2 {
		t.Fatalf("breakers opened: %v, want both gateway pods'", opened)
	}
	for p, at := range opened {
		if at < 20500*time.Millisecond || at > 22500*time.Millisecond {
			t.Errorf("%s's breaker opened at %s, want within [20.5s, 22.5s]", p, at)
		}
	}
	for _, r := range tl.EntryService().Window(20*time.Second, 40*time.Second) {
		if !r.OK() {
			t.Fatalf("request at %s failed: the fallback answers", r.Sent())
		}
	}
	for _, r := range tl.EntryService().Window(51*time.Second, 70*time.Second) {
		if !r.OK() || r.Degraded() || r.Latency() > baseLatency+100*time.Microsecond {
			t.Fatalf("request at %s after recovery: degraded %v latency %s", r.Sent(), r.Degraded(), r.Latency())
		}
	}
}

// TestNetworkPartitionFailsProbes: a partition with no target drops the
// answers to the kubelet's probes too (the kubelet is a peer like any
// other): payment's readiness probe (every 2s, 1s timeout, 3 failures)
// turns it not Ready within 2 + 2 × 2 + 1 = 7s of the start, and it leaves
// the endpoints: calls are refused at once instead of timing out. This is
// what a real cluster does with such a chaos object.
func TestNetworkPartitionFailsProbes(t *testing.T) {
	svc := strings.Replace(netServices(2, "500ms"), "      work: {cpu: 2ms, distribution: constant}", "      work: {cpu: 2ms, distribution: constant}\n      readinessProbe: {periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3}", 1)
	sc := parse(t, "60s", svc+networkChaos(`{action: partition, mode: all, duration: 20s, selector: {labelSelectors: {app: payment}}}`))
	tl := runScenario(t, sc, 1)
	pay := tl.Service("payment")
	if r := readyAt(t, pay, 19*time.Second); r != 2 {
		t.Fatalf("payment ready at 19s = %d, want 2", r)
	}
	if r := readyAt(t, pay, 29*time.Second); r != 0 {
		t.Errorf("payment ready at 29s = %d, want 0: its probes' answers are dropped", r)
	}
	if r := readyAt(t, pay, 55*time.Second); r != 2 {
		t.Errorf("payment ready at 55s = %d, want 2 once the partition is gone", r)
	}
}

// TestNetworkChaosIsDeterministic: the same seed gives the same timeline
// with jitter, correlation and loss drawn per message.
func TestNetworkChaosIsDeterministic(t *testing.T) {
	sc := parse(t, "60s", netServices(2, "1s")+networkChaos(`{action: netem, mode: one, duration: 30s, selector: {labelSelectors: {app: payment}}, delay: {latency: 50ms, jitter: 40ms, correlation: "30"}, loss: {loss: "5", correlation: "20"}}`))
	a, b := runScenario(t, sc, 7), runScenario(t, sc, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same scenario and seed, different timelines")
	}
}

// TestCheckRefusesUnmodelledNetworkChaos: what the sim does not model is
// refused before the run, with the field.
func TestCheckRefusesUnmodelledNetworkChaos(t *testing.T) {
	for spec, want := range map[string]string{
		`{action: bandwidth, mode: all, selector: {labelSelectors: {app: payment}}, bandwidth: {rate: 1mbps, limit: 100, buffer: 100}}`:  "spec.faults[0].spec.action",
		`{action: corrupt, mode: all, selector: {labelSelectors: {app: payment}}, corrupt: {corrupt: "10"}}`:                             "spec.faults[0].spec.action",
		`{action: netem, mode: all, selector: {labelSelectors: {app: payment}}, duplicate: {duplicate: "10"}}`:                           "spec.faults[0].spec.duplicate",
		`{action: delay, mode: all, selector: {labelSelectors: {app: payment}}, delay: {latency: 1ms, reorder: {reorder: "5", gap: 1}}}`: "spec.faults[0].spec.delay.reorder",
		`{action: delay, mode: all, selector: {labelSelectors: {app: payment}}, delay: {latency: 1ms}, externalTargets: [example.com]}`:  "spec.faults[0].spec.externalTargets",
		`{action: partition, partitionBehavior: reject, mode: all, selector: {labelSelectors: {app: payment}}}`:                          "spec.faults[0].spec.partitionBehavior",
	} {
		sc := parse(t, "60s", netServices(2, "1s")+networkChaos(spec))
		err := Backend{}.Check(sc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Check = %v, want an error at %s", spec, err, want)
		}
	}
}
