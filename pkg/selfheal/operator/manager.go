package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mcpsim/mcpsim/pkg/apis/selfheal/v1alpha1"
)

// Options configure the operator's manager.
type Options struct {
	// Namespace is the one namespace watched: the operator's Role grants
	// nothing outside it.
	Namespace string
	// MetricsAddr serves Prometheus metrics ("0" disables).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables).
	ProbeAddr string
	// LeaderElection makes replicas elect one active operator (a Lease
	// named LeaderElectionID in Namespace). Off by default: the backend
	// runs one replica.
	LeaderElection   bool
	LeaderElectionID string
}

// Defaults of Options.
const (
	DefaultMetricsAddr      = ":8081"
	DefaultProbeAddr        = ":8082"
	DefaultLeaderElectionID = "selfheal.mcpsim.dev"
)

// Scheme is the operator's scheme: Kubernetes' built-in types and
// SelfHealPolicy.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs the operator until ctx is done.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	if o.Namespace == "" {
		return errors.New("no namespace to watch: give --namespace (in a pod, POD_NAMESPACE from the downward API)")
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme,
		// Services, ReplicaSets and HPAs are read only when acting, and
		// rarely: straight from the API server (the Role grants list and
		// get, not watch), not through an informer.
		Client:                  client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Service{}, &appsv1.ReplicaSet{}, &autoscalingv2.HorizontalPodAutoscaler{}}}},
		Cache:                   cache.Options{DefaultNamespaces: map[string]cache.Config{o.Namespace: {}}},
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.Namespace,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	r := NewReconciler(mgr.GetClient(), mgr.GetEventRecorder(Name), clock.RealClock{}, NewHTTPChecker())
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the SelfHealPolicy controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	// Ready once the caches have synced: the policies and pods are known.
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
