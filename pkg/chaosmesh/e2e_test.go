//go:build e2e

// Chaos Mesh on a real kind cluster: `make e2e-chaos` (needs root for
// Docker and `make images`). Not part of `make test`.
//
// The test creates its own cluster (mcpsim-e2e-chaos: a control plane and
// two workers, no host port) and deletes it; with MCPSIM_E2E_CLUSTER=NAME
// it uses that existing mcpsim cluster instead, and uninstalls Chaos Mesh
// at the end unless it was installed before (MCPSIM_E2E_UNINSTALL=1:
// uninstall in any case).
package chaosmesh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
)

const (
	e2eNodeImage      = "mcpsim/node:v1.34.4"
	e2eReferenceImage = "mcpsim/reference:dev"
	e2eClusterName    = "mcpsim-e2e-chaos"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// timings collects the measured durations, printed at the end.
type timings struct{ rows [][2]string }

func (tm *timings) add(t *testing.T, what string, d time.Duration) {
	t.Logf("TIMING %-58s %s", what, d.Round(10*time.Millisecond))
	tm.rows = append(tm.rows, [2]string{what, d.Round(10 * time.Millisecond).String()})
}

type e2eEnv struct {
	c           *kind.Cluster
	kube        kubernetes.Interface
	dyn         dynamic.Interface
	tm          *timings
	uninstalled bool
}

func dockerLeftovers(t *testing.T, name string) string {
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestE2EChaosMesh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Minute)
	defer cancel()
	tm := &timings{}
	defer func() {
		t.Log("timings:")
		for _, r := range tm.rows {
			t.Logf("  %-58s %s", r[0], r[1])
		}
	}()
	p := kind.NewProvider(kind.Options{NodeImage: e2eNodeImage, KubeconfigDir: t.TempDir(), Log: testWriter{t}})
	name := os.Getenv("MCPSIM_E2E_CLUSTER")
	var c *kind.Cluster
	var err error
	if name != "" {
		if c, err = p.Connect(name); err != nil {
			t.Fatal(err)
		}
	} else {
		name = e2eClusterName
		p.Down(name) // what a killed run left
		spec := kind.Spec{ControlPlaneLabels: map[string]string{kind.ZoneLabel: "zone-a"},
			Workers: []map[string]string{{kind.ZoneLabel: "zone-a"}, {kind.ZoneLabel: "zone-b"}}}
		start := time.Now()
		if c, err = p.Up(ctx, name, spec, false); err != nil {
			t.Fatal(err)
		}
		tm.add(t, "cluster up (1 control plane + 2 workers)", time.Since(start))
		defer func() {
			if err := p.Down(name); err != nil {
				t.Error(err)
			}
			if l := dockerLeftovers(t, name); l != "" {
				t.Errorf("containers left behind: %s", l)
			}
		}()
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 50, 100 // as `mcpsim cluster up --chaos-mesh` does
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2eEnv{c: c, kube: c.Client, dyn: dyn, tm: tm}
	before, err := Status(ctx, c.Client, dyn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before: chaos mesh %s", before)

	start := time.Now()
	var ids []string
	for _, img := range []string{e2eReferenceImage, DefaultControllerImage, DefaultDaemonImage} {
		id, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", img).Output()
		if err != nil {
			t.Fatalf("image %s (make images): %v", img, err)
		}
		ids = append(ids, strings.TrimSpace(string(id)))
		if err := c.LoadImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	tm.add(t, "loading the three images into the nodes", time.Since(start))
	opts := Options{Log: testWriter{t}, ImageRevision: Revision(ids[1:]...)}

	res, err := Install(ctx, c.Client, dyn, opts)
	uninstall := !before.Installed || os.Getenv("MCPSIM_E2E_UNINSTALL") == "1"
	if uninstall {
		// Uninstall whatever happens (runs before the cluster's deletion;
		// nothing to do if UninstallRecoversActiveChaos did it).
		defer func() {
			if !e.uninstalled {
				e.uninstallAndCheck(t)
			}
		}()
	}
	if err != nil {
		t.Fatal(err)
	}
	tm.add(t, fmt.Sprintf("install (%d CRDs, certificates kept: %v)", res.CRDs, res.CertsReused), res.Total)
	for _, s := range res.Steps {
		tm.add(t, "  "+s.Name, s.Took)
	}
	st, err := Status(ctx, c.Client, dyn, "")
	if err != nil || !st.Ready() {
		t.Fatalf("after Install: %v %v", st, err)
	}
	t.Logf("after install: chaos mesh %s", st)

	// A second Install keeps the certificates and restarts nothing.
	dep0, _ := c.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, ControllerName, metav1.GetOptions{})
	res2, err := Install(ctx, c.Client, dyn, opts)
	if err != nil {
		t.Fatal(err)
	}
	dep1, _ := c.Client.AppsV1().Deployments(DefaultNamespace).Get(ctx, ControllerName, metav1.GetOptions{})
	if !res2.CertsReused || dep0.Generation != dep1.Generation {
		t.Errorf("second Install: certificates kept %v, deployment generation %d -> %d", res2.CertsReused, dep0.Generation, dep1.Generation)
	}
	tm.add(t, "second install (idempotent)", res2.Total)

	t.Run("PodKill", e.podKill)
	t.Run("PodFailure", e.podFailure)
	t.Run("ContainerKill", e.containerKill)
	t.Run("StressCPU", e.stressCPU)
	t.Run("NetworkPartition", e.partition)
	if uninstall {
		t.Run("UninstallRecoversActiveChaos", e.uninstallRecovers)
	}
}

// uninstallRecovers: Uninstall while a partition is injected recovers it
// (the gateway's calls succeed again) before removing Chaos Mesh.
func (e *e2eEnv) uninstallRecovers(t *testing.T) {
	ns, _, _, waitAnswer := e.gatewayAndPayment(t)
	start := time.Now()
	nc := e.applyChaos(t, ns, partitionManifest(ns))
	e.waitCondition(t, nc, "AllInjected", start, 2*time.Minute)
	waitAnswer("fallback", time.Minute)
	e.uninstallAndCheck(t)
	waitAnswer("ok", 30*time.Second)
}

// uninstallAndCheck removes Chaos Mesh and checks that nothing of it is left.
func (e *e2eEnv) uninstallAndCheck(t *testing.T) {
	e.uninstalled = true
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	if err := Uninstall(ctx, e.kube, e.dyn, Options{Log: testWriter{t}}); err != nil {
		t.Error(err)
	}
	e.tm.add(t, "uninstall", time.Since(start))
	if _, err := e.kube.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s still there (%v)", DefaultNamespace, err)
	}
	crds, err := e.dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds.Items {
		if g, _, _ := unstructured.NestedString(c.Object, "spec", "group"); g == Group {
			t.Errorf("CRD %s left", c.GetName())
		}
	}
	adm := e.kube.AdmissionregistrationV1()
	if m, _ := adm.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: Selector}); m != nil && len(m.Items) > 0 {
		t.Errorf("%d mutating webhook configurations left", len(m.Items))
	}
	if v, _ := adm.ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{LabelSelector: Selector}); v != nil && len(v.Items) > 0 {
		t.Errorf("%d validating webhook configurations left", len(v.Items))
	}
	if r, _ := e.kube.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: Selector}); r != nil && len(r.Items) > 0 {
		t.Errorf("%d cluster roles left", len(r.Items))
	}
	if r, _ := e.kube.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: Selector}); r != nil && len(r.Items) > 0 {
		t.Errorf("%d cluster role bindings left", len(r.Items))
	}
	if st, err := Status(ctx, e.kube, e.dyn, ""); err != nil || st.Installed || st.CRDs != 0 {
		t.Errorf("after Uninstall: %v %v", st, err)
	}
}

// namespace creates a namespace for one test, deleted (and awaited) at its end.
func (e *e2eEnv) namespace(t *testing.T) string {
	ctx := context.Background()
	ns, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "mcpsim-e2e-chaos-",
		Labels: map[string]string{ManagedByLabel: ManagedBy}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := e.kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
			return
		}
		err := poll(ctx, time.Second, 2*time.Minute, "namespace "+ns.Name+" deleted", func(ctx context.Context) (bool, error) {
			_, err := e.kube.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		}, func() string { return "" })
		if err != nil {
			t.Error(err)
		}
	})
	return ns.Name
}

// deploy creates a Deployment of the reference image and waits for it.
func (e *e2eEnv) deploy(t *testing.T, ns, name string, replicas int32, args []string, cpuLimit string) *appsv1.Deployment {
	ctx := context.Background()
	labels := map[string]string{"app": name}
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")}}
	if cpuLimit != "" {
		res.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLimit)}
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name: "app", Image: e2eReferenceImage, ImagePullPolicy: corev1.PullNever,
				Args:           append([]string{"--listen", "0.0.0.0:8080", "--drain-delay", "0s"}, args...),
				Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
				Resources:      res,
			}},
		}},
	}}
	d, err := e.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitDeployment(ctx, e.kube, ns, name, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *e2eEnv) pods(t *testing.T, ns, app string) []corev1.Pod {
	l, err := e.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

var chaosGVRs = map[string]schema.GroupVersionResource{
	"PodChaos":     {Group: Group, Version: "v1alpha1", Resource: "podchaos"},
	"StressChaos":  {Group: Group, Version: "v1alpha1", Resource: "stresschaos"},
	"NetworkChaos": {Group: Group, Version: "v1alpha1", Resource: "networkchaos"},
}

// applyChaos creates a chaos object from its manifest (as a scenario's
// fault is written) and returns when the API server accepted it.
func (e *e2eEnv) applyChaos(t *testing.T, ns, manifest string) *unstructured.Unstructured {
	var m map[string]any
	if err := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096).Decode(&m); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetNamespace(ns)
	u.SetLabels(map[string]string{ManagedByLabel: ManagedBy})
	out, err := e.dyn.Resource(chaosGVRs[u.GetKind()]).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *e2eEnv) getChaos(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return e.dyn.Resource(chaosGVRs[u.GetKind()]).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
}

// waitCondition waits for a chaos object's condition (AllInjected,
// AllRecovered, ...) and returns how long it took from since.
func (e *e2eEnv) waitCondition(t *testing.T, u *unstructured.Unstructured, typ string, since time.Time, timeout time.Duration) time.Duration {
	var last *unstructured.Unstructured
	err := poll(context.Background(), 200*time.Millisecond, timeout, u.GetKind()+" "+typ, func(ctx context.Context) (bool, error) {
		cur, err := e.getChaos(ctx, u)
		if err == nil {
			last = cur
		}
		return err == nil && ConditionTrue(cur, typ), nil
	}, func() string {
		if last == nil {
			return ""
		}
		b, _ := json.Marshal(last.Object["status"])
		return string(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(since)
}

// deleteChaos deletes a chaos object and waits until Chaos Mesh has
// recovered it and removed its finalizer (the object is gone).
func (e *e2eEnv) deleteChaos(t *testing.T, u *unstructured.Unstructured) time.Duration {
	ctx := context.Background()
	cur, err := e.getChaos(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cur.GetFinalizers(), "chaos-mesh/records") {
		t.Errorf("%s %s has finalizers %v, want chaos-mesh/records", u.GetKind(), u.GetName(), cur.GetFinalizers())
	}
	start := time.Now()
	if err := e.dyn.Resource(chaosGVRs[u.GetKind()]).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var last *unstructured.Unstructured
	err = poll(ctx, 200*time.Millisecond, 2*time.Minute, u.GetKind()+" "+u.GetName()+" gone", func(ctx context.Context) (bool, error) {
		var err error
		last, err = e.getChaos(ctx, u)
		return apierrors.IsNotFound(err), nil
	}, func() string {
		if last == nil {
			return ""
		}
		return fmt.Sprintf("finalizers %v", last.GetFinalizers())
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// podKill: PodChaos pod-kill, mode one, against a Deployment of two
// replicas: one pod is deleted, the Deployment replaces it, the other is
// untouched; deleting the PodChaos removes its finalizer.
func (e *e2eEnv) podKill(t *testing.T) {
	ns := e.namespace(t)
	e.deploy(t, ns, "victim", 2, []string{"--role", "payment", "--cpu", "1ms"}, "")
	original := map[types.UID]string{}
	for _, p := range e.pods(t, ns, "victim") {
		original[p.UID] = p.Name
	}
	if len(original) != 2 {
		t.Fatalf("%d pods", len(original))
	}
	start := time.Now()
	pc := e.applyChaos(t, ns, `
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-one}
spec:
  action: pod-kill
  mode: one
  selector:
    namespaces: [`+ns+`]
    labelSelectors: {app: victim}
`)
	var killed []string
	err := poll(context.Background(), 100*time.Millisecond, 90*time.Second, "a victim pod killed", func(ctx context.Context) (bool, error) {
		killed = nil
		alive := map[types.UID]bool{}
		for _, p := range e.pods(t, ns, "victim") {
			if p.DeletionTimestamp == nil {
				alive[p.UID] = true
			}
		}
		for uid, name := range original {
			if !alive[uid] {
				killed = append(killed, name)
			}
		}
		return len(killed) > 0, nil
	}, func() string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	e.tm.add(t, "PodChaos pod-kill: apply -> pod deleted", time.Since(start))
	e.tm.add(t, "PodChaos pod-kill: apply -> AllInjected", e.waitCondition(t, pc, "AllInjected", start, time.Minute))
	if err := waitDeployment(context.Background(), e.kube, ns, "victim", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	e.tm.add(t, "PodChaos pod-kill: apply -> replacement ready (2/2)", time.Since(start))
	kept, fresh := 0, 0
	for _, p := range e.pods(t, ns, "victim") {
		if _, ok := original[p.UID]; ok {
			kept++
		} else {
			fresh++
		}
	}
	if len(killed) != 1 || kept != 1 || fresh != 1 {
		t.Errorf("mode one: killed %v, %d original and %d new pods", killed, kept, fresh)
	}
	e.tm.add(t, "PodChaos pod-kill: delete -> finalizer removed, gone", e.deleteChaos(t, pc))
}

// podWatch records every version of a Deployment's pods that an informer
// on their namespace delivers, with the time it arrived: a state shorter
// than a poll's interval (a killed container's not-Ready) is seen too.
type podWatch struct {
	mu      sync.Mutex
	seen    []podSeen
	deleted []string // names of the pods whose deletion was seen
}

type podSeen struct {
	at  time.Time
	pod *corev1.Pod
}

// watchPods starts recording the pods labelled app in ns until the test ends.
func (e *e2eEnv) watchPods(t *testing.T, ns, app string) *podWatch {
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactoryWithOptions(e.kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=" + app }))
	inf := f.Core().V1().Pods().Informer()
	w := &podWatch{}
	record := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			w.mu.Lock()
			w.seen = append(w.seen, podSeen{time.Now(), p})
			w.mu.Unlock()
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				w.mu.Lock()
				w.deleted = append(w.deleted, p.Name)
				w.mu.Unlock()
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	t.Cleanup(func() { cancel(); f.Shutdown() })
	syncCtx, syncCancel := context.WithTimeout(ctx, 30*time.Second)
	defer syncCancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) {
		t.Fatalf("pods of %s/%s: the informer did not sync in 30s", ns, app)
	}
	return w
}

// first waits until a version of a pod seen at or after since satisfies
// cond, at most until since+bound, and returns when it arrived and the pod.
func (w *podWatch) first(t *testing.T, what string, since time.Time, bound time.Duration, cond func(*corev1.Pod) bool) (time.Time, *corev1.Pod) {
	t.Helper()
	var at time.Time
	var found, last *corev1.Pod
	err := poll(context.Background(), 20*time.Millisecond, max(time.Until(since.Add(bound)), 0), what, func(context.Context) (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, s := range w.seen {
			if !s.at.Before(since) && cond(s.pod) {
				at, found = s.at, s.pod
				return true, nil
			}
		}
		if n := len(w.seen); n > 0 {
			last = w.seen[n-1].pod
		}
		return false, nil
	}, func() string { return fmt.Sprintf("within %s; last seen: %s", bound, describePod(last)) })
	if err != nil {
		t.Fatal(err)
	}
	return at, found
}

// between returns the versions of pods seen in [from, to).
func (w *podWatch) between(from, to time.Time) []*corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*corev1.Pod
	for _, s := range w.seen {
		if !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s.pod)
		}
	}
	return out
}

func (w *podWatch) deletions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deleted)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// appStatus is the status of the reference container "app" (nil before
// the kubelet reported it).
func appStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == "app" {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func describePod(p *corev1.Pod) string {
	if p == nil {
		return "no pod"
	}
	s := fmt.Sprintf("pod %s (uid %s): phase %s, ready %v, spec image %s", p.Name, p.UID, p.Status.Phase, podReady(p), p.Spec.Containers[0].Image)
	for _, cs := range p.Status.ContainerStatuses {
		state := "waiting"
		switch {
		case cs.State.Running != nil:
			state = "running"
		case cs.State.Terminated != nil:
			state = "terminated: " + cs.State.Terminated.Reason
		case cs.State.Waiting != nil:
			state = "waiting: " + cs.State.Waiting.Reason + " " + cs.State.Waiting.Message
		}
		s += fmt.Sprintf("; container %s: image %s, %s, ready %v, restarts %d", cs.Name, cs.Image, state, cs.Ready, cs.RestartCount)
	}
	return s
}

// onlyPod checks that app's only pod in ns is still the one the test
// started with (pod-failure and container-kill act inside the pod, they
// do not delete it) and that no deletion was seen.
func (e *e2eEnv) onlyPod(t *testing.T, ns, app string, orig corev1.Pod, w *podWatch) {
	t.Helper()
	ps := e.pods(t, ns, app)
	if len(ps) != 1 || ps[0].UID != orig.UID || ps[0].Name != orig.Name {
		var names []string
		for _, p := range ps {
			names = append(names, fmt.Sprintf("%s (uid %s)", p.Name, p.UID))
		}
		t.Errorf("pods of %s: %v, want only %s (uid %s)", app, names, orig.Name, orig.UID)
	}
	if d := w.deletions(); len(d) > 0 {
		t.Errorf("pods of %s deleted: %v", app, d)
	}
}

// podFailure: PodChaos pod-failure against the one pod of a Deployment.
// Chaos Mesh patches the pod's container images to the pause image
// (Options.PodFailurePauseImage, one the kind nodes hold: nothing can be
// pulled here) and keeps the original in an annotation; the kubelet
// restarts the container on the pause image, which serves nothing, so the
// readiness probe fails. Deleting the PodChaos patches the original image
// back and the same pod (same UID) is Ready again. No pod is deleted.
//
// Bounds: the controller patches the pod as soon as it reconciles the new
// object (well under a second when idle); the kubelet sees the change
// through its watch, stops the container (the reference exits at once on
// SIGTERM, and the grace period is 5 s at most) and starts the pause
// image, which is on the node (pull policy Never, no pull). About 7 s at
// worst on an idle machine, so 60 s for each of patched, not Ready and
// pause running (measured: the kubelet posts not Ready and the pause
// container running in one status, after the restart). Recovery is the
// same path backwards plus one readiness probe (every 1 s, no initial
// delay): 60 s too.
func (e *e2eEnv) podFailure(t *testing.T) {
	const bound = time.Minute
	ns := e.namespace(t)
	e.deploy(t, ns, "failing", 1, []string{"--role", "payment", "--cpu", "1ms"}, "")
	orig := e.pods(t, ns, "failing")[0]
	origImage := orig.Spec.Containers[0].Image
	cs0 := appStatus(&orig)
	if cs0 == nil || !podReady(&orig) {
		t.Fatalf("before: %s", describePod(&orig))
	}
	w := e.watchPods(t, ns, "failing")
	start := time.Now()
	// (If the test stops early, deleting its namespace deletes the
	// PodChaos, which Chaos Mesh recovers before its finalizer goes.)
	pc := e.applyChaos(t, ns, `
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: fail-one}
spec:
  action: pod-failure
  mode: one
  selector:
    namespaces: [`+ns+`]
    labelSelectors: {app: failing}
`)
	// The annotation Chaos Mesh keeps the original image in
	// (annotation.GenKeyForImage upstream).
	key := "chaos-mesh-" + pc.GetName() + "-pod-failure-app-normal-image"
	same := func(p *corev1.Pod) bool { return p.UID == orig.UID }
	at, p := w.first(t, "the pod's image patched to "+DefaultPauseImage, start, bound, func(p *corev1.Pod) bool {
		return same(p) && p.Spec.Containers[0].Image == DefaultPauseImage
	})
	if p.Annotations[key] != origImage {
		t.Errorf("annotation %s = %q, want the original image %q (annotations %v)", key, p.Annotations[key], origImage, p.Annotations)
	}
	e.tm.add(t, "PodChaos pod-failure: apply -> pod's image patched to pause", at.Sub(start))
	at, _ = w.first(t, "the pod not Ready", start, bound, func(p *corev1.Pod) bool { return same(p) && !podReady(p) })
	e.tm.add(t, "PodChaos pod-failure: apply -> pod not Ready", at.Sub(start))
	at, p = w.first(t, "the pause container running", start, bound, func(p *corev1.Pod) bool {
		cs := appStatus(p)
		return same(p) && cs != nil && cs.State.Running != nil && strings.Contains(cs.Image, "pause") && cs.RestartCount > cs0.RestartCount
	})
	e.tm.add(t, "PodChaos pod-failure: apply -> pause container running", at.Sub(start))
	t.Logf("during pod-failure: %s", describePod(p))
	e.tm.add(t, "PodChaos pod-failure: apply -> AllInjected", e.waitCondition(t, pc, "AllInjected", start, bound))
	// The failure lasts: not Ready for 5 s more, and the Deployment does
	// not replace the pod.
	hold := time.Now()
	time.Sleep(5 * time.Second)
	for _, p := range w.between(at, time.Now()) {
		if podReady(p) {
			t.Errorf("Ready again during pod-failure: %s", describePod(p))
			break
		}
	}
	if cur, err := e.kube.CoreV1().Pods(ns).Get(context.Background(), orig.Name, metav1.GetOptions{}); err != nil || podReady(cur) {
		t.Errorf("after %s of pod-failure: %v %s", time.Since(hold).Round(time.Second), err, describePod(cur))
	}
	e.onlyPod(t, ns, "failing", orig, w)

	del := time.Now()
	e.tm.add(t, "PodChaos pod-failure: delete -> finalizer removed, gone", e.deleteChaos(t, pc))
	at, p = w.first(t, "the pod Ready again with "+origImage, del, bound, func(p *corev1.Pod) bool {
		cs := appStatus(p)
		return same(p) && podReady(p) && p.Spec.Containers[0].Image == origImage && cs != nil && cs.Ready && strings.Contains(cs.Image, "mcpsim/reference")
	})
	e.tm.add(t, "PodChaos pod-failure: delete -> same pod Ready, original image", at.Sub(del))
	if _, ok := p.Annotations[key]; ok {
		t.Errorf("annotation %s left after recovery", key)
	}
	e.onlyPod(t, ns, "failing", orig, w)
}

// containerKill: PodChaos container-kill of the container "app" of a
// Deployment's one pod. chaos-daemon on the pod's node kills the
// container's task (SIGKILL through containerd); the kubelet starts it
// again in the same pod (restartCount + 1) and the pod is Ready once the
// readiness probe passes. The pod is not Ready in between if the kubelet
// posts a status then (it usually does: the new container is not ready
// until its first probe).
//
// Bounds: the controller reconciles the new object and asks chaos-daemon
// at once (under a second when idle); the kubelet notices the exit at its
// next relist (generic PLEG, every 1 s) and restarts the container with
// no back-off (the first restart has none); readiness is probed every
// 1 s with no initial delay. About 3 s on an idle machine: 60 s for the
// restart and 60 s for Ready again.
func (e *e2eEnv) containerKill(t *testing.T) {
	const bound = time.Minute
	ns := e.namespace(t)
	e.deploy(t, ns, "killed", 1, []string{"--role", "payment", "--cpu", "1ms"}, "")
	orig := e.pods(t, ns, "killed")[0]
	cs0 := appStatus(&orig)
	if cs0 == nil || cs0.ContainerID == "" || !podReady(&orig) {
		t.Fatalf("before: %s", describePod(&orig))
	}
	w := e.watchPods(t, ns, "killed")
	start := time.Now()
	pc := e.applyChaos(t, ns, `
apiVersion: chaos-mesh.org/v1alpha1
kind: PodChaos
metadata: {name: kill-app}
spec:
  action: container-kill
  mode: one
  containerNames: [app]
  selector:
    namespaces: [`+ns+`]
    labelSelectors: {app: killed}
`)
	same := func(p *corev1.Pod) bool { return p.UID == orig.UID }
	restarted, p := w.first(t, "the container restarted", start, bound, func(p *corev1.Pod) bool {
		cs := appStatus(p)
		return same(p) && cs != nil && cs.RestartCount > cs0.RestartCount
	})
	cs := appStatus(p)
	if cs.RestartCount != cs0.RestartCount+1 {
		t.Errorf("restart count %d -> %d, want one restart", cs0.RestartCount, cs.RestartCount)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ContainerID != cs0.ContainerID || lt.ExitCode != 137 {
		t.Errorf("last termination %+v, want container %s killed (exit code 137)", lt, cs0.ContainerID)
	}
	e.tm.add(t, "PodChaos container-kill: apply -> restart count +1", restarted.Sub(start))
	ready, _ := w.first(t, "the pod Ready after the restart", start, bound, func(p *corev1.Pod) bool {
		cs := appStatus(p)
		return same(p) && podReady(p) && cs != nil && cs.Ready && cs.RestartCount > cs0.RestartCount
	})
	notReady := false
	for _, p := range w.between(start, ready) {
		if same(p) && !podReady(p) {
			notReady = true
			break
		}
	}
	if notReady {
		at, _ := w.first(t, "the pod not Ready", start, bound, func(p *corev1.Pod) bool { return same(p) && !podReady(p) })
		e.tm.add(t, "PodChaos container-kill: apply -> pod not Ready", at.Sub(start))
	} else {
		t.Logf("the pod was never seen not Ready between the kill and Ready again")
	}
	e.tm.add(t, "PodChaos container-kill: apply -> same pod Ready again", ready.Sub(start))
	e.tm.add(t, "PodChaos container-kill: apply -> AllInjected", e.waitCondition(t, pc, "AllInjected", start, bound))
	e.onlyPod(t, ns, "killed", orig, w)
	e.tm.add(t, "PodChaos container-kill: delete -> finalizer removed, gone", e.deleteChaos(t, pc))
	// One-shot: nothing to recover, and no further kill.
	if cur := appStatus(&e.pods(t, ns, "killed")[0]); cur == nil || cur.RestartCount != cs.RestartCount {
		t.Errorf("restart count after deletion: %v, want %d", cur, cs.RestartCount)
	}
	e.onlyPod(t, ns, "killed", orig, w)
}

func (e *e2eEnv) podCPU(ctx context.Context, ns, pod string) (int64, bool) {
	ms, err := e.c.PodMetrics(ctx, ns)
	if err != nil {
		return 0, false
	}
	for _, m := range ms {
		if m.Name == pod {
			var total int64
			for _, v := range m.Containers {
				q, err := resource.ParseQuantity(v)
				if err != nil {
					return 0, false
				}
				total += q.MilliValue()
			}
			return total, true
		}
	}
	return 0, false
}

// stressCPU: StressChaos with one CPU worker at 100% load in a pod
// limited to 1 CPU: the Metrics API sees its CPU rise; after deletion, fall.
func (e *e2eEnv) stressCPU(t *testing.T) {
	ns := e.namespace(t)
	e.deploy(t, ns, "stressed", 1, []string{"--role", "payment", "--cpu", "1ms"}, "1")
	pod := e.pods(t, ns, "stressed")[0].Name
	ctx := context.Background()
	var base int64
	if err := poll(ctx, 2*time.Second, 3*time.Minute, "metrics of "+pod, func(ctx context.Context) (bool, error) {
		v, ok := e.podCPU(ctx, ns, pod)
		base = v
		return ok, nil
	}, func() string { return "" }); err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline CPU of %s: %dm", pod, base)
	const threshold = 300 // millicores: well above an idle reference pod
	start := time.Now()
	sc := e.applyChaos(t, ns, `
apiVersion: chaos-mesh.org/v1alpha1
kind: StressChaos
metadata: {name: burn}
spec:
  mode: one
  selector:
    namespaces: [`+ns+`]
    labelSelectors: {app: stressed}
  stressors:
    cpu: {workers: 1, load: 100}
  duration: 10m
`)
	e.tm.add(t, "StressChaos cpu: apply -> AllInjected", e.waitCondition(t, sc, "AllInjected", start, 2*time.Minute))
	var peak int64
	if err := poll(ctx, 2*time.Second, 3*time.Minute, fmt.Sprintf("CPU of %s above %dm", pod, threshold), func(ctx context.Context) (bool, error) {
		v, _ := e.podCPU(ctx, ns, pod)
		peak = max(peak, v)
		return v >= threshold, nil
	}, func() string { return fmt.Sprintf("peak %dm", peak) }); err != nil {
		t.Fatal(err)
	}
	e.tm.add(t, fmt.Sprintf("StressChaos cpu: apply -> Metrics API >= %dm (peak %dm)", threshold, peak), time.Since(start))
	del := time.Now()
	e.tm.add(t, "StressChaos cpu: delete -> finalizer removed, gone", e.deleteChaos(t, sc))
	var now int64
	if err := poll(ctx, 2*time.Second, 3*time.Minute, "CPU back below 100m", func(ctx context.Context) (bool, error) {
		now, _ = e.podCPU(ctx, ns, pod)
		return now < 100, nil
	}, func() string { return fmt.Sprintf("still %dm", now) }); err != nil {
		t.Fatal(err)
	}
	e.tm.add(t, "StressChaos cpu: delete -> Metrics API < 100m", time.Since(del))
}

// gatewayAnswer asks the gateway through the API server's pod proxy:
// "ok" when it reached payment, "fallback" when the call failed.
func (e *e2eEnv) gatewayAnswer(ctx context.Context, ns, pod string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := e.kube.CoreV1().Pods(ns).ProxyGet("http", pod, "8080", "/", nil).DoRaw(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	var r struct{ Downstreams map[string]string }
	if err := json.Unmarshal(raw, &r); err != nil {
		return "bad answer: " + string(raw)
	}
	return r.Downstreams["payment"]
}

// netnsState is what chaos-daemon's tools see in a pod's network
// namespace: the iptables rules (legacy backend, as chaos-daemon writes
// them) and the ipset names. It runs them in the chaos-daemon container of
// the pod's node (hostPID) with `ctr task exec` on that node.
func (e *e2eEnv) netnsState(t *testing.T, p corev1.Pod) string {
	ctx := context.Background()
	cid := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	daemons, err := e.kube.CoreV1().Pods(DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: ComponentLabel + "=chaos-daemon",
		FieldSelector: "spec.nodeName=" + p.Spec.NodeName})
	if err != nil || len(daemons.Items) != 1 {
		t.Fatalf("chaos-daemon on %s: %v", p.Spec.NodeName, err)
	}
	dcid := strings.TrimPrefix(daemons.Items[0].Status.ContainerStatuses[0].ContainerID, "containerd://")
	script := `pid=$(grep -l ` + cid + ` /proc/[0-9]*/cgroup 2>/dev/null | head -1 | cut -d/ -f3)
[ -n "$pid" ] || { echo "no process of container ` + cid + `"; exit 1; }
` + NetnsDumpScript(`"$pid"`)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "exec", p.Spec.NodeName, "ctr", "-n", "k8s.io", "task", "exec",
		"--exec-id", fmt.Sprintf("mcpsim-e2e-%d", time.Now().UnixNano()), dcid, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("inspecting %s's network namespace: %v: %s", p.Name, err, out.String())
	}
	return out.String()
}

// gatewayAndPayment deploys a payment service and a gateway calling it
// (500ms timeout, static fallback) in a new namespace, and returns them
// with a function that waits until the gateway's answer for payment is
// "ok" or "fallback".
func (e *e2eEnv) gatewayAndPayment(t *testing.T) (ns string, gw, pay corev1.Pod, waitAnswer func(want string, timeout time.Duration)) {
	ns = e.namespace(t)
	ctx := context.Background()
	svc, err := e.kube.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "payment"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "payment"}, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.deploy(t, ns, "payment", 1, []string{"--role", "payment", "--cpu", "1ms"}, "")
	e.deploy(t, ns, "gateway", 1, []string{"--role", "gateway", "--cpu", "1ms", "--timeout", "500ms",
		"--downstream", "payment=http://" + svc.Spec.ClusterIP + ":8080"}, "")
	gw, pay = e.pods(t, ns, "gateway")[0], e.pods(t, ns, "payment")[0]
	answer := ""
	// Bounded probing: at most 2 answers a second.
	waitAnswer = func(want string, timeout time.Duration) {
		t.Helper()
		if err := poll(ctx, 500*time.Millisecond, timeout, "gateway answers "+want, func(ctx context.Context) (bool, error) {
			answer = e.gatewayAnswer(ctx, ns, gw.Name)
			return answer == want, nil
		}, func() string { return "last answer: " + answer }); err != nil {
			t.Fatal(err)
		}
	}
	waitAnswer("ok", time.Minute)
	return ns, gw, pay, waitAnswer
}

// partition: NetworkChaos partition from the gateway to payment: the
// gateway's calls fail (it answers with its fallback); after deletion they
// succeed again, and no active rule is left in either pod's network
// namespace (the inert chains and ipsets upstream leaves are logged).
func (e *e2eEnv) partition(t *testing.T) {
	ns, gw, pay, waitAnswer := e.gatewayAndPayment(t)
	baseline := map[string][]string{gw.Name: ActiveRules(e.netnsState(t, gw)), pay.Name: ActiveRules(e.netnsState(t, pay))}
	start := time.Now()
	nc := e.applyChaos(t, ns, partitionManifest(ns))
	e.tm.add(t, "NetworkChaos partition: apply -> AllInjected", e.waitCondition(t, nc, "AllInjected", start, 2*time.Minute))
	waitAnswer("fallback", time.Minute)
	e.tm.add(t, "NetworkChaos partition: apply -> gateway's calls fail", time.Since(start))
	for _, p := range []corev1.Pod{gw, pay} {
		s := e.netnsState(t, p)
		if len(ActiveRules(s)) <= len(baseline[p.Name]) {
			t.Errorf("no partition rule in %s's network namespace:\n%s", p.Name, s)
		}
		t.Logf("%s during the partition:\n%s", p.Name, s)
	}
	del := time.Now()
	e.tm.add(t, "NetworkChaos partition: delete -> finalizer removed, gone", e.deleteChaos(t, nc))
	// (Probing stops at the first fallback answer, so the gateway's
	// breaker, which opens after 5 consecutive failures, stays closed.)
	waitAnswer("ok", time.Minute)
	e.tm.add(t, "NetworkChaos partition: delete -> gateway's calls succeed again", time.Since(del))
	for _, p := range []corev1.Pod{gw, pay} {
		s := e.netnsState(t, p)
		if got := ActiveRules(s); !slices.Equal(got, baseline[p.Name]) {
			t.Errorf("%s's network namespace after recovery: active rules %v (before: %v)\n%s", p.Name, got, baseline[p.Name], s)
		}
		t.Logf("%s after recovery: inert leftovers of upstream's daemon: %v", p.Name, InertLeftovers(s))
	}
}

// partitionManifest cuts the gateway's traffic to payment in ns.
func partitionManifest(ns string) string {
	return `
apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: cut-payment}
spec:
  action: partition
  mode: all
  selector:
    namespaces: [` + ns + `]
    labelSelectors: {app: gateway}
  direction: to
  target:
    mode: all
    selector:
      namespaces: [` + ns + `]
      labelSelectors: {app: payment}
`
}
