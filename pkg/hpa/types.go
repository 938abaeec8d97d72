package hpa

import (
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// Pod is what the HPA reads of a pod selected by the scale target.
type Pod struct {
	Name     string
	Phase    corev1.PodPhase
	Deleting bool // deletionTimestamp is set
	// StartTime is nil while the kubelet has not started the pod.
	StartTime *time.Time
	// Ready is the pod's Ready condition, nil if the pod has none.
	Ready *ReadyCondition
	// Containers lists regular containers and restartable (sidecar) init
	// containers with their requests in milli-units.
	Containers []Container
	// PodRequests are pod-level requests (spec.resources.requests), used
	// for Resource metrics when the PodLevelResources gate is on.
	PodRequests map[corev1.ResourceName]int64
}

// ReadyCondition is a pod's Ready condition.
type ReadyCondition struct {
	Status             corev1.ConditionStatus
	LastTransitionTime time.Time
}

// Container is a container's name and requests (milli-units).
type Container struct {
	Name     string
	Requests map[corev1.ResourceName]int64
}

// ResourceSample is one pod's entry of the resource metrics API
// (metrics.k8s.io PodMetrics): per-container usage in milli-units.
type ResourceSample struct {
	Pod        string
	Timestamp  time.Time
	Window     time.Duration
	Containers []ContainerUsage
}

// ContainerUsage is one container entry of a ResourceSample.
type ContainerUsage struct {
	Name  string
	Usage map[corev1.ResourceName]int64
}

// PodSample is one pod's value of a metric, with the time and window it
// covers (the HPA's PodMetric).
type PodSample struct {
	Pod       string
	Value     int64 // milli-units
	Timestamp time.Time
	Window    time.Duration
}

// MetricsSource answers the HPA's metric queries: the resource metrics API,
// the custom metrics API and the external metrics API. An error means the
// fetch failed; the metric then counts as invalid for this cycle (§5).
type MetricsSource interface {
	ResourceMetrics(resource corev1.ResourceName) ([]ResourceSample, error)
	PodsMetric(name string) ([]PodSample, error)
	ObjectMetric(name string, object autoscalingv2.CrossVersionObjectReference) (int64, error)
	ExternalMetric(name string) ([]int64, error)
}

// Config holds the kube-controller-manager settings of the HPA controller.
type Config struct {
	SyncPeriod              time.Duration
	Tolerance               float64
	DownscaleStabilization  time.Duration
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
	// ScaleUpLimitFactor and ScaleUpLimitMinimum give the legacy scale-up
	// cap max(factor×current, minimum) (§6.2). They are constants in
	// Kubernetes (2 and 4); the upstream tests use a factor of 8.
	ScaleUpLimitFactor  float64
	ScaleUpLimitMinimum float64
	// Feature gates (§1.4).
	ConfigurableTolerance bool // HPAConfigurableTolerance, alpha, off by default
	PodLevelResources     bool // PodLevelResources, beta, on by default
}

// DefaultConfig returns Kubernetes' defaults (§1.1, §1.2, §1.4).
func DefaultConfig() Config {
	return Config{
		SyncPeriod:              15 * time.Second,
		Tolerance:               0.1,
		DownscaleStabilization:  5 * time.Minute,
		CPUInitializationPeriod: 5 * time.Minute,
		InitialReadinessDelay:   30 * time.Second,
		ScaleUpLimitFactor:      2,
		ScaleUpLimitMinimum:     4,
		PodLevelResources:       true,
	}
}

// Tolerances is the tolerance band per direction (§2).
type Tolerances struct {
	ScaleDown, ScaleUp float64
}

func (t Tolerances) within(ratio float64) bool {
	return (1.0-t.ScaleDown) <= ratio && ratio <= (1.0+t.ScaleUp)
}

// Recommendation is one entry of the recommendation history (§6.1, §7.1).
type Recommendation struct {
	Replicas int32
	Time     time.Time
}

// ScaleEvent is one recorded rescale (§8).
type ScaleEvent struct {
	ReplicaChange int32
	Time          time.Time
	Outdated      bool
}

// State is what the controller keeps in memory for one HPA between syncs.
// The zero value is a freshly started controller: Recommendations == nil
// means "not seeded yet" (§3, quirk Q13).
type State struct {
	Recommendations []Recommendation
	ScaleUpEvents   []ScaleEvent
	ScaleDownEvents []ScaleEvent
}

// Scale is the scale subresource of the target.
type Scale struct {
	SpecReplicas   int32
	StatusReplicas int32
}

// Condition is one HPA status condition set during a reconcile.
type Condition struct {
	Type    autoscalingv2.HorizontalPodAutoscalerConditionType
	Status  corev1.ConditionStatus
	Reason  string
	Message string
}

// MetricResult is what one metric proposed during a reconcile.
type MetricResult struct {
	Spec     autoscalingv2.MetricSpec
	Replicas int32
	// Utilization is the average utilization percent (Utilization targets).
	Utilization *int32
	// Value is the current average or total value in milli-units.
	Value int64
	Err   error
}
