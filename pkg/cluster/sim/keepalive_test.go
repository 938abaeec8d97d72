package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

func failedFrom(tl *timeline.Timeline, t0 time.Duration) int {
	n := 0
	for _, r := range tl.EntryService().Requests {
		if !r.OK() && r.Sent() >= t0 {
			n++
		}
	}
	return n
}

// TestKeepAliveHungPod: one of 4 pods hangs at 60s for good (hangBase:
// 40 req/s evenly spaced, 5ms of CPU at a 500m limit, 10ms a request on
// average, 2s timeout; the hung pod turns not Ready by 91s and leaves the
// endpoints by 92s).
//
// New connection per request: a quarter of the requests go to the hung
// pod until it leaves the endpoints, 10/s for 31-32s: about 310, each a
// timeout (over 200 whatever the draws: a binomial of 1,250 requests at
// 1/4 has a standard deviation of 15).
//
// Kept connections: requests 25ms apart that take 10ms rarely overlap,
// so the client holds a handful of connections (four requests in flight
// at once would need three to last over 50-75ms: e^-5 to e^-7.5 each), and
// reuses the most recent one. Each connection pinned to the hung pod fails
// once, at its timeout, and is dropped; a new connection lands on the hung
// pod with probability 1/4 while it is an endpoint. So the failures are
// the connections the hung pod held plus a geometric tail of mean 1/3: at
// most 10 (six extra hits in a row have probability 4^-6).
func TestKeepAliveHungPod(t *testing.T) {
	perRequest := runScenario(t, parse(t, "3m", fmt.Sprintf(hangBase, 1)), 1)
	kept := runScenario(t, parse(t, "3m", strings.Replace(fmt.Sprintf(hangBase, 1), "timeout: 2s}", "timeout: 2s, keepAlive: true}", 1)), 1)
	if n := failedFrom(perRequest, 60*time.Second); n < 200 || n > 420 {
		t.Fatalf("per request: %d failures after the hang, want about 310", n)
	}
	if n := failedFrom(kept, 60*time.Second); n > 10 {
		t.Fatalf("kept connections: %d failures after the hang, want at most 10 (one per connection held by the hung pod)", n)
	}
	if n := failedFrom(kept, 0); n != failedFrom(kept, 60*time.Second) {
		t.Fatalf("kept connections: %d failures before the hang", n-failedFrom(kept, 60*time.Second))
	}
	if got, want := len(kept.EntryService().Requests), len(perRequest.EntryService().Requests); got != want {
		t.Fatalf("kept connections sent %d requests, per request %d: the load must not change", got, want)
	}
}

// TestKeepAliveThreeHungPods: 3 of the 4 pods hang at 60s, so the kept
// connections are on a hung pod more often than not. Per request, three
// quarters of the requests fail until the hung pods leave the endpoints:
// 30/s for 31-32s, about 940 (over 700 whatever the draws). Kept: each
// connection on a hung pod fails once, and each new one lands on a hung
// pod with probability 3/4: the handful held plus a geometric tail of mean
// 3; 25 extra in a row has probability 0.75^25 < 0.1%: at most 30 per run.
// That no run of seeds 1-4 fails anything would need every connection of
// every run on the one healthy pod (at most 1/4 a run): at least one
// failure over the four.
func TestKeepAliveThreeHungPods(t *testing.T) {
	src := fmt.Sprintf(hangBase, 3)
	if n := failedFrom(runScenario(t, parse(t, "3m", src), 1), 60*time.Second); n < 700 {
		t.Fatalf("per request: %d failures after the hang, want about 940", n)
	}
	total := 0
	for seed := uint64(1); seed <= 4; seed++ {
		n := failedFrom(runScenario(t, parse(t, "3m", strings.Replace(src, "timeout: 2s}", "timeout: 2s, keepAlive: true}", 1)), seed), 60*time.Second)
		if n > 30 {
			t.Fatalf("seed %d, kept connections: %d failures, want at most 30", seed, n)
		}
		total += n
	}
	if total == 0 {
		t.Fatal("kept connections: no failure in four runs: are connections pinned to their pods at all?")
	}
}

// TestKeepAliveKilledPod: the container of one of 4 pods is killed at
// 60s: its process ends at once (its kernel closes its connections), the
// pod turns not Ready and leaves the endpoints 1s later (endpointsDelay);
// the container restarts 2s later.
//
// New connection per request: a quarter of the 40 requests of that second
// go to the dead pod and are refused: about 10 (a binomial of 40 at 1/4:
// mean 10, standard deviation 2.7; at least 3).
//
// Kept connections: an idle connection to the dead pod is dropped
// without a request; only a request in flight on it (10ms of every 25ms
// on the one pod it may be on) or a new connection opened in that second
// and landing on it (the client opens one only when every kept one is
// busy) fails: at most 2.
func TestKeepAliveKilledPod(t *testing.T) {
	body := `  services:
    - {name: api, role: gateway, replicas: 4, resources: {requests: {cpu: 250m}, limits: {cpu: 500m}}, work: {cpu: 5ms}, startupLatency: {min: 2s, max: 2s}, endpointsDelay: 1s}
  load: {profile: constant, rate: 40, timeout: 2s%s}
  faults:
    - {at: 60s, apiVersion: chaos-mesh.org/v1alpha1, kind: PodChaos, metadata: {name: kill}, spec: {action: container-kill, containerNames: [api], mode: one, selector: {labelSelectors: {app: api}}}}`
	perRequest := runScenario(t, parse(t, "2m", fmt.Sprintf(body, "")), 1)
	kept := runScenario(t, parse(t, "2m", fmt.Sprintf(body, ", keepAlive: true")), 1)
	if n := failedFrom(perRequest, 0); n < 3 || n > 20 {
		t.Fatalf("per request: %d failures, want about 10", n)
	}
	if n := failedFrom(kept, 0); n > 2 {
		t.Fatalf("kept connections: %d failures, want at most 2", n)
	}
}
