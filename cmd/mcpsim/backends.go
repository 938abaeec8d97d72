package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"

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
	// chaosMeshAuto: chaosMesh was not asked for but derived from the
	// scenarios (kind installs Chaos Mesh where a scenario needs it).
	chaosMeshAuto bool
	// noNetem: why kind's nodes cannot run netem (kind.NetemMissing).
	noNetem string
}

// anyChaosObject says whether a scenario has a fault that is a Chaos Mesh
// object.
func anyChaosObject(scs []*scenario.Scenario) bool {
	for _, sc := range scs {
		for i := range sc.Spec.Faults {
			if sc.Spec.Faults[i].ChaosObject() != nil {
				return true
			}
		}
	}
	return false
}

// anyNetemFault reports whether a scenario has a NetworkChaos built on
// netem (kube.NeedsNetem): the faults mcpsim holds the packets of where
// the nodes have no netem. (A partition is iptables: Chaos Mesh's.)
func anyNetemFault(scs []*scenario.Scenario) bool {
	for _, sc := range scs {
		for i := range sc.Spec.Faults {
			if kube.NeedsNetem(&sc.Spec.Faults[i]) {
				return true
			}
		}
	}
	return false
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

// kindGroups puts together the scenarios that need the same kind cluster
// (the same workers, by kind.SpecFor), in the order of their first
// appearance: one cluster per group, not one for a whole suite whose
// scenarios ask for other nodes (their spread, placement and outages
// would mean other things).
func kindGroups(scs []*scenario.Scenario) [][]int {
	var groups [][]int
	var specs []kind.Spec
	for i, sc := range scs {
		spec := kind.SpecFor(&sc.Spec.Cluster)
		j := slices.IndexFunc(specs, func(s kind.Spec) bool { return reflect.DeepEqual(s, spec) })
		if j < 0 {
			specs, groups = append(specs, spec), append(groups, nil)
			j = len(groups) - 1
		}
		groups[j] = append(groups[j], i)
	}
	return groups
}

// kindCluster picks the cluster for spec: base if it exists and has
// spec's workers, or if it does not exist (then it is created); else
// kind.ShapeName(base, spec), reused if it exists and fits.
func kindCluster(ctx context.Context, p *kind.Provider, base string, spec kind.Spec) (name string, exists bool, err error) {
	name = base
	for range 2 {
		if exists, err = p.Exists(name); err != nil || !exists {
			return name, false, err
		}
		c, err := p.Connect(name)
		if err != nil {
			return "", false, err
		}
		fits, err := c.Fits(ctx, spec)
		if err != nil {
			return "", false, fmt.Errorf("kind cluster %q: listing its nodes: %w", name, err)
		}
		if fits {
			return name, true, nil
		}
		if name != base {
			break
		}
		name = kind.ShapeName(base, spec)
	}
	return "", false, fmt.Errorf("kind cluster %q exists with other nodes than the scenario's (%s); delete it with `mcpsim cluster down --name %s`", name, spec, name)
}

// kindBackend runs a group of scenarios (kindGroups) on one kind cluster:
// reused if one fits (kindCluster), else created from their node pools
// and deleted when the group is done, unless --keep-cluster.
func kindBackend(cmd *cobra.Command, f *realFlags, scs []*scenario.Scenario, log io.Writer) (*preparedBackend, error) {
	ctx := cmd.Context()
	p := kind.NewProvider(kind.Options{NodeImage: f.nodeImage, KubeconfigDir: filepath.Join(stateDir(), "kubeconfig"), Log: log})
	spec := kind.SpecFor(&scs[0].Spec.Cluster)
	name, exists, err := kindCluster(ctx, p, f.cluster, spec)
	if err != nil {
		return nil, &exitError{code: exitInfra, err: err}
	}
	if exists {
		fmt.Fprintf(log, "reusing kind cluster %q (%s)\n", name, spec)
	}
	c, err := p.Up(ctx, name, spec, true)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, &exitError{code: exitInfra, err: err}
	}
	cleanup := func() error { return nil }
	if !exists && !f.keepCluster {
		cleanup = func() error {
			fmt.Fprintf(log, "deleting kind cluster %q (keep it with --keep-cluster)\n", name)
			return p.Down(name)
		}
	}
	if err := c.LoadImage(ctx, f.image); err != nil {
		cleanup()
		return nil, &exitError{code: exitInfra, err: fmt.Errorf("loading %s into the nodes (build it with `make images`): %w", f.image, err)}
	}
	// Load goes to the control plane's address on the kind network (a
	// container mcpsim made), not through Docker's proxy on 127.0.0.1.
	target, err := c.NodePortURL(kind.DefaultNodePort)
	if err != nil {
		cleanup()
		return nil, &exitError{code: exitInfra, err: err}
	}
	// NodeOutage takes kind's worker nodes off the cluster's network.
	// Without netem in the nodes' kernel, mcpsim holds the packets of a
	// NetworkChaos delay or loss itself (kind/netdelay.go).
	opts := kube.Options{Name: "kind", Client: c.Client, Target: target, AllowNonLoopback: true, NodePort: kind.DefaultNodePort, Image: f.image, NodeOutages: c, NoNetem: f.noNetem, Log: log}
	if f.noNetem != "" {
		opts.Delayer = c
		if anyNetemFault(scs) {
			// mcpsim goes into the nodes before the runs, not when the
			// first delay starts.
			if err := c.PrepareDelays(ctx); err != nil {
				cleanup()
				return nil, &exitError{code: exitInfra, err: fmt.Errorf("copying mcpsim into the nodes to hold packets: %w", err)}
			}
		}
	}
	// The dynamic client applies the self-heal operator's CRD and policies.
	if opts.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		cleanup()
		return nil, &exitError{code: exitInfra, err: err}
	}
	if f.chaosMesh && (!f.chaosMeshAuto || anyChaosObject(scs)) {
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
