package scenario

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NetworkChaos and StressChaos fields beyond what Chaos Mesh's webhook
// checks. Its CRD validates some of them with patterns and enums that the
// webhook code does not repeat (latency and jitter must match
// ^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$, direction is to/from/both); others
// it lets through although tc rejects them when the chaos daemon applies
// them (a loss of 150%): a scenario would then fail on a real cluster
// after minutes of set-up, so they are refused here, with their position.

// tcDuration is the CRD's pattern for netem latency and jitter.
var tcDuration = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h)$`)

// ChaosDuration parses a netem latency or jitter ("200ms", "0.5s").
func ChaosDuration(s string) (time.Duration, error) {
	if !tcDuration.MatchString(s) {
		return 0, fmt.Errorf("%q is not a duration such as 200ms (a number and one of ns, us, ms, s, m, h)", s)
	}
	return time.ParseDuration(s)
}

// ChaosPercent parses a netem percentage (loss, correlation: "25",
// "0.5"); empty is 0, Chaos Mesh's default.
func ChaosPercent(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage between 0 and 100", s)
	}
	return v, nil
}

// Netem is a NetworkChaos's delay and loss as netem reads them, its
// percentages as Chaos Mesh writes them (0–100).
type Netem struct {
	Latency, Jitter                    time.Duration
	Correlation, Loss, LossCorrelation float64
}

// NetemOf reads s's delay and loss. Parse has checked every one of those
// fields (validateNetworkChaos), so they all parse here.
func NetemOf(s *chaosv1alpha1.NetworkChaosSpec) Netem {
	var n Netem
	if d := s.Delay; d != nil {
		n.Latency, _ = ChaosDuration(d.Latency)
		n.Jitter, _ = ChaosDuration(d.Jitter) // none: "", which gives 0
		n.Correlation, _ = ChaosPercent(d.Correlation)
	}
	if l := s.Loss; l != nil {
		n.Loss, _ = ChaosPercent(l.Loss)
		n.LossCorrelation, _ = ChaosPercent(l.Correlation)
	}
	return n
}

var (
	networkActions = []string{string(chaosv1alpha1.NetemAction), string(chaosv1alpha1.DelayAction), string(chaosv1alpha1.LossAction), string(chaosv1alpha1.DuplicateAction),
		string(chaosv1alpha1.CorruptAction), string(chaosv1alpha1.PartitionAction), string(chaosv1alpha1.BandwidthAction)}
	directions         = []string{string(chaosv1alpha1.To), string(chaosv1alpha1.From), string(chaosv1alpha1.Both)}
	partitionBehaviors = []string{string(chaosv1alpha1.DropPartitionBehavior), string(chaosv1alpha1.RejectPartitionBehavior)}
)

// validatePodSelector checks a Chaos Mesh selector's mode and value (the
// webhook's own check) and that its label selectors parse.
func validatePodSelector(ps *chaosv1alpha1.PodSelector, root any, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch ps.Mode {
	case chaosv1alpha1.OneMode, chaosv1alpha1.AllMode, chaosv1alpha1.FixedMode, chaosv1alpha1.FixedPercentMode, chaosv1alpha1.RandomMaxPercentMode:
		errs = append(errs, ps.Validate(root, p)...)
	case "":
		errs = append(errs, field.Required(p.Child("mode"), fmt.Sprintf("one of %v", chaosModes)))
	default:
		errs = append(errs, field.NotSupported(p.Child("mode"), ps.Mode, chaosModes))
	}
	if _, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: ps.Selector.LabelSelectors, MatchExpressions: ps.Selector.ExpressionSelectors}); err != nil {
		errs = append(errs, field.Invalid(p.Child("selector"), "", err.Error()))
	}
	return errs
}

func validateNetworkChaos(nc *chaosv1alpha1.NetworkChaos, sp *field.Path) field.ErrorList {
	s := &nc.Spec
	var errs field.ErrorList
	errs = append(errs, validatePodSelector(&s.PodSelector, nc, sp)...)
	if s.Target != nil {
		errs = append(errs, validatePodSelector(s.Target, nc, sp.Child("target"))...)
	}
	switch s.Direction {
	case "", chaosv1alpha1.To, chaosv1alpha1.From, chaosv1alpha1.Both:
	default:
		errs = append(errs, field.NotSupported(sp.Child("direction"), s.Direction, directions))
	}
	switch s.PartitionBehavior {
	case "", chaosv1alpha1.DropPartitionBehavior, chaosv1alpha1.RejectPartitionBehavior:
	default:
		errs = append(errs, field.NotSupported(sp.Child("partitionBehavior"), s.PartitionBehavior, partitionBehaviors))
	}
	percent := func(p *field.Path, v string, required bool) {
		if v == "" && required {
			errs = append(errs, field.Required(p, "a percentage between 0 and 100"))
			return
		}
		if _, err := ChaosPercent(v); err != nil {
			errs = append(errs, field.Invalid(p, v, err.Error()))
		}
	}
	duration := func(p *field.Path, v string, required bool) {
		if v == "" && !required {
			return
		}
		if _, err := ChaosDuration(v); err != nil {
			errs = append(errs, field.Invalid(p, v, err.Error()))
		}
	}
	if d := s.Delay; d != nil {
		dp := sp.Child("delay")
		duration(dp.Child("latency"), d.Latency, true)
		duration(dp.Child("jitter"), d.Jitter, false)
		percent(dp.Child("correlation"), d.Correlation, false)
		if r := d.Reorder; r != nil {
			percent(dp.Child("reorder", "reorder"), r.Reorder, true)
			percent(dp.Child("reorder", "correlation"), r.Correlation, false)
			if r.Gap < 0 {
				errs = append(errs, field.Invalid(dp.Child("reorder", "gap"), r.Gap, "must not be negative"))
			}
		}
	}
	if l := s.Loss; l != nil {
		percent(sp.Child("loss", "loss"), l.Loss, true)
		percent(sp.Child("loss", "correlation"), l.Correlation, false)
	}
	if d := s.Duplicate; d != nil {
		percent(sp.Child("duplicate", "duplicate"), d.Duplicate, true)
		percent(sp.Child("duplicate", "correlation"), d.Correlation, false)
	}
	if c := s.Corrupt; c != nil {
		percent(sp.Child("corrupt", "corrupt"), c.Corrupt, true)
		percent(sp.Child("corrupt", "correlation"), c.Correlation, false)
	}
	// An action without its parameters does nothing on a real cluster:
	// Chaos Mesh accepts it and applies an empty netem.
	need := func(set bool, name string) {
		if !set {
			errs = append(errs, field.Required(sp.Child(name), fmt.Sprintf("action %s needs spec.%s", s.Action, name)))
		}
	}
	switch s.Action {
	case chaosv1alpha1.DelayAction:
		need(s.Delay != nil, "delay")
	case chaosv1alpha1.LossAction:
		need(s.Loss != nil, "loss")
	case chaosv1alpha1.DuplicateAction:
		need(s.Duplicate != nil, "duplicate")
	case chaosv1alpha1.CorruptAction:
		need(s.Corrupt != nil, "corrupt")
	case chaosv1alpha1.BandwidthAction:
		need(s.Bandwidth != nil, "bandwidth")
	case chaosv1alpha1.NetemAction:
		if s.Delay == nil && s.Loss == nil && s.Duplicate == nil && s.Corrupt == nil && s.Rate == nil {
			errs = append(errs, field.Required(sp, "action netem needs one of delay, loss, duplicate, corrupt, rate"))
		}
	case chaosv1alpha1.PartitionAction:
	case "":
		errs = append(errs, field.Required(sp.Child("action"), fmt.Sprintf("one of %v", networkActions)))
	default:
		errs = append(errs, field.NotSupported(sp.Child("action"), s.Action, networkActions))
	}
	return errs
}

func validateStressChaos(st *chaosv1alpha1.StressChaos, sp *field.Path) field.ErrorList {
	s := &st.Spec
	var errs field.ErrorList
	errs = append(errs, validatePodSelector(&s.PodSelector, st, sp)...)
	if s.Stressors == nil {
		return errs // Chaos Mesh's Spec.Validate requires stressors or stressngStressors
	}
	p := sp.Child("stressors")
	errs = append(errs, s.Stressors.Validate(st, p)...)
	if c := s.Stressors.CPUStressor; c != nil {
		errs = append(errs, workers(c.Workers, p.Child("cpu", "workers"))...)
		if c.Load != nil && (*c.Load < 0 || *c.Load > 100) {
			errs = append(errs, field.Invalid(p.Child("cpu", "load"), *c.Load, "a percentage of one CPU per worker, between 0 and 100"))
		}
	}
	if m := s.Stressors.MemoryStressor; m != nil {
		mp := p.Child("memory")
		errs = append(errs, workers(m.Workers, mp.Child("workers"))...)
		size := chaosv1alpha1.Bytes(m.Size)
		errs = append(errs, size.Validate(st, mp.Child("size"))...)
		if m.OOMScoreAdj < -1000 || m.OOMScoreAdj > 1000 {
			errs = append(errs, field.Invalid(mp.Child("oomScoreAdj"), m.OOMScoreAdj, "between -1000 and 1000"))
		}
	}
	return errs
}

// workers checks a stressor's worker count: stress-ng runs 1 to 8192.
func workers(n int, p *field.Path) field.ErrorList {
	if n <= 0 || n > 8192 {
		return field.ErrorList{field.Invalid(p, n, "between 1 and 8192 (stress-ng's limit)")}
	}
	return nil
}

// chaosDuration is the spec.duration of a NetworkChaos or StressChaos.
func chaosDuration(f *Fault) *string {
	switch {
	case f.NetworkChaos != nil:
		return f.NetworkChaos.Spec.Duration
	case f.StressChaos != nil:
		return f.StressChaos.Spec.Duration
	}
	return nil
}
