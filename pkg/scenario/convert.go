package scenario

import (
	"strings"
)

// convertV1alpha1 turns a v1alpha1 scenario (one spec.workload, the CPU
// cost in spec.load.cpuPerRequest) into its v1alpha2 form in place: one
// service with no calls. It returns how to map a v1alpha2 field path back
// to where the v1alpha1 file wrote it, so that validation errors point at
// the file's own lines. Mixed forms are left for validation to reject.
func convertV1alpha1(sc *Scenario) func(string) string {
	identity := func(p string) string { return p }
	if sc.APIVersion != APIVersionV1alpha1 || sc.Spec.Workload == nil || len(sc.Spec.Services) > 0 {
		return identity
	}
	w := sc.Spec.Workload
	s := Service{
		Name:           w.Name,
		Role:           w.Service,
		Replicas:       w.Replicas,
		Resources:      w.Resources,
		Affinity:       w.Affinity,
		ReadinessProbe: w.ReadinessProbe,
		StartupLatency: w.StartupLatency,
		EndpointsDelay: w.EndpointsDelay,
		HPA:            w.HPA,
		HPAController:  w.HPAController,
	}
	if c := sc.Spec.Load.CPUPerRequest; c != nil {
		s.Work.CPU = *c
	}
	sc.APIVersion = APIVersion
	sc.Spec.Services = []Service{s}
	sc.Spec.Workload = nil
	sc.Spec.Load.CPUPerRequest = nil
	const svc = "spec.services[0]"
	return func(p string) string {
		switch {
		case p == svc+".work.cpu" || p == svc+".work":
			return "spec.load.cpuPerRequest"
		case p == svc+".role":
			return "spec.workload.service"
		case p == "spec.services" || p == svc:
			return "spec.workload"
		case strings.HasPrefix(p, svc+"."):
			return "spec.workload." + strings.TrimPrefix(p, svc+".")
		}
		return p
	}
}
