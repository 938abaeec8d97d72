// Package kube runs scenarios on a real Kubernetes cluster: an existing one
// from a kubeconfig (backend kube), or one mcpsim created with kind
// (backend kind, which adds the cluster's lifecycle). It deploys
// reference.Objects(scenario) into a namespace of its own, waits for the
// rollout (the scenario's time 0), drives Vegeta load at the entry
// service, observes pods, Deployments, HPAs and Events with informers, and
// deletes the namespace whatever happens. It never judges: the timeline it
// returns goes to the same assertions and reports as the sim's.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Options configure a Backend.
type Options struct {
	// Name is the backend's name in reports: "kube" or "kind".
	Name   string
	Client kubernetes.Interface
	// Dynamic reaches Chaos Mesh's objects and the self-heal operator's
	// CRD and policies; ChaosMesh says Chaos Mesh is
	// installed: faults are then applied as real Chaos Mesh objects.
	Dynamic   dynamic.Interface
	ChaosMesh bool
	// NoNetem, if set, says why the nodes' kernel cannot run Chaos Mesh's
	// netem actions (NetworkChaos delay, loss, duplicate, corrupt):
	// they are refused before anything runs, but delay and loss where a
	// Delayer holds the pods' packets instead (kind sets it).
	// DelaysWithoutNetem says there will be one, so that the checks
	// accept them before the cluster (and so its Delayer) exists.
	NoNetem            string
	Delayer            NetworkDelayer
	DelaysWithoutNetem bool
	// NodeOutages run NodeOutage faults (kind sets it). IsolatesNodes
	// says the cluster's machines can be taken off the network, so that
	// the checks accept NodeOutage before the cluster (and so its
	// NodeOutages) exists; a backend with NodeOutages isolates nodes.
	// Without either, NodeOutage is refused.
	NodeOutages   NodeOutages
	IsolatesNodes bool
	// Target is the base URL load is sent to (the entry service as the
	// host reaches it, e.g. http://127.0.0.1:30080).
	Target string
	// NodePort, if set, exposes the entry service on it (kind maps it to
	// the host's loopback).
	NodePort int32
	// AllowNonLoopback permits a Target that is not a loopback address.
	AllowNonLoopback bool
	// Image is the reference image (default reference.DefaultImage).
	Image string
	// RolloutTimeout bounds the wait for every service to be available
	// (default 10 minutes, as the sim).
	RolloutTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Backend is the real-cluster cluster.Backend.
type Backend struct {
	opts Options
	// adminCall sends a request to a pod's admin endpoint through the API
	// server's pod proxy (the host cannot reach pod IPs); tests replace it.
	adminCall func(ctx context.Context, ns, pod, method, path string, query url.Values) error
}

var _ cluster.Backend = (*Backend)(nil)

// New returns a Backend.
func New(opts Options) *Backend {
	if opts.Name == "" {
		opts.Name = "kube"
	}
	if opts.Image == "" {
		opts.Image = reference.DefaultImage
	}
	if opts.RolloutTimeout == 0 {
		opts.RolloutTimeout = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	b := &Backend{opts: opts}
	b.adminCall = b.proxyAdminCall
	return b
}

// Name implements cluster.Backend.
func (b *Backend) Name() string { return b.opts.Name }

// Check implements cluster.Backend.
func (b *Backend) Check(sc *scenario.Scenario) error {
	if p := sc.Spec.Cluster.CFSPeriod(); p != 0 && p != scenario.DefaultCFSPeriod {
		// mcpsim does not configure a cluster's kubelets: their
		// cpuCFSQuotaPeriod is the default (kind's is).
		return cluster.UnsupportedField(b.opts.Name, field.Forbidden(field.NewPath("spec", "cluster", "cpuQuota", "period"),
			fmt.Sprintf("a real cluster's CFS period is its kubelets' cpuCFSQuotaPeriod, %s unless configured otherwise; mcpsim does not reconfigure kubelets", scenario.DefaultCFSPeriod)))
	}
	for i := range sc.Spec.Faults {
		if err := b.checkFault(i, &sc.Spec.Faults[i]); err != nil {
			return cluster.UnsupportedField(b.opts.Name, err)
		}
	}
	return CheckTarget(b.opts.Target, b.opts.AllowNonLoopback)
}

// CheckTarget refuses a load target that is not on this machine unless
// the user said so: load may only go to loopback addresses.
func CheckTarget(target string, allowNonLoopback bool) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: load target %q: want a URL such as http://127.0.0.1:30080", cluster.ErrUnsupported, target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	if allowNonLoopback {
		return nil
	}
	return fmt.Errorf("%w: load target %s is not a loopback address; mcpsim sends load to this machine only unless --allow-non-loopback-target is given", cluster.ErrUnsupported, host)
}

func (b *Backend) logf(format string, args ...any) {
	fmt.Fprintf(b.opts.Log, format+"\n", args...)
}

// Run implements cluster.Backend.
func (b *Backend) Run(ctx context.Context, plan *cluster.Plan) (tl *timeline.Timeline, err error) {
	sc := plan.Scenario
	ns := fmt.Sprintf("mcpsim-%s-%05d", trim(sc.Metadata.Name, 40), rand.IntN(100000))
	b.logf("%s: namespace %s", sc.Metadata.Name, ns)
	if _, err := b.opts.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "mcpsim", "mcpsim.dev/scenario": trim(sc.Metadata.Name, 63)}}}, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	// The namespace goes whatever happens: success, failure, timeout or
	// Ctrl-C (ctx is done then; clean up on a fresh context).
	defer func() {
		if cerr := b.deleteNamespace(ns); cerr != nil && err == nil {
			err = cerr
		}
	}()
	r := newRecorder(sc, plan)
	// The report says which Kubernetes ran the scenario. A server that
	// does not say is no reason to stop: the report then has no version.
	if v, err := b.opts.Client.Discovery().ServerVersion(); err == nil {
		r.tl.KubernetesVersion = v.GitVersion
	} else {
		b.logf("%s: the API server's version is unknown: %v", sc.Metadata.Name, err)
	}
	obs, err := startObserver(ctx, b.opts.Client, ns, sc, r)
	if err != nil {
		return nil, err
	}
	defer obs.stop()
	if err := b.apply(ctx, ns, sc); err != nil {
		return nil, err
	}
	if err := b.deploySelfHeal(ctx, ns, sc); err != nil {
		return nil, err
	}
	if err := b.waitRollout(ctx, ns, sc, r); err != nil {
		return nil, err
	}
	t0 := time.Now()
	r.start(t0)
	b.logf("%s: rollout complete; scenario time 0", sc.Metadata.Name)
	if err := b.execute(ctx, ns, plan, r, obs, t0); err != nil {
		return nil, err
	}
	return r.finish(), nil
}

func trim(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "-")
}

// apply creates every object of reference.Objects(scenario) in ns.
func (b *Backend) apply(ctx context.Context, ns string, sc *scenario.Scenario) error {
	c := b.opts.Client
	for _, o := range reference.Objects(sc, ns, b.opts.Image) {
		if o.Config.Name == sc.Spec.Load.Target && b.opts.NodePort > 0 {
			o.Service.Spec.Type = corev1.ServiceTypeNodePort
			o.Service.Spec.Ports[0].NodePort = b.opts.NodePort
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, o.ConfigMap, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating ConfigMap %s: %w", o.ConfigMap.Name, err)
		}
		if _, err := c.CoreV1().Services(ns).Create(ctx, o.Service, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Service %s: %w", o.Service.Name, err)
		}
		if _, err := c.AppsV1().Deployments(ns).Create(ctx, o.Deployment, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Deployment %s: %w", o.Deployment.Name, err)
		}
		if o.HPA != nil {
			if _, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, o.HPA, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating HorizontalPodAutoscaler %s: %w", o.HPA.Name, err)
			}
		}
	}
	return nil
}

// waitRollout waits until every Deployment has its replicas ready and
// every Service its endpoints, as the sim's rollout does.
func (b *Backend) waitRollout(ctx context.Context, ns string, sc *scenario.Scenario, r *recorder) error {
	c := b.opts.Client
	var waiting string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, b.opts.RolloutTimeout, true, func(ctx context.Context) (bool, error) {
		for i := range sc.Spec.Services {
			name := sc.Spec.Services[i].Name
			d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ReadyReplicas < want || d.Status.UpdatedReplicas < want {
				waiting = fmt.Sprintf("%s: %d of %d replicas ready", name, d.Status.ReadyReplicas, want)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("rollout not complete after %s (%s): %w", b.opts.RolloutTimeout, waiting, err)
	}
	return nil
}

// deleteNamespace deletes ns and waits until it is gone (bounded), so that
// nothing of the run is left on the cluster.
func (b *Backend) deleteNamespace(ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := b.opts.Client.CoreV1().Namespaces()
	if err := c.Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %s: %w", ns, err)
	}
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := c.Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s still terminating after 3 minutes: %w", ns, err)
	}
	b.logf("namespace %s deleted", ns)
	return nil
}

// managedBy labels every namespace a run creates.
const managedBy = "app.kubernetes.io/managed-by=mcpsim"

// Clean deletes every namespace a run left behind (a crashed or killed
// mcpsim), and waits until they are gone.
func Clean(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	// Run namespaces only: they also name their scenario (Chaos Mesh's
	// namespace is not one of them).
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: managedBy + ",mcpsim.dev/scenario"})
	if err != nil {
		return nil, err
	}
	b := New(Options{Client: client})
	var deleted []string
	var errs []error
	for _, ns := range list.Items {
		if err := b.deleteNamespace(ns.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, ns.Name)
	}
	return deleted, errors.Join(errs...)
}
