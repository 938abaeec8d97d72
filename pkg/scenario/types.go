// Package scenario is the scenario schema (mcpsim.dev/v1alpha2, kind
// Scenario; v1alpha1 files are converted): types, strict decoding with
// file:line:column errors, defaults and validation. Service and fault
// content are real Kubernetes and Chaos Mesh API types so that a scenario
// reads like the manifests it stands for.
package scenario

import (
	"fmt"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	selfhealv1alpha1 "github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
)

// APIVersion and Kind identify a scenario document. APIVersionV1alpha1
// files (one `workload`, `load.cpuPerRequest`) are converted on parsing.
const (
	APIVersion         = "mcpsim.dev/v1alpha2"
	APIVersionV1alpha1 = "mcpsim.dev/v1alpha1"
	Kind               = "Scenario"
)

// Scenario is one scenario file.
type Scenario struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// where the fields stand in the file (Parse): field path -> position
	positions map[string]position
	file      string
	remap     func(string) string
}

type position struct{ line, column int }

// Locate positions a message about the field at path (as validation
// names it, e.g. spec.faults[0].spec.action) in the scenario's file: at
// the field, or at its nearest ancestor written in the file. Scenarios
// not from Parse give the path alone.
func (sc *Scenario) Locate(path, msg string) *FieldError {
	e := &FieldError{File: sc.file, Path: path, Message: msg}
	from := path
	if sc.remap != nil {
		from = sc.remap(path)
	}
	for p := from; ; p = parentPath(p) {
		if pos, ok := sc.positions[p]; ok {
			e.Line, e.Column = pos.line, pos.column
			return e
		}
		if p == "" {
			return e
		}
	}
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
	Duration metav1.Duration `json:"duration"`
	Cluster  Cluster         `json:"cluster"`
	// Services are the reference services deployed, each a Deployment, a
	// Service and optionally an HPA; requests enter at Load.Target and
	// travel along the services' calls.
	Services []Service `json:"services,omitempty"`
	// Workload is the v1alpha1 form (one service); parsing converts it
	// into Services and clears it.
	Workload *Workload `json:"workload,omitempty"`
	Load     Load      `json:"load"`
	Faults   []Fault   `json:"faults,omitempty"`
	// SelfHeal are the self-heal controller's policies (the spec of a
	// SelfHealPolicy, mcpsim.dev/v1alpha1).
	SelfHeal   []SelfHealPolicy `json:"selfHeal,omitempty"`
	Assertions []Assertion      `json:"assertions"`
}

// Cluster describes the nodes.
type Cluster struct {
	NodePools []NodePool `json:"nodePools"`
	// CPUQuota is how the sim enforces a pod's CPU limit (real clusters
	// enforce it as the kernel does, which is Periodic with a 100ms
	// period unless the kubelet is configured otherwise).
	CPUQuota *CPUQuota `json:"cpuQuota,omitempty"`
}

// CPUQuota models the enforcement of CPU limits.
type CPUQuota struct {
	// Model is Fluid (the default) or Periodic.
	//
	// Fluid: a pod never runs faster than its limit, at any instant
	// (processor sharing at the limit's rate). Its averages are those of
	// the kernel's quota, and queueing theory's M/M/1-PS results hold
	// for it exactly.
	//
	// Periodic: the kernel's CFS bandwidth control as the kubelet sets it
	// up (cpu.max = limit × period per period): a pod runs as fast as its
	// runnable tasks and its node allow until it has used limit × period
	// of CPU in the current period, then nothing runs in it until the
	// period ends. A lone request on a pod limited to 500m finishes 5ms of
	// work in 5ms (not 10ms), and a busy pod is throttled for the rest of
	// each period.
	Model string `json:"model,omitempty"`
	// Period is the CFS period (the kubelet's cpuCFSQuotaPeriod, 100ms by
	// default), Periodic only.
	Period *metav1.Duration `json:"period,omitempty"`
}

// CPU quota models (CPUQuota.Model).
const (
	CPUQuotaFluid    = "Fluid"
	CPUQuotaPeriodic = "Periodic"
	// DefaultCFSPeriod is the kubelet's default cpuCFSQuotaPeriod.
	DefaultCFSPeriod = 100 * time.Millisecond
)

// CFSPeriod is the period of the Periodic model, or 0 for Fluid.
func (c *Cluster) CFSPeriod() time.Duration {
	if c.CPUQuota == nil || c.CPUQuota.Model != CPUQuotaPeriodic {
		return 0
	}
	if c.CPUQuota.Period == nil {
		return DefaultCFSPeriod
	}
	return c.CPUQuota.Period.Duration
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

// Labels every backend puts on the nodes of a pool, so that one selector
// means the same nodes on the sim and on a real cluster (where nodes have
// other names: kind's are mcpsim-worker, mcpsim-worker2, ...).
const (
	// PoolLabel names the node's pool.
	PoolLabel = "mcpsim.dev/pool"
	// NodeLabel names the node as the sim does: <pool>-<index>, e.g.
	// zone-a-0. Select one node portably with
	// nodeSelectors: {mcpsim.dev/node: zone-a-0}.
	NodeLabel = "mcpsim.dev/node"
)

// NodeName is the sim's name of the pool's i-th node (from 0).
func (np *NodePool) NodeName(i int32) string { return fmt.Sprintf("%s-%d", np.Name, i) }

// NodeLabels are the labels of the pool's i-th node: the pool's own
// labels, PoolLabel and NodeLabel (which the pool's labels cannot
// override).
func (np *NodePool) NodeLabels(i int32) map[string]string {
	labels := make(map[string]string, len(np.Labels)+2)
	for k, v := range np.Labels {
		labels[k] = v
	}
	labels[PoolLabel] = np.Name
	labels[NodeLabel] = np.NodeName(i)
	return labels
}

// Reference service roles (pkg/reference).
const (
	RoleGateway = "gateway"
	RoleUser    = "user"
	RoleOrder   = "order"
	RolePayment = "payment"
)

// Workload is the v1alpha1 form of one service (spec.workload).
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
	// StartupLatency is the time from scheduling to the application
	// listening, drawn uniformly from [min, max]: the kubelet's part (image
	// present, sandbox, container: scenario.DefaultStartupMin at most),
	// after which the container runs and is probed, then the
	// application's.
	StartupLatency *LatencyRange `json:"startupLatency,omitempty"`
	// EndpointsDelay is how long endpoint changes take to reach the load
	// balancer (endpoints controller + kube-proxy).
	EndpointsDelay *metav1.Duration                           `json:"endpointsDelay,omitempty"`
	HPA            *autoscalingv2.HorizontalPodAutoscalerSpec `json:"hpa,omitempty"`
	// HPAController overrides kube-controller-manager's HPA settings.
	HPAController *HPAController `json:"hpaController,omitempty"`
}

// Service is one reference service: a Deployment (with its pods' spec), a
// Service of the same name, an optional HPA, the CPU a request costs it and
// the downstream calls it makes.
type Service struct {
	// Name of the Deployment and Service; pods are labelled app: <name>.
	Name string `json:"name"`
	// Role is the reference role: gateway, user, order or payment.
	Role      string                      `json:"role"`
	Replicas  *int32                      `json:"replicas,omitempty"`
	Resources corev1.ResourceRequirements `json:"resources"`
	// Affinity is the pod's affinity: node affinity and pod (anti-)
	// affinity, required and preferred, as kube-scheduler's default
	// profile applies them.
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// NodeSelector, Tolerations and TopologySpreadConstraints are the pod
	// spec's fields of those names.
	NodeSelector              map[string]string                 `json:"nodeSelector,omitempty"`
	Tolerations               []corev1.Toleration               `json:"tolerations,omitempty"`
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
	// ReadinessProbe is the container's readiness probe (GET /readyz
	// unless a handler is given); every field is modelled.
	ReadinessProbe *corev1.Probe `json:"readinessProbe,omitempty"`
	// LivenessProbe, if set, restarts the container when it fails (GET
	// /healthz unless a handler is given).
	LivenessProbe *corev1.Probe `json:"livenessProbe,omitempty"`
	// StartupLatency is the time from scheduling to the application
	// listening, drawn uniformly from [min, max]: the kubelet's part (image
	// present, sandbox, container: scenario.DefaultStartupMin at most),
	// after which the container runs and is probed, then the
	// application's.
	StartupLatency *LatencyRange `json:"startupLatency,omitempty"`
	// EndpointsDelay is how long endpoint changes take to reach the load
	// balancers (endpoints controller + kube-proxy).
	EndpointsDelay *metav1.Duration                           `json:"endpointsDelay,omitempty"`
	HPA            *autoscalingv2.HorizontalPodAutoscalerSpec `json:"hpa,omitempty"`
	// HPAController overrides kube-controller-manager's HPA settings.
	HPAController *HPAController `json:"hpaController,omitempty"`
	// Work is the CPU one request costs this service, before its calls.
	Work Work `json:"work"`
	// Calls are the downstream calls a request makes after its own work,
	// all at once (fanOut: parallel, the default) or one after another
	// (sequential).
	Calls  []Call `json:"calls,omitempty"`
	FanOut string `json:"fanOut,omitempty"`
}

// Work distributions.
const (
	DistributionExponential = "exponential"
	DistributionConstant    = "constant"
)

// Fan-out modes.
const (
	FanOutParallel   = "parallel"
	FanOutSequential = "sequential"
)

// Work is the CPU time one request costs a service: exponentially
// distributed with mean CPU (the default), or exactly CPU.
type Work struct {
	CPU          metav1.Duration `json:"cpu"`
	Distribution string          `json:"distribution,omitempty"`
}

// Fallbacks of a failed call.
const (
	// FallbackNone fails the caller's request when the call fails.
	FallbackNone = "none"
	// FallbackStatic answers the call from a static default: the caller's
	// request succeeds, degraded.
	FallbackStatic = "static"
)

// Call is one downstream call: through the caller pod's circuit breaker,
// with a timeout per attempt and retries.
type Call struct {
	Service string `json:"service"`
	// Timeout bounds each attempt (default 2s).
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Retries are extra attempts after a failed one (default 0).
	Retries        int32           `json:"retries,omitempty"`
	CircuitBreaker *CircuitBreaker `json:"circuitBreaker,omitempty"`
	// Fallback is what a failed call becomes: static (default: the request
	// is answered, degraded) or none (the request fails).
	Fallback string `json:"fallback,omitempty"`
}

// CircuitBreaker is a call's breaker policy with sony/gobreaker's meaning;
// unset fields take the seed policy: open when consecutive failures exceed
// 5, stay open 10s, then let one request through half-open.
type CircuitBreaker struct {
	ConsecutiveFailures *int32           `json:"consecutiveFailures,omitempty"`
	OpenFor             *metav1.Duration `json:"openFor,omitempty"`
	HalfOpenRequests    *int32           `json:"halfOpenRequests,omitempty"`
	// Disabled sends every attempt, whatever the failures.
	Disabled bool `json:"disabled,omitempty"`
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
	// ProfilePoisson is a constant rate with exponential gaps between
	// requests (open-loop Poisson arrivals).
	ProfilePoisson = "poisson"
)

// Arrival processes.
const (
	ArrivalsUniform = "uniform"
	ArrivalsPoisson = "poisson"
)

// Load is the traffic sent to the entry service, mapped onto Vegeta
// pacers.
type Load struct {
	// Target is the entry service (default: the first service).
	Target  string `json:"target,omitempty"`
	Profile string `json:"profile"`
	// Arrivals is uniform (evenly spaced, Vegeta's pacers; the default) or
	// poisson (the profile's rate as a non-homogeneous Poisson process).
	// The poisson profile implies poisson arrivals.
	Arrivals string `json:"arrivals,omitempty"`
	// Rate is requests per second for the constant and poisson profiles.
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
	// CPUPerRequest is the v1alpha1 form of the service's work.cpu.
	CPUPerRequest *metav1.Duration `json:"cpuPerRequest,omitempty"`
	// Timeout is the client's timeout; slower requests become errors.
	Timeout metav1.Duration `json:"timeout"`
	// KeepAlive: the client keeps its connections to the entry service
	// open and reuses them (Vegeta's keep-alive, Go's most recently used
	// idle connection first). kube-proxy balances connections, not
	// requests, so each request goes to the pod of its connection, which
	// stays until it fails (a timeout, a reset, the pod's process gone).
	// false (the default): a new connection, so a new pod at random, for
	// every request.
	KeepAlive bool `json:"keepAlive,omitempty"`
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
	// NodeOutage is set when kind is NodeOutage.
	NodeOutage *NodeOutage
	// PodHang is set when kind is PodHang.
	PodHang *PodHang
	// NetworkChaos and StressChaos are set for those kinds.
	NetworkChaos *chaosv1alpha1.NetworkChaos
	StressChaos  *chaosv1alpha1.StressChaos
}

// Assertion kinds.
const (
	AssertReplicasReach = "replicasReach"
	AssertReadyRecovers = "readyRecovers"
	AssertLatency       = "latency"
	AssertErrorRate     = "errorRate"
	AssertDegradedRate  = "degradedRate"
	AssertAvailability  = "availability"
	AssertBreakerOpens  = "breakerOpens"
	AssertBreakerCloses = "breakerCloses"
	// AssertPlacement: the service's pods keep MaxSkew across the domains
	// of TopologyKey, at most MaxPerNode on a node, and only in Domains,
	// at every moment from After (default: time 0).
	AssertPlacement = "placement"
	// AssertRescheduledWithin: every pod of the service deleted by a
	// fault (killed, or evicted from a lost node) after After has a
	// replacement Ready within Within of its deletion.
	AssertRescheduledWithin = "rescheduledWithin"
	// AssertReadinessFlaps: the service's pods turned from Ready to not
	// Ready (while not being deleted) at least AtLeast or at most AtMost
	// times in Window: flapping under overload, or its absence.
	AssertReadinessFlaps = "readinessFlaps"
	// AssertSelfHealWithin: every pod of the service that a fault left
	// alive but broken (the fault After names, or every PodHang and
	// pod-failure) is repaired by a self-heal policy within Within of the
	// injection.
	AssertSelfHealWithin = "selfHealWithin"
	// AssertNoCollateral: while self-heal has a pod of the service out,
	// at least AtLeast pods serve (the rate limit held).
	AssertNoCollateral = "noCollateral"
)

// Assertion is one pass/fail check over the run's timeline.
type Assertion struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Service is the service judged (default: the load target). For the
	// breaker kinds it is the caller, whose pods hold the breakers.
	Service string `json:"service,omitempty"`
	// Downstream narrows the breaker kinds to the breakers of calls to
	// this service (default: any of the caller's calls).
	Downstream string `json:"downstream,omitempty"`

	// replicasReach, readyRecovers: at least AtLeast (replicasReach: or at
	// most AtMost) replicas within Within of After. Of says which count:
	// ready (default) or desired.
	AtLeast *int32 `json:"atLeast,omitempty"`
	AtMost  *int32 `json:"atMost,omitempty"`
	Of      string `json:"of,omitempty"`
	// breakerOpens: a breaker opens within Within of After.
	// breakerCloses: every breaker that opened after After is closed
	// again within Within of its downstream's recovery (the first moment
	// after the breaker opened that the downstream has a ready endpoint).
	Within *metav1.Duration `json:"within,omitempty"`
	After  *Anchor          `json:"after,omitempty"`

	// latency: the Quantile of request latency over Window is at most Max.
	Quantile *float64         `json:"quantile,omitempty"`
	Max      *metav1.Duration `json:"max,omitempty"`

	// errorRate, degradedRate: the share of failed (degraded) requests
	// over Window is at most MaxRatio.
	MaxRatio *float64 `json:"maxRatio,omitempty"`
	// availability: the share of answered requests (ok or degraded) over
	// Window is at least MinRatio.
	MinRatio *float64 `json:"minRatio,omitempty"`

	// Window limits the request kinds to requests sent in [from, to).
	Window *Window `json:"window,omitempty"`

	// placement: TopologyKey (default topology.kubernetes.io/zone) names
	// the domains; MaxSkew bounds the difference between the most and the
	// fewest pods in a domain of a Ready node; MaxPerNode bounds the pods
	// on one node; Domains are the values of TopologyKey allowed.
	TopologyKey string   `json:"topologyKey,omitempty"`
	MaxSkew     *int32   `json:"maxSkew,omitempty"`
	MaxPerNode  *int32   `json:"maxPerNode,omitempty"`
	Domains     []string `json:"domains,omitempty"`
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

// SelfHealPolicy is a self-heal policy: health checks of a service's
// instances, and the repairs events call for (package selfheal decides).
// It is the SelfHealPolicy CRD's spec (mcpsim.dev/v1alpha1), with the
// service to check and repair named (Target) where the CRD selects pods
// by label: the same health check (an HTTP GET of Path, default /healthz,
// every Interval, 5s; a 200 within Timeout, 1s, is healthy;
// FailureThreshold, 3, failures in a row make an InstanceDown event), the
// same subscriptions (an event, InstanceDown or CircuitBreakerTripped, to
// an action, restart, isolate or scale, with a timeout, 5s, and retries,
// 3, per attempt) and the same rate limit (MaxConcurrent, 1, repairs at
// once; never fewer than MinAvailable, 1, instances serving after a
// restart or isolation).
type SelfHealPolicy struct {
	Name string `json:"name"`
	// Target is the service whose instances are checked and repaired.
	Target        string                          `json:"target"`
	HealthCheck   *selfhealv1alpha1.HealthCheck   `json:"healthCheck,omitempty"`
	Subscriptions []selfhealv1alpha1.Subscription `json:"subscriptions"`
	RateLimit     *selfhealv1alpha1.RateLimit     `json:"rateLimit,omitempty"`
}
