package reference

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Port is the port every reference service listens on in a pod.
const Port = 8080

// DefaultImage is the reference image `make images` builds.
const DefaultImage = "mcpsim/reference:dev"

// ConfigPath is where a pod finds its ServiceConfig (from its ConfigMap).
const ConfigPath = "/etc/mcpsim/service.json"

// ServiceConfig is what one reference service needs to know of the
// topology: its work and its calls. The real backend mounts it as JSON
// (`mcpsim serve --config`); the sim reads the same values.
type ServiceConfig struct {
	Name   string       `json:"name"`
	Role   string       `json:"role"`
	Work   WorkConfig   `json:"work"`
	FanOut string       `json:"fanOut"`
	Calls  []CallConfig `json:"calls,omitempty"`
}

// WorkConfig is the CPU time a request costs.
type WorkConfig struct {
	CPU          Duration `json:"cpu"`
	Distribution string   `json:"distribution"`
}

// CallConfig is one downstream call.
type CallConfig struct {
	Service string `json:"service"`
	// URL is the downstream's base URL (its Service's cluster DNS name).
	URL      string        `json:"url"`
	Timeout  Duration      `json:"timeout"`
	Retries  int           `json:"retries"`
	Breaker  BreakerPolicy `json:"breaker"`
	NoBreak  bool          `json:"breakerDisabled,omitempty"`
	Fallback string        `json:"fallback"`
}

// Duration is a time.Duration written as a Go duration string in JSON.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ServiceObjects are the Kubernetes objects of one service.
type ServiceObjects struct {
	Config     ServiceConfig
	ConfigMap  *corev1.ConfigMap
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	// HPA is nil when the service has none.
	HPA *autoscalingv2.HorizontalPodAutoscaler
}

// PodLabels are the labels of a service's pods: the same on every backend,
// so that one fault selector means the same pods everywhere.
func PodLabels(name, role string) map[string]string {
	return map[string]string{"app": name, "app.kubernetes.io/name": name, "mcpsim.dev/role": role}
}

// Objects builds the objects of every service of a defaulted, valid
// scenario, in the scenario's order, in namespace ns with image.
func Objects(sc *scenario.Scenario, ns, image string) []ServiceObjects {
	out := make([]ServiceObjects, 0, len(sc.Spec.Services))
	grace := GracePeriod(sc)
	for i := range sc.Spec.Services {
		out = append(out, objectsOf(&sc.Spec.Services[i], ns, image, grace))
	}
	return out
}

// GracePeriod is the pods' terminationGracePeriodSeconds: what a stopping
// reference service needs, its drain (DefaultDrainDelay, serving while
// the endpoints update) and then the longest any client of the scenario
// waits for a request it already has (the load's timeout, a call's
// timeout times its attempts), and a second for the process to exit.
// Kubernetes' default, 30s, would do for most scenarios, but it is also
// what the namespace controller waits before it looks again at a
// namespace whose pods are going, so every run's clean-up (and a Ctrl-C)
// would take 30s where the pods are gone in about 5.
func GracePeriod(sc *scenario.Scenario) int64 {
	wait := sc.Spec.Load.Timeout.Duration
	for i := range sc.Spec.Services {
		for _, c := range sc.Spec.Services[i].Calls {
			if c.Timeout != nil {
				wait = max(wait, c.Timeout.Duration*time.Duration(c.Retries+1))
			}
		}
	}
	return int64(math.Ceil((DefaultDrainDelay + wait).Seconds())) + 1
}

// ConfigOf is the topology configuration of one service.
func ConfigOf(s *scenario.Service, ns string) ServiceConfig {
	cfg := ServiceConfig{Name: s.Name, Role: s.Role, FanOut: s.FanOut,
		Work: WorkConfig{CPU: Duration(s.Work.CPU.Duration), Distribution: s.Work.Distribution}}
	for _, c := range s.Calls {
		cc := CallConfig{Service: c.Service, URL: fmt.Sprintf("http://%s.%s.svc:%d", c.Service, ns, Port), Retries: int(c.Retries), Fallback: c.Fallback}
		if c.Timeout != nil {
			cc.Timeout = Duration(c.Timeout.Duration)
		}
		if b := c.CircuitBreaker; b != nil {
			cc.NoBreak = b.Disabled
			cc.Breaker = BreakerPolicy{ConsecutiveFailures: uint32(ptr.Deref(b.ConsecutiveFailures, scenario.DefaultBreakerFailures)),
				OpenFor: scenario.DefaultBreakerOpenFor, HalfOpenRequests: uint32(ptr.Deref(b.HalfOpenRequests, scenario.DefaultBreakerHalfOpen))}
			if b.OpenFor != nil {
				cc.Breaker.OpenFor = b.OpenFor.Duration
			}
		}
		cfg.Calls = append(cfg.Calls, cc)
	}
	return cfg
}

// withHandler gives a probe without a handler the reference service's
// endpoint for it.
func withHandler(p *corev1.Probe, path string) *corev1.Probe {
	if p == nil || p.ProbeHandler != (corev1.ProbeHandler{}) {
		return p
	}
	p = p.DeepCopy()
	p.HTTPGet = &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(Port)}
	return p
}

// StartDelay is how long the application waits before it listens, so that
// a real pod takes the scenario's startupLatency to start: the kubelet
// does its own part (sandbox and container with the image present, the
// sim's DefaultStartupMin of 2s; about a second on kind), the application
// the rest. ok is false when there is nothing to add (the defaults' 2-5s
// add 0-3s).
func StartDelay(l *scenario.LatencyRange) (lo, hi time.Duration, ok bool) {
	if l == nil || l.Max.Duration <= scenario.DefaultStartupMin {
		return 0, 0, false
	}
	return max(l.Min.Duration-scenario.DefaultStartupMin, 0), l.Max.Duration - scenario.DefaultStartupMin, true
}

func objectsOf(s *scenario.Service, ns, image string, grace int64) ServiceObjects {
	labels := PodLabels(s.Name, s.Role)
	selector := map[string]string{"app": s.Name}
	cfg := ConfigOf(s, ns)
	data, _ := json.MarshalIndent(cfg, "", "  ") // plain structs: cannot fail
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: labels}
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(),
		Data: map[string]string{"service.json": string(data)}}
	// --admin-hang: the harness delivers PodHang faults through it.
	args := []string{"--config", ConfigPath, "--listen", fmt.Sprintf("0.0.0.0:%d", Port), "--admin-hang"}
	if lo, hi, ok := StartDelay(s.StartupLatency); ok {
		args = append(args, "--start-delay-min", lo.String(), "--start-delay-max", hi.String())
	}
	container := corev1.Container{
		Name:            "app",
		Image:           image,
		ImagePullPolicy: corev1.PullNever, // built locally, loaded into the nodes
		Args:            args,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: Port}},
		Resources:       s.Resources,
		ReadinessProbe:  withHandler(s.ReadinessProbe, "/readyz"),
		LivenessProbe:   withHandler(s.LivenessProbe, "/healthz"),
		VolumeMounts:    []corev1.VolumeMount{{Name: "config", MountPath: "/etc/mcpsim", ReadOnly: true}},
	}
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(),
		Spec: appsv1.DeploymentSpec{
			Replicas: s.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{container},
					TerminationGracePeriodSeconds: &grace,
					Affinity:                      s.Affinity,
					NodeSelector:                  s.NodeSelector,
					Tolerations:                   s.Tolerations,
					TopologySpreadConstraints:     s.TopologySpreadConstraints,
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}}}}},
				},
			},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(),
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
	out := ServiceObjects{Config: cfg, ConfigMap: cm, Deployment: dep, Service: svc}
	if s.HPA != nil {
		spec := s.HPA.DeepCopy()
		spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: s.Name}
		out.HPA = &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}, ObjectMeta: meta(), Spec: *spec}
	}
	return out
}
