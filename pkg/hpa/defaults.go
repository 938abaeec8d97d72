package hpa

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// DefaultCPUUtilization is the target of the default metric (§1.3).
const DefaultCPUUtilization = 80

// SetDefaults fills an autoscaling/v2 spec as the API server does
// (pkg/apis/autoscaling/v2/defaults.go, §1.3). A nil behavior stays nil.
func SetDefaults(spec *autoscalingv2.HorizontalPodAutoscalerSpec) {
	if spec.MinReplicas == nil {
		spec.MinReplicas = ptr.To[int32](1)
	}
	if len(spec.Metrics) == 0 {
		spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](DefaultCPUUtilization)},
			},
		}}
	}
	if spec.Behavior != nil {
		spec.Behavior.ScaleUp = defaultRules(spec.Behavior.ScaleUp, ptr.To[int32](0), []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
		// scaleDown's window stays nil: the controller substitutes its
		// downscale-stabilization setting.
		spec.Behavior.ScaleDown = defaultRules(spec.Behavior.ScaleDown, nil, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
	}
}

func defaultRules(in *autoscalingv2.HPAScalingRules, window *int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	out := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: window, SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect), Policies: policies}
	if in == nil {
		return out
	}
	if in.StabilizationWindowSeconds != nil {
		out.StabilizationWindowSeconds = in.StabilizationWindowSeconds
	}
	if in.SelectPolicy != nil {
		out.SelectPolicy = in.SelectPolicy
	}
	if len(in.Policies) > 0 {
		out.Policies = in.Policies
	}
	out.Tolerance = in.Tolerance
	return out
}

// Validate checks a spec as the API server's validation does for the
// fields the controller reads (§1.3). Paths are relative to path.
func Validate(spec *autoscalingv2.HorizontalPodAutoscalerSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	minR := int32(1)
	if spec.MinReplicas != nil {
		minR = *spec.MinReplicas
		if minR < 1 {
			errs = append(errs, field.Invalid(path.Child("minReplicas"), minR, "must be greater than or equal to 1"))
		}
	}
	if spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(path.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to 1"))
	} else if spec.MaxReplicas < minR {
		errs = append(errs, field.Invalid(path.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to minReplicas"))
	}
	for i, m := range spec.Metrics {
		errs = append(errs, validateMetric(m, path.Child("metrics").Index(i))...)
	}
	if b := spec.Behavior; b != nil {
		errs = append(errs, validateRules(b.ScaleUp, path.Child("behavior", "scaleUp"))...)
		errs = append(errs, validateRules(b.ScaleDown, path.Child("behavior", "scaleDown"))...)
	}
	return errs
}

func validateMetric(m autoscalingv2.MetricSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	target := func(t autoscalingv2.MetricTarget, p *field.Path) {
		switch t.Type {
		case autoscalingv2.UtilizationMetricType:
			if t.AverageUtilization == nil || *t.AverageUtilization <= 0 {
				errs = append(errs, field.Required(p.Child("averageUtilization"), "must be a positive percentage for a Utilization target"))
			}
		case autoscalingv2.AverageValueMetricType:
			if t.AverageValue == nil || t.AverageValue.Sign() <= 0 {
				errs = append(errs, field.Required(p.Child("averageValue"), "must be positive for an AverageValue target"))
			}
		case autoscalingv2.ValueMetricType:
			if t.Value == nil || t.Value.Sign() <= 0 {
				errs = append(errs, field.Required(p.Child("value"), "must be positive for a Value target"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), t.Type, []string{"Utilization", "AverageValue", "Value"}))
		}
	}
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource == nil {
			return append(errs, field.Required(path.Child("resource"), "must be set for type Resource"))
		}
		target(m.Resource.Target, path.Child("resource", "target"))
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource == nil {
			return append(errs, field.Required(path.Child("containerResource"), "must be set for type ContainerResource"))
		}
		target(m.ContainerResource.Target, path.Child("containerResource", "target"))
	case autoscalingv2.PodsMetricSourceType:
		if m.Pods == nil {
			return append(errs, field.Required(path.Child("pods"), "must be set for type Pods"))
		}
		target(m.Pods.Target, path.Child("pods", "target"))
	case autoscalingv2.ObjectMetricSourceType:
		if m.Object == nil {
			return append(errs, field.Required(path.Child("object"), "must be set for type Object"))
		}
		target(m.Object.Target, path.Child("object", "target"))
	case autoscalingv2.ExternalMetricSourceType:
		if m.External == nil {
			return append(errs, field.Required(path.Child("external"), "must be set for type External"))
		}
		target(m.External.Target, path.Child("external", "target"))
	default:
		errs = append(errs, field.NotSupported(path.Child("type"), m.Type, []string{"Resource", "ContainerResource", "Pods", "Object", "External"}))
	}
	return errs
}

func validateRules(r *autoscalingv2.HPAScalingRules, path *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && (*w < 0 || *w > 3600) {
		errs = append(errs, field.Invalid(path.Child("stabilizationWindowSeconds"), *w, "must be between 0 and 3600"))
	}
	if s := r.SelectPolicy; s != nil && *s != autoscalingv2.MaxChangePolicySelect && *s != autoscalingv2.MinChangePolicySelect && *s != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(path.Child("selectPolicy"), *s, []string{"Max", "Min", "Disabled"}))
	}
	for i, p := range r.Policies {
		pp := path.Child("policies").Index(i)
		if p.Type != autoscalingv2.PodsScalingPolicy && p.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), p.Type, []string{"Pods", "Percent"}))
		}
		if p.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), p.Value, "must be greater than zero"))
		}
		if p.PeriodSeconds <= 0 || p.PeriodSeconds > 1800 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), p.PeriodSeconds, "must be greater than zero and at most 1800"))
		}
	}
	if t := r.Tolerance; t != nil && t.Sign() < 0 {
		errs = append(errs, field.Invalid(path.Child("tolerance"), t.String(), "must be greater than or equal to zero"))
	}
	return errs
}

// tolerances is upstream tolerancesForHpa (§1.4).
func (cfg Config) tolerances(spec *autoscalingv2.HorizontalPodAutoscalerSpec) Tolerances {
	t := Tolerances{ScaleDown: cfg.Tolerance, ScaleUp: cfg.Tolerance}
	if spec.Behavior == nil || !cfg.ConfigurableTolerance {
		return t
	}
	if r := spec.Behavior.ScaleDown; r != nil && r.Tolerance != nil {
		t.ScaleDown = r.Tolerance.AsApproximateFloat64()
	}
	if r := spec.Behavior.ScaleUp; r != nil && r.Tolerance != nil {
		t.ScaleUp = r.Tolerance.AsApproximateFloat64()
	}
	return t
}

func metricName(m autoscalingv2.MetricSpec) string {
	switch {
	case m.Resource != nil:
		return fmt.Sprintf("%s resource", m.Resource.Name)
	case m.ContainerResource != nil:
		return fmt.Sprintf("%s resource of container %s", m.ContainerResource.Name, m.ContainerResource.Container)
	case m.Pods != nil:
		return fmt.Sprintf("pods metric %s", m.Pods.Metric.Name)
	case m.Object != nil:
		return fmt.Sprintf("object metric %s", m.Object.Metric.Name)
	case m.External != nil:
		return fmt.Sprintf("external metric %s", m.External.Metric.Name)
	}
	return string(m.Type)
}
