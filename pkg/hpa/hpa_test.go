package hpa

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

var now = time.Unix(1_000_000_000, 0)

func readyPods(n int, cpuRequest int64) []Pod {
	start := now.Add(-time.Hour)
	var pods []Pod
	for i := 0; i < n; i++ {
		pods = append(pods, Pod{Name: string(rune('a' + i)), Phase: corev1.PodRunning, StartTime: &start,
			Ready:      &ReadyCondition{Status: corev1.ConditionTrue, LastTransitionTime: start},
			Containers: []Container{{Name: "app", Requests: map[corev1.ResourceName]int64{corev1.ResourceCPU: cpuRequest}}}})
	}
	return pods
}

func samples(pods []Pod, usage int64) map[string]PodSample {
	out := map[string]PodSample{}
	for _, p := range pods {
		out[p.Name] = PodSample{Pod: p.Name, Value: usage, Timestamp: now, Window: time.Minute}
	}
	return out
}

// The tolerance band is inclusive at both ends (Q6) and utilization is
// truncated to a whole percent before the ratio (Q5): rules no upstream
// case pins.
func TestToleranceBoundsAndTruncation(t *testing.T) {
	cfg := DefaultConfig()
	pods := readyPods(4, 1000)
	calc := &ReplicaCalculator{Pods: pods, Config: cfg, Tolerances: Tolerances{ScaleDown: 0.1, ScaleUp: 0.1}, Now: now}
	for _, c := range []struct {
		usage int64
		want  int32
	}{
		{1100, 4}, // 110% of a 100% target: ratio 1.1, on the bound, no change
		{1109, 4}, // 110.9% truncates to 110%: still no change
		{1110, 5}, // 111%: ceil(1.11 × 4) = 5
		{900, 4},  // 90%: on the lower bound
		{899, 4},  // 89.9% truncates to 89%: ceil(0.89 × 4) = 4
		{500, 2},  // 50%: ceil(0.5 × 4) = 2
	} {
		got, util, _, err := calc.ResourceUtilizationReplicas(4, 100, corev1.ResourceCPU, "", samples(pods, c.usage))
		if err != nil || got != c.want {
			t.Errorf("usage %dm (util %d%%): %d replicas, %v; want %d", c.usage, util, got, err, c.want)
		}
	}
}

// An event exactly one period old no longer counts (Q18).
func TestEventAgeEqualToPeriodIsNotCounted(t *testing.T) {
	rules := &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 30}}}
	up := []ScaleEvent{{ReplicaChange: 1, Time: now.Add(-30 * time.Second)}}
	if got := ScaleUpLimit(3, up, nil, rules, now); got != 4 {
		t.Fatalf("limit %d, want 4: the 30s-old event is outside a 30s period", got)
	}
	up[0].Time = now.Add(-29 * time.Second)
	if got := ScaleUpLimit(3, up, nil, rules, now); got != 3 {
		t.Fatalf("limit %d, want 3: a 29s-old event counts", got)
	}
}

// Pod-level requests are the denominator of a Resource metric when the
// PodLevelResources gate is on, and ignored when it is off.
func TestPodLevelRequests(t *testing.T) {
	pods := readyPods(2, 100)
	for i := range pods {
		pods[i].PodRequests = map[corev1.ResourceName]int64{corev1.ResourceCPU: 1000}
	}
	cfg := DefaultConfig()
	calc := &ReplicaCalculator{Pods: pods, Config: cfg, Tolerances: Tolerances{0.1, 0.1}, Now: now}
	_, util, _, err := calc.ResourceUtilizationReplicas(2, 50, corev1.ResourceCPU, "", samples(pods, 500))
	if err != nil || util != 50 {
		t.Fatalf("gate on: utilization %d%% (%v), want 50%% of the 1000m pod-level request", util, err)
	}
	calc.Config.PodLevelResources = false
	_, util, _, err = calc.ResourceUtilizationReplicas(2, 50, corev1.ResourceCPU, "", samples(pods, 500))
	if err != nil || util != 500 {
		t.Fatalf("gate off: utilization %d%% (%v), want 500%% of the 100m container request", util, err)
	}
}

// SetDefaults fills a behavior field by field and leaves a nil one nil.
func TestSetDefaults(t *testing.T) {
	spec := &autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5}
	SetDefaults(spec)
	if *spec.MinReplicas != 1 || len(spec.Metrics) != 1 || *spec.Metrics[0].Resource.Target.AverageUtilization != 80 || spec.Behavior != nil {
		t.Fatalf("defaults: %+v", spec)
	}
	spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}
	SetDefaults(spec)
	b := spec.Behavior
	if *b.ScaleUp.StabilizationWindowSeconds != 0 || len(b.ScaleUp.Policies) != 2 || *b.ScaleDown.StabilizationWindowSeconds != 60 ||
		len(b.ScaleDown.Policies) != 1 || b.ScaleDown.Policies[0].Value != 100 || *b.ScaleDown.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
		t.Fatalf("behavior defaults: up %+v down %+v", b.ScaleUp, b.ScaleDown)
	}
	if errs := Validate(&autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](3), MaxReplicas: 2}, nil); len(errs) != 1 {
		t.Fatalf("max < min: %v", errs)
	}
}
