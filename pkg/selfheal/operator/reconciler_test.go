package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

const ns = "run"

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeChecker answers from a set of hung pods.
type fakeChecker struct {
	mu   sync.Mutex
	hung map[string]bool
	n    int
	// breakers: a pod's breakers (downstream -> state) as its /metrics
	// would say now; nil: none to read
	breakers func(pod string) map[string]reference.BreakerState
}

func (f *fakeChecker) Breakers(_ context.Context, pod *corev1.Pod, _ time.Duration) (map[string]reference.BreakerState, error) {
	var st map[string]reference.BreakerState
	if f.breakers != nil {
		st = f.breakers(pod.Name)
	}
	if st == nil {
		return nil, fmt.Errorf("%s has no /metrics", pod.Name)
	}
	return st, nil
}

func (f *fakeChecker) Check(_ context.Context, pod *corev1.Pod, path string, _ time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return path == "/healthz" && !f.hung[pod.Name]
}

func (f *fakeChecker) set(name string, hung bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hung[name] = hung
}

func policy(subs []v1alpha1.Subscription, rl *v1alpha1.RateLimit) *v1alpha1.SelfHealPolicy {
	return &v1alpha1.SelfHealPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "heal", Namespace: ns, UID: "pol-uid", Generation: 1},
		Spec: v1alpha1.SelfHealPolicySpec{
			Selector:      metav1.LabelSelector{MatchLabels: map[string]string{"app": "payment"}},
			HealthCheck:   &v1alpha1.HealthCheck{Interval: &metav1.Duration{Duration: 5 * time.Second}, FailureThreshold: ptr.To[int32](3)},
			Subscriptions: subs,
			RateLimit:     rl,
		},
	}
}

func pod(i int) *corev1.Pod {
	name := fmt.Sprintf("payment-%d", i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(name + "-uid"),
			Labels: map[string]string{"app": "payment", "pod-template-hash": "abc"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "payment-abc", UID: "rs-uid",
				Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.0.%d", i+1),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

type harness struct {
	t       *testing.T
	c       client.WithWatch
	clk     *clocktesting.FakeClock
	chk     *fakeChecker
	rec     *events.FakeRecorder
	r       *Reconciler
	deletes []string // "15s payment-0"
	events  []string
}

func newHarness(t *testing.T, pol *v1alpha1.SelfHealPolicy, pods int, funcs *interceptor.Funcs) *harness {
	t.Helper()
	s, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clk: clocktesting.NewFakeClock(t0), chk: &fakeChecker{hung: map[string]bool{}}, rec: events.NewFakeRecorder(1000)}
	objs := []client.Object{pol,
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "payment", Namespace: ns, UID: "dep-uid"},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(pods)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "payment"}}}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "payment-abc", Namespace: ns, UID: "rs-uid",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "payment", UID: "dep-uid", Controller: ptr.To(true)}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "payment", Namespace: ns}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "payment"}}},
	}
	for i := 0; i < pods; i++ {
		objs = append(objs, pod(i))
	}
	f := interceptor.Funcs{}
	if funcs != nil {
		f = *funcs
	}
	del := f.Delete
	f.Delete = func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
		h.deletes = append(h.deletes, fmt.Sprintf("%s %s", h.clk.Since(t0), obj.GetName()))
		if del != nil {
			return del(ctx, c, obj, opts...)
		}
		return c.Delete(ctx, obj, opts...)
	}
	h.c = fake.NewClientBuilder().WithScheme(s).WithStatusSubresource(&v1alpha1.SelfHealPolicy{}).WithObjects(objs...).WithInterceptorFuncs(f).Build()
	h.r = NewReconciler(h.c, h.rec, h.clk, h.chk)
	return h
}

// reconcile runs one reconcile now and returns when it wants the next.
func (h *harness) reconcile() time.Duration {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "heal"}})
	if err != nil {
		h.t.Fatalf("at %s: %v", h.clk.Since(t0), err)
	}
	for {
		select {
		case e := <-h.rec.Events:
			h.events = append(h.events, fmt.Sprintf("%s %s", h.clk.Since(t0), e))
			continue
		default:
		}
		break
	}
	return res.RequeueAfter
}

// run reconciles at every wake-up the reconciler asks for until end,
// calling after (if any) after each reconcile.
func (h *harness) run(end time.Duration, after func(now time.Duration)) {
	h.t.Helper()
	for h.clk.Since(t0) <= end {
		wait := h.reconcile()
		if after != nil {
			after(h.clk.Since(t0))
		}
		if wait <= 0 {
			h.t.Fatalf("at %s: no requeue", h.clk.Since(t0))
		}
		h.clk.Step(wait)
	}
}

func (h *harness) policy() *v1alpha1.SelfHealPolicy {
	var p v1alpha1.SelfHealPolicy
	if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "heal"}, &p); err != nil {
		h.t.Fatal(err)
	}
	return &p
}

func (h *harness) pods() []corev1.Pod {
	var l corev1.PodList
	if err := h.c.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		h.t.Fatal(err)
	}
	return l.Items
}

// replicas is the Deployment's spec.replicas.
func (h *harness) replicas(name string) int32 {
	h.t.Helper()
	var d appsv1.Deployment
	if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		h.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func (h *harness) eventsMatching(sub string) []string {
	var out []string
	for _, e := range h.events {
		if strings.Contains(e, sub) {
			out = append(out, e)
		}
	}
	return out
}

func restartSub() []v1alpha1.Subscription {
	return []v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Restart}}
}

// Interval 5s, threshold 3, the policy first seen at 0: checks at 5s,
// 10s, 15s; a pod hung from the start fails all three, so InstanceDown is
// raised at 15s and the pod deleted then. The restart completes at the
// next reconcile that sees the pod gone: 20s here (the next check; on a
// cluster the pod's deletion triggers one sooner).
func TestDetectAndRestart(t *testing.T) {
	h := newHarness(t, policy(restartSub(), nil), 3, nil)
	h.chk.set("payment-1", true)
	h.run(20*time.Second, nil)
	if want := []string{"15s payment-1"}; !slices.Equal(h.deletes, want) {
		t.Fatalf("deletes %v, want %v", h.deletes, want)
	}
	want := []string{
		"15s Warning SelfHealDetected self-heal heal: InstanceDown after 3 failed health checks",
		"15s Normal SelfHealAction self-heal heal: restart (attempt 1) for InstanceDown payment-1",
		"20s Normal SelfHealOutcome self-heal heal: restart for InstanceDown payment-1: succeeded",
	}
	if !slices.Equal(h.events, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(h.events, "\n"), strings.Join(want, "\n"))
	}
	p := h.policy()
	if p.Status.Detections != 1 || p.Status.Repairs != 1 || p.Status.Pods != 2 || p.Status.Healthy != 2 || p.Status.ObservedGeneration != 1 {
		t.Fatalf("status %+v", p.Status)
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready: %+v", c)
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("Degraded after the repair: %+v", c)
	}
}

// A deletion the API server accepts but that never takes the pod away:
// each attempt times out after 5s. Attempts at 15s, 20s, 25s, 30s (the
// first and 3 retries), then at 35s the engine gives up.
func TestRestartRetriesAtTheTimeoutThenGivesUp(t *testing.T) {
	stuck := &interceptor.Funcs{Delete: func(context.Context, client.WithWatch, client.Object, ...client.DeleteOption) error { return nil }}
	h := newHarness(t, policy(restartSub(), nil), 3, stuck)
	h.chk.set("payment-0", true)
	h.run(40*time.Second, nil)
	if want := []string{"15s payment-0", "20s payment-0", "25s payment-0", "30s payment-0"}; !slices.Equal(h.deletes, want) {
		t.Fatalf("deletes %v, want %v", h.deletes, want)
	}
	gaveUp := h.eventsMatching("gave up")
	if len(gaveUp) != 1 || !strings.HasPrefix(gaveUp[0], "35s Warning SelfHealOutcome") || !strings.Contains(gaveUp[0], "attempt 4 timed out after 5s") {
		t.Fatalf("gave up: %v", gaveUp)
	}
	if n := len(h.eventsMatching("retrying")); n != 3 {
		t.Fatalf("%d retries recorded, want 3", n)
	}
	p := h.policy()
	if p.Status.FailedRepairs != 1 || p.Status.Repairs != 0 {
		t.Fatalf("status %+v", p.Status)
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "InstancesDown" {
		t.Fatalf("Degraded: %+v", c)
	}
}

// The storm: 3 of 6 pods hang at once (still Ready: their readiness has
// not failed); maxConcurrent 1, minAvailable 4. All three are detected at
// 15s. The first (payment-0) is restarted: 6 serving → 5, not below 4;
// the other two are refused in the same round (one repair in progress).
// A refused repair is raised again at the pod's next failed check. At
// 20s payment-0's deletion is seen (terminating: the repair is done),
// 5 serve, and payment-1 goes (5 → 4); payment-2 is refused again (one in
// progress). A ReplicaSet stand-in replaces a deleted pod 10s later
// (Ready, healthy), after that reconcile. At 25s payment-1's repair is
// done, but only payment-2..5 serve (payment-0's replacement comes just
// after the round): restarting payment-2 would leave 3, below 4, refused.
// At 30s the replacement serves too: 5, and payment-2 goes. At no
// reconcile are fewer than 4 pods Ready. Detections: 3 at 15s, 2 at 20s,
// 1 at 25s, 1 at 30s = 7; refusals: 3 for maxConcurrent (15s, 15s, 20s)
// and 1 for minAvailable (25s).
func TestStormRateLimit(t *testing.T) {
	h := newHarness(t, policy(restartSub(), &v1alpha1.RateLimit{MaxConcurrent: ptr.To[int32](1), MinAvailable: ptr.To[int32](4)}), 6, nil)
	for i := 0; i < 3; i++ {
		h.chk.set(fmt.Sprintf("payment-%d", i), true)
	}
	replaceAt := map[time.Duration]int{}
	next := 6
	minReady := 6
	h.run(60*time.Second, func(now time.Duration) {
		ready := 0
		for _, p := range h.pods() {
			if podReady(&p) && p.DeletionTimestamp == nil {
				ready++
			}
		}
		minReady = min(minReady, ready)
		for _, d := range h.deletes {
			at, _ := time.ParseDuration(strings.Fields(d)[0])
			if _, ok := replaceAt[at]; !ok {
				replaceAt[at] = 0
			}
		}
		for at, done := range replaceAt {
			if done == 0 && now >= at+10*time.Second {
				if err := h.c.Create(context.Background(), pod(next)); err != nil {
					t.Fatal(err)
				}
				replaceAt[at] = next
				next++
			}
		}
	})
	if minReady < 4 {
		t.Fatalf("%d pods ready at one point, below minAvailable 4", minReady)
	}
	if want := []string{"15s payment-0", "20s payment-1", "30s payment-2"}; !slices.Equal(h.deletes, want) {
		t.Fatalf("deletes %v, want %v", h.deletes, want)
	}
	skipped := h.eventsMatching("maxConcurrent 1")
	if len(skipped) != 3 || !strings.HasPrefix(skipped[0], "15s ") {
		t.Fatalf("skipped for maxConcurrent: %v\n%s", skipped, strings.Join(h.events, "\n"))
	}
	if below := h.eventsMatching("below minAvailable 4"); len(below) != 1 || !strings.HasPrefix(below[0], "25s ") {
		t.Fatalf("skipped for minAvailable: %v", below)
	}
	if p := h.policy(); p.Status.Detections != 7 || p.Status.Repairs != 3 || p.Status.SkippedRepairs != 4 {
		t.Fatalf("status %+v", p.Status)
	}
}

// minAvailable counts the pods in the endpoints (Ready, not isolated),
// and restarting a pod already out of them costs nothing: 3 pods all
// hang, maxConcurrent 3, minAvailable 1; payment-0 and payment-1 are
// already NotReady (their readiness probes failed), payment-2 is still
// Ready, so 1 serves. At 15s all three are detected: payment-0 and
// payment-1 are restarted (out of the endpoints already), payment-2 is
// refused (restarting the last serving pod would leave 0, below
// minAvailable 1), and again at 20s when its next failed check raises it
// again. The serving pod is never deleted.
func TestMinAvailableCountsReadyPods(t *testing.T) {
	h := newHarness(t, policy(restartSub(), &v1alpha1.RateLimit{MaxConcurrent: ptr.To[int32](3), MinAvailable: ptr.To[int32](1)}), 3, nil)
	for _, i := range []int{0, 1, 2} {
		h.chk.set(fmt.Sprintf("payment-%d", i), true)
	}
	for _, i := range []int{0, 1} {
		name := fmt.Sprintf("payment-%d", i)
		p := &corev1.Pod{}
		if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, p); err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		if err := h.c.Status().Update(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	h.run(20*time.Second, nil)
	if want := []string{"15s payment-0", "15s payment-1"}; !slices.Equal(h.deletes, want) {
		t.Fatalf("deletes %v, want %v", h.deletes, want)
	}
	if n := len(h.eventsMatching("below minAvailable 1")); n != 2 {
		t.Fatalf("%d refusals to restart the serving pod, want one per round (15s, 20s):\n%s", n, strings.Join(h.events, "\n"))
	}
}

// Isolate: detected at 15s, the pod loses the label the Service selects
// on (app) and is marked isolated; it stays checked (by the marker) and,
// once healthy again (from 22s: the check at 25s), gets its label back.
func TestIsolateRelabelsAndRestores(t *testing.T) {
	h := newHarness(t, policy([]v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Isolate}}, nil), 3, nil)
	h.chk.set("payment-2", true)
	get := func() *corev1.Pod {
		p := &corev1.Pod{}
		if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "payment-2"}, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h.run(20*time.Second, nil)
	p := get()
	if _, has := p.Labels["app"]; has || p.Labels[IsolatedByLabel] != "heal" || p.Annotations[IsolatedLabelsAnnotation] != `{"app":"payment"}` {
		t.Fatalf("isolated pod: labels %v annotations %v", p.Labels, p.Annotations)
	}
	if len(h.deletes) != 0 {
		t.Fatalf("isolation deleted %v", h.deletes)
	}
	h.clk.SetTime(t0.Add(22 * time.Second))
	h.chk.set("payment-2", false)
	h.run(25*time.Second, nil)
	p = get()
	if p.Labels["app"] != "payment" || p.Labels[IsolatedByLabel] != "" || p.Annotations[IsolatedLabelsAnnotation] != "" {
		t.Fatalf("rejoined pod: labels %v annotations %v", p.Labels, p.Annotations)
	}
	want := []string{
		"15s Warning SelfHealDetected self-heal heal: InstanceDown after 3 failed health checks",
		"15s Normal SelfHealAction self-heal heal: isolate (attempt 1) for InstanceDown payment-2",
		"15s Normal SelfHealOutcome self-heal heal: isolate for InstanceDown payment-2: succeeded",
		"25s Normal SelfHealAction self-heal heal: rejoin: its health check passes again",
	}
	if !slices.Equal(h.events, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(h.events, "\n"), strings.Join(want, "\n"))
	}
}

// Scale: InstanceDown → scale adds a replica to the pod's Deployment
// (found through its ReplicaSet) at 15s: 3 → 4.
func TestScaleAddsAReplica(t *testing.T) {
	h := newHarness(t, policy([]v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Scale}}, nil), 3, nil)
	h.chk.set("payment-0", true)
	h.run(15*time.Second, nil)
	if r := h.replicas("payment"); r != 4 {
		t.Fatalf("replicas %d, want 4", r)
	}
	if len(h.eventsMatching("scale for InstanceDown payment-0: succeeded")) != 1 {
		t.Fatalf("events:\n%s", strings.Join(h.events, "\n"))
	}
}

// TestScaleStopsAtTheHPAMaximum: with an HPA on payment's Deployment
// whose maxReplicas is 3, the scale of InstanceDown at 15s leaves the 3
// replicas as they are (the HPA would take a fourth back at its next
// sync; the sim stops there too) and the action is done; an HPA on
// another Deployment does not count.
func TestScaleStopsAtTheHPAMaximum(t *testing.T) {
	h := newHarness(t, policy([]v1alpha1.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Scale}}, nil), 3, nil)
	hpa := func(name, target string, max int32) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target}, MaxReplicas: max}}
	}
	for _, o := range []client.Object{hpa("payment", "payment", 3), hpa("gateway", "gateway", 10)} {
		if err := h.c.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	h.chk.set("payment-0", true)
	h.run(15*time.Second, nil)
	if r := h.replicas("payment"); r != 3 {
		t.Fatalf("replicas %d, want 3 (the HPA's maximum)", r)
	}
	if len(h.eventsMatching("scale for InstanceDown payment-0: succeeded")) != 1 {
		t.Fatalf("events:\n%s", strings.Join(h.events, "\n"))
	}
}

// Reconciles between checks (pod events) do not check: the cadence stays
// one check per interval whatever triggers reconciles.
func TestChecksOnlyWhenDue(t *testing.T) {
	h := newHarness(t, policy(restartSub(), nil), 2, nil)
	for i := 0; i < 10; i++ { // at 0s..9s, every second
		h.reconcile()
		h.clk.Step(time.Second)
	}
	// Due at 5s only: 2 pods checked once.
	if h.chk.n != 2 {
		t.Fatalf("%d checks in 10s, want 2 (one round at 5s)", h.chk.n)
	}
}

// An invalid spec (an API server without the CRD's CEL rules, or an
// object built in Go) is reported in Ready, not acted on.
func TestInvalidSpec(t *testing.T) {
	pol := policy([]v1alpha1.Subscription{{Event: "Bogus", Action: selfheal.Restart}}, nil)
	pol.Spec.HealthCheck.Interval = &metav1.Duration{Duration: time.Millisecond}
	h := newHarness(t, pol, 1, nil)
	if wait := h.reconcile(); wait != 0 {
		t.Fatalf("requeue after %s for an invalid spec", wait)
	}
	c := meta.FindStatusCondition(h.policy().Status.Conditions, v1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "InvalidSpec" ||
		!strings.Contains(c.Message, "interval: must be at least 1s") || !strings.Contains(c.Message, `"Bogus"`) {
		t.Fatalf("Ready: %+v", c)
	}
}

// TestBreakerTripScalesTheDownstream: a gateway pod (not selected by the
// policy) calls payment; its breaker toward payment opens at 7s, closes
// at 17s and opens again at 22s. The policy reads the callers' breakers
// with each round of checks (at 5, 10, 15, 20, 25s): it sees the first
// opening at 10s and the second at 25s — each a CircuitBreakerTripped
// about the gateway pod, and each subscription's scale adds a replica to
// payment's Deployment: 3 → 4 at 10s, 5 at 25s. A breaker still open at
// 15s is not a new trip; a pod whose /metrics cannot be read has none.
func TestBreakerTripScalesTheDownstream(t *testing.T) {
	h := newHarness(t, policy([]v1alpha1.Subscription{{Event: selfheal.CircuitBreakerTripped, Action: selfheal.Scale}}, nil), 3, nil)
	gw := pod(0)
	gw.Name, gw.Labels = "gateway-0", map[string]string{"app": "gateway"}
	gw.OwnerReferences = nil
	if err := h.c.Create(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	h.chk.breakers = func(name string) map[string]reference.BreakerState {
		if name != "gateway-0" {
			return nil
		}
		st := reference.Closed
		if now := h.clk.Since(t0); (now >= 7*time.Second && now < 17*time.Second) || now >= 22*time.Second {
			st = reference.Open
		}
		return map[string]reference.BreakerState{"payment": st}
	}
	replicas := map[time.Duration]int32{}
	h.run(27*time.Second, func(now time.Duration) {
		replicas[now] = h.replicas("payment")
	})
	if replicas[5*time.Second] != 3 || replicas[10*time.Second] != 4 || replicas[20*time.Second] != 4 || replicas[25*time.Second] != 5 {
		t.Fatalf("payment replicas over time %v: want 3 at 5s, 4 at 10s and 20s, 5 at 25s", replicas)
	}
	if n := len(h.eventsMatching("CircuitBreakerTripped: its breaker toward payment opened")); n != 2 {
		t.Fatalf("%d trips recorded, want 2:\n%s", n, strings.Join(h.events, "\n"))
	}
}
