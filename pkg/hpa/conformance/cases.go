// Package conformance runs HPA reference cases (the schema of §10 of
// docs/hpa-fidelity.md, taken from Kubernetes' own unit tests)
// through package hpa, the same code the simulated cluster uses.
package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/hpa"
)

// Case is one reference case.
type Case struct {
	Name   string          `json:"name"`
	Source string          `json:"source"`
	Kind   string          `json:"kind"`
	Input  json.RawMessage `json:"input"`
	Expect json.RawMessage `json:"expect"`
	Notes  string          `json:"notes,omitempty"`
}

// Load reads a case file: a JSON array of cases. A malformed file is an
// error that names the file and the offending case.
func Load(name string, r io.Reader) ([]Case, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var cases []Case
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		return nil, fmt.Errorf("%s: not a JSON array of HPA cases: %s", name, describeJSONError(data, err))
	}
	for i, c := range cases {
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("%s: case %d has no name", name, i)
		case c.Kind == "":
			return nil, fmt.Errorf("%s: case %d (%s) has no kind", name, i, c.Name)
		case len(c.Input) == 0 || string(c.Input) == "null":
			return nil, fmt.Errorf("%s: case %d (%s) has no input", name, i, c.Name)
		case len(c.Expect) == 0 || string(c.Expect) == "null":
			return nil, fmt.Errorf("%s: case %d (%s) has no expect", name, i, c.Name)
		}
	}
	return cases, nil
}

func describeJSONError(data []byte, err error) string {
	var offset int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		offset = e.Offset
	case *json.UnmarshalTypeError:
		offset = e.Offset
	}
	if offset < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for _, b := range data[:min(int(offset), len(data))] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// The input schema (§10). Fields are pointers where null has a meaning.

type podIn struct {
	Name           string   `json:"name"`
	Phase          string   `json:"phase"`
	Deleting       bool     `json:"deleting"`
	StartTime      *float64 `json:"startTime"`
	ReadyCondition *struct {
		Status             string  `json:"status"`
		LastTransitionTime float64 `json:"lastTransitionTime"`
	} `json:"readyCondition"`
	Containers []struct {
		Name     string           `json:"name"`
		Requests map[string]int64 `json:"requests"`
	} `json:"containers"`
	PodRequests map[string]int64 `json:"podRequests"`
}

type resourceMetricIn struct {
	Pod           string  `json:"pod"`
	Timestamp     float64 `json:"timestamp"`
	WindowSeconds float64 `json:"windowSeconds"`
	Containers    []struct {
		Name  string           `json:"name"`
		Usage map[string]int64 `json:"usage"`
	} `json:"containers"`
}

type podSampleIn struct {
	Pod           string  `json:"pod"`
	ValueMilli    int64   `json:"valueMilli"`
	Timestamp     float64 `json:"timestamp"`
	WindowSeconds float64 `json:"windowSeconds"`
}

type targetIn struct {
	Type               string `json:"type"`
	AverageUtilization *int32 `json:"averageUtilization"`
	AverageValueMilli  *int64 `json:"averageValueMilli"`
	ValueMilli         *int64 `json:"valueMilli"`
}

type metricIn struct {
	Type            string                                     `json:"type"`
	Resource        string                                     `json:"resource"`
	Container       string                                     `json:"container"`
	MetricName      string                                     `json:"metricName"`
	DescribedObject *autoscalingv2.CrossVersionObjectReference `json:"describedObject"`
	Selector        *metav1.LabelSelector                      `json:"selector"`
	Target          targetIn                                   `json:"target"`
}

type policyIn struct {
	Type          string `json:"type"`
	Value         int32  `json:"value"`
	PeriodSeconds int32  `json:"periodSeconds"`
}

type rulesIn struct {
	StabilizationWindowSeconds *int32     `json:"stabilizationWindowSeconds"`
	SelectPolicy               string     `json:"selectPolicy"`
	Policies                   []policyIn `json:"policies"`
	Tolerance                  *float64   `json:"tolerance"`
}

type eventIn struct {
	ReplicaChange int32   `json:"replicaChange"`
	AgeSeconds    float64 `json:"ageSeconds"`
}

type recIn struct {
	Replicas   int32   `json:"replicas"`
	AgeSeconds float64 `json:"ageSeconds"`
}

type controllerIn struct {
	Tolerance                      *float64        `json:"tolerance"`
	DownscaleStabilizationSeconds  *float64        `json:"downscaleStabilizationSeconds"`
	CPUInitializationPeriodSeconds *float64        `json:"cpuInitializationPeriodSeconds"`
	InitialReadinessDelaySeconds   *float64        `json:"initialReadinessDelaySeconds"`
	ScaleUpLimitFactor             *float64        `json:"scaleUpLimitFactor"`
	ScaleUpLimitMinimum            *float64        `json:"scaleUpLimitMinimum"`
	FeatureGates                   map[string]bool `json:"featureGates"`
}

type input struct {
	Now        float64       `json:"now"`
	Controller *controllerIn `json:"controller"`
	Tolerance  *struct {
		ScaleDown float64 `json:"scaleDown"`
		ScaleUp   float64 `json:"scaleUp"`
	} `json:"tolerance"`
	CurrentReplicas *int32                   `json:"currentReplicas"`
	SpecReplicas    *int32                   `json:"specReplicas"`
	StatusReplicas  *int32                   `json:"statusReplicas"`
	DesiredReplicas int32                    `json:"desiredReplicas"`
	MinReplicas     int32                    `json:"minReplicas"`
	MaxReplicas     int32                    `json:"maxReplicas"`
	Metric          *metricIn                `json:"metric"`
	Resource        string                   `json:"resource"`
	Pods            []podIn                  `json:"pods"`
	ResourceMetrics []resourceMetricIn       `json:"resourceMetrics"`
	PodMetrics      map[string][]podSampleIn `json:"podMetrics"`
	Metrics         []podSampleIn            `json:"metrics"`

	ObjectMetricValueMilli    *int64           `json:"objectMetricValueMilli"`
	ExternalMetricValuesMilli json.RawMessage  `json:"externalMetricValuesMilli"`
	ObjectMetricValuesMilli   map[string]int64 `json:"objectMetricValuesMilli"`

	ScaleUpFactor   *float64 `json:"scaleUpLimitFactor"`
	ScaleUpMinimum  *float64 `json:"scaleUpLimitMinimum"`
	DownscaleWindow *float64 `json:"downscaleStabilizationSeconds"`
	UpWindow        *float64 `json:"scaleUpStabilizationWindowSeconds"`
	DownWindow      *float64 `json:"scaleDownStabilizationWindowSeconds"`
	Recommendations []recIn  `json:"recommendations"`

	Rules           *rulesIn  `json:"rules"`
	ScaleUp         *rulesIn  `json:"scaleUp"`
	ScaleDown       *rulesIn  `json:"scaleDown"`
	ScaleUpEvents   []eventIn `json:"scaleUpEvents"`
	ScaleDownEvents []eventIn `json:"scaleDownEvents"`

	HPA *struct {
		MinReplicas *int32     `json:"minReplicas"`
		MaxReplicas int32      `json:"maxReplicas"`
		Metrics     []metricIn `json:"metrics"`
		Behavior    *struct {
			ScaleUp   *rulesIn `json:"scaleUp"`
			ScaleDown *rulesIn `json:"scaleDown"`
		} `json:"behavior"`
	} `json:"hpa"`
	Scale *struct {
		SpecReplicas   int32 `json:"specReplicas"`
		StatusReplicas int32 `json:"statusReplicas"`
	} `json:"scale"`
	ControllerState *struct {
		Recommendations *[]recIn  `json:"recommendations"`
		ScaleUpEvents   []eventIn `json:"scaleUpEvents"`
		ScaleDownEvents []eventIn `json:"scaleDownEvents"`
	} `json:"controllerState"`
}

func seconds(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func dur(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (in *podIn) pod() hpa.Pod {
	p := hpa.Pod{Name: in.Name, Phase: corev1.PodPhase(in.Phase), Deleting: in.Deleting}
	if in.StartTime != nil {
		t := seconds(*in.StartTime)
		p.StartTime = &t
	}
	if in.ReadyCondition != nil {
		p.Ready = &hpa.ReadyCondition{Status: corev1.ConditionStatus(in.ReadyCondition.Status), LastTransitionTime: seconds(in.ReadyCondition.LastTransitionTime)}
	}
	for _, c := range in.Containers {
		p.Containers = append(p.Containers, hpa.Container{Name: c.Name, Requests: resourceMap(c.Requests)})
	}
	if len(in.PodRequests) > 0 {
		p.PodRequests = resourceMap(in.PodRequests)
	}
	return p
}

func resourceMap(m map[string]int64) map[corev1.ResourceName]int64 {
	out := make(map[corev1.ResourceName]int64, len(m))
	for k, v := range m {
		out[corev1.ResourceName(k)] = v
	}
	return out
}

func (in *input) pods() []hpa.Pod {
	out := make([]hpa.Pod, 0, len(in.Pods))
	for i := range in.Pods {
		out = append(out, in.Pods[i].pod())
	}
	return out
}

func milli(v *int64) *resource.Quantity {
	if v == nil {
		return nil
	}
	return resource.NewMilliQuantity(*v, resource.DecimalSI)
}

func (m *metricIn) spec() autoscalingv2.MetricSpec {
	target := autoscalingv2.MetricTarget{
		Type:               autoscalingv2.MetricTargetType(m.Target.Type),
		AverageUtilization: m.Target.AverageUtilization,
		AverageValue:       milli(m.Target.AverageValueMilli),
		Value:              milli(m.Target.ValueMilli),
	}
	id := autoscalingv2.MetricIdentifier{Name: m.MetricName, Selector: m.Selector}
	s := autoscalingv2.MetricSpec{Type: autoscalingv2.MetricSourceType(m.Type)}
	switch s.Type {
	case autoscalingv2.ResourceMetricSourceType:
		s.Resource = &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceName(m.Resource), Target: target}
	case autoscalingv2.ContainerResourceMetricSourceType:
		s.ContainerResource = &autoscalingv2.ContainerResourceMetricSource{Name: corev1.ResourceName(m.Resource), Container: m.Container, Target: target}
	case autoscalingv2.PodsMetricSourceType:
		s.Pods = &autoscalingv2.PodsMetricSource{Metric: id, Target: target}
	case autoscalingv2.ObjectMetricSourceType:
		obj := autoscalingv2.CrossVersionObjectReference{}
		if m.DescribedObject != nil {
			obj = *m.DescribedObject
		}
		s.Object = &autoscalingv2.ObjectMetricSource{DescribedObject: obj, Metric: id, Target: target}
	case autoscalingv2.ExternalMetricSourceType:
		s.External = &autoscalingv2.ExternalMetricSource{Metric: id, Target: target}
	}
	return s
}

func (r *rulesIn) rules() *autoscalingv2.HPAScalingRules {
	if r == nil {
		return nil
	}
	out := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: r.StabilizationWindowSeconds}
	if r.SelectPolicy != "" {
		sel := autoscalingv2.ScalingPolicySelect(r.SelectPolicy)
		out.SelectPolicy = &sel
	}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.HPAScalingPolicyType(p.Type), Value: p.Value, PeriodSeconds: p.PeriodSeconds})
	}
	if r.Tolerance != nil {
		q := resource.MustParse(strconv.FormatFloat(*r.Tolerance, 'f', -1, 64))
		out.Tolerance = &q
	}
	return out
}

func events(in []eventIn, now time.Time) []hpa.ScaleEvent {
	out := make([]hpa.ScaleEvent, 0, len(in))
	for _, e := range in {
		out = append(out, hpa.ScaleEvent{ReplicaChange: e.ReplicaChange, Time: now.Add(-dur(e.AgeSeconds))})
	}
	return out
}

func recommendations(in []recIn, now time.Time) []hpa.Recommendation {
	out := make([]hpa.Recommendation, 0, len(in))
	for _, r := range in {
		out = append(out, hpa.Recommendation{Replicas: r.Replicas, Time: now.Add(-dur(r.AgeSeconds))})
	}
	return out
}

// config builds the controller settings of a case: the upstream test
// defaults (§1.1 note) overridden by what the case carries.
func (in *input) config() hpa.Config {
	cfg := hpa.DefaultConfig()
	cfg.CPUInitializationPeriod = 2 * time.Minute
	cfg.InitialReadinessDelay = 10 * time.Second
	cfg.ScaleUpLimitFactor = 8
	c := in.Controller
	if c == nil {
		return cfg
	}
	set := func(dst *time.Duration, v *float64) {
		if v != nil {
			*dst = dur(*v)
		}
	}
	if c.Tolerance != nil {
		cfg.Tolerance = *c.Tolerance
	}
	set(&cfg.DownscaleStabilization, c.DownscaleStabilizationSeconds)
	set(&cfg.CPUInitializationPeriod, c.CPUInitializationPeriodSeconds)
	set(&cfg.InitialReadinessDelay, c.InitialReadinessDelaySeconds)
	if c.ScaleUpLimitFactor != nil {
		cfg.ScaleUpLimitFactor = *c.ScaleUpLimitFactor
	}
	if c.ScaleUpLimitMinimum != nil {
		cfg.ScaleUpLimitMinimum = *c.ScaleUpLimitMinimum
	}
	if v, ok := c.FeatureGates["HPAConfigurableTolerance"]; ok {
		cfg.ConfigurableTolerance = v
	}
	if v, ok := c.FeatureGates["PodLevelResources"]; ok {
		cfg.PodLevelResources = v
	}
	return cfg
}

// source is the metrics APIs as a case describes them: a metric name that
// is absent makes its fetch fail.
type source struct {
	resource []hpa.ResourceSample
	pods     map[string][]hpa.PodSample
	object   map[string]int64
	external map[string][]int64
}

func (s *source) ResourceMetrics(corev1.ResourceName) ([]hpa.ResourceSample, error) {
	return s.resource, nil
}

func (s *source) PodsMetric(name string) ([]hpa.PodSample, error) {
	v, ok := s.pods[name]
	if !ok {
		return nil, fmt.Errorf("no pods metric %q", name)
	}
	return v, nil
}

func (s *source) ObjectMetric(name string, _ autoscalingv2.CrossVersionObjectReference) (int64, error) {
	v, ok := s.object[name]
	if !ok {
		return 0, fmt.Errorf("no object metric %q", name)
	}
	return v, nil
}

func (s *source) ExternalMetric(name string) ([]int64, error) {
	v, ok := s.external[name]
	if !ok {
		return nil, fmt.Errorf("no external metric %q", name)
	}
	return v, nil
}

func samples(in []podSampleIn) []hpa.PodSample {
	out := make([]hpa.PodSample, 0, len(in))
	for _, s := range in {
		out = append(out, hpa.PodSample{Pod: s.Pod, Value: s.ValueMilli, Timestamp: seconds(s.Timestamp), Window: dur(s.WindowSeconds)})
	}
	return out
}

func (in *input) source() (*source, error) {
	s := &source{pods: map[string][]hpa.PodSample{}, object: map[string]int64{}, external: map[string][]int64{}}
	for _, m := range in.ResourceMetrics {
		rs := hpa.ResourceSample{Pod: m.Pod, Timestamp: seconds(m.Timestamp), Window: dur(m.WindowSeconds)}
		for _, c := range m.Containers {
			rs.Containers = append(rs.Containers, hpa.ContainerUsage{Name: c.Name, Usage: resourceMap(c.Usage)})
		}
		s.resource = append(s.resource, rs)
	}
	for name, list := range in.PodMetrics {
		s.pods[name] = samples(list)
	}
	for name, v := range in.ObjectMetricValuesMilli {
		s.object[name] = v
	}
	if in.Metric != nil && in.ObjectMetricValueMilli != nil {
		s.object[in.Metric.MetricName] = *in.ObjectMetricValueMilli
	}
	// externalMetricValuesMilli is a list for the calculator kinds and a
	// map of lists for reconcile.
	if raw := bytes.TrimSpace(in.ExternalMetricValuesMilli); len(raw) > 0 && string(raw) != "null" {
		if raw[0] == '[' {
			var list []int64
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("externalMetricValuesMilli: %w", err)
			}
			if in.Metric != nil {
				s.external[in.Metric.MetricName] = list
			}
		} else if err := json.Unmarshal(raw, &s.external); err != nil {
			return nil, fmt.Errorf("externalMetricValuesMilli: %w", err)
		}
	}
	return s, nil
}
