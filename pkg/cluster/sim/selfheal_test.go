package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

const selfHealBase = `  services:
    - name: payment
      role: payment
      replicas: 3
      resources: {requests: {cpu: 500m}, limits: {cpu: 500m}}
      work: {cpu: 5ms}
      startupLatency: {min: 2s, max: 2s}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 5}
  load: {profile: constant, rate: 30, timeout: 2s}
  faults:
    - at: 60s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: hang-one}
      spec: {action: pod-failure, mode: fixed, value: "1", duration: 5m, selector: {pods: {default: [payment-00002]}}}`

// checkPhase is when these tests' policies check, modulo their 5s
// interval. A policy exists from the start of the rollout (the real
// backend deploys the operator with the services) and first checks one
// interval later. The rollout: pods start 2s after creation, pass their
// first readiness probe 1s later (its 50us of CPU at 500m: 0.1ms), and
// are in the endpoints 1s after that: time 0 is 4.0001s after the
// rollout began, so the checks fall at 5s - 4.0001s = 0.9999s + 5k s.
const checkPhase = 999900 * time.Microsecond

// TestSelfHealRestartsAFailedInstance: pod-failure stops payment-00002's
// application at 60s for 5 minutes. The controller checks every 5s (1s
// timeout) at 60.9999s (fails at once: nothing listens), 65.9999 and
// 70.9999s: the third is InstanceDown, and the seed's subscription
// restarts the pod: deleted, which the operator counts as done at once;
// replaced at once (2s start, ready 1s later): 3 ready again by 74.0001s,
// where without the policy the pod stays broken until the fault ends at
// 360s.
func TestSelfHealRestartsAFailedInstance(t *testing.T) {
	with := parse(t, "3m", selfHealBase+`
  selfHeal:
    - name: restart-down
      target: payment
      subscriptions: [{event: InstanceDown, action: restart}]`)
	without := parse(t, "3m", selfHealBase)
	tlWith := runScenario(t, with, 1)
	tlWithout := runScenario(t, without, 1)
	rw, ro := tlWith.EntryService(), tlWithout.EntryService()
	if readyAt(t, rw, 80*time.Second) != 3 || readyAt(t, ro, 80*time.Second) != 2 || readyAt(t, ro, 170*time.Second) != 2 {
		t.Fatalf("ready at 80s: %d with the policy (want 3), %d without (want 2); at 170s without: %d",
			readyAt(t, rw, 80*time.Second), readyAt(t, ro, 80*time.Second), readyAt(t, ro, 170*time.Second))
	}
	var detected, restarted, succeeded time.Duration
	for _, e := range tlWith.Events {
		switch {
		case e.Kind == "SelfHealDetected" && e.Object == "payment-00002" && detected == 0:
			detected = e.T
		case e.Kind == "SelfHealAction" && strings.Contains(e.Message, "restart (attempt 1)"):
			restarted = e.T
		case e.Kind == "SelfHealOutcome" && strings.Contains(e.Message, "succeeded"):
			succeeded = e.T
		}
	}
	if at := 70*time.Second + checkPhase; detected != at || restarted != at || succeeded != at {
		t.Fatalf("detected %v, restarted %v, succeeded %v; want %v for each", detected, restarted, succeeded, at)
	}
}

// TestSelfHealKeepsMinAvailable: with minAvailable 3 of 3 replicas, no
// restart may take a serving pod away. pod-failure stops payment-00002 at
// 60s; the controller's checks at 60.9999, 65.9999 and 70.9999s
// (checkPhase) fail: InstanceDown at 70.9999s. The kubelet's readiness
// probe (every 5s from 3.0001s before time 0: 1.9999s + 5k; nothing
// listens, so each fails at once) fails at 61.9999, 66.9999 and
// 71.9999s: the pod is still Ready and in the endpoints at 70.9999s (3
// serving), so the restart is skipped, and says why. Not Ready at
// 71.9999s, it leaves the endpoints 1s later; at the next failed check,
// 75.9999s, the event is raised again and the restart goes ahead: it
// takes nothing more away.
// The service never has fewer than 2 pods in its endpoints (the failed
// one's absence, not self-heal's doing).
func TestSelfHealKeepsMinAvailable(t *testing.T) {
	sc := parse(t, "2m", selfHealBase+`
  selfHeal:
    - name: careful
      target: payment
      subscriptions: [{event: InstanceDown, action: restart}]
      rateLimit: {minAvailable: 3}`)
	tl := runScenario(t, sc, 1)
	var skippedAt, restartedAt time.Duration = -1, -1
	for _, r := range tl.Repairs {
		if r.Stage == timeline.RepairOutcome && strings.Contains(r.Result, "below minAvailable 3") && skippedAt < 0 {
			skippedAt = r.T
		}
		if r.Stage == timeline.RepairAction && r.Action == "restart" && restartedAt < 0 {
			restartedAt = r.T
		}
	}
	if skippedAt != 70*time.Second+checkPhase || restartedAt != 75*time.Second+checkPhase {
		t.Fatalf("skipped at %v (want 70.9999s: 3 serving), restarted at %v (want 75.9999s: the pod out of the endpoints)", skippedAt, restartedAt)
	}
	for _, s := range tl.Service("payment").Samples {
		if s.T >= 60*time.Second && s.Endpoints < 2 {
			t.Fatalf("%d endpoints at %v", s.Endpoints, s.T)
		}
	}
}

const hangBase = `  services:
    - name: api
      role: gateway
      replicas: 4
      resources: {requests: {cpu: 250m}, limits: {cpu: 500m}}
      work: {cpu: 5ms}
      startupLatency: {min: 2s, max: 2s}
      endpointsDelay: 1s
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3}
  load: {profile: constant, rate: 40, timeout: 2s}
  faults:
    - at: 60s
      apiVersion: mcpsim.dev/v1alpha2
      kind: PodHang
      metadata: {name: hang}
      spec: {mode: fixed, value: "%d", selector: {labelSelectors: {app: api}}}`

// TestPodHangWithoutAndWithSelfHeal: one of 4 pods hangs at 60s for good.
// Without a policy, its readiness probe (every 10s from 1s after start,
// 1s timeout) fails 3 times and the pod turns not Ready within 31s (by
// 91s), leaves the endpoints and stays hung: 3 ready to the end. Until
// then the requests routed to it (a quarter of 40/s) time out, none
// after 92s. With the policy (checks every 5s at checkPhase, 1s timeout,
// 3 failures) the checks at 60.9999, 65.9999 and 70.9999s get no answer
// and fail 1s later: InstanceDown at 71.9999s, the pod deleted (done at
// once, for the operator) and replaced at once: running 2s later, Ready
// at its first probe 1s after: 4 ready at 75.0000s (76s sample). The
// deleted pod stops answering within the kubelet's 2s grace: what it
// held is reset, nothing fails after 74s.
func TestPodHangWithoutAndWithSelfHeal(t *testing.T) {
	without := runScenario(t, parse(t, "3m", fmt.Sprintf(hangBase, 1)), 1)
	api := without.EntryService()
	if r := readyAt(t, api, 95*time.Second); r != 3 {
		t.Fatalf("without self-heal, ready at 95s = %d, want 3 (the hung pod not Ready)", r)
	}
	if r := readyAt(t, api, 180*time.Second); r != 3 {
		t.Fatalf("without self-heal, ready at 180s = %d, want 3: nothing repairs a hung pod", r)
	}
	failedAfter := func(tl *timeline.Timeline, t0 time.Duration) int {
		n := 0
		for _, r := range tl.EntryService().Requests {
			if !r.OK() && r.Sent() >= t0 {
				n++
			}
		}
		return n
	}
	if n := failedAfter(without, 60*time.Second); n < 50 {
		t.Fatalf("without self-heal, %d failures after the hang: want about 10/s until it leaves the endpoints", n)
	}
	if n := failedAfter(without, 92*time.Second); n != 0 {
		t.Fatalf("without self-heal, %d failures after 92s, when the hung pod is out of the endpoints", n)
	}

	with := runScenario(t, parse(t, "3m", fmt.Sprintf(hangBase, 1)+`
  selfHeal:
    - {name: healer, target: api, healthCheck: {interval: 5s, timeout: 1s, failureThreshold: 3}, subscriptions: [{event: InstanceDown, action: restart}]}`), 1)
	var detected, repaired time.Duration = -1, -1
	for _, r := range with.Repairs {
		if r.Stage == timeline.RepairDetected && detected < 0 {
			detected = r.T
		}
		if r.Stage == timeline.RepairOutcome && r.Result == "succeeded" && repaired < 0 {
			repaired = r.T
		}
	}
	if at := 71*time.Second + checkPhase; detected != at || repaired != at {
		t.Fatalf("detected at %v, repaired at %v; want %v for both", detected, repaired, at)
	}
	if r := readyAt(t, with.EntryService(), 76*time.Second); r != 4 {
		t.Fatalf("with self-heal, ready at 76s = %d, want 4", r)
	}
	if n := failedAfter(with, 74*time.Second); n != 0 {
		t.Fatalf("with self-heal, %d failures after the hung pod was gone", n)
	}
}

// TestPodHangStormRateLimit: half the pods (2 of 4) hang at once, with
// maxConcurrent 1 and minAvailable 3. Both fail the checks at 60.9999,
// 65.9999 and 70.9999s (checkPhase; 1s timeouts): InstanceDown for both
// at 71.9999s, while all 4 are still in the endpoints (their readiness
// probes, every 10s, have not failed 3 times yet). The first restart is
// allowed (4 - 1 = 3 >= 3) and done at once (the operator counts a
// terminating pod as restarted); the second, handled right after, finds
// 3 serving: one fewer would be 2, refused. Its next failed check,
// 76.9999s, raises it again: by then the first pod's replacement (created
// at 71.9999s, running 2s later, Ready 1s after) is in the endpoints
// (76.0001s): 4 serve, the restart goes ahead. The endpoints never hold
// fewer than 3 pods: the rate limit held.
func TestPodHangStormRateLimit(t *testing.T) {
	tl := runScenario(t, parse(t, "3m", fmt.Sprintf(hangBase, 2)+`
  selfHeal:
    - {name: healer, target: api, healthCheck: {interval: 5s, timeout: 1s, failureThreshold: 3}, subscriptions: [{event: InstanceDown, action: restart}], rateLimit: {maxConcurrent: 1, minAvailable: 3}}`), 1)
	var restarts, repaired []time.Duration
	skipped := 0
	for _, r := range tl.Repairs {
		switch {
		case r.Stage == timeline.RepairAction && r.Action == "restart":
			restarts = append(restarts, r.T)
		case r.Stage == timeline.RepairOutcome && r.Result == "succeeded":
			repaired = append(repaired, r.T)
		case r.Stage == timeline.RepairOutcome && strings.HasPrefix(r.Result, "skipped"):
			skipped++
		}
	}
	s := time.Second
	want := fmt.Sprint([]time.Duration{71*s + checkPhase, 76*s + checkPhase})
	if fmt.Sprint(restarts) != want || fmt.Sprint(repaired) != want || skipped != 1 {
		t.Fatalf("restarts at %v, repaired at %v (want %s for both), %d refused (want 1)", restarts, repaired, want, skipped)
	}
	for _, smp := range tl.EntryService().Samples {
		if smp.T >= 60*s && smp.Endpoints < 3 {
			t.Fatalf("%d endpoints at %v: below minAvailable 3", smp.Endpoints, smp.T)
		}
	}
}

// TestIsolateOrphansAndReadopts: payment-00002's application fails (pod-
// failure) from 60s to 120s; the policy isolates what goes down. The
// checks at 60.9999, 65.9999 and 70.9999s (checkPhase) fail at once
// (nothing listens): InstanceDown at 70.9999s; isolation removes the
// pod's labels, so it leaves the endpoints 1s later and its ReplicaSet,
// which creates a replacement at once (2s to start, Ready at its first
// probe 1s later plus the probe's 0.1ms: 74.0000s). At 120s the fault
// ends: the container restarts (2s), is Ready again at 123.0001s, and
// passes the check at 125.9999s (answered 0.1ms later): rejoin, labels
// back; the ReplicaSet adopts it and, with 4 pods for 3 replicas, deletes
// the one Ready for the shortest time: payment-00002 itself, at 126.0000s.
func TestIsolateOrphansAndReadopts(t *testing.T) {
	tl := runScenario(t, parse(t, "3m", strings.Replace(selfHealBase, "duration: 5m", "duration: 1m", 1)+`
  selfHeal:
    - name: quarantine
      target: payment
      subscriptions: [{event: InstanceDown, action: isolate}]`), 1)
	var replacement, deleted timeline.Pod
	for _, p := range tl.Pods {
		if p.Service == "payment" && p.Created == 70*time.Second+checkPhase {
			replacement = p
		}
		if p.Name == "payment-00002" {
			deleted = p
		}
	}
	near := func(got, want time.Duration) bool { return (got - want).Abs() <= time.Microsecond }
	if replacement.Name == "" || !near(replacement.FirstReady, 74*time.Second) {
		t.Fatalf("replacement %+v: want one created at 70.9999s, Ready at 74.0000s", replacement)
	}
	if !near(deleted.Deleted, 126*time.Second) || deleted.Cause != timeline.CauseScaleDown {
		t.Fatalf("payment-00002 %+v: want deleted at 126.0000s by the ReplicaSet", deleted)
	}
	pay := tl.Service("payment")
	if r := readyAt(t, pay, 100*time.Second); r != 3 {
		t.Fatalf("ready at 100s = %d, want 3 (2 and the replacement; the isolated pod is not Ready either)", r)
	}
	if r := readyAt(t, pay, 170*time.Second); r != 3 {
		t.Fatalf("ready at 170s = %d, want 3 after the ReplicaSet deleted the extra pod", r)
	}
}
