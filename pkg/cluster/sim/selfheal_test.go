package sim

import (
	"strings"
	"testing"
	"time"
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

// TestSelfHealRestartsAFailedInstance: pod-failure stops payment-00002's
// application at 60s for 5 minutes. The controller checks every 5s (1s
// timeout), from 5s on: the fault was scheduled before the checks, so the
// check at 60s already fails (nothing listens), then 65 and 70s: the third
// is InstanceDown, and the seed's subscription restarts the pod: deleted
// (gone 2s later, the kubelet's minimum grace), replaced at once (2s
// start, ready 1s later): 3 ready again by 74s, where without the policy
// the pod stays broken until the fault ends at 360s.
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
	if detected != 70*time.Second || restarted != 70*time.Second || succeeded != 72*time.Second {
		t.Fatalf("detected %v, restarted %v, succeeded %v; want 70s, 70s, 72s", detected, restarted, succeeded)
	}
}

// TestSelfHealKeepsMinAvailable: with minAvailable 3 of 3 replicas, no
// restart may take one away: the detection is recorded, the repair is
// skipped and says why.
func TestSelfHealKeepsMinAvailable(t *testing.T) {
	sc := parse(t, "2m", selfHealBase+`
  selfHeal:
    - name: careful
      target: payment
      subscriptions: [{event: InstanceDown, action: restart}]
      rateLimit: {minAvailable: 3}`)
	tl := runScenario(t, sc, 1)
	skipped := false
	for _, e := range tl.Events {
		if e.Kind == "SelfHealAction" {
			t.Fatalf("a repair ran below minAvailable: %+v", e)
		}
		if e.Kind == "SelfHealOutcome" && strings.Contains(e.Message, "below minAvailable 3") {
			skipped = true
		}
	}
	if !skipped {
		t.Fatal("no skipped repair recorded")
	}
}
