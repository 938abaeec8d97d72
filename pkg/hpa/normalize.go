package hpa

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// Limiting reasons of the ScalingLimited condition.
const (
	ReasonDesiredWithinRange = "DesiredWithinRange"
	ReasonTooFewReplicas     = "TooFewReplicas"
	ReasonTooManyReplicas    = "TooManyReplicas"
	ReasonScaleUpLimit       = "ScaleUpLimit"
	ReasonScaleDownLimit     = "ScaleDownLimit"
)

// StabilizeLegacy is upstream stabilizeRecommendation (§6.1): the maximum
// recommendation of the downscale window, which blocks scale-down only. It
// stores desired in the history, reusing the last stale slot.
func StabilizeLegacy(history []Recommendation, desired int32, window time.Duration, now time.Time) (int32, []Recommendation) {
	best := desired
	stale := -1
	for i, r := range history {
		if now.Sub(r.Time) > window {
			stale = i
		} else if r.Replicas > best {
			best = r.Replicas
		}
	}
	if stale >= 0 {
		history[stale] = Recommendation{Replicas: desired, Time: now}
	} else {
		history = append(history, Recommendation{Replicas: desired, Time: now})
	}
	return best, history
}

// ClampLegacy is upstream convertDesiredReplicasWithRules (§6.2): the
// min/max clamp plus the legacy scale-up cap max(factor×current, minimum).
func ClampLegacy(current, desired, minReplicas, maxReplicas int32, factor, minimum float64) (int32, string) {
	upLimit := int32(math.Max(factor*float64(current), minimum))
	maxAllowed, reason := maxReplicas, ReasonTooManyReplicas
	if maxReplicas > upLimit {
		maxAllowed, reason = upLimit, ReasonScaleUpLimit
	}
	switch {
	case desired < minReplicas:
		return minReplicas, ReasonTooFewReplicas
	case desired > maxAllowed:
		return maxAllowed, reason
	}
	return desired, ReasonDesiredWithinRange
}

// StabilizeWithBehavior is upstream stabilizeRecommendationWithBehaviors
// (§7.1). It returns the stabilized recommendation, the AbleToScale reason
// and the updated history (the raw proposal is stored).
func StabilizeWithBehavior(history []Recommendation, current, desired int32, upWindow, downWindow time.Duration, now time.Time) (int32, string, []Recommendation) {
	upRec, downRec := desired, desired
	stale := -1
	for i, r := range history {
		age := now.Sub(r.Time)
		if age < upWindow {
			upRec = min(upRec, r.Replicas)
		}
		if age < downWindow {
			downRec = max(downRec, r.Replicas)
		}
		if age > upWindow && age > downWindow {
			stale = i
		}
	}
	rec := current
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	if stale >= 0 {
		history[stale] = Recommendation{Replicas: desired, Time: now}
	} else {
		history = append(history, Recommendation{Replicas: desired, Time: now})
	}
	reason := "ReadyForNewScale"
	if rec != desired {
		reason = "ScaleDownStabilized"
		if desired >= current {
			reason = "ScaleUpStabilized"
		}
	}
	return rec, reason, history
}

// changeInPeriod sums the replica changes of events younger than period
// (strict, Q18).
func changeInPeriod(events []ScaleEvent, period time.Duration, now time.Time) int32 {
	var sum int32
	for _, e := range events {
		if now.Sub(e.Time) < period {
			sum += e.ReplicaChange
		}
	}
	return sum
}

func policyPeriod(p autoscalingv2.HPAScalingPolicy) time.Duration {
	return time.Duration(p.PeriodSeconds) * time.Second
}

func selectPolicy(rules *autoscalingv2.HPAScalingRules) autoscalingv2.ScalingPolicySelect {
	if rules.SelectPolicy == nil {
		return autoscalingv2.MaxChangePolicySelect
	}
	return *rules.SelectPolicy
}

// ScaleUpLimit is upstream calculateScaleUpLimitWithScalingRules (§7.2).
func ScaleUpLimit(current int32, up, down []ScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	sel := selectPolicy(rules)
	if sel == autoscalingv2.DisabledPolicySelect {
		return current
	}
	result := int32(math.MinInt32)
	if sel == autoscalingv2.MinChangePolicySelect {
		result = math.MaxInt32
	}
	for _, p := range rules.Policies {
		start := current - changeInPeriod(up, policyPeriod(p), now) + changeInPeriod(down, policyPeriod(p), now)
		var prop int32
		if p.Type == autoscalingv2.PodsScalingPolicy {
			prop = start + p.Value
		} else {
			prop = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if sel == autoscalingv2.MinChangePolicySelect {
			result = min(result, prop)
		} else {
			result = max(result, prop)
		}
	}
	return result
}

// ScaleDownLimit is upstream calculateScaleDownLimitWithBehaviors (§7.2).
func ScaleDownLimit(current int32, up, down []ScaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	sel := selectPolicy(rules)
	if sel == autoscalingv2.DisabledPolicySelect {
		return current
	}
	result := int32(math.MaxInt32)
	if sel == autoscalingv2.MinChangePolicySelect {
		result = math.MinInt32
	}
	for _, p := range rules.Policies {
		start := current - changeInPeriod(up, policyPeriod(p), now) + changeInPeriod(down, policyPeriod(p), now)
		var prop int32
		if p.Type == autoscalingv2.PodsScalingPolicy {
			prop = start - p.Value
		} else {
			prop = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if sel == autoscalingv2.MinChangePolicySelect {
			result = max(result, prop)
		} else {
			result = min(result, prop)
		}
	}
	return result
}

// RateLimitWithBehavior is upstream convertDesiredReplicasWithBehaviorRate
// (§7.3): the behavior policies combined with the min/max clamp, in the
// direction of travel only (Q17).
func RateLimitWithBehavior(current, desired, minReplicas, maxReplicas int32, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, up, down []ScaleEvent, now time.Time) (int32, string) {
	switch {
	case desired > current:
		lim := max(ScaleUpLimit(current, up, down, behavior.ScaleUp, now), current)
		maxAllowed, reason := maxReplicas, ReasonTooManyReplicas
		if maxReplicas > lim {
			maxAllowed, reason = lim, ReasonScaleUpLimit
		}
		if desired > maxAllowed {
			return maxAllowed, reason
		}
	case desired < current:
		lim := min(ScaleDownLimit(current, up, down, behavior.ScaleDown, now), current)
		minAllowed, reason := minReplicas, ReasonTooFewReplicas
		if minReplicas < lim {
			minAllowed, reason = lim, ReasonScaleDownLimit
		}
		if desired < minAllowed {
			return minAllowed, reason
		}
	}
	return desired, ReasonDesiredWithinRange
}

// recordScaleEvent is upstream storeScaleEvent (§8).
func recordScaleEvent(st *State, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, prev, next int32, now time.Time) {
	if behavior == nil || prev == next {
		return
	}
	events, rules, change := &st.ScaleDownEvents, behavior.ScaleDown, prev-next
	if next > prev {
		events, rules, change = &st.ScaleUpEvents, behavior.ScaleUp, next-prev
	}
	var longest time.Duration
	if rules != nil {
		for _, p := range rules.Policies {
			longest = max(longest, policyPeriod(p))
		}
	}
	last := -1
	for i := range *events {
		if now.Sub((*events)[i].Time) > longest {
			(*events)[i].Outdated = true
		}
		if (*events)[i].Outdated {
			last = i
		}
	}
	ev := ScaleEvent{ReplicaChange: change, Time: now}
	if last >= 0 {
		(*events)[last] = ev
	} else {
		*events = append(*events, ev)
	}
}
