package scenario

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/hpa"
)

// Defaults of the pod model (the sim backend's fidelity section of
// DESIGN.md names where each comes from).
const (
	DefaultStartupMin     = 2 * time.Second // sandbox + container start with the image present
	DefaultStartupMax     = 5 * time.Second
	DefaultEndpointsDelay = time.Second // endpoints controller + kube-proxy sync
)

// SetDefaults fills unset fields. It does not touch what validation must
// judge (a missing required field stays missing).
func SetDefaults(sc *Scenario) {
	w := &sc.Spec.Workload
	if w.Name == "" {
		w.Name = w.Service
	}
	if w.Replicas == nil {
		w.Replicas = ptr.To[int32](1)
	}
	if w.StartupLatency == nil {
		w.StartupLatency = &LatencyRange{Min: metav1.Duration{Duration: DefaultStartupMin}, Max: metav1.Duration{Duration: DefaultStartupMax}}
	}
	if w.EndpointsDelay == nil {
		w.EndpointsDelay = &metav1.Duration{Duration: DefaultEndpointsDelay}
	}
	if w.ReadinessProbe == nil {
		w.ReadinessProbe = &corev1.Probe{}
	}
	// Kubernetes' probe defaults (pkg/apis/core/v1/defaults.go).
	p := w.ReadinessProbe
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
	if w.HPA != nil {
		hpa.SetDefaults(w.HPA)
	}
	l := &sc.Spec.Load
	if l.Duration == nil && sc.Spec.Duration.Duration > l.Start.Duration {
		l.Duration = &metav1.Duration{Duration: sc.Spec.Duration.Duration - l.Start.Duration}
	}
	for i := range sc.Spec.Assertions {
		a := &sc.Spec.Assertions[i]
		if a.Type == AssertReplicasReach && a.Of == "" {
			a.Of = "ready"
		}
	}
	for i := range sc.Spec.Faults {
		if pc := sc.Spec.Faults[i].PodChaos; pc != nil && pc.Spec.Action == "" {
			pc.Spec.Action = "pod-kill" // Chaos Mesh's default action
		}
	}
}

// HPAConfig is the HPA controller configuration of a workload: Kubernetes'
// defaults with the scenario's overrides.
func (w *Workload) HPAConfig() hpa.Config {
	cfg := hpa.DefaultConfig()
	c := w.HPAController
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
func (w *Workload) MetricResolution() time.Duration {
	if c := w.HPAController; c != nil && c.MetricResolution != nil {
		return c.MetricResolution.Duration
	}
	return 15 * time.Second
}
