package sim

import (
	"strings"
	"testing"
	"time"
)

const podFaultService = `  services:
    - name: gateway
      role: gateway
      replicas: 2
      resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
      work: {cpu: 5ms}
      startupLatency: {min: 3s, max: 3s}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 5, failureThreshold: 3}
  load: {profile: constant, rate: 40, timeout: 2s}`

// TestPodFailureLastsItsDuration: pod-failure on both pods at 20s for 30s.
// The application stops at once; the readiness probe (every 5s, 3
// failures) turns the pods not Ready between 20s + (0, 5s] + 10s, i.e. by
// 35s at the latest; the fault ends at 50s, the containers run 2s later
// (the kubelet's part of the 3s start), are probed 1s after that (53s),
// when the application listens: Ready at 53s, in the endpoints at 54s. Requests from 20s
// until then fail (refused: nothing listens, or no endpoint); after, none.
func TestPodFailureLastsItsDuration(t *testing.T) {
	sc := parse(t, "90s", podFaultService+`
  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: fail}
      spec: {action: pod-failure, mode: all, duration: 30s, selector: {labelSelectors: {app: gateway}}}`)
	tl := runScenario(t, sc, 3)
	gw := tl.EntryService()
	if r := readyAt(t, gw, 21*time.Second); r != 2 {
		t.Errorf("ready at 21s = %d: the probe cannot have failed 3 times yet", r)
	}
	if r := readyAt(t, gw, 40*time.Second); r != 0 {
		t.Errorf("ready at 40s = %d, want 0", r)
	}
	if r := readyAt(t, gw, 56*time.Second); r != 2 {
		t.Errorf("ready at 56s = %d, want 2 (restarted at 50s, ready at 53s)", r)
	}
	f := tl.Faults[0]
	if f.End == nil || *f.End != 50*time.Second || len(f.Targets) != 2 {
		t.Fatalf("fault record %+v: want two targets and an end at 50s", f)
	}
	for _, r := range gw.Window(20*time.Second+10*time.Millisecond, 54*time.Second) {
		if r.OK() {
			t.Fatalf("a request sent at %s succeeded while no application ran", r.Sent())
		}
	}
	for _, r := range gw.Window(56*time.Second, 90*time.Second) {
		if !r.OK() {
			t.Fatalf("request at %s failed after recovery: %s", r.Sent(), tl.ErrorKinds[r.Err()])
		}
	}
}

// TestContainerKillRestartsWithBackOff: container-kill of one pod at 20s
// and again at 40s. The first restart is immediate; of the 3s start, the
// kubelet's part is scenario.DefaultStartupMin (2s), after which the
// container runs (the Started event, 22s) and the application listens 1s
// later. The second comes within 10 minutes of the first start, so the
// kubelet waits its back-off of 10s first: started at 52s, Ready at 53s
// (its first probe, 1s after the start, finds the application up).
func TestContainerKillRestartsWithBackOff(t *testing.T) {
	kill := func(at string) string {
		return `
    - at: ` + at + `
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill-` + at + `}
      spec: {action: container-kill, mode: fixed, value: "1", containerNames: [app], selector: {pods: {default: [gateway-00001]}}}`
	}
	sc := parse(t, "80s", podFaultService+`
  faults:`+kill("20s")+kill("40s"))
	tl := runScenario(t, sc, 3)
	var starts, backoffs []time.Duration
	for _, e := range tl.Events {
		if e.Object != "gateway-00001" {
			continue
		}
		switch e.Kind {
		case "Started":
			starts = append(starts, e.T)
		case "BackOff":
			backoffs = append(backoffs, e.T)
			if !strings.Contains(e.Message, "10s") {
				t.Errorf("back-off message %q", e.Message)
			}
		}
	}
	// The first start is during the rollout (negative time).
	if len(starts) != 3 || starts[1] != 22*time.Second || starts[2] != 52*time.Second {
		t.Fatalf("container starts %v, want rollout, 22s, 52s", starts)
	}
	if len(backoffs) != 1 || backoffs[0] != 40*time.Second {
		t.Fatalf("back-offs %v, want one at 40s", backoffs)
	}
}
