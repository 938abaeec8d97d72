package scenario

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Validation of the pod spec's placement fields and of node taints, with
// the rules of the API server's pod validation (k8s.io/kubernetes
// pkg/apis/core/validation: ValidateTolerations, ValidateAffinity,
// validateTopologySpreadConstraints, validateTaints) that a scenario can
// break. That package cannot be imported outside the kubernetes module,
// so its rules are restated here; node selector expressions are parsed by
// component-helpers, the scheduler's own parser.

var (
	taintEffects       = []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}
	tolerationOps      = []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}
	unsatisfiableModes = []string{string(corev1.DoNotSchedule), string(corev1.ScheduleAnyway)}
	inclusionPolicies  = []string{string(corev1.NodeInclusionPolicyHonor), string(corev1.NodeInclusionPolicyIgnore)}
)

// validatePlacement checks a service's nodeSelector, tolerations, affinity
// and topology spread constraints.
func validatePlacement(s *Service, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateLabels(s.NodeSelector, p.Child("nodeSelector"))...)
	for i := range s.Tolerations {
		errs = append(errs, validateToleration(&s.Tolerations[i], p.Child("tolerations").Index(i))...)
	}
	if a := s.Affinity; a != nil {
		ap := p.Child("affinity")
		if na := a.NodeAffinity; na != nil {
			np := ap.Child("nodeAffinity")
			if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
				rp := np.Child("requiredDuringSchedulingIgnoredDuringExecution")
				if len(r.NodeSelectorTerms) == 0 {
					errs = append(errs, field.Required(rp.Child("nodeSelectorTerms"), "at least one term (an empty list matches no node)"))
				}
				if _, err := nodeaffinity.NewNodeSelector(r, field.WithPath(rp)); err != nil {
					errs = append(errs, field.Invalid(rp, "", err.Error()))
				}
			}
			pp := np.Child("preferredDuringSchedulingIgnoredDuringExecution")
			for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
				errs = append(errs, validateWeight(t.Weight, pp.Index(i).Child("weight"))...)
			}
			if _, err := nodeaffinity.NewPreferredSchedulingTerms(na.PreferredDuringSchedulingIgnoredDuringExecution, field.WithPath(pp)); err != nil {
				errs = append(errs, field.Invalid(pp, "", err.Error()))
			}
		}
		if pa := a.PodAffinity; pa != nil {
			errs = append(errs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, ap.Child("podAffinity"))...)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			errs = append(errs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, ap.Child("podAntiAffinity"))...)
		}
	}
	keys := map[[2]string]bool{}
	for i := range s.TopologySpreadConstraints {
		c := &s.TopologySpreadConstraints[i]
		cp := p.Child("topologySpreadConstraints").Index(i)
		if c.MaxSkew < 1 {
			errs = append(errs, field.Invalid(cp.Child("maxSkew"), c.MaxSkew, "must be at least 1"))
		}
		errs = append(errs, validateTopologyKey(c.TopologyKey, cp.Child("topologyKey"))...)
		if !slices.Contains(unsatisfiableModes, string(c.WhenUnsatisfiable)) {
			errs = append(errs, field.NotSupported(cp.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, unsatisfiableModes))
		}
		// The API server refuses two constraints with the same key and
		// whenUnsatisfiable.
		k := [2]string{c.TopologyKey, string(c.WhenUnsatisfiable)}
		if keys[k] {
			errs = append(errs, field.Duplicate(cp, fmt.Sprintf("{%s, %s}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		keys[k] = true
		if c.MinDomains != nil {
			switch {
			case *c.MinDomains < 1:
				errs = append(errs, field.Invalid(cp.Child("minDomains"), *c.MinDomains, "must be at least 1"))
			case c.WhenUnsatisfiable != corev1.DoNotSchedule:
				errs = append(errs, field.Invalid(cp.Child("minDomains"), *c.MinDomains, "only with whenUnsatisfiable: DoNotSchedule"))
			}
		}
		for _, pol := range []struct {
			name string
			v    *corev1.NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if pol.v != nil && !slices.Contains(inclusionPolicies, string(*pol.v)) {
				errs = append(errs, field.NotSupported(cp.Child(pol.name), *pol.v, inclusionPolicies))
			}
		}
		errs = append(errs, validateSelector(c.LabelSelector, cp.Child("labelSelector"))...)
		for j, key := range c.MatchLabelKeys {
			for _, msg := range validation.IsQualifiedName(key) {
				errs = append(errs, field.Invalid(cp.Child("matchLabelKeys").Index(j), key, msg))
			}
		}
	}
	return errs
}

func validatePodAffinityTerms(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range required {
		errs = append(errs, validatePodAffinityTerm(&required[i], p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
	}
	for i := range preferred {
		wp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		errs = append(errs, validateWeight(preferred[i].Weight, wp.Child("weight"))...)
		errs = append(errs, validatePodAffinityTerm(&preferred[i].PodAffinityTerm, wp.Child("podAffinityTerm"))...)
	}
	return errs
}

func validatePodAffinityTerm(t *corev1.PodAffinityTerm, p *field.Path) field.ErrorList {
	errs := validateTopologyKey(t.TopologyKey, p.Child("topologyKey"))
	errs = append(errs, validateSelector(t.LabelSelector, p.Child("labelSelector"))...)
	errs = append(errs, validateSelector(t.NamespaceSelector, p.Child("namespaceSelector"))...)
	for i, ns := range t.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(p.Child("namespaces").Index(i), ns, msg))
		}
	}
	for _, keys := range []struct {
		name string
		v    []string
	}{{"matchLabelKeys", t.MatchLabelKeys}, {"mismatchLabelKeys", t.MismatchLabelKeys}} {
		for i, key := range keys.v {
			for _, msg := range validation.IsQualifiedName(key) {
				errs = append(errs, field.Invalid(p.Child(keys.name).Index(i), key, msg))
			}
		}
	}
	return errs
}

func validateTopologyKey(key string, p *field.Path) field.ErrorList {
	if key == "" {
		return field.ErrorList{field.Required(p, "a node label such as topology.kubernetes.io/zone or kubernetes.io/hostname")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(key) {
		errs = append(errs, field.Invalid(p, key, msg))
	}
	return errs
}

func validateWeight(w int32, p *field.Path) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{field.Invalid(p, w, "must be in the range 1-100")}
	}
	return nil
}

func validateSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
}

func validateLabels(m map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(m)) {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(m[k]) {
			errs = append(errs, field.Invalid(p.Key(k), m[k], msg))
		}
	}
	return errs
}

// validateToleration follows the API server's ValidateTolerations.
func validateToleration(t *corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
		}
	}
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		if t.Key == "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when key is empty (tolerate every taint)"))
		}
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, "value must be empty when operator is Exists"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator, tolerationOps))
	}
	if t.Effect != "" && !slices.Contains(taintEffects, string(t.Effect)) {
		errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, taintEffects))
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be NoExecute when tolerationSeconds is set"))
	}
	return errs
}

// validateTaint follows the API server's validateNodeTaints.
func validateTaint(t *corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
		}
	}
	for _, msg := range validation.IsValidLabelValue(t.Value) {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value, msg))
	}
	switch {
	case t.Effect == "":
		errs = append(errs, field.Required(p.Child("effect"), fmt.Sprintf("one of %v", taintEffects)))
	case !slices.Contains(taintEffects, string(t.Effect)):
		errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, taintEffects))
	}
	return errs
}
