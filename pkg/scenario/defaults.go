package scenario

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/hpa"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// Defaults of the pod and call model (the sim backend's fidelity section
// of the README names where each comes from).
const (
	DefaultStartupMin     = 2 * time.Second // sandbox + container start with the image present
	DefaultStartupMax     = 5 * time.Second
	DefaultEndpointsDelay = time.Second // endpoints controller + kube-proxy sync
	DefaultCallTimeout    = 2 * time.Second
	// The seed circuit-breaker policy: gobreaker's default trip rule
	// (more than 5 consecutive failures), open 10s, one half-open trial.
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 10 * time.Second
	DefaultBreakerHalfOpen = 1
)

// SetDefaults fills unset fields. It does not touch what validation must
// judge (a missing required field stays missing).
func SetDefaults(sc *Scenario) {
	for i := range sc.Spec.Services {
		defaultService(&sc.Spec.Services[i])
	}
	l := &sc.Spec.Load
	if l.Target == "" && len(sc.Spec.Services) > 0 {
		l.Target = sc.Spec.Services[0].Name
	}
	if l.Arrivals == "" {
		l.Arrivals = ArrivalsUniform
		if l.Profile == ProfilePoisson {
			l.Arrivals = ArrivalsPoisson
		}
	}
	if l.Duration == nil && sc.Spec.Duration.Duration > l.Start.Duration {
		l.Duration = &metav1.Duration{Duration: sc.Spec.Duration.Duration - l.Start.Duration}
	}
	for i := range sc.Spec.Assertions {
		a := &sc.Spec.Assertions[i]
		if a.Type == AssertReplicasReach && a.Of == "" {
			a.Of = "ready"
		}
		if a.Type == AssertPlacement && a.TopologyKey == "" {
			a.TopologyKey = corev1.LabelTopologyZone
		}
		if a.Service == "" {
			a.Service = l.Target
		}
	}
	for i := range sc.Spec.SelfHeal {
		defaultSelfHeal(&sc.Spec.SelfHeal[i])
	}
	for i := range sc.Spec.Faults {
		if pc := sc.Spec.Faults[i].PodChaos; pc != nil && pc.Spec.Action == "" {
			pc.Spec.Action = "pod-kill" // Chaos Mesh's default action
		}
	}
}

func defaultService(s *Service) {
	if s.Name == "" {
		s.Name = s.Role
	}
	if s.Replicas == nil {
		s.Replicas = ptr.To[int32](1)
	}
	if s.StartupLatency == nil {
		s.StartupLatency = &LatencyRange{Min: metav1.Duration{Duration: DefaultStartupMin}, Max: metav1.Duration{Duration: DefaultStartupMax}}
	}
	if s.EndpointsDelay == nil {
		s.EndpointsDelay = &metav1.Duration{Duration: DefaultEndpointsDelay}
	}
	if s.ReadinessProbe == nil {
		s.ReadinessProbe = &corev1.Probe{}
	}
	defaultProbe(s.ReadinessProbe)
	if s.LivenessProbe != nil {
		defaultProbe(s.LivenessProbe)
		s.LivenessProbe.SuccessThreshold = 1 // Kubernetes requires 1 for liveness
	}
	if s.HPA != nil {
		hpa.SetDefaults(s.HPA)
	}
	if s.Work.Distribution == "" {
		s.Work.Distribution = DistributionExponential
	}
	if s.FanOut == "" {
		s.FanOut = FanOutParallel
	}
	for i := range s.Calls {
		c := &s.Calls[i]
		if c.Timeout == nil {
			c.Timeout = &metav1.Duration{Duration: DefaultCallTimeout}
		}
		if c.Fallback == "" {
			c.Fallback = FallbackStatic
		}
		if c.CircuitBreaker == nil {
			c.CircuitBreaker = &CircuitBreaker{}
		}
		b := c.CircuitBreaker
		if b.ConsecutiveFailures == nil {
			b.ConsecutiveFailures = ptr.To[int32](DefaultBreakerFailures)
		}
		if b.OpenFor == nil {
			b.OpenFor = &metav1.Duration{Duration: DefaultBreakerOpenFor}
		}
		if b.HalfOpenRequests == nil {
			b.HalfOpenRequests = ptr.To[int32](DefaultBreakerHalfOpen)
		}
	}
}

// defaultProbe applies Kubernetes' probe defaults
// (pkg/apis/core/v1/defaults.go).
func defaultProbe(p *corev1.Probe) {
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
}

// HPAConfig is the HPA controller configuration of a service: Kubernetes'
// defaults with the scenario's overrides.
func (s *Service) HPAConfig() hpa.Config {
	cfg := hpa.DefaultConfig()
	c := s.HPAController
	if c == nil {
		return cfg
	}
	if c.SyncPeriod != nil {
		cfg.SyncPeriod = c.SyncPeriod.Duration
	}
	if c.Tolerance != nil {
		cfg.Tolerance = *c.Tolerance
	}
	if c.DownscaleStabilization != nil {
		cfg.DownscaleStabilization = c.DownscaleStabilization.Duration
	}
	if c.CPUInitializationPeriod != nil {
		cfg.CPUInitializationPeriod = c.CPUInitializationPeriod.Duration
	}
	if c.InitialReadinessDelay != nil {
		cfg.InitialReadinessDelay = c.InitialReadinessDelay.Duration
	}
	return cfg
}

// MetricResolution is metrics-server's scrape interval (its default is 15s).
func (s *Service) MetricResolution() time.Duration {
	if c := s.HPAController; c != nil && c.MetricResolution != nil {
		return c.MetricResolution.Duration
	}
	return 15 * time.Second
}

// ServiceByName returns the named service.
func (sc *Scenario) ServiceByName(name string) (*Service, bool) {
	for i := range sc.Spec.Services {
		if sc.Spec.Services[i].Name == name {
			return &sc.Spec.Services[i], true
		}
	}
	return nil, false
}

// Self-heal defaults: the seed's example (InstanceDown → restart, 5s, 3
// retries) and a health check like a kubelet's probe.
func defaultSelfHeal(p *SelfHealPolicy) {
	if p.HealthCheck == nil {
		p.HealthCheck = &v1alpha1.HealthCheck{}
	}
	h := p.HealthCheck
	if h.Path == "" {
		h.Path = "/healthz"
	}
	if h.Interval == nil {
		h.Interval = &metav1.Duration{Duration: 5 * time.Second}
	}
	if h.Timeout == nil {
		h.Timeout = &metav1.Duration{Duration: time.Second}
	}
	if h.FailureThreshold == nil {
		h.FailureThreshold = ptr.To[int32](3)
	}
	for i := range p.Subscriptions {
		s := &p.Subscriptions[i]
		if s.Timeout == nil {
			s.Timeout = &metav1.Duration{Duration: 5 * time.Second}
		}
		if s.Retries == nil {
			s.Retries = ptr.To[int32](3)
		}
	}
	if p.RateLimit == nil {
		p.RateLimit = &v1alpha1.RateLimit{}
	}
	if p.RateLimit.MaxConcurrent == nil {
		p.RateLimit.MaxConcurrent = ptr.To[int32](1)
	}
	if p.RateLimit.MinAvailable == nil {
		p.RateLimit.MinAvailable = ptr.To[int32](1)
	}
}

// EnginePolicy is the policy as package selfheal decides it: through the
// SelfHealPolicy CRD's spec, the same conversion the operator uses, so the
// sim and the operator decide alike.
func (p *SelfHealPolicy) EnginePolicy() selfheal.Policy {
	spec := p.CRDSpec()
	return spec.EnginePolicy(p.Name, p.Target)
}

// CRDSpec is the policy as a SelfHealPolicy object's spec (mcpsim.dev/
// v1alpha1): the target service's pods selected by their app label.
func (p *SelfHealPolicy) CRDSpec() v1alpha1.SelfHealPolicySpec {
	out := v1alpha1.SelfHealPolicySpec{
		Selector:    metav1.LabelSelector{MatchLabels: map[string]string{"app": p.Target}},
		HealthCheck: p.HealthCheck.DeepCopy(),
		RateLimit:   p.RateLimit.DeepCopy(),
	}
	for i := range p.Subscriptions {
		out.Subscriptions = append(out.Subscriptions, *p.Subscriptions[i].DeepCopy())
	}
	return out
}
