// Package operator is the self-heal operator: a controller-runtime
// reconciler per SelfHealPolicy (mcpsim.dev/v1alpha1) that health-checks
// the pods the policy selects, feeds package selfheal's engine (the same
// decisions the sim makes) and carries out what it decides: restart
// deletes the pod, isolate takes it out of its Services' endpoints by
// label until it is healthy, scale adds a replica to its Deployment.
//
// Health checks are periodic, not event-driven: a policy's reconcile runs
// its checks only when they are due (every interval from the policy's
// first sight) and asks to be requeued at the next check or the next
// repair deadline, whichever is first. Reconciles triggered by pod changes
// in between only complete repairs (a restarted pod is gone) and expire
// late ones, so the check cadence, and with it the detection time
// (interval × failureThreshold), does not depend on how busy the
// namespace is.
//
// The engine's state (failure counts, repairs in flight) lives in memory
// per policy and starts afresh when the policy's spec changes or the
// operator restarts; the counters in the status carry over.
package operator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// Event reasons: the sim's timeline event kinds, so that the same
// assertions read a real run's Events and a simulated run's alike.
const (
	ReasonDetected = "SelfHealDetected"
	ReasonAction   = "SelfHealAction"
	ReasonOutcome  = "SelfHealOutcome"
)

// Name is the controller's name (the Events' reporting controller).
const Name = "mcpsim-selfheal"

// Reconciler reconciles SelfHealPolicy objects.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Checker  Checker

	mu       sync.Mutex
	policies map[types.NamespacedName]*policyState
}

// policyState is one policy's engine and what the operator keeps beside it.
type policyState struct {
	uid        types.UID
	generation int64
	eng        *selfheal.Engine
	nextCheck  time.Time
	// pending are the attempts in flight, by decision ID.
	pending map[int]attempt
	// down are the instances detected down and not healthy since.
	down map[string]bool
	// pods are the pods last seen, by name, for Events about pods that
	// are gone.
	pods   map[string]*corev1.Pod
	gaveUp bool
	// breakers are the callers' breakers toward the policy's pods, as
	// last read: caller pod -> downstream -> state.
	breakers map[string]map[string]reference.BreakerState
}

type attempt struct {
	d selfheal.Decision
	// uid is the restarted pod's: a replacement of the same name does not
	// count as still there.
	uid types.UID
}

// NewReconciler returns a reconciler with the wall clock and an HTTP
// checker unless given.
func NewReconciler(c client.Client, rec events.EventRecorder, clk clock.PassiveClock, checker Checker) *Reconciler {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if checker == nil {
		checker = NewHTTPChecker()
	}
	return &Reconciler{Client: c, Recorder: rec, Clock: clk, Checker: checker, policies: map[types.NamespacedName]*policyState{}}
}

// SetupWithManager registers the reconciler: SelfHealPolicies, and the
// pods they select (so that a restart completes when its pod is gone).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("selfhealpolicy").
		For(&v1alpha1.SelfHealPolicy{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.policiesFor)).
		Complete(r)
}

// policiesFor maps a pod to the policies that select it or isolated it.
func (r *Reconciler) policiesFor(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1alpha1.SelfHealPolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		p := &list.Items[i]
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(o.GetLabels())) || o.GetLabels()[IsolatedByLabel] == p.Name {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		}
	}
	return out
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var pol v1alpha1.SelfHealPolicy
	if err := r.Client.Get(ctx, req.NamespacedName, &pol); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if pol.DeletionTimestamp != nil {
		r.forget(req.NamespacedName)
		return reconcile.Result{}, nil
	}
	now := r.Clock.Now()
	orig := pol.DeepCopy()
	sel, err := validate(&pol)
	if err != nil {
		// Nothing to do until the spec changes (which triggers a reconcile).
		r.forget(req.NamespacedName)
		setCondition(&pol, v1alpha1.ConditionReady, metav1.ConditionFalse, "InvalidSpec", err.Error(), now)
		pol.Status.ObservedGeneration = pol.Generation
		return reconcile.Result{}, r.patchStatus(ctx, orig, &pol)
	}
	st := r.state(&pol, now)
	rc := &round{r: r, ctx: ctx, pol: &pol, st: st, now: now}
	if err := rc.observe(sel); err != nil {
		return reconcile.Result{}, err
	}
	rc.completeRestarts()
	if !now.Before(st.nextCheck) {
		rc.check()
		if err := rc.watchBreakers(); err != nil {
			return reconcile.Result{}, err
		}
		interval := st.eng.Policy().HealthCheck.Interval
		st.nextCheck = st.nextCheck.Add(interval)
		if !st.nextCheck.After(now) { // late: keep the cadence from now
			st.nextCheck = now.Add(interval)
		}
	}
	rc.expire()
	rc.status()
	if err := r.patchStatus(ctx, orig, &pol); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: r.nextWake(st, now)}, nil
}

// nextWake is how long until the next check or repair deadline.
func (r *Reconciler) nextWake(st *policyState, now time.Time) time.Duration {
	next := st.nextCheck
	for _, a := range st.pending {
		if a.d.Deadline.Before(next) {
			next = a.d.Deadline
		}
	}
	if d := next.Sub(now); d > 0 {
		return d
	}
	return time.Nanosecond // due now: as soon as the queue allows
}

// validate checks what the CRD's schema may not have (an API server
// without CEL, an object built in Go) and returns the pod selector.
func validate(pol *v1alpha1.SelfHealPolicy) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(&pol.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("spec.selector: %w", err)
	}
	if sel.Empty() {
		return nil, fmt.Errorf("spec.selector: selects every pod of the namespace; give matchLabels or matchExpressions")
	}
	p := pol.Spec.EnginePolicy(pol.Name, pol.Name)
	var errs []string
	if p.HealthCheck.Interval < time.Second {
		errs = append(errs, "spec.healthCheck.interval: must be at least 1s")
	}
	if p.HealthCheck.Timeout <= 0 {
		errs = append(errs, "spec.healthCheck.timeout: must be greater than zero")
	}
	if p.HealthCheck.FailureThreshold < 1 {
		errs = append(errs, "spec.healthCheck.failureThreshold: must be at least 1")
	}
	if !strings.HasPrefix(p.HealthCheck.Path, "/") {
		errs = append(errs, "spec.healthCheck.path: must start with /")
	}
	if len(p.Subscriptions) == 0 {
		errs = append(errs, "spec.subscriptions: at least one")
	}
	for i, s := range p.Subscriptions {
		if s.Event != selfheal.InstanceDown && s.Event != selfheal.CircuitBreakerTripped {
			errs = append(errs, fmt.Sprintf("spec.subscriptions[%d].event: %q is not InstanceDown or CircuitBreakerTripped", i, s.Event))
		}
		if s.Action != selfheal.Restart && s.Action != selfheal.Isolate && s.Action != selfheal.Scale {
			errs = append(errs, fmt.Sprintf("spec.subscriptions[%d].action: %q is not restart, isolate or scale", i, s.Action))
		}
		if s.Timeout <= 0 {
			errs = append(errs, fmt.Sprintf("spec.subscriptions[%d].timeout: must be greater than zero", i))
		}
		if s.Retries < 0 {
			errs = append(errs, fmt.Sprintf("spec.subscriptions[%d].retries: must not be negative", i))
		}
	}
	if p.RateLimit.MaxConcurrent < 1 {
		errs = append(errs, "spec.rateLimit.maxConcurrent: must be at least 1")
	}
	if p.RateLimit.MinAvailable < 0 {
		errs = append(errs, "spec.rateLimit.minAvailable: must not be negative")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return sel, nil
}

// state returns the policy's state, new when the policy is new or its
// spec changed (a new engine: counts and repairs in flight start over).
// The first check is one interval after the policy is first seen, as in
// the sim.
func (r *Reconciler) state(pol *v1alpha1.SelfHealPolicy, now time.Time) *policyState {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := client.ObjectKeyFromObject(pol)
	st := r.policies[key]
	if st != nil && st.uid == pol.UID && st.generation == pol.Generation {
		return st
	}
	p := pol.Spec.EnginePolicy(pol.Name, selectorString(&pol.Spec.Selector))
	st = &policyState{uid: pol.UID, generation: pol.Generation, eng: selfheal.New(p), nextCheck: now.Add(p.HealthCheck.Interval),
		pending: map[int]attempt{}, down: map[string]bool{}, pods: map[string]*corev1.Pod{}}
	r.policies[key] = st
	return st
}

func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.policies, key)
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "?"
	}
	return sel.String()
}

func (r *Reconciler) patchStatus(ctx context.Context, orig, pol *v1alpha1.SelfHealPolicy) error {
	if err := r.Client.Status().Patch(ctx, pol, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile
		}
		return fmt.Errorf("updating the status of SelfHealPolicy %s/%s: %w", pol.Namespace, pol.Name, err)
	}
	return nil
}

func setCondition(pol *v1alpha1.SelfHealPolicy, typ string, status metav1.ConditionStatus, reason, msg string, now time.Time) {
	// An explicit transition time: SetStatusCondition would read the wall
	// clock.
	meta.SetStatusCondition(&pol.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: pol.Generation, LastTransitionTime: metav1.NewTime(now)})
}

// round is one reconcile of one policy: the pods as observed, and what
// this round did to them.
type round struct {
	r   *Reconciler
	ctx context.Context
	pol *v1alpha1.SelfHealPolicy
	st  *policyState
	now time.Time

	pods map[string]*corev1.Pod // selected or isolated by this policy, not deleting
}

// observe lists the pods the policy selects and those it isolated (which
// its selector may no longer match).
func (rc *round) observe(sel labels.Selector) error {
	var sl, il corev1.PodList
	ns := client.InNamespace(rc.pol.Namespace)
	if err := rc.r.Client.List(rc.ctx, &sl, ns, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return fmt.Errorf("listing the pods of SelfHealPolicy %s/%s: %w", rc.pol.Namespace, rc.pol.Name, err)
	}
	if err := rc.r.Client.List(rc.ctx, &il, ns, client.MatchingLabels{IsolatedByLabel: rc.pol.Name}); err != nil {
		return fmt.Errorf("listing the pods SelfHealPolicy %s/%s isolated: %w", rc.pol.Namespace, rc.pol.Name, err)
	}
	rc.pods = map[string]*corev1.Pod{}
	for _, items := range [][]corev1.Pod{sl.Items, il.Items} {
		for i := range items {
			p := &items[i]
			if p.DeletionTimestamp == nil {
				rc.pods[p.Name] = p
			}
			rc.st.pods[p.Name] = p
		}
	}
	// Instances that are gone leave the engine (and the records).
	for name := range rc.st.pods {
		if _, ok := rc.pods[name]; !ok && !rc.restarting(name) {
			rc.st.eng.Forget(name)
			delete(rc.st.down, name)
			delete(rc.st.pods, name)
		}
	}
	return nil
}

func (rc *round) restarting(name string) bool {
	for _, a := range rc.st.pending {
		if a.d.Action == selfheal.Restart && a.d.Instance == name {
			return true
		}
	}
	return false
}

// completeRestarts ends the restarts whose pod is gone (or terminating:
// the API server accepted the deletion and its ReplicaSet is replacing it).
func (rc *round) completeRestarts() {
	ids := rc.pendingIDs()
	for _, id := range ids {
		a := rc.st.pending[id]
		if a.d.Action != selfheal.Restart {
			continue
		}
		if p, ok := rc.pods[a.d.Instance]; ok && p.UID == a.uid {
			continue
		}
		rc.completed(id, true)
		if _, ok := rc.pods[a.d.Instance]; !ok {
			rc.st.eng.Forget(a.d.Instance)
			delete(rc.st.down, a.d.Instance)
		}
	}
}

func (rc *round) pendingIDs() []int {
	return slices.Sorted(maps.Keys(rc.st.pending))
}

// check health-checks every running pod (concurrently: a hung pod costs
// its timeout, not the others') and feeds the results to the engine in
// name order, so that decisions do not depend on which answer came first.
func (rc *round) check() {
	p := rc.st.eng.Policy()
	names := make([]string, 0, len(rc.pods))
	for name, pod := range rc.pods {
		if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	ok := make([]bool, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = rc.r.Checker.Check(rc.ctx, rc.pods[name], p.HealthCheck.Path, p.HealthCheck.Timeout)
		}()
	}
	wg.Wait()
	rc.pol.Status.LastCheckTime = &metav1.Time{Time: rc.now}
	rc.pol.Status.Pods, rc.pol.Status.Healthy = int32(len(names)), 0
	for i, name := range names {
		if ok[i] {
			rc.pol.Status.Healthy++
			delete(rc.st.down, name)
		}
		ev, rejoin := rc.st.eng.Health(name, ok[i], rc.now)
		if rejoin != nil {
			rc.carryOut([]selfheal.Decision{*rejoin}, nil)
		}
		if ev != nil {
			rc.st.down[name] = true
			rc.pol.Status.Detections++
			rc.event(name, corev1.EventTypeWarning, ReasonDetected, "Detect",
				fmt.Sprintf("%s after %d failed health checks", ev.Type, p.HealthCheck.FailureThreshold))
			// A pod Kubernetes already took out of the endpoints costs
			// the service nothing to restart or isolate.
			v := selfheal.View{Serving: rc.serving(), TargetOut: !inEndpoints(rc.pods[name])}
			ds, outs := rc.st.eng.Handle(*ev, v, rc.now)
			rc.carryOut(ds, outs)
		}
	}
}

// serving counts the selected pods in their Services' endpoints: Ready,
// not terminating, not isolated.
func (rc *round) serving() int {
	n := 0
	for _, p := range rc.pods {
		if inEndpoints(p) {
			n++
		}
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// expire ends the attempts past their deadline; the engine retries them
// or gives up.
func (rc *round) expire() {
	for id, a := range rc.st.pending {
		if !rc.now.Before(a.d.Deadline) {
			delete(rc.st.pending, id)
		}
	}
	rc.carryOut(rc.st.eng.Expire(rc.now))
}

func (rc *round) completed(id int, ok bool) {
	delete(rc.st.pending, id)
	rc.carryOut(rc.st.eng.Completed(id, ok, rc.now))
}

// carryOut records outcomes and executes decisions (which may complete
// at once and bring more outcomes or retries).
func (rc *round) carryOut(ds []selfheal.Decision, outs []selfheal.Outcome) {
	for _, o := range outs {
		typ := corev1.EventTypeNormal
		switch {
		case o.Result == "succeeded":
			rc.pol.Status.Repairs++
			rc.st.gaveUp = false
		case strings.HasPrefix(o.Result, "gave up"):
			rc.pol.Status.FailedRepairs++
			rc.st.gaveUp = true
			typ = corev1.EventTypeWarning
		case strings.HasPrefix(o.Result, "skipped"):
			rc.pol.Status.SkippedRepairs++
			typ = corev1.EventTypeWarning
		}
		rc.event(o.Event.Instance, typ, ReasonOutcome, "Outcome", fmt.Sprintf("%s for %s: %s", o.Action, o.Event, o.Result))
	}
	for _, d := range ds {
		if d.Action == selfheal.Rejoin {
			rc.event(d.Instance, corev1.EventTypeNormal, ReasonAction, "Rejoin", "rejoin: its health check passes again")
			if err := rc.rejoin(d.Instance); err != nil {
				rc.event(d.Instance, corev1.EventTypeWarning, ReasonOutcome, "Outcome", fmt.Sprintf("rejoin failed: %v", err))
			}
			continue
		}
		rc.event(d.Instance, corev1.EventTypeNormal, ReasonAction, d.Action, fmt.Sprintf("%s (attempt %d) for %s", d.Action, d.Attempt, d.Event))
		rc.st.pending[d.ID] = attempt{d: d}
		var done bool
		var err error
		switch d.Action {
		case selfheal.Restart:
			done, err = rc.restart(d)
		case selfheal.Isolate:
			done, err = true, rc.isolate(d.Instance)
		case selfheal.Scale:
			done, err = true, rc.scale(d)
		default:
			done, err = true, fmt.Errorf("unknown action %q", d.Action)
		}
		if err != nil {
			log.FromContext(rc.ctx).Info("self-heal action failed", "policy", rc.pol.Name, "action", d.Action, "pod", d.Instance, "error", err.Error())
			rc.event(d.Instance, corev1.EventTypeWarning, ReasonAction, d.Action, fmt.Sprintf("%s (attempt %d) failed: %v", d.Action, d.Attempt, err))
			rc.completed(d.ID, false)
			continue
		}
		if done {
			rc.completed(d.ID, true)
		}
	}
}

// event records a Kubernetes Event about a pod (gone or not), related to
// the policy; its note reads like the sim's timeline events.
func (rc *round) event(podName, typ, reason, action, msg string) {
	if rc.r.Recorder == nil {
		return
	}
	pod := rc.st.pods[podName]
	if pod == nil {
		pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: rc.pol.Namespace}}
	}
	ref := pod.DeepCopy()
	ref.APIVersion, ref.Kind = "v1", "Pod"
	rc.r.Recorder.Eventf(ref, rc.pol, typ, reason, action, "%s", "self-heal "+rc.pol.Name+": "+msg)
}

// status sets the conditions and counts of this round.
func (rc *round) status() {
	s := &rc.pol.Status
	s.ObservedGeneration = rc.pol.Generation
	p := rc.st.eng.Policy()
	setCondition(rc.pol, v1alpha1.ConditionReady, metav1.ConditionTrue, "Checking",
		fmt.Sprintf("checking %d pod(s) selected by %s every %s", len(rc.pods), p.Target, p.HealthCheck.Interval), rc.now)
	switch {
	case len(rc.st.down) > 0:
		down := slices.Sorted(maps.Keys(rc.st.down))
		setCondition(rc.pol, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "InstancesDown", "down: "+strings.Join(down, ", "), rc.now)
	case rc.st.gaveUp:
		setCondition(rc.pol, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "RepairGaveUp", "the last repair gave up after its retries", rc.now)
	default:
		setCondition(rc.pol, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllHealthy", "no selected pod is down", rc.now)
	}
}

// inEndpoints says whether p counts among its Services' endpoints: Ready,
// not isolated and not terminating (its Ready condition may still be
// true while it terminates, but it is on its way out).
func inEndpoints(p *corev1.Pod) bool {
	return p != nil && p.DeletionTimestamp == nil && p.Labels[IsolatedByLabel] == "" && podReady(p)
}

// watchBreakers reads, with each round of checks, the circuit breakers of
// the namespace's other pods toward the policy's pods (by the reference
// services' convention a downstream is named after its pods' app label),
// and turns each breaker that has opened since the last read into a
// CircuitBreakerTripped event about the caller, as the sim does when a
// caller's breaker opens. Only for policies that subscribe to it.
func (rc *round) watchBreakers() error {
	p := rc.st.eng.Policy()
	wanted := false
	for _, s := range p.Subscriptions {
		wanted = wanted || s.Event == selfheal.CircuitBreakerTripped
	}
	reader, ok := rc.r.Checker.(BreakerReader)
	if !wanted || !ok {
		return nil
	}
	targets := map[string]bool{}
	for _, pod := range rc.pods {
		if app := pod.Labels["app"]; app != "" {
			targets[app] = true
		}
	}
	var all corev1.PodList
	if err := rc.r.Client.List(rc.ctx, &all, client.InNamespace(rc.pol.Namespace)); err != nil {
		return fmt.Errorf("listing the callers of SelfHealPolicy %s/%s: %w", rc.pol.Namespace, rc.pol.Name, err)
	}
	if rc.st.breakers == nil {
		rc.st.breakers = map[string]map[string]reference.BreakerState{}
	}
	seen := map[string]bool{}
	var callers []*corev1.Pod
	for i := range all.Items {
		c := &all.Items[i]
		if _, self := rc.pods[c.Name]; self || c.DeletionTimestamp != nil || c.Status.Phase != corev1.PodRunning || c.Status.PodIP == "" {
			continue
		}
		callers = append(callers, c)
		seen[c.Name] = true
	}
	for name := range rc.st.breakers {
		if !seen[name] {
			delete(rc.st.breakers, name) // gone
		}
	}
	sort.Slice(callers, func(i, j int) bool { return callers[i].Name < callers[j].Name })
	// Read concurrently, as the health checks are (a caller that hangs
	// costs its timeout, not the others'), then judge in name order.
	read := make([]map[string]reference.BreakerState, len(callers))
	var wg sync.WaitGroup
	for i, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := reader.Breakers(rc.ctx, c, p.HealthCheck.Timeout); err == nil {
				read[i] = st
			}
		}()
	}
	wg.Wait()
	for i, c := range callers {
		states := read[i]
		if states == nil {
			continue // not a reference service, or not answering: no breakers to read
		}
		prev := rc.st.breakers[c.Name]
		rc.st.breakers[c.Name] = states
		for _, down := range slices.Sorted(maps.Keys(states)) {
			if !targets[down] || states[down] != reference.Open || prev[down] == reference.Open {
				continue
			}
			ev := selfheal.Event{Type: selfheal.CircuitBreakerTripped, Instance: c.Name, Downstream: down}
			rc.pol.Status.Detections++
			rc.event(c.Name, corev1.EventTypeWarning, ReasonDetected, "Detect", fmt.Sprintf("%s: its breaker toward %s opened", ev.Type, down))
			ds, outs := rc.st.eng.Handle(ev, selfheal.View{Serving: rc.serving()}, rc.now)
			rc.carryOut(ds, outs)
		}
	}
	return nil
}
