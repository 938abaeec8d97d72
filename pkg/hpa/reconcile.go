package hpa

import (
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// Result is the outcome of one reconcile of one HPA.
type Result struct {
	// DesiredReplicas is status.desiredReplicas after the cycle.
	DesiredReplicas int32
	// Rescale says the controller wrote DesiredReplicas to the target.
	Rescale bool
	// Conditions lists the conditions set during this cycle, in the order
	// they were set; a later one of the same type replaces an earlier one.
	Conditions []Condition
	// Metrics holds each metric's proposal (empty when no metric was read).
	Metrics []MetricResult
	// Err is the reason no decision was taken (all metrics invalid, or a
	// partial failure that would have scaled down).
	Err error
}

// Condition returns the condition of type t set this cycle, if any.
func (r *Result) Condition(t autoscalingv2.HorizontalPodAutoscalerConditionType) (Condition, bool) {
	for _, c := range r.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}

func (r *Result) set(t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, format string, args ...any) {
	c := Condition{Type: t, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
	for i := range r.Conditions {
		if r.Conditions[i].Type == t {
			r.Conditions[i] = c
			return
		}
	}
	r.Conditions = append(r.Conditions, c)
}

// Reconcile runs one sync of an HPA (§3): read metrics, propose, stabilize,
// rate-limit and clamp. spec must be defaulted (SetDefaults). st is the
// controller's memory of this HPA and is updated in place.
func (cfg Config) Reconcile(now time.Time, spec *autoscalingv2.HorizontalPodAutoscalerSpec, scale Scale, pods []Pod, src MetricsSource, st *State) Result {
	var res Result
	current := scale.SpecReplicas
	if st.Recommendations == nil {
		// Q13: the first sync seeds the history with the current size.
		st.Recommendations = []Recommendation{{Replicas: current, Time: now}}
	}
	minR := int32(1)
	if spec.MinReplicas != nil {
		minR = *spec.MinReplicas
	}
	res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")

	var desired int32
	rescale := false
	switch {
	case current == 0 && minR != 0:
		res.set(autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
		res.DesiredReplicas = current
		return res
	case current > spec.MaxReplicas:
		desired, rescale = spec.MaxReplicas, true
	case current < minR:
		desired, rescale = minR, true
	default:
		proposal, err := cfg.computeReplicasForMetrics(&res, now, spec, scale, pods, src)
		if err != nil {
			res.Err = err
			res.DesiredReplicas = current
			return res
		}
		desired = max(0, proposal)
		if spec.Behavior == nil {
			desired = cfg.normalizeLegacy(&res, st, current, desired, minR, spec.MaxReplicas, now)
		} else {
			desired = cfg.normalizeWithBehavior(&res, st, spec.Behavior, current, desired, minR, spec.MaxReplicas, now)
		}
		rescale = desired != current
	}
	if rescale {
		res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
		recordScaleEvent(st, spec.Behavior, current, desired, now)
		res.Rescale = true
		res.DesiredReplicas = desired
	} else {
		res.DesiredReplicas = current
	}
	return res
}

func (cfg Config) normalizeLegacy(res *Result, st *State, current, desired, minR, maxR int32, now time.Time) int32 {
	stabilized, history := StabilizeLegacy(st.Recommendations, desired, cfg.DownscaleStabilization, now)
	st.Recommendations = history
	if stabilized != desired {
		res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
	} else {
		res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size")
	}
	out, reason := ClampLegacy(current, stabilized, minR, maxR, cfg.ScaleUpLimitFactor, cfg.ScaleUpLimitMinimum)
	setLimited(res, out, stabilized, reason)
	return out
}

func (cfg Config) normalizeWithBehavior(res *Result, st *State, b *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minR, maxR int32, now time.Time) int32 {
	up, down := windows(b, cfg.DownscaleStabilization)
	stabilized, reason, history := StabilizeWithBehavior(st.Recommendations, current, desired, up, down, now)
	st.Recommendations = history
	if stabilized != desired {
		msg := "recent recommendations were higher than current one, applying the highest recent recommendation"
		if reason == "ScaleUpStabilized" {
			msg = "recent recommendations were lower than current one, applying the lowest recent recommendation"
		}
		res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, reason, "%s", msg)
	} else {
		res.set(autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size")
	}
	out, limReason := RateLimitWithBehavior(current, stabilized, minR, maxR, b, st.ScaleUpEvents, st.ScaleDownEvents, now)
	setLimited(res, out, stabilized, limReason)
	return out
}

// windows returns the stabilization windows of a defaulted behavior; a nil
// scale-down window is the controller's downscale-stabilization setting.
func windows(b *autoscalingv2.HorizontalPodAutoscalerBehavior, downscale time.Duration) (up, down time.Duration) {
	if b.ScaleUp != nil && b.ScaleUp.StabilizationWindowSeconds != nil {
		up = time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second
	}
	down = downscale
	if b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
		down = time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
	}
	return up, down
}

func setLimited(res *Result, out, stabilized int32, reason string) {
	status := corev1.ConditionFalse
	if out != stabilized {
		status = corev1.ConditionTrue
	}
	res.set(autoscalingv2.ScalingLimited, status, reason, "desired replica count %d, limited to %d (%s)", stabilized, out, reason)
}

// metricError carries the ScalingActive reason of a failed metric.
type metricError struct {
	reason string
	err    error
}

func (e *metricError) Error() string { return e.err.Error() }
func (e *metricError) Unwrap() error { return e.err }

// computeReplicasForMetrics combines the metrics (§5): the maximum
// proposal, failing when all metrics fail or when a partial failure would
// scale down (Q14).
func (cfg Config) computeReplicasForMetrics(res *Result, now time.Time, spec *autoscalingv2.HorizontalPodAutoscalerSpec, scale Scale, pods []Pod, src MetricsSource) (int32, error) {
	calc := &ReplicaCalculator{Pods: pods, Config: cfg, Tolerances: cfg.tolerances(spec), Now: now}
	var best int32
	invalid := 0
	var firstErr *metricError
	for _, m := range spec.Metrics {
		mr := calc.MetricReplicas(m, scale, src)
		res.Metrics = append(res.Metrics, mr)
		if mr.Err != nil {
			invalid++
			if firstErr == nil {
				me := &metricError{}
				if !errors.As(mr.Err, &me) {
					me = &metricError{reason: "FailedGetMetric", err: mr.Err}
				}
				firstErr = me
			}
			continue
		}
		best = max(best, mr.Replicas)
	}
	if invalid >= len(spec.Metrics) || (invalid > 0 && best < scale.SpecReplicas) {
		res.set(autoscalingv2.ScalingActive, corev1.ConditionFalse, firstErr.reason, "the HPA was unable to compute the replica count: %v", firstErr.err)
		return -1, fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(spec.Metrics), firstErr)
	}
	res.set(autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from %s", metricName(spec.Metrics[0]))
	return best, nil
}

func fail(reason string, format string, args ...any) *metricError {
	return &metricError{reason: reason, err: fmt.Errorf(format, args...)}
}

// MetricReplicas is one metric's proposal (upstream computeReplicasForMetric).
func (c *ReplicaCalculator) MetricReplicas(m autoscalingv2.MetricSpec, scale Scale, src MetricsSource) (mr MetricResult) {
	mr.Spec = m
	current := scale.SpecReplicas
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType, autoscalingv2.ContainerResourceMetricSourceType:
		reason, name, container, target := "FailedGetResourceMetric", corev1.ResourceName(""), "", autoscalingv2.MetricTarget{}
		if m.Type == autoscalingv2.ResourceMetricSourceType {
			if m.Resource == nil {
				mr.Err = fail(reason, "invalid resource metric source: resource is not set")
				return
			}
			name, target = m.Resource.Name, m.Resource.Target
		} else {
			reason = "FailedGetContainerResourceMetric"
			if m.ContainerResource == nil {
				mr.Err = fail(reason, "invalid container resource metric source: containerResource is not set")
				return
			}
			name, container, target = m.ContainerResource.Name, m.ContainerResource.Container, m.ContainerResource.Target
		}
		entries, err := src.ResourceMetrics(name)
		var samples map[string]PodSample
		if err == nil {
			samples, err = ResourceSamples(entries, name, container)
		}
		if err != nil {
			mr.Err = fail(reason, "failed to get %s utilization: unable to get metrics for resource %s: %v", name, name, err)
			return
		}
		switch {
		case target.AverageValue != nil:
			r, usage, err := c.PlainMetricReplicas(current, target.AverageValue.MilliValue(), name, samples)
			if err != nil {
				mr.Err = fail(reason, "failed to get %s usage: %v", name, err)
				return
			}
			mr.Replicas, mr.Value = r, usage
		case target.AverageUtilization != nil:
			r, util, raw, err := c.ResourceUtilizationReplicas(current, *target.AverageUtilization, name, container, samples)
			if err != nil {
				mr.Err = fail(reason, "failed to get %s utilization: %v", name, err)
				return
			}
			mr.Replicas, mr.Utilization, mr.Value = r, &util, raw
		default:
			mr.Err = fail(reason, "invalid resource metric source: neither a utilization target nor a value target was set")
		}
	case autoscalingv2.PodsMetricSourceType:
		if m.Pods == nil || m.Pods.Target.AverageValue == nil {
			mr.Err = fail("FailedGetPodsMetric", "invalid pods metric source: an average value target must be set")
			return
		}
		list, err := src.PodsMetric(m.Pods.Metric.Name)
		if err == nil && len(list) == 0 {
			err = errors.New("no metrics returned from custom metrics API")
		}
		if err != nil {
			mr.Err = fail("FailedGetPodsMetric", "unable to get metric %s: %v", m.Pods.Metric.Name, err)
			return
		}
		samples := make(map[string]PodSample, len(list))
		for _, s := range list {
			samples[s.Pod] = s
		}
		r, usage, err := c.PlainMetricReplicas(current, m.Pods.Target.AverageValue.MilliValue(), "", samples)
		if err != nil {
			mr.Err = fail("FailedGetPodsMetric", "failed to get pods metric value: %v", err)
			return
		}
		mr.Replicas, mr.Value = r, usage
	case autoscalingv2.ObjectMetricSourceType:
		if m.Object == nil {
			mr.Err = fail("FailedGetObjectMetric", "invalid object metric source: object is not set")
			return
		}
		usage, err := src.ObjectMetric(m.Object.Metric.Name, m.Object.DescribedObject)
		if err != nil {
			mr.Err = fail("FailedGetObjectMetric", "unable to get metric %s: %v", m.Object.Metric.Name, err)
			return
		}
		c.valueOrAverage(&mr, m.Object.Target, scale, usage, "FailedGetObjectMetric", "object")
	case autoscalingv2.ExternalMetricSourceType:
		if m.External == nil {
			mr.Err = fail("FailedGetExternalMetric", "invalid external metric source: external is not set")
			return
		}
		values, err := src.ExternalMetric(m.External.Metric.Name)
		if err == nil && len(values) == 0 {
			err = errors.New("no metrics returned from external metrics API")
		}
		if err != nil {
			mr.Err = fail("FailedGetExternalMetric", "unable to get external metric %s: %v", m.External.Metric.Name, err)
			return
		}
		c.valueOrAverage(&mr, m.External.Target, scale, saturatingSum(values), "FailedGetExternalMetric", "external")
	default:
		mr.Err = fail("InvalidMetricSourceType", "unknown metric source type %q", m.Type)
	}
	return mr
}

// valueOrAverage handles Object and External targets (§4.6, §4.7).
func (c *ReplicaCalculator) valueOrAverage(mr *MetricResult, target autoscalingv2.MetricTarget, scale Scale, usage int64, reason, kind string) {
	switch {
	case target.Type == autoscalingv2.ValueMetricType && target.Value != nil:
		r, err := c.UsageRatioReplicas(scale.SpecReplicas, float64(usage)/float64(target.Value.MilliValue()))
		if err != nil {
			mr.Err = fail(reason, "failed to get %s metric value: %v", kind, err)
			return
		}
		mr.Replicas, mr.Value = r, usage
	case target.Type == autoscalingv2.AverageValueMetricType && target.AverageValue != nil:
		mr.Replicas, mr.Value = c.PerPodReplicas(scale.StatusReplicas, usage, target.AverageValue.MilliValue())
	default:
		mr.Err = fail(reason, "invalid %s metric source: neither a value target nor an average value target was set", kind)
	}
}
