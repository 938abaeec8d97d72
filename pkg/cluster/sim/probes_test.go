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
		if strings.Contains(tl.ErrorKinds[r.Err()], "reset") {
			resets++
		}
	}
	if resets < 500 {
		t.Fatalf("%d requests reset by the restarts, want the ~1,000 in flight at the first", resets)
	}
}

// TestProbesFailUntilTheApplicationListens: a start of 5s is the
// kubelet's part (scenario.DefaultStartupMin, 2s), after which the
// container runs and the kubelet probes it, and the application's (3s),
// after which it listens. Both pods are killed at 20s and replaced at
// once: the containers run at 22s, the first probe (initialDelaySeconds 1)
// at 23s finds nothing listening, the application listens at 25s, and the
// next probe, a period (5s) after the first, passes: Ready at 28s, not at
// 25s + 1s. A pod's initial delay counts from its container's start, as
// the kubelet counts it.
func TestProbesFailUntilTheApplicationListens(t *testing.T) {
	sc := parse(t, "40s", `  services:
    - name: gateway
      role: gateway
      replicas: 2
      resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
      work: {cpu: 5ms}
      startupLatency: {min: 5s, max: 5s}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 5}
  load: {profile: constant, rate: 10, timeout: 2s}
  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill}
      spec: {action: pod-kill, mode: all, selector: {labelSelectors: {app: gateway}}}`)
	tl := runScenario(t, sc, 1)
	var started, ready []time.Duration
	for _, e := range tl.Events {
		if e.T < 20*time.Second {
			continue
		}
		switch e.Kind {
		case "Started":
			started = append(started, e.T)
		case "Ready":
			ready = append(ready, e.T)
		}
	}
	if len(started) != 2 || started[0] != 22*time.Second || started[1] != 22*time.Second {
		t.Fatalf("replacements' containers started at %v, want both at 22s", started)
	}
	// Ready once the probe's 50us of work is done: just after 28s.
	if len(ready) != 2 || ready[0] < 28*time.Second || ready[1] >= 29*time.Second {
		t.Fatalf("replacements Ready at %v, want both at 28s (the first probe after the application listens)", ready)
	}
	if r := readyAt(t, tl.EntryService(), 27*time.Second); r != 0 {
		t.Fatalf("%d ready at 27s: a probe passed before the application listened", r)
	}
}
