package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// The defaults, as the CRD's schema declares them (+kubebuilder:default)
// and as a scenario's spec.selfHeal has them: the seed's example
// (InstanceDown → restart, 5s, 3 retries) and a check like a kubelet's
// probe. Go code that builds a policy without the API server (the fake
// client, the backend converting a scenario) applies them with Default;
// a test checks they agree with the generated schema.
const (
	DefaultPath             = "/healthz"
	DefaultInterval         = 5 * time.Second
	DefaultCheckTimeout     = time.Second
	DefaultFailureThreshold = 3
	DefaultActionTimeout    = 5 * time.Second
	DefaultRetries          = 3
	DefaultMaxConcurrent    = 1
	DefaultMinAvailable     = 1
)

// Default fills in what the API server's defaulting would.
func (s *SelfHealPolicySpec) Default() {
	if s.HealthCheck == nil {
		s.HealthCheck = &HealthCheck{}
	}
	h := s.HealthCheck
	if h.Path == "" {
		h.Path = DefaultPath
	}
	if h.Interval == nil {
		h.Interval = &metav1.Duration{Duration: DefaultInterval}
	}
	if h.Timeout == nil {
		h.Timeout = &metav1.Duration{Duration: DefaultCheckTimeout}
	}
	if h.FailureThreshold == nil {
		h.FailureThreshold = ptr.To[int32](DefaultFailureThreshold)
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		if sub.Timeout == nil {
			sub.Timeout = &metav1.Duration{Duration: DefaultActionTimeout}
		}
		if sub.Retries == nil {
			sub.Retries = ptr.To[int32](DefaultRetries)
		}
	}
	if s.RateLimit == nil {
		s.RateLimit = &RateLimit{}
	}
	if s.RateLimit.MaxConcurrent == nil {
		s.RateLimit.MaxConcurrent = ptr.To[int32](DefaultMaxConcurrent)
	}
	if s.RateLimit.MinAvailable == nil {
		s.RateLimit.MinAvailable = ptr.To[int32](DefaultMinAvailable)
	}
}

// EnginePolicy is the spec as package selfheal takes it, defaulted (the
// receiver is not changed). Name names the policy in events; target is
// what the engine calls the target in its records.
func (s *SelfHealPolicySpec) EnginePolicy(name, target string) selfheal.Policy {
	d := s.DeepCopy()
	d.Default()
	out := selfheal.Policy{Name: name, Target: target,
		HealthCheck: selfheal.HealthCheck{Path: d.HealthCheck.Path, Interval: d.HealthCheck.Interval.Duration,
			Timeout: d.HealthCheck.Timeout.Duration, FailureThreshold: int(*d.HealthCheck.FailureThreshold)},
		RateLimit: selfheal.RateLimit{MaxConcurrent: int(*d.RateLimit.MaxConcurrent), MinAvailable: int(*d.RateLimit.MinAvailable)}}
	for _, sub := range d.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, selfheal.Subscription{Event: sub.Event, Action: sub.Action,
			Timeout: sub.Timeout.Duration, Retries: int(*sub.Retries)})
	}
	return out
}
