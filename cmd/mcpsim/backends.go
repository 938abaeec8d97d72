package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mcpsim/mcpsim/pkg/chaosmesh"
	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
	"github.com/mcpsim/mcpsim/pkg/cluster/kube"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// realFlags are the flags of the real-cluster backends.
type realFlags struct {
	cluster          string
	keepCluster      bool
	nodeImage        string
	kubeconfig       string
	context          string
	target           string
	nodePort         int32
	allowNonLoopback bool
	image            string
	chaosMesh        bool
}

// preparedBackend is a backend and what must happen when the runs are
// over (deleting a kind cluster mcpsim created).
type preparedBackend struct {
	cluster.Backend
	cleanup func() error
}

// kubeBackend connects to an existing cluster: no lifecycle.
func kubeBackend(f *realFlags, log io.Writer) (*preparedBackend, error) {
	if f.target == "" {
		return nil, usageErr("--backend kube needs --target: the URL at which this machine reaches the entry service (e.g. http://127.0.0.1:8080 through kubectl port-forward)")
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.kubeconfig != "" {
		rules.ExplicitPath = f.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context}).ClientConfig()
	if err != nil {
		return nil, usageErr("kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, usageErr("kubeconfig: %v", err)
	}
	opts := kube.Options{Name: "kube", Client: client, Target: f.target, NodePort: f.nodePort, AllowNonLoopback: f.allowNonLoopback, Image: f.image, Log: log}
	// The dynamic client applies the self-heal operator's CRD and policies.
	if opts.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, usageErr("kubeconfig: %v", err)
	}
	if f.chaosMesh {
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return nil, usageErr("kubeconfig: %v", err)
		}
		st, err := chaosmesh.Status(context.Background(), client, dyn, "")
		if err != nil || !st.Ready() {
			return nil, &exitError{code: exitInfra, err: fmt.Errorf("--chaos-mesh: Chaos Mesh is not ready on this cluster (%v %v)", st, err)}
		}
		opts.Dynamic, opts.ChaosMesh = dyn, true
	}
	b := kube.New(opts)
	return &preparedBackend{Backend: b, cleanup: func() error { return nil }}, nil
}

// kindBackend reuses the named kind cluster, or creates one from the first
// scenario's node pools (deleted at the end unless --keep-cluster). One
// cluster serves the whole suite.
func kindBackend(cmd *cobra.Command, f *realFlags, scs []*scenario.Scenario, log io.Writer) (*preparedBackend, error) {
	ctx := cmd.Context()
	p := kind.NewProvider(kind.Options{NodeImage: f.nodeImage, KubeconfigDir: filepath.Join(stateDir(), "kubeconfig"), Log: log})
	exists, err := p.Exists(f.cluster)
	if err != nil {
		return nil, &exitError{code: exitInfra, err: err}
	}
	spec := kind.SpecFor(&scs[0].Spec.Cluster)
	for _, sc := range scs[1:] {
		if !reflect.DeepEqual(kind.SpecFor(&sc.Spec.Cluster), spec) {
			fmt.Fprintf(log, "note: %s asks for other node pools than %s; it runs on the same cluster\n", sc.Metadata.Name, scs[0].Metadata.Name)
		}
	}
	if exists {
		fmt.Fprintf(log, "reusing kind cluster %q\n", f.cluster)
	}
	c, err := p.Up(ctx, f.cluster, spec, true)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, &exitError{code: exitInfra, err: err}
	}
	cleanup := func() error { return nil }
	if !exists && !f.keepCluster {
		cleanup = func() error {
			fmt.Fprintf(log, "deleting kind cluster %q (keep it with --keep-cluster)\n", f.cluster)
			return p.Down(f.cluster)
		}
	}
	if err := c.LoadImage(ctx, f.image); err != nil {
		cleanup()
		return nil, &exitError{code: exitInfra, err: fmt.Errorf("loading %s into the nodes (build it with `make images`): %w", f.image, err)}
	}
	opts := kube.Options{Name: "kind", Client: c.Client, Target: fmt.Sprintf("http://127.0.0.1:%d", kind.DefaultNodePort), NodePort: kind.DefaultNodePort, Image: f.image, Log: log}
	// The dynamic client applies the self-heal operator's CRD and policies.
	if opts.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		cleanup()
		return nil, &exitError{code: exitInfra, err: err}
	}
	if f.chaosMesh {
		dyn, err := dynamic.NewForConfig(c.Config)
		if err != nil {
			cleanup()
			return nil, &exitError{code: exitInfra, err: err}
		}
		if st, err := chaosmesh.Status(ctx, c.Client, dyn, ""); err != nil || !st.Ready() {
			if err := installChaosMesh(cmd, c); err != nil {
				cleanup()
				return nil, &exitError{code: exitInfra, err: fmt.Errorf("installing Chaos Mesh: %w", err)}
			}
		}
		opts.Dynamic, opts.ChaosMesh = dyn, true
	}
	b := kube.New(opts)
	return &preparedBackend{Backend: b, cleanup: cleanup}, nil
}
