package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SelfHealPolicy tells the self-heal operator which pods to health-check
// and what to do when they fail: the repair an event calls for, with a
// timeout and retries, under a rate limit.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=shp,categories=mcpsim
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].status`
// +kubebuilder:printcolumn:name="Pods",type=integer,JSONPath=`.status.pods`
// +kubebuilder:printcolumn:name="Detections",type=integer,JSONPath=`.status.detections`
// +kubebuilder:printcolumn:name="Repairs",type=integer,JSONPath=`.status.repairs`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SelfHealPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SelfHealPolicySpec   `json:"spec"`
	Status SelfHealPolicyStatus `json:"status,omitempty"`
}

// SelfHealPolicyList is a list of SelfHealPolicy.
//
// +kubebuilder:object:root=true
type SelfHealPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SelfHealPolicy `json:"items"`
}

// SelfHealPolicySpec is a scenario's spec.selfHeal entry, with the pods
// chosen by a label selector (in the policy's namespace) instead of by
// service name.
type SelfHealPolicySpec struct {
	// Selector chooses the pods to check and repair, e.g.
	// matchLabels: {app: payment}. It must select something: an empty
	// selector would match every pod of the namespace.
	// +required
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="must select something: give matchLabels or matchExpressions"
	Selector metav1.LabelSelector `json:"selector"`

	// HealthCheck is how an instance is judged healthy.
	// +kubebuilder:default={}
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// Subscriptions map events to repairs.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Subscriptions []Subscription `json:"subscriptions"`

	// RateLimit bounds the repairs, so a fault storm cannot take every
	// instance down at once.
	// +kubebuilder:default={}
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
}

// HealthCheck is an HTTP GET of Path on each pod (its IP and the
// container port named "http", else its first container port) every
// Interval; a 200 within Timeout is healthy; FailureThreshold failures in
// a row make an InstanceDown event.
type HealthCheck struct {
	// Path is the URL path checked.
	// +kubebuilder:default="/healthz"
	// +kubebuilder:validation:Pattern=`^/`
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Path string `json:"path,omitempty"`

	// Interval between two checks of an instance (at least 1s, at most 24h).
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="must be between 1s and 24h"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// Timeout of one check (greater than zero, at most 24h).
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('24h')",message="must be greater than zero and at most 24h"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// FailureThreshold is the number of failed checks in a row that make
	// an instance down.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	FailureThreshold *int32 `json:"failureThreshold,omitempty"`
}

// Subscription maps an event to a repair. An attempt that does not
// complete within Timeout, or fails, is retried up to Retries times.
type Subscription struct {
	// Event: InstanceDown (health checks failed) or CircuitBreakerTripped
	// (a caller's breaker opened toward the target).
	// +kubebuilder:validation:Enum=InstanceDown;CircuitBreakerTripped
	// +required
	Event string `json:"event"`

	// Action: restart deletes the pod (its ReplicaSet replaces it);
	// isolate takes it out of its Services' endpoints by removing the
	// labels their selectors require, until its health check passes;
	// scale adds a replica to its Deployment.
	// +kubebuilder:validation:Enum=restart;isolate;scale
	// +required
	Action string `json:"action"`

	// Timeout of one attempt (greater than zero, at most 24h).
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('24h')",message="must be greater than zero and at most 24h"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Retries after a failed or timed-out first attempt.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +optional
	Retries *int32 `json:"retries,omitempty"`
}

// RateLimit: never more than MaxConcurrent repairs at once; never a
// restart or isolation that leaves fewer than MinAvailable pods serving.
type RateLimit struct {
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	MaxConcurrent *int32 `json:"maxConcurrent,omitempty"`

	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinAvailable *int32 `json:"minAvailable,omitempty"`
}

// Condition types.
const (
	// ConditionReady: the policy is valid and its pods are being checked.
	ConditionReady = "Ready"
	// ConditionDegraded: some selected pod is down (failed its threshold
	// and not healthy since), or the last repair gave up.
	ConditionDegraded = "Degraded"
)

// SelfHealPolicyStatus is what the operator observed and did.
type SelfHealPolicyStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Pods is how many pods the selector chose at the last check;
	// Healthy how many of them passed it.
	// +optional
	Pods int32 `json:"pods"`
	// +optional
	Healthy int32 `json:"healthy"`

	// Detections counts InstanceDown events (and breaker trips).
	// +optional
	Detections int64 `json:"detections"`
	// Repairs counts repairs that succeeded.
	// +optional
	Repairs int64 `json:"repairs"`
	// FailedRepairs counts repairs given up after their retries.
	// +optional
	FailedRepairs int64 `json:"failedRepairs"`
	// SkippedRepairs counts repairs the rate limit refused.
	// +optional
	SkippedRepairs int64 `json:"skippedRepairs"`

	// LastCheckTime is when the pods were last checked.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`
}
