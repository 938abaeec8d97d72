// Package scenario is the scenario schema (mcpsim.dev/v1alpha1, kind
// Scenario): types, strict decoding with file:line:column errors, defaults
// and validation. Workload and fault content are real Kubernetes and Chaos
// Mesh API types so that a scenario reads like the manifests it stands for.
package scenario

import (
	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and Kind identify a scenario document.
const (
	APIVersion = "mcpsim.dev/v1alpha1"
	Kind       = "Scenario"
)

// Scenario is one scenario file.
type Scenario struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata names and describes a scenario.
type Metadata struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Spec is what a scenario runs.
type Spec struct {
	// Duration is the total run time (virtual time on the sim backend).
	Duration   metav1.Duration `json:"duration"`
	Cluster    Cluster         `json:"cluster"`
	Workload   Workload        `json:"workload"`
	Load       Load            `json:"load"`
	Faults     []Fault         `json:"faults,omitempty"`
	Assertions []Assertion     `json:"assertions"`
}

// Cluster describes the nodes.
type Cluster struct {
	NodePools []NodePool `json:"nodePools"`
}

// NodePool is a group of identical nodes. Zones are given with the label
// topology.kubernetes.io/zone.
type NodePool struct {
	Name   string            `json:"name"`
	Count  int32             `json:"count"`
	CPU    resource.Quantity `json:"cpu"`
	Memory resource.Quantity `json:"memory"`
	Labels map[string]string `json:"labels,omitempty"`
	Taints []corev1.Taint    `json:"taints,omitempty"`
}

// Reference service roles (pkg/reference).
const (
	RoleGateway = "gateway"
	RoleUser    = "user"
	RoleOrder   = "order"
	RolePayment = "payment"
)

// Workload is one reference service deployed as a Deployment, optionally
// with an HPA.
type Workload struct {
	// Name of the Deployment; defaults to the service role.
	Name string `json:"name,omitempty"`
	// Service is the reference role: gateway, user, order or payment.
	Service   string                      `json:"service"`
	Replicas  *int32                      `json:"replicas,omitempty"`
	Resources corev1.ResourceRequirements `json:"resources"`
	// Affinity is the pod's affinity; the sim honours required node
	// affinity.
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// ReadinessProbe is the container's readiness probe (periodSeconds,
	// initialDelaySeconds, successThreshold are modelled).
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`
	// StartupLatency is the time from scheduling to the container running,
	// drawn uniformly from [min, max] (image present, sandbox creation).
	StartupLatency *LatencyRange `json:"startupLatency,omitempty"`
	// EndpointsDelay is how long endpoint changes take to reach the load
	// balancer (endpoints controller + kube-proxy).
	EndpointsDelay *metav1.Duration                           `json:"endpointsDelay,omitempty"`
	HPA            *autoscalingv2.HorizontalPodAutoscalerSpec `json:"hpa,omitempty"`
	// HPAController overrides kube-controller-manager's HPA settings.
	HPAController *HPAController `json:"hpaController,omitempty"`
}

// LatencyRange is a uniform distribution of durations.
type LatencyRange struct {
	Min metav1.Duration `json:"min"`
	Max metav1.Duration `json:"max"`
}

// HPAController holds the kube-controller-manager flags of the HPA
// controller; unset fields take Kubernetes' defaults.
type HPAController struct {
	SyncPeriod              *metav1.Duration `json:"syncPeriod,omitempty"`
	Tolerance               *float64         `json:"tolerance,omitempty"`
	DownscaleStabilization  *metav1.Duration `json:"downscaleStabilization,omitempty"`
	CPUInitializationPeriod *metav1.Duration `json:"cpuInitializationPeriod,omitempty"`
	InitialReadinessDelay   *metav1.Duration `json:"initialReadinessDelay,omitempty"`
	// MetricResolution is metrics-server's scrape interval.
	MetricResolution *metav1.Duration `json:"metricResolution,omitempty"`
}

// Load profiles.
const (
	ProfileConstant = "constant"
	ProfileRamp     = "ramp"
	ProfileSteps    = "steps"
	ProfileSine     = "sine"
)

// Load is the traffic sent to the workload, mapped onto Vegeta pacers.
type Load struct {
	Profile string `json:"profile"`
	// Rate is requests per second for the constant profile.
	Rate int `json:"rate,omitempty"`
	// From and To are the start and end rates of the ramp profile.
	From int `json:"from,omitempty"`
	To   int `json:"to,omitempty"`
	// Steps are consecutive constant-rate segments.
	Steps []Step `json:"steps,omitempty"`
	// Mean, Amplitude and Period shape the sine profile.
	Mean      int              `json:"mean,omitempty"`
	Amplitude int              `json:"amplitude,omitempty"`
	Period    *metav1.Duration `json:"period,omitempty"`
	// Start delays the load; Duration defaults to the rest of the run.
	Start    metav1.Duration  `json:"start,omitempty"`
	Duration *metav1.Duration `json:"duration,omitempty"`
	// CPUPerRequest is the CPU time one request costs the service.
	CPUPerRequest metav1.Duration `json:"cpuPerRequest"`
	// Timeout is the client's timeout; slower requests become errors.
	Timeout metav1.Duration `json:"timeout"`
}

// Step is one constant-rate segment of a steps profile.
type Step struct {
	Rate     int             `json:"rate"`
	Duration metav1.Duration `json:"duration"`
}

// Fault is a Chaos Mesh object applied at an offset from the start. In the
// file it is the Chaos Mesh manifest itself with an added `at` field.
type Fault struct {
	At metav1.Duration
	// PodChaos is set when kind is PodChaos.
	PodChaos *chaosv1alpha1.PodChaos
}

// Assertion kinds.
const (
	AssertReplicasReach = "replicasReach"
	AssertReadyRecovers = "readyRecovers"
	AssertLatency       = "latency"
	AssertErrorRate     = "errorRate"
)

// Assertion is one pass/fail check over the run's timeline.
type Assertion struct {
	Name string `json:"name"`
	Type string `json:"type"`

	// replicasReach, readyRecovers: at least AtLeast replicas within Within
	// of After. Of says which count: ready (default) or desired.
	AtLeast *int32           `json:"atLeast,omitempty"`
	Of      string           `json:"of,omitempty"`
	Within  *metav1.Duration `json:"within,omitempty"`
	After   *Anchor          `json:"after,omitempty"`

	// latency: the Quantile of request latency over Window is at most Max.
	Quantile *float64         `json:"quantile,omitempty"`
	Max      *metav1.Duration `json:"max,omitempty"`

	// errorRate: the share of failed requests over Window is at most MaxRatio.
	MaxRatio *float64 `json:"maxRatio,omitempty"`

	// Window limits latency and errorRate to requests sent in [from, to).
	Window *Window `json:"window,omitempty"`
}

// Anchor is a moment of the run: a time offset or the injection of a fault.
type Anchor struct {
	Time  *metav1.Duration `json:"time,omitempty"`
	Fault string           `json:"fault,omitempty"`
}

// Window is a span of the run; To defaults to the end.
type Window struct {
	From metav1.Duration  `json:"from"`
	To   *metav1.Duration `json:"to,omitempty"`
}
