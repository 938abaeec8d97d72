package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/hpa"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// Limits keep a scenario within what one machine can simulate: the sim
// keeps every service request's outcome (16 bytes each) and runs every
// pod.
const (
	MaxDuration = 24 * time.Hour
	MaxRequests = 50_000_000
	MaxNodes    = 5000 // Kubernetes' own scalability limit
	MaxReplicas = 10000
)

// ExpectedRequests is how many requests a load profile sends (the mean,
// for Poisson arrivals).
func ExpectedRequests(l *Load) float64 {
	if l.Duration == nil {
		return 0
	}
	d := l.Duration.Seconds()
	switch l.Profile {
	case ProfileConstant, ProfilePoisson:
		return float64(l.Rate) * d
	case ProfileRamp:
		return float64(l.From+l.To) / 2 * d
	case ProfileSine:
		return float64(l.Mean) * d
	case ProfileSteps:
		var n float64
		for _, s := range l.Steps {
			n += float64(s.Rate) * s.Duration.Seconds()
		}
		return n
	}
	return 0
}

// Validate checks a defaulted scenario and returns every problem.
func Validate(sc *Scenario) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	switch sc.APIVersion {
	case APIVersion:
		if sc.Spec.Workload != nil {
			errs = append(errs, field.Forbidden(spec.Child("workload"), "workload is the mcpsim.dev/v1alpha1 form; in v1alpha2 write services: [{name: gateway, role: gateway, replicas: 2, resources: {...}, work: {cpu: 10ms}, calls: [{service: user}]}] (or set apiVersion: mcpsim.dev/v1alpha1)"))
		}
		if sc.Spec.Load.CPUPerRequest != nil {
			errs = append(errs, field.Forbidden(spec.Child("load", "cpuPerRequest"), "cpuPerRequest is the mcpsim.dev/v1alpha1 form; in v1alpha2 each service says what a request costs it: services[].work: {cpu: 10ms}"))
		}
	case APIVersionV1alpha1:
		// A v1alpha1 file that converted cleanly carries APIVersion now.
		if sc.Spec.Workload == nil {
			errs = append(errs, field.Required(spec.Child("workload"), "a v1alpha1 scenario has one workload; for services[] set apiVersion: mcpsim.dev/v1alpha2"))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), sc.APIVersion, []string{APIVersion, APIVersionV1alpha1}))
	}
	if sc.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), sc.Kind, []string{Kind}))
	}
	md := field.NewPath("metadata")
	if sc.Metadata.Name == "" {
		errs = append(errs, field.Required(md.Child("name"), "a scenario needs a name (it names its report directory)"))
	} else {
		for _, msg := range validation.IsDNS1123Label(sc.Metadata.Name) {
			errs = append(errs, field.Invalid(md.Child("name"), sc.Metadata.Name, msg))
		}
	}
	errs = append(errs, positiveAtMost(spec.Child("duration"), sc.Spec.Duration)...)
	errs = append(errs, validateCluster(&sc.Spec.Cluster, spec.Child("cluster"))...)
	errs = append(errs, validateServices(sc.Spec.Services, spec.Child("services"))...)
	errs = append(errs, validateLoad(&sc.Spec.Load, sc, spec.Child("load"))...)
	faults := map[string]bool{}
	for i := range sc.Spec.Faults {
		errs = append(errs, validateFault(&sc.Spec.Faults[i], sc.Spec.Duration.Duration, faults, spec.Child("faults").Index(i))...)
	}
	errs = append(errs, validateSelfHeal(sc, spec.Child("selfHeal"))...)
	if len(sc.Spec.Assertions) == 0 {
		errs = append(errs, field.Required(spec.Child("assertions"), "a scenario needs at least one assertion to decide pass or fail"))
	}
	names := map[string]bool{}
	for i := range sc.Spec.Assertions {
		errs = append(errs, validateAssertion(&sc.Spec.Assertions[i], sc, faults, names, spec.Child("assertions").Index(i))...)
	}
	return errs
}

// RequestsPerService is how many requests one request to entry makes each
// service receive (every call made once, no retries). ok is false when the
// call graph is not a finite tree (a cycle, or an unknown service). The
// walk stops once the tree passes MaxHopsPerRequest: the counts are then a
// lower bound, and HopsPerRequest exceeds the limit.
func RequestsPerService(sc *Scenario, entry string) (counts map[string]int, ok bool) {
	counts = map[string]int{}
	total := 0
	var walk func(name string, depth int) bool
	walk = func(name string, depth int) bool {
		s, found := sc.ServiceByName(name)
		if !found || depth > len(sc.Spec.Services) {
			return false
		}
		counts[name]++
		if total++; total > MaxHopsPerRequest {
			return true
		}
		for _, c := range s.Calls {
			if !walk(c.Service, depth+1) {
				return false
			}
			if total > MaxHopsPerRequest {
				return true
			}
		}
		return true
	}
	return counts, walk(entry, 0)
}

// HopsPerRequest is how many service requests one entry request causes at
// most (every call made once, no retries), or -1 when the call graph is
// not a finite tree (a cycle, or an unknown service).
func HopsPerRequest(sc *Scenario, entry string) int {
	counts, ok := RequestsPerService(sc, entry)
	if !ok {
		return -1
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// ExpectedServiceRequests is how many service requests the load makes in
// all (the mean, for Poisson arrivals): what one run records.
func ExpectedServiceRequests(sc *Scenario) float64 {
	return ExpectedRequests(&sc.Spec.Load) * float64(max(HopsPerRequest(sc, sc.Spec.Load.Target), 1))
}

// MaxHopsPerRequest bounds the call tree of one request (every service
// request is simulated and recorded).
const MaxHopsPerRequest = 64

func nonNegative(p *field.Path, d metav1.Duration) field.ErrorList {
	if d.Duration < 0 {
		return field.ErrorList{field.Invalid(p, d.Duration.String(), "must not be negative")}
	}
	return nil
}

// positiveAtMost: greater than zero and at most MaxDuration, so that no
// time computed from it can overflow.
func positiveAtMost(p *field.Path, d metav1.Duration) field.ErrorList {
	if d.Duration > MaxDuration {
		return field.ErrorList{field.Invalid(p, d.Duration.String(), fmt.Sprintf("must be at most %s", MaxDuration))}
	}
	return positive(p, d)
}

func positive(p *field.Path, d metav1.Duration) field.ErrorList {
	if d.Duration <= 0 {
		return field.ErrorList{field.Invalid(p, d.Duration.String(), "must be greater than zero")}
	}
	return nil
}

func validateCluster(c *Cluster, p *field.Path) field.ErrorList {
	errs := validateCPUQuota(c.CPUQuota, p.Child("cpuQuota"))
	if len(c.NodePools) == 0 {
		return append(errs, field.Required(p.Child("nodePools"), "at least one node pool is required"))
	}
	names := map[string]bool{}
	total := 0
	for i, np := range c.NodePools {
		pp := p.Child("nodePools").Index(i)
		if total += int(np.Count); total > MaxNodes {
			errs = append(errs, field.TooMany(p.Child("nodePools"), total, MaxNodes))
			break
		}
		switch {
		case np.Name == "":
			errs = append(errs, field.Required(pp.Child("name"), ""))
		case names[np.Name]:
			errs = append(errs, field.Duplicate(pp.Child("name"), np.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(np.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), np.Name, msg))
			}
			// The last node's name is a label value (NodeLabel) on every
			// backend: it must be a valid one.
			if last := np.NodeName(max(np.Count, 1) - 1); len(last) > validation.LabelValueMaxLength {
				errs = append(errs, field.Invalid(pp.Child("name"), np.Name, fmt.Sprintf("too long: the pool's node names (%s) must fit in %d characters", last, validation.LabelValueMaxLength)))
			}
		}
		names[np.Name] = true
		if np.Count < 1 {
			errs = append(errs, field.Invalid(pp.Child("count"), np.Count, "must be at least 1"))
		}
		if np.CPU.Sign() <= 0 {
			errs = append(errs, field.Required(pp.Child("cpu"), "allocatable CPU must be greater than zero"))
		}
		if np.Memory.Sign() <= 0 {
			errs = append(errs, field.Required(pp.Child("memory"), "allocatable memory must be greater than zero"))
		}
		errs = append(errs, quantityAtMost(pp.Child("cpu"), np.CPU, maxCPU)...)
		errs = append(errs, quantityAtMost(pp.Child("memory"), np.Memory, maxMemory)...)
		errs = append(errs, validateLabels(np.Labels, pp.Child("labels"))...)
		for _, k := range []string{PoolLabel, NodeLabel} {
			if _, ok := np.Labels[k]; ok {
				errs = append(errs, field.Forbidden(pp.Child("labels").Key(k), "set by mcpsim on every node of the pool (the pool's name, the node's name)"))
			}
		}
		for j := range np.Taints {
			errs = append(errs, validateTaint(&np.Taints[j], pp.Child("taints").Index(j))...)
		}
	}
	return errs
}

// The kernel's bounds of a CFS period (cpu.max; kernel/sched/core.c:
// max_cfs_quota_period 1s, min_cfs_quota_period 1ms).
const (
	minCFSPeriod = time.Millisecond
	maxCFSPeriod = time.Second
)

func validateCPUQuota(q *CPUQuota, p *field.Path) field.ErrorList {
	if q == nil {
		return nil
	}
	var errs field.ErrorList
	switch q.Model {
	case "", CPUQuotaFluid:
		if q.Period != nil {
			errs = append(errs, field.Forbidden(p.Child("period"), "only the Periodic model has a period"))
		}
	case CPUQuotaPeriodic:
		if q.Period != nil && (q.Period.Duration < minCFSPeriod || q.Period.Duration > maxCFSPeriod) {
			errs = append(errs, field.Invalid(p.Child("period"), q.Period.Duration.String(), "must be between 1ms and 1s, as the kernel's CFS period"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("model"), q.Model, []string{CPUQuotaFluid, CPUQuotaPeriodic}))
	}
	return errs
}

var roles = []string{RoleGateway, RoleUser, RoleOrder, RolePayment}

var (
	distributions = []string{DistributionExponential, DistributionConstant}
	fanOuts       = []string{FanOutParallel, FanOutSequential}
	fallbacks     = []string{FallbackStatic, FallbackNone}
)

// validateServices checks each service, the names calls and the load use,
// and that the call graph has no cycle.
func validateServices(svcs []Service, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(svcs) == 0 {
		return append(errs, field.Required(p, "at least one service: services: [{name: gateway, role: gateway, resources: {requests: {cpu: 200m}}, work: {cpu: 10ms}}]"))
	}
	names := map[string]int{}
	for i := range svcs {
		sp := p.Index(i)
		n := svcs[i].Name
		if _, dup := names[n]; dup && n != "" {
			errs = append(errs, field.Duplicate(sp.Child("name"), n))
		}
		names[n] = i
		errs = append(errs, validateService(&svcs[i], sp)...)
	}
	known := make([]string, 0, len(svcs))
	for i := range svcs {
		known = append(known, svcs[i].Name)
	}
	for i := range svcs {
		for j, c := range svcs[i].Calls {
			cp := p.Index(i).Child("calls").Index(j).Child("service")
			switch _, ok := names[c.Service]; {
			case c.Service == "":
				errs = append(errs, field.Required(cp, fmt.Sprintf("the called service, one of %v", known)))
			case !ok:
				errs = append(errs, field.NotSupported(cp, c.Service, known))
			case c.Service == svcs[i].Name:
				errs = append(errs, field.Invalid(cp, c.Service, "a service cannot call itself"))
			}
		}
	}
	// A cycle would make one request an endless chain of calls.
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(svcs))
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = visiting
		for j, c := range svcs[i].Calls {
			k, ok := names[c.Service]
			if !ok || k == i {
				continue
			}
			if state[k] == visiting {
				errs = append(errs, field.Invalid(p.Index(i).Child("calls").Index(j).Child("service"), c.Service, fmt.Sprintf("calls form a cycle (%s → %s → … → %s): a request would never end", svcs[i].Name, c.Service, svcs[i].Name)))
				return false
			}
			if state[k] == unvisited && !visit(k) {
				return false
			}
		}
		state[i] = done
		return true
	}
	for i := range svcs {
		if state[i] == unvisited && !visit(i) {
			break
		}
	}
	return errs
}

func validateService(w *Service, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch w.Role {
	case RoleGateway, RoleUser, RoleOrder, RolePayment:
	case "":
		errs = append(errs, field.Required(p.Child("role"), fmt.Sprintf("one of %v", roles)))
	default:
		errs = append(errs, field.NotSupported(p.Child("role"), w.Role, roles))
	}
	if w.Name == "" && w.Role == "" {
		errs = append(errs, field.Required(p.Child("name"), "the Deployment and Service name"))
	}
	errs = append(errs, positive(p.Child("work", "cpu"), w.Work.CPU)...)
	if w.Work.CPU.Duration > MaxWork {
		errs = append(errs, field.Invalid(p.Child("work", "cpu"), w.Work.CPU.Duration.String(), fmt.Sprintf("must be at most %s", MaxWork)))
	}
	if !slices.Contains(distributions, w.Work.Distribution) {
		errs = append(errs, field.NotSupported(p.Child("work", "distribution"), w.Work.Distribution, distributions))
	}
	if !slices.Contains(fanOuts, w.FanOut) {
		errs = append(errs, field.NotSupported(p.Child("fanOut"), w.FanOut, fanOuts))
	}
	errs = append(errs, validatePlacement(w, p)...)
	for i := range w.Calls {
		errs = append(errs, validateCall(&w.Calls[i], p.Child("calls").Index(i))...)
	}
	if w.Name != "" {
		for _, msg := range validation.IsDNS1123Label(w.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), w.Name, msg))
		}
	}
	if w.Replicas != nil && (*w.Replicas < 0 || *w.Replicas > MaxReplicas) {
		errs = append(errs, field.Invalid(p.Child("replicas"), *w.Replicas, fmt.Sprintf("must be between 0 and %d", MaxReplicas)))
	}
	if w.HPA != nil && w.HPA.MaxReplicas > MaxReplicas {
		errs = append(errs, field.Invalid(p.Child("hpa", "maxReplicas"), w.HPA.MaxReplicas, fmt.Sprintf("must be at most %d", MaxReplicas)))
	}
	rp := p.Child("resources")
	cpu, ok := w.Resources.Requests[corev1.ResourceCPU]
	if !ok || cpu.Sign() <= 0 {
		errs = append(errs, field.Required(rp.Child("requests", "cpu"), "a CPU request is required: it sizes the pod's share of CPU and is the HPA's utilization denominator"))
	}
	for _, list := range []struct {
		name string
		rl   corev1.ResourceList
	}{{"requests", w.Resources.Requests}, {"limits", w.Resources.Limits}} {
		for name, q := range list.rl {
			limit := maxMemory
			if name == corev1.ResourceCPU {
				limit = maxCPU
			}
			errs = append(errs, quantityAtMost(rp.Child(list.name).Key(string(name)), q, limit)...)
		}
	}
	for name, q := range w.Resources.Requests {
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(rp.Child("requests").Key(string(name)), q.String(), "must not be negative"))
		}
		if lim, ok := w.Resources.Limits[name]; ok && lim.Cmp(q) < 0 {
			errs = append(errs, field.Invalid(rp.Child("limits").Key(string(name)), lim.String(), "must be greater than or equal to the request"))
		}
	}
	if sl := w.StartupLatency; sl != nil {
		sp := p.Child("startupLatency")
		errs = append(errs, nonNegative(sp.Child("min"), sl.Min)...)
		if sl.Max.Duration < sl.Min.Duration {
			errs = append(errs, field.Invalid(sp.Child("max"), sl.Max.Duration.String(), "must be at least min"))
		}
		if sl.Max.Duration > MaxDuration {
			errs = append(errs, field.Invalid(sp.Child("max"), sl.Max.Duration.String(), fmt.Sprintf("must be at most %s", MaxDuration)))
		}
	}
	if w.EndpointsDelay != nil {
		errs = append(errs, nonNegative(p.Child("endpointsDelay"), *w.EndpointsDelay)...)
		if w.EndpointsDelay.Duration > time.Hour {
			errs = append(errs, field.Invalid(p.Child("endpointsDelay"), w.EndpointsDelay.Duration.String(), "must be at most 1h"))
		}
	}
	for name, pr := range map[string]*corev1.Probe{"readinessProbe": w.ReadinessProbe, "livenessProbe": w.LivenessProbe} {
		errs = append(errs, validateProbe(pr, p.Child(name))...)
	}

	if w.HPA != nil {
		hp := p.Child("hpa")
		errs = append(errs, hpa.Validate(w.HPA, hp)...)
		if w.Replicas != nil && *w.Replicas == 0 {
			errs = append(errs, field.Invalid(p.Child("replicas"), 0, "an HPA does not act on a Deployment scaled to zero"))
		}
	}
	if c := w.HPAController; c != nil {
		cp := p.Child("hpaController")
		for name, d := range map[string]*metav1.Duration{"downscaleStabilization": c.DownscaleStabilization, "cpuInitializationPeriod": c.CPUInitializationPeriod, "initialReadinessDelay": c.InitialReadinessDelay} {
			if d != nil {
				errs = append(errs, nonNegative(cp.Child(name), *d)...)
			}
		}
		// Periodic loops of the sim run once per period: at least a second
		// keeps a 24-hour run to a bounded number of events.
		for name, d := range map[string]*metav1.Duration{"syncPeriod": c.SyncPeriod, "metricResolution": c.MetricResolution} {
			if d != nil && d.Duration < time.Second {
				errs = append(errs, field.Invalid(cp.Child(name), d.Duration.String(), "must be at least 1s"))
			}
		}
		if c.Tolerance != nil && *c.Tolerance < 0 {
			errs = append(errs, field.Invalid(cp.Child("tolerance"), *c.Tolerance, "must not be negative"))
		}
	}
	return errs
}

func validateProbe(pr *corev1.Probe, pp *field.Path) field.ErrorList {
	var errs field.ErrorList
	if pr == nil {
		return nil
	}
	// Bounded so that probe arithmetic cannot overflow a duration (time
	// would run backwards); a day is far past any real probe.
	for name, v := range map[string]int32{"initialDelaySeconds": pr.InitialDelaySeconds, "periodSeconds": pr.PeriodSeconds, "successThreshold": pr.SuccessThreshold, "failureThreshold": pr.FailureThreshold, "timeoutSeconds": pr.TimeoutSeconds} {
		switch {
		case v < 0:
			errs = append(errs, field.Invalid(pp.Child(name), v, "must not be negative"))
		case v > maxProbeField:
			errs = append(errs, field.Invalid(pp.Child(name), v, fmt.Sprintf("must be at most %d", maxProbeField)))
		}
	}
	if pr.PeriodSeconds > 0 && pr.SuccessThreshold > 0 && int64(pr.PeriodSeconds)*int64(pr.SuccessThreshold) > maxProbeField {
		errs = append(errs, field.Invalid(pp.Child("successThreshold"), pr.SuccessThreshold, fmt.Sprintf("periodSeconds × successThreshold must be at most %d seconds", maxProbeField)))
	}
	return errs
}

// Bounds of quantities and probe fields: far beyond any real cluster, low
// enough that no arithmetic on them overflows.
const maxProbeField = 86400 // seconds, one day

var (
	maxCPU    = resource.MustParse("100000") // cores
	maxMemory = resource.MustParse("1Pi")
)

func quantityAtMost(p *field.Path, q, limit resource.Quantity) field.ErrorList {
	if q.Cmp(limit) > 0 {
		return field.ErrorList{field.Invalid(p, q.String(), fmt.Sprintf("must be at most %s", limit.String()))}
	}
	return nil
}

// MaxWork bounds one request's CPU cost, and MaxRetries a call's retries.
const (
	MaxWork    = time.Hour
	MaxRetries = 10
)

func validateCall(c *Call, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Timeout != nil {
		errs = append(errs, positiveAtMost(p.Child("timeout"), *c.Timeout)...)
	}
	if c.Retries < 0 || c.Retries > MaxRetries {
		errs = append(errs, field.Invalid(p.Child("retries"), c.Retries, fmt.Sprintf("must be between 0 and %d", MaxRetries)))
	}
	if !slices.Contains(fallbacks, c.Fallback) {
		errs = append(errs, field.NotSupported(p.Child("fallback"), c.Fallback, fallbacks))
	}
	if b := c.CircuitBreaker; b != nil {
		bp := p.Child("circuitBreaker")
		if b.ConsecutiveFailures != nil && *b.ConsecutiveFailures < 0 {
			errs = append(errs, field.Invalid(bp.Child("consecutiveFailures"), *b.ConsecutiveFailures, "must not be negative (the breaker opens when consecutive failures exceed it)"))
		}
		if b.OpenFor != nil {
			errs = append(errs, positiveAtMost(bp.Child("openFor"), *b.OpenFor)...)
		}
		if b.HalfOpenRequests != nil && *b.HalfOpenRequests < 1 {
			errs = append(errs, field.Invalid(bp.Child("halfOpenRequests"), *b.HalfOpenRequests, "must be at least 1"))
		}
	}
	return errs
}

var (
	profiles     = []string{ProfileConstant, ProfilePoisson, ProfileRamp, ProfileSteps, ProfileSine}
	arrivalKinds = []string{ArrivalsUniform, ArrivalsPoisson}
)

func validateLoad(l *Load, sc *Scenario, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	total := sc.Spec.Duration.Duration
	if _, ok := sc.ServiceByName(l.Target); !ok && len(sc.Spec.Services) > 0 {
		errs = append(errs, field.NotFound(p.Child("target"), l.Target))
	} else if hops := HopsPerRequest(sc, l.Target); hops > MaxHopsPerRequest {
		errs = append(errs, field.Invalid(p.Child("target"), l.Target, fmt.Sprintf("one request to %s makes %d or more service requests; at most %d are simulated per request", l.Target, hops, MaxHopsPerRequest)))
	} else if n := ExpectedServiceRequests(sc); n > MaxRequests {
		errs = append(errs, field.Invalid(p, fmt.Sprintf("%.0f service requests", n), fmt.Sprintf("more than the %d service requests one run can hold: lower the rate or shorten the load", MaxRequests)))
	}
	if !slices.Contains(arrivalKinds, l.Arrivals) {
		errs = append(errs, field.NotSupported(p.Child("arrivals"), l.Arrivals, arrivalKinds))
	} else if l.Profile == ProfilePoisson && l.Arrivals != ArrivalsPoisson {
		errs = append(errs, field.Invalid(p.Child("arrivals"), l.Arrivals, "the poisson profile has poisson arrivals"))
	}
	rate := func(name string, v int, allowZero bool) {
		if v < 0 || (!allowZero && v == 0) {
			errs = append(errs, field.Invalid(p.Child(name), v, "must be a positive number of requests per second"))
		}
	}
	switch l.Profile {
	case ProfileConstant, ProfilePoisson:
		rate("rate", l.Rate, false)
	case ProfileRamp:
		rate("from", l.From, true)
		rate("to", l.To, true)
		if l.From == 0 && l.To == 0 {
			errs = append(errs, field.Invalid(p.Child("to"), l.To, "a ramp needs a non-zero rate at one end"))
		}
	case ProfileSteps:
		if len(l.Steps) == 0 {
			errs = append(errs, field.Required(p.Child("steps"), "the steps profile needs at least one step"))
		}
		for i, s := range l.Steps {
			sp := p.Child("steps").Index(i)
			if s.Rate < 0 {
				errs = append(errs, field.Invalid(sp.Child("rate"), s.Rate, "must not be negative"))
			}
			errs = append(errs, positive(sp.Child("duration"), s.Duration)...)
		}
	case ProfileSine:
		rate("mean", l.Mean, false)
		if l.Amplitude < 0 || l.Amplitude > l.Mean {
			errs = append(errs, field.Invalid(p.Child("amplitude"), l.Amplitude, "must be between 0 and mean (a rate cannot go negative)"))
		}
		if l.Period == nil {
			errs = append(errs, field.Required(p.Child("period"), "the sine profile needs a period"))
		} else {
			errs = append(errs, positive(p.Child("period"), *l.Period)...)
			// Vegeta's sine pacer needs many hits per period to follow it;
			// a shorter period sends nothing at all.
			if l.Period.Duration > 0 && l.Period.Duration < time.Second {
				errs = append(errs, field.Invalid(p.Child("period"), l.Period.Duration.String(), "must be at least 1s"))
			}
		}
	case "":
		errs = append(errs, field.Required(p.Child("profile"), fmt.Sprintf("one of %v", profiles)))
	default:
		errs = append(errs, field.NotSupported(p.Child("profile"), l.Profile, profiles))
	}
	errs = append(errs, nonNegative(p.Child("start"), l.Start)...)
	if l.Duration != nil {
		errs = append(errs, positive(p.Child("duration"), *l.Duration)...)
		if l.Start.Duration >= 0 && l.Duration.Duration > 0 && total > 0 && l.Start.Duration+l.Duration.Duration > total {
			errs = append(errs, field.Invalid(p.Child("duration"), l.Duration.Duration.String(), fmt.Sprintf("load would run past the end of the scenario (spec.duration %s)", total)))
		}
	} else if total > 0 {
		errs = append(errs, field.Invalid(p.Child("start"), l.Start.Duration.String(), "load starts after the end of the scenario"))
	}
	errs = append(errs, positive(p.Child("timeout"), l.Timeout)...)
	return errs
}

var (
	chaosActions = []string{string(chaosv1alpha1.PodKillAction), string(chaosv1alpha1.PodFailureAction), string(chaosv1alpha1.ContainerKillAction)}
	chaosModes   = []string{string(chaosv1alpha1.OneMode), string(chaosv1alpha1.AllMode), string(chaosv1alpha1.FixedMode), string(chaosv1alpha1.FixedPercentMode), string(chaosv1alpha1.RandomMaxPercentMode)}
)

func validateFault(f *Fault, total time.Duration, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegative(p.Child("at"), f.At)...)
	if total > 0 && f.At.Duration >= total {
		errs = append(errs, field.Invalid(p.Child("at"), f.At.Duration.String(), fmt.Sprintf("must be before the end of the scenario (%s)", total)))
	}
	if no := f.NodeOutage; no != nil {
		return append(errs, validateNodeOutage(no, names, p)...)
	}
	if ph := f.PodHang; ph != nil {
		return append(errs, validatePodHang(ph, names, p)...)
	}
	if f.NetworkChaos != nil || f.StressChaos != nil {
		return append(errs, validateChaosObject(f, names, p)...)
	}
	pc := f.PodChaos
	if pc == nil {
		return append(errs, field.Required(p.Child("kind"), "a Chaos Mesh kind"))
	}
	errs = append(errs, validateFaultObject(pc.APIVersion, ChaosAPIVersion, pc.Name, names, p)...)
	sp := p.Child("spec")
	switch pc.Spec.Action {
	case chaosv1alpha1.PodKillAction, chaosv1alpha1.PodFailureAction, chaosv1alpha1.ContainerKillAction:
		// What each backend can do is its Check's business.
	default:
		errs = append(errs, field.NotSupported(sp.Child("action"), pc.Spec.Action, chaosActions))
	}
	errs = append(errs, validatePodSelector(&pc.Spec.PodSelector, pc, sp)...)
	if pc.Spec.GracePeriod < 0 {
		errs = append(errs, field.Invalid(sp.Child("gracePeriod"), pc.Spec.GracePeriod, "must not be negative"))
	}
	if pc.Spec.Duration != nil {
		if d, err := time.ParseDuration(*pc.Spec.Duration); err != nil || d < 0 {
			errs = append(errs, field.Invalid(sp.Child("duration"), *pc.Spec.Duration, "must be a non-negative duration such as 30s"))
		}
	}
	return errs
}

// validateFaultObject checks what every fault object has: its apiVersion
// and a name unique among the scenario's faults (names collects them).
func validateFaultObject(apiVersion, want, name string, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if apiVersion != want {
		errs = append(errs, field.NotSupported(p.Child("apiVersion"), apiVersion, []string{want}))
	}
	return append(errs, uniqueName(name, names, p.Child("metadata", "name"), "faults are named so that assertions can refer to them")...)
}

// uniqueName requires name, set at p, and that names (which it adds name
// to) does not hold it yet; why says what the name is for.
func uniqueName(name string, names map[string]bool, p *field.Path, why string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, why)}
	case names[name]:
		return field.ErrorList{field.Duplicate(p, name)}
	}
	names[name] = true
	return nil
}

// validateChaosObject checks a NetworkChaos or StressChaos with Chaos
// Mesh's own webhook validation of its spec.
func validateChaosObject(f *Fault, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var meta metav1.ObjectMeta
	var apiVersion string
	sp := p.Child("spec")
	switch {
	case f.NetworkChaos != nil:
		meta, apiVersion = f.NetworkChaos.ObjectMeta, f.NetworkChaos.APIVersion
		errs = append(errs, f.NetworkChaos.Spec.Validate(f.NetworkChaos, sp)...)
		errs = append(errs, validateNetworkChaos(f.NetworkChaos, sp)...)
	case f.StressChaos != nil:
		meta, apiVersion = f.StressChaos.ObjectMeta, f.StressChaos.APIVersion
		errs = append(errs, f.StressChaos.Spec.Validate(f.StressChaos, sp)...)
		errs = append(errs, validateStressChaos(f.StressChaos, sp)...)
	}
	errs = append(errs, validateFaultObject(apiVersion, ChaosAPIVersion, meta.Name, names, p)...)
	if d, ok := f.Duration(); ok && d > MaxDuration {
		errs = append(errs, field.Invalid(sp.Child("duration"), d.String(), fmt.Sprintf("must be at most %s", MaxDuration)))
	} else if s := chaosDuration(f); s != nil {
		if d, err := time.ParseDuration(*s); err != nil || d < 0 {
			errs = append(errs, field.Invalid(sp.Child("duration"), *s, "must be a non-negative duration such as 30s"))
		}
	}
	return errs
}

func validateNodeOutage(no *NodeOutage, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateFaultObject(no.APIVersion, APIVersion, no.Name, names, p)...)
	sp := p.Child("spec")
	if len(no.Spec.Selector) == 0 {
		errs = append(errs, field.Required(sp.Child("selector"), "node labels, e.g. {topology.kubernetes.io/zone: zone-a}"))
	}
	for k, v := range no.Spec.Selector {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(sp.Child("selector").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(sp.Child("selector").Key(k), v, msg))
		}
	}
	if d := no.Spec.Duration; d != nil {
		errs = append(errs, positive(sp.Child("duration"), *d)...)
	}
	return errs
}

func validatePodHang(ph *PodHang, names map[string]bool, p *field.Path) field.ErrorList {
	errs := validateFaultObject(ph.APIVersion, APIVersion, ph.Name, names, p)
	sp := p.Child("spec")
	errs = append(errs, validatePodSelector(&ph.Spec.PodSelector, ph, sp)...)
	if d := ph.Spec.Duration; d != nil {
		errs = append(errs, positiveAtMost(sp.Child("duration"), *d)...)
	}
	return errs
}

var assertionTypes = []string{AssertReplicasReach, AssertReadyRecovers, AssertLatency, AssertErrorRate, AssertDegradedRate, AssertAvailability, AssertBreakerOpens, AssertBreakerCloses, AssertPlacement, AssertRescheduledWithin, AssertReadinessFlaps, AssertSelfHealWithin, AssertNoCollateral}

// assertionFields lists the optional fields each assertion type reads;
// setting any other is an error (it would be silently ignored).
var assertionFields = map[string][]string{
	AssertReplicasReach:     {"atLeast", "atMost", "of", "within", "after"},
	AssertReadyRecovers:     {"atLeast", "within", "after"},
	AssertBreakerOpens:      {"downstream", "within", "after"},
	AssertBreakerCloses:     {"downstream", "within", "after"},
	AssertLatency:           {"quantile", "max", "window"},
	AssertErrorRate:         {"maxRatio", "window"},
	AssertDegradedRate:      {"maxRatio", "window"},
	AssertAvailability:      {"minRatio", "window"},
	AssertPlacement:         {"topologyKey", "maxSkew", "maxPerNode", "domains", "after"},
	AssertRescheduledWithin: {"within", "after"},
	AssertReadinessFlaps:    {"atLeast", "atMost", "window"},
	AssertSelfHealWithin:    {"within", "after"},
	AssertNoCollateral:      {"atLeast"},
}

func validateAssertion(a *Assertion, sc *Scenario, faults, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	total := sc.Spec.Duration.Duration
	errs = append(errs, uniqueName(a.Name, names, p.Child("name"), "assertions are named in reports")...)
	svc, svcOK := sc.ServiceByName(a.Service)
	if !svcOK && len(sc.Spec.Services) > 0 {
		errs = append(errs, field.NotFound(p.Child("service"), a.Service))
	}
	required := func(name string, set bool, why string) {
		if !set {
			errs = append(errs, field.Required(p.Child(name), why))
		}
	}
	if allowed, known := assertionFields[a.Type]; known {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"downstream", a.Downstream != ""}, {"atLeast", a.AtLeast != nil}, {"atMost", a.AtMost != nil}, {"of", a.Of != ""},
			{"within", a.Within != nil}, {"after", a.After != nil}, {"quantile", a.Quantile != nil}, {"max", a.Max != nil},
			{"maxRatio", a.MaxRatio != nil}, {"minRatio", a.MinRatio != nil}, {"window", a.Window != nil},
			{"topologyKey", a.TopologyKey != ""}, {"maxSkew", a.MaxSkew != nil}, {"maxPerNode", a.MaxPerNode != nil}, {"domains", a.Domains != nil},
		} {
			// of defaults to "ready" for replicasReach only.
			if f.set && !slices.Contains(allowed, f.name) {
				errs = append(errs, field.Forbidden(p.Child(f.name), fmt.Sprintf("not used by type %s", a.Type)))
			}
		}
	}
	ratio := func(name string, v *float64, why string) {
		required(name, v != nil, why)
		if v != nil && (*v < 0 || *v > 1) {
			errs = append(errs, field.Invalid(p.Child(name), *v, "must be in [0, 1]"))
		}
	}
	checkWithin := func() {
		required("within", a.Within != nil, "the time allowed")
		if a.Within != nil {
			errs = append(errs, positive(p.Child("within"), *a.Within)...)
		}
	}
	checkAfter := func() {
		if a.After == nil {
			return
		}
		ap := p.Child("after")
		switch {
		case a.After.Time != nil && a.After.Fault != "":
			errs = append(errs, field.Invalid(ap, "", "give either time or fault, not both"))
		case a.After.Time != nil:
			errs = append(errs, nonNegative(ap.Child("time"), *a.After.Time)...)
		case a.After.Fault != "":
			if !faults[a.After.Fault] {
				errs = append(errs, field.NotFound(ap.Child("fault"), a.After.Fault))
			}
		default:
			errs = append(errs, field.Required(ap, "time or fault"))
		}
	}
	isBreaker := a.Type == AssertBreakerOpens || a.Type == AssertBreakerCloses
	if isBreaker && svcOK {
		if len(svc.Calls) == 0 {
			errs = append(errs, field.Invalid(p.Child("service"), a.Service, "this service makes no calls, so it has no circuit breakers"))
		} else if a.Downstream != "" && !slices.ContainsFunc(svc.Calls, func(c Call) bool { return c.Service == a.Downstream }) {
			var called []string
			for _, c := range svc.Calls {
				called = append(called, c.Service)
			}
			errs = append(errs, field.NotSupported(p.Child("downstream"), a.Downstream, called))
		}
	}
	switch a.Type {
	case AssertReplicasReach, AssertReadyRecovers:
		if a.Type == AssertReplicasReach {
			if (a.AtLeast == nil) == (a.AtMost == nil) {
				errs = append(errs, field.Required(p.Child("atLeast"), "the replica count to reach: atLeast (scale-out) or atMost (scale-down), one of them"))
			}
		} else {
			required("atLeast", a.AtLeast != nil, "the replica count to reach")
		}
		checkWithin()
		required("after", a.After != nil, "the moment the clock starts: {time: 2m} or {fault: NAME}")
		for name, v := range map[string]*int32{"atLeast": a.AtLeast, "atMost": a.AtMost} {
			if v != nil && *v < 0 {
				errs = append(errs, field.Invalid(p.Child(name), *v, "must not be negative"))
			}
		}
		if a.Type == AssertReplicasReach && a.Of != "ready" && a.Of != "desired" {
			errs = append(errs, field.NotSupported(p.Child("of"), a.Of, []string{"ready", "desired"}))
		}
		if a.Type == AssertReadyRecovers && a.After != nil && a.After.Fault == "" {
			errs = append(errs, field.Required(p.Child("after", "fault"), "readyRecovers counts from a fault's injection"))
		}
		checkAfter()
	case AssertBreakerOpens, AssertBreakerCloses:
		checkWithin()
		if a.Type == AssertBreakerOpens {
			required("after", a.After != nil, "the moment the clock starts: {time: 2m} or {fault: NAME}")
		}
		checkAfter()
	case AssertPlacement:
		if a.MaxSkew == nil && a.MaxPerNode == nil && a.Domains == nil {
			errs = append(errs, field.Required(p.Child("maxSkew"), "what must hold: maxSkew (across topologyKey's domains), maxPerNode (1: never share a node) or domains (the allowed values of topologyKey)"))
		}
		for name, v := range map[string]*int32{"maxSkew": a.MaxSkew, "maxPerNode": a.MaxPerNode} {
			if v != nil && *v < 1 {
				errs = append(errs, field.Invalid(p.Child(name), *v, "must be at least 1"))
			}
		}
		if a.Domains != nil && len(a.Domains) == 0 {
			errs = append(errs, field.Required(p.Child("domains"), "at least one value of topologyKey"))
		}
		if a.TopologyKey != "" {
			errs = append(errs, validateTopologyKey(a.TopologyKey, p.Child("topologyKey"))...)
		}
		checkAfter()
	case AssertRescheduledWithin:
		checkWithin()
		checkAfter()
	case AssertSelfHealWithin:
		checkWithin()
		if a.After != nil && a.After.Fault == "" {
			errs = append(errs, field.Required(p.Child("after", "fault"), "selfHealWithin counts from a fault's injection: {fault: NAME}, or leave after out for every PodHang and pod-failure"))
		}
		checkAfter()
	case AssertNoCollateral:
		required("atLeast", a.AtLeast != nil, "the fewest serving pods allowed while self-heal repairs")
		if a.AtLeast != nil && *a.AtLeast < 0 {
			errs = append(errs, field.Invalid(p.Child("atLeast"), *a.AtLeast, "must not be negative"))
		}
	case AssertReadinessFlaps:
		if (a.AtLeast == nil) == (a.AtMost == nil) {
			errs = append(errs, field.Required(p.Child("atLeast"), "the count of Ready → not Ready transitions: atLeast (flapping is expected) or atMost (0: none allowed), one of them"))
		}
		for name, v := range map[string]*int32{"atLeast": a.AtLeast, "atMost": a.AtMost} {
			if v != nil && *v < 0 {
				errs = append(errs, field.Invalid(p.Child(name), *v, "must not be negative"))
			}
		}
		errs = append(errs, validateWindow(a.Window, total, p.Child("window"))...)
	case AssertLatency, AssertErrorRate, AssertDegradedRate, AssertAvailability:
		switch a.Type {
		case AssertLatency:
			required("quantile", a.Quantile != nil, "e.g. 0.99")
			required("max", a.Max != nil, "the latency bound, e.g. 250ms")
			if a.Quantile != nil && (*a.Quantile <= 0 || *a.Quantile > 1) {
				errs = append(errs, field.Invalid(p.Child("quantile"), *a.Quantile, "must be in (0, 1]"))
			}
			if a.Max != nil {
				errs = append(errs, positive(p.Child("max"), *a.Max)...)
			}
		case AssertErrorRate, AssertDegradedRate:
			ratio("maxRatio", a.MaxRatio, "the largest allowed share of requests, e.g. 0.01")
		case AssertAvailability:
			ratio("minRatio", a.MinRatio, "the smallest allowed share of answered (ok or degraded) requests, e.g. 0.999")
		}
		errs = append(errs, validateWindow(a.Window, total, p.Child("window"))...)
	case "":
		errs = append(errs, field.Required(p.Child("type"), fmt.Sprintf("one of %v", assertionTypes)))
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), a.Type, assertionTypes))
	}
	return errs
}

func validateWindow(w *Window, total time.Duration, wp *field.Path) field.ErrorList {
	if w == nil {
		return nil
	}
	errs := nonNegative(wp.Child("from"), w.From)
	if w.To != nil && w.To.Duration <= w.From.Duration {
		errs = append(errs, field.Invalid(wp.Child("to"), w.To.Duration.String(), "must be after from"))
	}
	if total > 0 && w.From.Duration >= total {
		errs = append(errs, field.Invalid(wp.Child("from"), w.From.Duration.String(), "starts after the end of the scenario"))
	}
	return errs
}

var (
	selfHealEvents  = []string{selfheal.InstanceDown, selfheal.CircuitBreakerTripped}
	selfHealActions = []string{selfheal.Restart, selfheal.Isolate, selfheal.Scale}
)

func validateSelfHeal(sc *Scenario, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range sc.Spec.SelfHeal {
		sh := &sc.Spec.SelfHeal[i]
		pp := p.Index(i)
		errs = append(errs, uniqueName(sh.Name, names, pp.Child("name"), "policies are named in events and reports")...)
		if _, ok := sc.ServiceByName(sh.Target); !ok {
			errs = append(errs, field.NotFound(pp.Child("target"), sh.Target))
		}
		if h := sh.HealthCheck; h != nil {
			hp := pp.Child("healthCheck")
			if h.Interval != nil && h.Interval.Duration < time.Second {
				errs = append(errs, field.Invalid(hp.Child("interval"), h.Interval.Duration.String(), "must be at least 1s"))
			}
			if h.Timeout != nil {
				errs = append(errs, positiveAtMost(hp.Child("timeout"), *h.Timeout)...)
			}
			if h.FailureThreshold != nil && (*h.FailureThreshold < 1 || *h.FailureThreshold > 1000) {
				errs = append(errs, field.Invalid(hp.Child("failureThreshold"), *h.FailureThreshold, "must be between 1 and 1000"))
			}
			if !strings.HasPrefix(h.Path, "/") {
				errs = append(errs, field.Invalid(hp.Child("path"), h.Path, "must start with /"))
			}
		}
		if len(sh.Subscriptions) == 0 {
			errs = append(errs, field.Required(pp.Child("subscriptions"), "at least one: {event: InstanceDown, action: restart}"))
		}
		for j, s := range sh.Subscriptions {
			sp := pp.Child("subscriptions").Index(j)
			if !slices.Contains(selfHealEvents, s.Event) {
				errs = append(errs, field.NotSupported(sp.Child("event"), s.Event, selfHealEvents))
			}
			if !slices.Contains(selfHealActions, s.Action) {
				errs = append(errs, field.NotSupported(sp.Child("action"), s.Action, selfHealActions))
			}
			if s.Timeout != nil {
				errs = append(errs, positiveAtMost(sp.Child("timeout"), *s.Timeout)...)
			}
			if s.Retries != nil && (*s.Retries < 0 || *s.Retries > MaxRetries) {
				errs = append(errs, field.Invalid(sp.Child("retries"), *s.Retries, fmt.Sprintf("must be between 0 and %d", MaxRetries)))
			}
		}
		if r := sh.RateLimit; r != nil {
			rp := pp.Child("rateLimit")
			if r.MaxConcurrent != nil && *r.MaxConcurrent < 1 {
				errs = append(errs, field.Invalid(rp.Child("maxConcurrent"), *r.MaxConcurrent, "must be at least 1"))
			}
			if r.MinAvailable != nil && *r.MinAvailable < 0 {
				errs = append(errs, field.Invalid(rp.Child("minAvailable"), *r.MinAvailable, "must not be negative"))
			}
		}
	}
	return errs
}
