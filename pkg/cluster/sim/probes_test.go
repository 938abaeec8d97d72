package sim

import (
	"strings"
	"testing"
	"time"
)

// TestLivenessRestartsAnOverloadedPod: one pod capped at 50m serves
// Poisson 10 req/s of 100ms work each (20 times what it can do); clients
// wait up to an hour, so requests pile up in it: about 10 more each
// second. A probe needs 50µs of CPU, shared with every request in flight:
// at 0.05/(n+1) cores it takes over its 1s timeout once n passes ~1,000,
// after about 100s. Two failed liveness probes (every 5s) then restart the
// container: its requests in flight fail, the container is back 2s later,
// and the cycle repeats with the kubelet's back-off. Readiness (also 1s)
// fails alongside.
func TestLivenessRestartsAnOverloadedPod(t *testing.T) {
	sc := parse(t, "6m", `  services:
    - name: one
      role: user
      resources: {requests: {cpu: 50m}, limits: {cpu: 50m}}
      work: {cpu: 100ms}
      startupLatency: {min: 2s, max: 2s}
      readinessProbe: {periodSeconds: 5, failureThreshold: 2}
      livenessProbe: {periodSeconds: 5, failureThreshold: 2}
  load: {profile: poisson, rate: 10, timeout: 1h}`)
	tl := runScenario(t, sc, 5)
	var kills, notReady []time.Duration
	for _, e := range tl.Events {
		switch {
		case e.Kind == "Killing" && strings.Contains(e.Message, "liveness probe failed"):
			kills = append(kills, e.T)
		case e.Kind == "NotReady" && strings.Contains(e.Message, "readiness probe failed"):
			notReady = append(notReady, e.T)
		}
	}
	if len(kills) == 0 || kills[0] < 80*time.Second || kills[0] > 150*time.Second {
		t.Fatalf("liveness restarts at %v, want the first after ~100s", kills)
	}
	if len(notReady) == 0 || notReady[0] > kills[0] {
		t.Fatalf("readiness failures at %v, want one by the first restart (%v)", notReady, kills[0])
	}
	resets := 0
	for _, r := range tl.EntryService().Requests {
		if strings.Contains(tl.ErrorKinds[r.Err], "reset") {
			resets++
		}
	}
	if resets < 500 {
		t.Fatalf("%d requests reset by the restarts, want the ~1,000 in flight at the first", resets)
	}
}
