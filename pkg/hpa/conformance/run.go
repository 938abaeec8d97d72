package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/hpa"
)

// Outcome is the verdict on one case.
type Outcome struct {
	Case     Case
	Passed   bool
	Expected string // the expect fields that differ, as JSON
	Got      string // what the code produced for those fields
}

// got collects what a case kind produced, keyed like the expect object.
type got map[string]any

// Run runs one case and compares every field of its expect object.
func Run(c Case) Outcome {
	out := Outcome{Case: c}
	var in input
	dec := json.NewDecoder(bytes.NewReader(c.Input))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		out.Expected, out.Got = "a valid input", "input error: "+err.Error()
		return out
	}
	var expect map[string]json.RawMessage
	if err := json.Unmarshal(c.Expect, &expect); err != nil {
		out.Expected, out.Got = "a valid expect object", "expect error: "+err.Error()
		return out
	}
	g, err := execute(c.Kind, &in)
	if err != nil {
		out.Expected, out.Got = "a supported case", err.Error()
		return out
	}
	var wantParts, gotParts []string
	for _, k := range slices.Sorted(maps.Keys(expect)) {
		want := expect[k]
		have, ok := g[k]
		if k == "error" {
			var sub string
			_ = json.Unmarshal(want, &sub)
			msg, _ := have.(string)
			if !ok || !strings.Contains(msg, sub) {
				wantParts = append(wantParts, fmt.Sprintf("error containing %q", sub))
				gotParts = append(gotParts, fmt.Sprintf("error %q", msg))
			}
			continue
		}
		if !ok {
			wantParts = append(wantParts, fmt.Sprintf("%s=%s", k, want))
			gotParts = append(gotParts, fmt.Sprintf("%s not produced by kind %s", k, c.Kind))
			continue
		}
		haveJSON, _ := json.Marshal(have)
		if !jsonEqual(want, haveJSON) {
			wantParts = append(wantParts, fmt.Sprintf("%s=%s", k, compact(want)))
			gotParts = append(gotParts, fmt.Sprintf("%s=%s", k, haveJSON))
		}
	}
	out.Passed = len(wantParts) == 0
	out.Expected, out.Got = strings.Join(wantParts, " "), strings.Join(gotParts, " ")
	return out
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// jsonEqual compares two JSON values structurally. Numbers are compared as
// int64 when they are integers (exact beyond 2^53) and as float64
// otherwise, so that 5 and 5.0 are equal.
func jsonEqual(a, b []byte) bool {
	va, errA := decodeCanonical(a)
	vb, errB := decodeCanonical(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeCanonical(data []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return canonical(v), nil
}

func canonical(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return float64OrInt(i)
		}
		f, _ := t.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return float64OrInt(int64(f))
		}
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = canonical(e)
		}
	case []any:
		for i, e := range t {
			t[i] = canonical(e)
		}
	}
	return v
}

// float64OrInt marks an integral number.
type float64OrInt int64

func need[T any](p *T, name string) (T, error) {
	if p == nil {
		var zero T
		return zero, fmt.Errorf("input.%s is missing", name)
	}
	return *p, nil
}

func execute(kind string, in *input) (got, error) {
	now := seconds(in.Now)
	switch kind {
	case "resourceReplicas", "podsMetricReplicas", "objectValueReplicas", "externalValueReplicas", "objectAverageValueReplicas", "externalAverageValueReplicas":
		return metricKind(kind, in)
	case "groupPods":
		cfg := in.config()
		samplesByPod := map[string]hpa.PodSample{}
		for _, s := range samples(in.Metrics) {
			samplesByPod[s.Pod] = s
		}
		g := hpa.GroupPods(in.pods(), samplesByPod, corev1.ResourceName(in.Resource), cfg.CPUInitializationPeriod, cfg.InitialReadinessDelay, now)
		return got{"readyPodCount": g.ReadyCount, "unready": sortedKeys(g.Unready), "missing": sortedKeys(g.Missing), "ignored": sortedKeys(g.Ignored)}, nil
	case "reconcile":
		return reconcileKind(in)
	case "clampNoBehavior":
		cur, err := need(in.CurrentReplicas, "currentReplicas")
		if err != nil {
			return nil, err
		}
		factor, minimum := 2.0, 4.0
		if in.ScaleUpFactor != nil {
			factor = *in.ScaleUpFactor
		}
		if in.ScaleUpMinimum != nil {
			minimum = *in.ScaleUpMinimum
		}
		d, reason := hpa.ClampLegacy(cur, in.DesiredReplicas, in.MinReplicas, in.MaxReplicas, factor, minimum)
		return got{"desiredReplicas": d, "reason": reason}, nil
	case "stabilizeNoBehavior":
		w, err := need(in.DownscaleWindow, "downscaleStabilizationSeconds")
		if err != nil {
			return nil, err
		}
		d, hist := hpa.StabilizeLegacy(recommendations(in.Recommendations, now), in.DesiredReplicas, dur(w), now)
		return got{"desiredReplicas": d, "historyLength": len(hist)}, nil
	case "stabilizeWithBehavior":
		cur, err := need(in.CurrentReplicas, "currentReplicas")
		if err != nil {
			return nil, err
		}
		var up, down float64
		if in.UpWindow != nil {
			up = *in.UpWindow
		}
		if in.DownWindow != nil {
			down = *in.DownWindow
		}
		d, _, hist := hpa.StabilizeWithBehavior(recommendations(in.Recommendations, now), cur, in.DesiredReplicas, dur(up), dur(down), now)
		after := make([]int32, 0, len(hist))
		for _, r := range hist {
			after = append(after, r.Replicas)
		}
		return got{"desiredReplicas": d, "recommendationsAfter": after}, nil
	case "rateLimitWithBehavior":
		cur, err := need(in.CurrentReplicas, "currentReplicas")
		if err != nil {
			return nil, err
		}
		b := &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: in.ScaleUp.rules(), ScaleDown: in.ScaleDown.rules()}
		if b.ScaleUp == nil || b.ScaleDown == nil {
			return nil, fmt.Errorf("input.scaleUp and input.scaleDown are required")
		}
		d, reason := hpa.RateLimitWithBehavior(cur, in.DesiredReplicas, in.MinReplicas, in.MaxReplicas, b, events(in.ScaleUpEvents, now), events(in.ScaleDownEvents, now), now)
		return got{"desiredReplicas": d, "reason": reason}, nil
	case "scaleUpLimit", "scaleDownLimit":
		cur, err := need(in.CurrentReplicas, "currentReplicas")
		if err != nil {
			return nil, err
		}
		rules := in.Rules.rules()
		if rules == nil {
			return nil, fmt.Errorf("input.rules is required")
		}
		f := hpa.ScaleUpLimit
		if kind == "scaleDownLimit" {
			f = hpa.ScaleDownLimit
		}
		return got{"limit": f(cur, events(in.ScaleUpEvents, now), events(in.ScaleDownEvents, now), rules, now)}, nil
	}
	return nil, fmt.Errorf("unsupported case kind %q", kind)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func metricKind(kind string, in *input) (got, error) {
	if in.Metric == nil {
		return nil, fmt.Errorf("input.metric is missing")
	}
	src, err := in.source()
	if err != nil {
		return nil, err
	}
	cfg := in.config()
	calc := &hpa.ReplicaCalculator{Pods: in.pods(), Config: cfg, Now: seconds(in.Now)}
	calc.Tolerances = hpa.Tolerances{ScaleDown: cfg.Tolerance, ScaleUp: cfg.Tolerance}
	if in.Tolerance != nil {
		calc.Tolerances = hpa.Tolerances{ScaleDown: in.Tolerance.ScaleDown, ScaleUp: in.Tolerance.ScaleUp}
	}
	var scale hpa.Scale
	for _, p := range []*int32{in.CurrentReplicas, in.SpecReplicas} {
		if p != nil {
			scale.SpecReplicas = *p
		}
	}
	if in.StatusReplicas != nil {
		scale.StatusReplicas = *in.StatusReplicas
	}
	mr := calc.MetricReplicas(in.Metric.spec(), scale, src)
	if mr.Err != nil {
		return got{"desiredReplicas": nil, "error": mr.Err.Error()}, nil
	}
	g := got{"desiredReplicas": mr.Replicas}
	switch kind {
	case "resourceReplicas":
		if mr.Utilization != nil {
			g["utilization"] = *mr.Utilization
			g["rawAverageValueMilli"] = mr.Value
		} else {
			g["averageValueMilli"] = mr.Value
		}
	case "podsMetricReplicas", "objectAverageValueReplicas", "externalAverageValueReplicas":
		g["averageValueMilli"] = mr.Value
	default:
		g["valueMilli"] = mr.Value
	}
	return g, nil
}

func reconcileKind(in *input) (got, error) {
	if in.HPA == nil || in.Scale == nil {
		return nil, fmt.Errorf("input.hpa and input.scale are required")
	}
	t := seconds(in.Now)
	src, err := in.source()
	if err != nil {
		return nil, err
	}
	spec := &autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: in.HPA.MinReplicas, MaxReplicas: in.HPA.MaxReplicas}
	for i := range in.HPA.Metrics {
		spec.Metrics = append(spec.Metrics, in.HPA.Metrics[i].spec())
	}
	if b := in.HPA.Behavior; b != nil {
		// The case carries the behavior exactly as the API server defaulted
		// it; it is used as is.
		spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: b.ScaleUp.rules(), ScaleDown: b.ScaleDown.rules()}
	}
	st := &hpa.State{}
	if cs := in.ControllerState; cs != nil {
		if cs.Recommendations != nil {
			st.Recommendations = recommendations(*cs.Recommendations, t)
		}
		st.ScaleUpEvents = events(cs.ScaleUpEvents, t)
		st.ScaleDownEvents = events(cs.ScaleDownEvents, t)
	}
	res := in.config().Reconcile(t, spec, hpa.Scale{SpecReplicas: in.Scale.SpecReplicas, StatusReplicas: in.Scale.StatusReplicas}, in.pods(), src, st)
	conds := map[string]any{}
	for _, c := range res.Conditions {
		conds[string(c.Type)] = map[string]string{"status": string(c.Status), "reason": c.Reason}
	}
	return got{"desiredReplicas": res.DesiredReplicas, "conditions": conds}, nil
}
