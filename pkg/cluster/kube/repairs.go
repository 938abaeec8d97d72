package kube

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/selfheal"
	"github.com/mcpsim/mcpsim/pkg/selfheal/operator"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// The self-heal operator reports every step as a Kubernetes Event about
// the pod (events.k8s.io/v1: its action names the step, its note reads
// "self-heal <policy>: <what>", related is the policy). repairFromEvent
// turns one into the timeline's Repair, as the sim records its healer's
// steps, so that selfHealWithin and noCollateral judge a real run:
//
//	SelfHealDetected  Detect     "InstanceDown after 3 failed health checks"
//	SelfHealAction    restart    "restart (attempt 1) for InstanceDown gateway-x"
//	SelfHealAction    Rejoin     "rejoin: its health check passes again"
//	SelfHealAction    restart    "restart (attempt 1) failed: …" (not a step: its outcome follows)
//	SelfHealOutcome   Outcome    "restart for InstanceDown gateway-x: succeeded"
//	SelfHealOutcome   Outcome    "rejoin failed: …"
//
// at is when the operator recorded it (the Event's eventTime, microsecond
// resolution, from the node's clock, which is this machine's on kind);
// arrived stands in for an Event without one.
func repairFromEvent(e *corev1.Event, arrived time.Time) (rp timeline.Repair, at time.Time, ok bool) {
	switch e.Reason {
	case operator.ReasonDetected, operator.ReasonAction, operator.ReasonOutcome:
	default:
		return rp, at, false
	}
	if e.InvolvedObject.Kind != "" && e.InvolvedObject.Kind != "Pod" {
		return rp, at, false
	}
	at = arrived
	switch {
	case !e.EventTime.IsZero():
		at = e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		at = e.FirstTimestamp.Time
	}
	policy, note := "", e.Message
	if rest, found := strings.CutPrefix(note, "self-heal "); found {
		if p, n, found := strings.Cut(rest, ": "); found {
			policy, note = p, n
		}
	}
	if e.Related != nil && e.Related.Name != "" {
		policy = e.Related.Name
	}
	rp = timeline.Repair{Policy: policy, Pod: e.InvolvedObject.Name}
	switch e.Reason {
	case operator.ReasonDetected:
		rp.Stage = timeline.RepairDetected
		rp.Event, _, _ = strings.Cut(note, " ")
	case operator.ReasonAction:
		rp.Stage = timeline.RepairAction
		if strings.HasPrefix(note, "rejoin:") {
			rp.Action = selfheal.Rejoin
			break
		}
		// "<action> (attempt n) for <event> <pod>"; "… failed: why" is
		// the action's failure, whose outcome is its own Event.
		head, forWhat, found := strings.Cut(note, " for ")
		if !found || strings.Contains(head, " failed") {
			return rp, at, false
		}
		rp.Action, _, _ = strings.Cut(head, " ")
		rp.Event, _, _ = strings.Cut(forWhat, " ")
	case operator.ReasonOutcome:
		rp.Stage = timeline.RepairOutcome
		if why, found := strings.CutPrefix(note, "rejoin failed: "); found {
			rp.Action, rp.Result = selfheal.Rejoin, "failed: "+why
			break
		}
		// "<action> for <event> <pod>[ → <downstream>]: <result>"
		head, result, found := strings.Cut(note, ": ")
		if !found {
			return rp, at, false
		}
		action, forWhat, found := strings.Cut(head, " for ")
		if !found {
			return rp, at, false
		}
		rp.Action, rp.Result = action, result
		rp.Event, _, _ = strings.Cut(forWhat, " ")
	}
	return rp, at, true
}
