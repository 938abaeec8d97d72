package chaosmesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Defaults of Options.
const (
	DefaultNamespace       = "chaos-mesh"
	DefaultControllerImage = "mcpsim/chaos-controller-manager:dev"
	DefaultDaemonImage     = "mcpsim/chaos-daemon:dev"
	// DefaultPauseImage replaces the chart's
	// gcr.io/google-containers/pause:latest for PodChaos pod-failure:
	// nothing can be pulled here, and kind nodes built by `make images`
	// hold this image (the pods' sandbox image).
	DefaultPauseImage = "registry.k8s.io/pause:3.10.1"
	DefaultRuntime    = "containerd"
	DefaultSocketPath = "/run/containerd/containerd.sock"
	// DefaultControllerReplicas is the chart's controllerManager.replicaCount
	// (leader election on).
	DefaultControllerReplicas = 3
	DefaultTimeout            = 5 * time.Minute
	fieldManager              = "mcpsim"
)

// Options say what to install; the zero value is the chart's defaults
// with mcpsim's images, on containerd.
type Options struct {
	Namespace       string
	ControllerImage string
	DaemonImage     string
	// PullPolicy of both images (default Never: they are loaded into the
	// nodes, there is no registry).
	PullPolicy         corev1.PullPolicy
	ControllerReplicas int32
	// ControllerNodeSelector and ControllerTolerations place the
	// controller manager (the chart's controllerManager.nodeSelector and
	// .tolerations; kind puts it on the control plane, out of reach of a
	// NodeOutage).
	ControllerNodeSelector map[string]string
	ControllerTolerations  []corev1.Toleration
	// Runtime and SocketPath are chaos-daemon's --runtime and the host
	// path of the runtime's socket (kind: containerd, /run/containerd/containerd.sock).
	Runtime    string
	SocketPath string
	// PodFailurePauseImage is the image PodChaos pod-failure swaps into the
	// target containers (DefaultPauseImage).
	PodFailurePauseImage string
	// CRDDir holds the CustomResourceDefinitions (DefaultCRDDir()).
	CRDDir string
	// ImageRevision identifies the images' content (say, their Docker
	// image IDs); it annotates the pod templates (ImagesAnnotation), so
	// that pods restart when images loaded anew under the same tag
	// changed. Empty: no annotation.
	ImageRevision string
	// Version labels the objects (app.kubernetes.io/version); Install
	// reads it from the file "version" next to CRDDir when empty.
	Version string
	// Timeout bounds each wait: the controller manager's rollout, its
	// webhook answering, the daemons' readiness (DefaultTimeout).
	Timeout time.Duration
	// Log receives progress lines (nil: discarded).
	Log io.Writer
}

func (o *Options) defaults() {
	set := func(p *string, def string) {
		if *p == "" {
			*p = def
		}
	}
	set(&o.Namespace, DefaultNamespace)
	set(&o.ControllerImage, DefaultControllerImage)
	set(&o.DaemonImage, DefaultDaemonImage)
	set(&o.Runtime, DefaultRuntime)
	set(&o.SocketPath, DefaultSocketPath)
	set(&o.PodFailurePauseImage, DefaultPauseImage)
	if o.CRDDir == "" {
		o.CRDDir = DefaultCRDDir()
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullNever
	}
	if o.ControllerReplicas <= 0 {
		o.ControllerReplicas = DefaultControllerReplicas
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

func (o *Options) logf(format string, args ...any) { fmt.Fprintf(o.Log, format+"\n", args...) }

// ErrForeign is returned when Chaos Mesh objects that mcpsim did not
// install are in the way: Install does not take them over and Uninstall
// does not remove them.
var ErrForeign = errors.New("a Chaos Mesh installation mcpsim did not make is on the cluster")

// Step is one timed step of Install.
type Step struct {
	Name string
	Took time.Duration
}

// Result describes an installation.
type Result struct {
	CRDs        int
	Version     string
	CertsReused bool // the certificates already in the cluster were kept
	Steps       []Step
	Total       time.Duration
}

var (
	podChaosGVR = schema.GroupVersionResource{Group: Group, Version: "v1alpha1", Resource: "podchaos"}
	crdGVR      = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// Install installs (or updates) Chaos Mesh: the CRDs from opts.CRDDir,
// then the objects of Build, and waits until the controller manager is
// available, its webhooks admit a (dry-run) PodChaos and every
// chaos-daemon pod is ready. It is idempotent: objects are server-side
// applied, and valid certificates already in the cluster are kept (so a
// second Install restarts nothing). The images must be on the nodes
// (PullPolicy Never).
func Install(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, opts Options) (*Result, error) {
	opts.defaults()
	if opts.Version == "" {
		opts.Version = readVersion(opts.CRDDir)
	}
	start := time.Now()
	res := &Result{Version: opts.Version}
	crds, err := LoadCRDs(opts.CRDDir)
	if err != nil {
		return nil, err
	}
	res.CRDs = len(crds)
	if err := checkForeign(ctx, client, dyn, opts.Namespace); err != nil {
		return nil, err
	}
	a := applier{dyn}
	var objs *Objects
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{fmt.Sprintf("applying %d CRDs from %s", len(crds), opts.CRDDir), func(ctx context.Context) error {
			for _, crd := range crds {
				crd = crd.DeepCopy()
				labels := crd.GetLabels()
				if labels == nil {
					labels = map[string]string{}
				}
				maps.Copy(labels, opts.labels(""))
				crd.SetLabels(labels)
				if err := a.apply(ctx, crd); err != nil {
					return err
				}
			}
			return waitEstablished(ctx, dyn, crds, time.Minute)
		}},
		{"certificates and objects", func(ctx context.Context) error {
			certs, why := loadCerts(ctx, client, opts.Namespace, time.Now())
			if certs != nil {
				res.CertsReused = true
			} else {
				opts.logf("  generating certificates (%s)", why)
				if certs, err = GenerateCerts(opts.Namespace, time.Now()); err != nil {
					return err
				}
			}
			objs = Build(opts, certs)
			for _, o := range objs.Workloads() {
				if err := a.apply(ctx, o); err != nil {
					return err
				}
			}
			return nil
		}},
		{"waiting for the controller manager", func(ctx context.Context) error {
			return waitDeployment(ctx, client, opts.Namespace, ControllerName, opts.Timeout)
		}},
		{"webhook configurations", func(ctx context.Context) error {
			for _, o := range objs.Webhooks() {
				if err := a.apply(ctx, o); err != nil {
					return err
				}
			}
			return waitWebhook(ctx, client, dyn, opts.Namespace, opts.Timeout)
		}},
		{"waiting for the chaos daemons", func(ctx context.Context) error {
			return waitDaemonSet(ctx, client, opts.Namespace, DaemonName, opts.Timeout)
		}},
	}
	for _, s := range steps {
		t0 := time.Now()
		opts.logf("chaos mesh: %s", s.name)
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("installing Chaos Mesh: %s: %w", s.name, err)
		}
		res.Steps = append(res.Steps, Step{s.name, time.Since(t0)})
		opts.logf("  done in %s", time.Since(t0).Round(100*time.Millisecond))
	}
	res.Total = time.Since(start)
	return res, nil
}

// checkForeign refuses to touch a Chaos Mesh someone else installed.
func checkForeign(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, ns string) error {
	dep, err := client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{})
	switch {
	case err == nil && dep.Labels[ManagedByLabel] != ManagedBy:
		return fmt.Errorf("%w: deployment %s/%s is managed by %q", ErrForeign, ns, ControllerName, dep.Labels[ManagedByLabel])
	case err != nil && !apierrors.IsNotFound(err):
		return err
	}
	crd, err := dyn.Resource(crdGVR).Get(ctx, "podchaos."+Group, metav1.GetOptions{})
	switch {
	case err == nil && crd.GetLabels()[ManagedByLabel] != ManagedBy:
		return fmt.Errorf("%w: CRD podchaos.%s is not labelled %s=%s", ErrForeign, Group, ManagedByLabel, ManagedBy)
	case err != nil && !apierrors.IsNotFound(err):
		return err
	}
	return nil
}

// loadCerts returns the certificates of an earlier Install if they are
// all there, consistent and valid for at least another 30 days; else nil
// and why not.
func loadCerts(ctx context.Context, client kubernetes.Interface, ns string, now time.Time) (*Certs, string) {
	data := map[string]map[string][]byte{}
	for _, name := range []string{WebhookSecretName, DaemonSecretName, DaemonClientSecretName, ChaosdClientSecretName} {
		s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "none in the cluster"
			}
			return nil, err.Error()
		}
		data[name] = s.Data
	}
	c, err := certsFromSecrets(data, ns, now)
	if err != nil {
		return nil, err.Error()
	}
	return c, ""
}

// certsFromSecrets reads the certificates from the Secrets' data (by
// Secret name) and checks them (Check, with a 30-day margin).
func certsFromSecrets(data map[string]map[string][]byte, ns string, now time.Time) (*Certs, error) {
	c := &Certs{}
	for _, p := range []struct {
		out       *KeyPair
		secret    string
		cert, key string
		sameCA    bool // its ca.crt must be the webhook secret's
	}{
		{&c.CA, WebhookSecretName, "ca.crt", "", false},
		{&c.Webhook, WebhookSecretName, "tls.crt", "tls.key", false},
		{&c.DaemonServer, DaemonSecretName, "tls.crt", "tls.key", true},
		{&c.DaemonClient, DaemonClientSecretName, "tls.crt", "tls.key", true},
		{&c.ChaosdCA, ChaosdClientSecretName, "ca.crt", "ca.key", false},
		{&c.ChaosdClient, ChaosdClientSecretName, "tls.crt", "tls.key", false},
	} {
		var key []byte
		if p.key != "" {
			if key = data[p.secret][p.key]; key == nil {
				return nil, fmt.Errorf("secret %s has no %s", p.secret, p.key)
			}
		}
		kp, err := parseKeyPair(data[p.secret][p.cert], key)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %s: %w", p.secret, p.cert, err)
		}
		*p.out = *kp
		if p.sameCA && string(data[p.secret]["ca.crt"]) != string(c.CA.CertPEM) {
			return nil, fmt.Errorf("secret %s holds another CA", p.secret)
		}
	}
	if err := c.Check(ns, now, 30*24*time.Hour); err != nil {
		return nil, err
	}
	return c, nil
}

// applier server-side applies typed or unstructured objects through the
// dynamic client, as field manager "mcpsim" (forcing conflicts: these
// objects are mcpsim's).
type applier struct{ dyn dynamic.Interface }

// resources maps the kinds Install applies to their resource names.
var resources = map[string]string{
	"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "Secret": "secrets", "Service": "services",
	"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
	"Deployment": "deployments", "DaemonSet": "daemonsets",
	"MutatingWebhookConfiguration": "mutatingwebhookconfigurations", "ValidatingWebhookConfiguration": "validatingwebhookconfigurations",
	"CustomResourceDefinition": "customresourcedefinitions",
}

// toUnstructured converts an object for an apply request: without status
// and without the null creationTimestamps typed objects carry.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, schema.GroupVersionResource, error) {
	var u *unstructured.Unstructured
	if x, ok := obj.(*unstructured.Unstructured); ok {
		u = x.DeepCopy()
	} else {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, schema.GroupVersionResource{}, err
		}
		u = &unstructured.Unstructured{Object: m}
	}
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return nil, schema.GroupVersionResource{}, err
	}
	res, ok := resources[u.GetKind()]
	if !ok || u.GetKind() == "" {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("cannot apply a %q", u.GetKind())
	}
	return u, gv.WithResource(res), nil
}

func (a applier) apply(ctx context.Context, obj runtime.Object) error {
	u, gvr, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(gvr)
	if ns := u.GetNamespace(); ns != "" {
		ri = a.dyn.Resource(gvr).Namespace(ns)
	}
	if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// poll runs cond every interval until it is true, ctx ends or timeout
// passes; on timeout the error says what was awaited and describe's
// last answer.
func poll(ctx context.Context, interval, timeout time.Duration, what string, cond func(context.Context) (bool, error), describe func() string) error {
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, cond)
	if err == nil || ctx.Err() != nil {
		return err
	}
	msg := fmt.Sprintf("%s: not done after %s", what, timeout)
	if d := describe(); d != "" {
		msg += ": " + d
	}
	return errors.New(msg)
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, crds []*unstructured.Unstructured, timeout time.Duration) error {
	pending := map[string]bool{}
	for _, c := range crds {
		pending[c.GetName()] = true
	}
	var lastErr error
	return poll(ctx, time.Second, timeout, "CRDs established", func(ctx context.Context) (bool, error) {
		for name := range pending {
			u, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			lastErr = err
			if err == nil && established(u) {
				delete(pending, name)
			}
		}
		return len(pending) == 0, nil
	}, func() string {
		return fmt.Sprintf("not established: %s (last error: %v)", strings.Join(slices.Sorted(maps.Keys(pending)), ", "), lastErr)
	})
}

func deploymentReady(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}

func daemonSetReady(ds *appsv1.DaemonSet) bool {
	s := ds.Status
	return s.ObservedGeneration >= ds.Generation && s.DesiredNumberScheduled > 0 &&
		s.UpdatedNumberScheduled == s.DesiredNumberScheduled && s.NumberReady == s.DesiredNumberScheduled && s.NumberUnavailable == 0
}

// waitDeployment waits for a rollout to complete (kubectl rollout status).
func waitDeployment(ctx context.Context, client kubernetes.Interface, ns, name string, timeout time.Duration) error {
	var d *appsv1.Deployment
	var lastErr error
	return poll(ctx, 2*time.Second, timeout, "deployment "+ns+"/"+name+" available", func(ctx context.Context) (bool, error) {
		d, lastErr = client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return lastErr == nil && deploymentReady(d), nil
	}, func() string {
		if lastErr != nil {
			return lastErr.Error()
		}
		return fmt.Sprintf("%d of %d available%s", d.Status.AvailableReplicas, ptrOr(d.Spec.Replicas, 1),
			podProblems(ctx, client, ns, metav1.FormatLabelSelector(d.Spec.Selector)))
	})
}

func waitDaemonSet(ctx context.Context, client kubernetes.Interface, ns, name string, timeout time.Duration) error {
	var ds *appsv1.DaemonSet
	var lastErr error
	return poll(ctx, 2*time.Second, timeout, "daemonset "+ns+"/"+name+" ready", func(ctx context.Context) (bool, error) {
		ds, lastErr = client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		return lastErr == nil && daemonSetReady(ds), nil
	}, func() string {
		if lastErr != nil {
			return lastErr.Error()
		}
		return fmt.Sprintf("%d of %d ready (0 scheduled means no node accepts it)%s", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled,
			podProblems(ctx, client, ns, metav1.FormatLabelSelector(ds.Spec.Selector)))
	})
}

// ProbeWebhook checks, with two dry-run PodChaos creations, that the API
// server calls the controller manager's webhooks and that they answer: a
// PodChaos without selector.namespaces must come back with its own
// namespace filled in (only the mutating webhook does that), and a
// container-kill without container names must be denied (only the
// validating webhook checks that). A dry run that is merely admitted
// proves nothing: right after the webhook configurations are created the
// API server may not have loaded them yet.
func ProbeWebhook(ctx context.Context, dyn dynamic.Interface, ns string) error {
	probe := func(action string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": Group + "/v1alpha1", "kind": "PodChaos",
			"metadata": map[string]any{"name": "mcpsim-webhook-probe", "namespace": ns},
			"spec": map[string]any{"action": action, "mode": "one", "selector": map[string]any{
				"labelSelectors": map[string]any{"mcpsim.dev/webhook-probe": "selects-nothing"}}},
		}}
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	out, err := dyn.Resource(podChaosGVR).Namespace(ns).Create(ctx, probe("pod-kill"), dryRun)
	if err != nil {
		return err
	}
	if got, _, _ := unstructured.NestedStringSlice(out.Object, "spec", "selector", "namespaces"); !slices.Equal(got, []string{ns}) {
		return fmt.Errorf("the mutating webhook did not default spec.selector.namespaces (got %v): not called yet", got)
	}
	_, err = dyn.Resource(podChaosGVR).Namespace(ns).Create(ctx, probe("container-kill"), dryRun)
	switch {
	case err == nil:
		return errors.New("the validating webhook admitted a container-kill without container names: not called yet")
	case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) && !strings.Contains(err.Error(), "denied the request"):
		return err
	case !strings.Contains(err.Error(), "container"):
		return fmt.Errorf("the validating webhook denied the probe for another reason: %w", err)
	}
	return nil
}

func waitWebhook(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, ns string, timeout time.Duration) error {
	var lastErr error
	return poll(ctx, 2*time.Second, timeout, "webhook answering", func(ctx context.Context) (bool, error) {
		lastErr = ProbeWebhook(ctx, dyn, ns)
		return lastErr == nil, nil
	}, func() string {
		return fmt.Sprintf("a dry-run PodChaos: %v%s", lastErr, podProblems(ctx, client, ns, metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: selector("controller-manager")})))
	})
}

// podProblems describes the pods of a selector that are not ready.
func podProblems(ctx context.Context, client kubernetes.Interface, ns, sel string) string {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "; listing pods: " + err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if ready {
			continue
		}
		fmt.Fprintf(&b, "\n  pod %s on %q: %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				fmt.Fprintf(&b, " (%s: %s)", c.Reason, c.Message)
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				fmt.Fprintf(&b, " [%s waiting: %s %s]", cs.Name, w.Reason, w.Message)
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				fmt.Fprintf(&b, " [%s restarted %d times, last exit %d %s: %s]", cs.Name, cs.RestartCount, t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
			}
		}
	}
	return b.String()
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// State is what Status finds.
type State struct {
	// Installed: the controller manager's Deployment exists.
	Installed bool
	// ByMcpsim: it carries managed-by=mcpsim.
	ByMcpsim                              bool
	Version                               string
	CRDs, CRDsEstablished                 int
	ControllerAvailable, ControllerWanted int32
	DaemonsReady, DaemonsWanted           int32
	// Webhook is the answer to a dry-run PodChaos (nil: admitted).
	Webhook error
}

// Ready reports whether Chaos Mesh can take chaos objects now.
func (s *State) Ready() bool {
	return s.Installed && s.CRDs > 0 && s.CRDsEstablished == s.CRDs && s.ControllerWanted > 0 &&
		s.ControllerAvailable == s.ControllerWanted && s.DaemonsWanted > 0 && s.DaemonsReady == s.DaemonsWanted && s.Webhook == nil
}

func (s *State) String() string {
	if !s.Installed {
		if s.CRDs > 0 {
			return fmt.Sprintf("not installed (but %d chaos-mesh.org CRDs are)", s.CRDs)
		}
		return "not installed"
	}
	ready := "ready"
	if !s.Ready() {
		ready = "NOT ready"
	}
	who := ""
	if !s.ByMcpsim {
		who = ", not installed by mcpsim"
	}
	webhook := "answers"
	if s.Webhook != nil {
		webhook = "fails: " + s.Webhook.Error()
	}
	v := s.Version
	if v == "" {
		v = "unknown version"
	}
	return fmt.Sprintf("%s (%s%s): controller-manager %d/%d available, chaos-daemon %d/%d ready, CRDs %d/%d established, webhook %s",
		ready, v, who, s.ControllerAvailable, s.ControllerWanted, s.DaemonsReady, s.DaemonsWanted, s.CRDsEstablished, s.CRDs, webhook)
}

// Status reports whether Chaos Mesh is installed in namespace ns ("":
// DefaultNamespace) and ready.
func Status(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, ns string) (*State, error) {
	if ns == "" {
		ns = DefaultNamespace
	}
	s := &State{}
	crds, err := dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range crds.Items {
		if g, _, _ := unstructured.NestedString(c.Object, "spec", "group"); g == Group {
			s.CRDs++
			if established(&c) {
				s.CRDsEstablished++
			}
		}
	}
	dep, err := client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	s.Installed = true
	s.ByMcpsim = dep.Labels[ManagedByLabel] == ManagedBy
	s.Version = dep.Labels["app.kubernetes.io/version"]
	s.ControllerWanted, s.ControllerAvailable = ptrOr(dep.Spec.Replicas, 1), dep.Status.AvailableReplicas
	ds, err := client.AppsV1().DaemonSets(ns).Get(ctx, DaemonName, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if err == nil {
		s.DaemonsWanted, s.DaemonsReady = ds.Status.DesiredNumberScheduled, ds.Status.NumberReady
	}
	s.Webhook = ProbeWebhook(ctx, dyn, ns)
	return s, nil
}

// recordKinds hold chaos state the others are recovered through (the
// per-pod records chaos-daemon applies): they are deleted last, once the
// chaos objects that wrote them are gone and recovered.
var recordKinds = []string{"podnetworkchaos", "podiochaos", "podhttpchaos", "workflownodes"}

// Uninstall removes what Install created. First every chaos object is
// deleted while the controller manager and the daemons still run, so
// that their finalizers recover the targets (injected faults are
// undone); objects still there after opts.Timeout have their finalizers
// removed and are named in the returned error. Then the webhooks, the
// namespace, the cluster-wide RBAC objects and the CRDs are deleted, and
// Uninstall waits until they are gone. A Chaos Mesh mcpsim did not
// install is refused (ErrForeign).
func Uninstall(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, opts Options) error {
	opts.defaults()
	ns := opts.Namespace
	if dep, err := client.AppsV1().Deployments(ns).Get(ctx, ControllerName, metav1.GetOptions{}); err == nil && dep.Labels[ManagedByLabel] != ManagedBy {
		return fmt.Errorf("%w: deployment %s/%s is managed by %q; not removing it", ErrForeign, ns, ControllerName, dep.Labels[ManagedByLabel])
	}
	start := time.Now()
	crdList, err := dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{LabelSelector: Selector})
	if err != nil {
		return err
	}
	var errs []error
	var first, last []schema.GroupVersionResource
	for i := range crdList.Items {
		plural, version := crdResource(&crdList.Items[i])
		gvr := schema.GroupVersionResource{Group: Group, Version: version, Resource: plural}
		if slices.Contains(recordKinds, plural) {
			last = append(last, gvr)
		} else {
			first = append(first, gvr)
		}
	}
	opts.logf("chaos mesh: deleting chaos objects")
	var stuck []chaosObject
	for _, phase := range [][]schema.GroupVersionResource{first, last} {
		left, err := deleteAndWait(ctx, dyn, phase, opts.Timeout, opts.logf)
		if err != nil {
			errs = append(errs, err)
		}
		stuck = append(stuck, left...)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	opts.logf("  done in %s", time.Since(start).Round(100*time.Millisecond))
	t1 := time.Now()
	opts.logf("chaos mesh: deleting webhooks, namespace %s, RBAC and CRDs", ns)
	adm := client.AdmissionregistrationV1()
	del := func(what string, err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", what, err))
		}
	}
	del("mutating webhook", adm.MutatingWebhookConfigurations().Delete(ctx, MutatingWebhookName, metav1.DeleteOptions{}))
	for _, n := range []string{ValidatingWebhookName, ValidatingAuthWebhookName} {
		del("validating webhook "+n, adm.ValidatingWebhookConfigurations().Delete(ctx, n, metav1.DeleteOptions{}))
	}
	// With the webhooks gone (an update would need them), objects the
	// controller did not finalize lose their finalizers.
	if len(stuck) > 0 {
		var names []string
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		for i := range stuck {
			it := &stuck[i]
			names = append(names, fmt.Sprintf("%s (finalizers %v)", it, it.u.GetFinalizers()))
			if _, err := dyn.Resource(it.gvr).Namespace(it.u.GetNamespace()).Patch(ctx, it.u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("removing the finalizers of %s: %w", it, err))
			}
		}
		errs = append(errs, fmt.Errorf("not deleted within %s, finalizers removed (their targets may not have been recovered): %s", opts.Timeout, strings.Join(names, "; ")))
	}
	if nsObj, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		if nsObj.Labels[InstalledByLabel] != ManagedBy {
			// Someone made the namespace: leave it, remove what is ours.
			for _, n := range []string{ControllerName} {
				del("deployment", client.AppsV1().Deployments(ns).Delete(ctx, n, metav1.DeleteOptions{}))
			}
			del("daemonset", client.AppsV1().DaemonSets(ns).Delete(ctx, DaemonName, metav1.DeleteOptions{}))
			for _, n := range []string{ControllerServiceName, DaemonName} {
				del("service", client.CoreV1().Services(ns).Delete(ctx, n, metav1.DeleteOptions{}))
			}
			for _, n := range []string{WebhookSecretName, DaemonSecretName, DaemonClientSecretName, ChaosdClientSecretName} {
				del("secret", client.CoreV1().Secrets(ns).Delete(ctx, n, metav1.DeleteOptions{}))
			}
			for _, n := range []string{ControllerName, DaemonName} {
				del("service account", client.CoreV1().ServiceAccounts(ns).Delete(ctx, n, metav1.DeleteOptions{}))
			}
			del("role", client.RbacV1().Roles(ns).Delete(ctx, controlPlaneRole, metav1.DeleteOptions{}))
			del("role binding", client.RbacV1().RoleBindings(ns).Delete(ctx, controlPlaneRole, metav1.DeleteOptions{}))
		} else {
			del("namespace "+ns, client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}))
			// The chaos objects are gone: nothing is left for the pods to
			// finish, and the controller manager ignores SIGTERM for its
			// whole 30s grace period.
			del("pods", client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)},
				metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + ReleaseName}))
		}
	} else if !apierrors.IsNotFound(err) {
		errs = append(errs, err)
	}
	del("cluster role bindings", client.RbacV1().ClusterRoleBindings().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: Selector}))
	del("cluster roles", client.RbacV1().ClusterRoles().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: Selector}))
	for _, c := range crdList.Items {
		del("CRD "+c.GetName(), dyn.Resource(crdGVR).Delete(ctx, c.GetName(), metav1.DeleteOptions{}))
	}
	var left []string
	err = poll(ctx, 2*time.Second, opts.Timeout, "Chaos Mesh removed", func(ctx context.Context) (bool, error) {
		left = nil
		if n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil && n.Labels[InstalledByLabel] == ManagedBy {
			left = append(left, "namespace "+ns)
		}
		if crds, err := dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{LabelSelector: Selector}); err != nil {
			left = append(left, "CRDs: "+err.Error())
		} else {
			for _, c := range crds.Items {
				left = append(left, "CRD "+c.GetName())
			}
		}
		return len(left) == 0, nil
	}, func() string { return "still there: " + strings.Join(left, ", ") })
	if err != nil {
		errs = append(errs, err)
	}
	opts.logf("  done in %s", time.Since(t1).Round(100*time.Millisecond))
	opts.logf("chaos mesh: removed in %s", time.Since(start).Round(100*time.Millisecond))
	return errors.Join(errs...)
}

// chaosObject is a chaos object and its resource.
type chaosObject struct {
	u   unstructured.Unstructured
	gvr schema.GroupVersionResource
}

func (c *chaosObject) String() string {
	return fmt.Sprintf("%s %s/%s", c.u.GetKind(), c.u.GetNamespace(), c.u.GetName())
}

// deleteAndWait deletes every object of the resources in every namespace
// and waits until they are gone; it returns what is left after timeout.
func deleteAndWait(ctx context.Context, dyn dynamic.Interface, gvrs []schema.GroupVersionResource, timeout time.Duration, logf func(string, ...any)) ([]chaosObject, error) {
	list := func(ctx context.Context) ([]chaosObject, error) {
		var out []chaosObject
		for _, gvr := range gvrs {
			l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("listing %s: %w", gvr.Resource, err)
			}
			for _, u := range l.Items {
				out = append(out, chaosObject{u, gvr})
			}
		}
		return out, nil
	}
	items, err := list(ctx)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	var errs []error
	for i := range items {
		it := &items[i]
		logf("  deleting %s", it)
		if err := dyn.Resource(it.gvr).Namespace(it.u.GetNamespace()).Delete(ctx, it.u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", it, err))
		}
	}
	var left []chaosObject
	werr := poll(ctx, time.Second, timeout, "chaos objects deleted", func(ctx context.Context) (bool, error) {
		left, err = list(ctx)
		return err == nil && len(left) == 0, nil
	}, func() string { return "" })
	if werr != nil && ctx.Err() != nil {
		errs = append(errs, werr)
	}
	if werr == nil {
		left = nil
	}
	return left, errors.Join(errs...)
}
