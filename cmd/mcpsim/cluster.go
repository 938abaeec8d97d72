package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/mcpsim/mcpsim/pkg/chaosmesh"
	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
	"github.com/mcpsim/mcpsim/pkg/cluster/kube"
	"github.com/mcpsim/mcpsim/pkg/runner"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// DefaultNodeImage is what `make images` builds.
const DefaultNodeImage = "mcpsim/node:v1.34.4"

func stateDir() string {
	if d := os.Getenv("MCPSIM_STATE"); d != "" {
		return d
	}
	return "/var/lib/mcpsim"
}

func newClusterCmd() *cobra.Command {
	var name, image, from string
	var load []string
	var reuse, withChaosMesh bool
	provider := func(cmd *cobra.Command) *kind.Provider {
		return kind.NewProvider(kind.Options{NodeImage: image, KubeconfigDir: filepath.Join(stateDir(), "kubeconfig"), Log: cmd.ErrOrStderr()})
	}
	cmd := &cobra.Command{Use: "cluster", Short: "Create, inspect and delete kind clusters (needs Docker and `make images`)"}
	cmd.PersistentFlags().StringVar(&name, "name", "mcpsim", "cluster name")
	up := &cobra.Command{
		Use:   "up",
		Short: "Create a kind cluster from local images (3 nodes in 2 zones, or a scenario's node pools)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := kind.SpecFor(&kind.DefaultCluster)
			if from != "" {
				srcs, err := runner.Resolve(from)
				if err != nil {
					return usageErr("%v", err)
				}
				sc, err := scenario.Parse(srcs[0].Name, srcs[0].Data)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				spec = kind.SpecFor(&sc.Spec.Cluster)
			}
			c, err := provider(cmd).Up(cmd.Context(), name, spec, reuse)
			if err != nil {
				code := exitInfra
				switch {
				case errors.Is(err, kind.ErrExists):
					code = exitUsage
				case errors.Is(err, context.Canceled):
					code, err = exitInterrupt, fmt.Errorf("interrupted: cluster %q was removed", name)
				}
				return &exitError{code: code, err: err}
			}
			for _, img := range load {
				fmt.Fprintf(cmd.ErrOrStderr(), "loading image %s into the nodes\n", img)
				if err := c.LoadImage(cmd.Context(), img); err != nil {
					return &exitError{code: exitInfra, err: fmt.Errorf("cluster %q is up, but loading %s failed (build it with `make images`): %w", name, img, err)}
				}
			}
			if withChaosMesh {
				if err := installChaosMesh(cmd, c); err != nil {
					code := exitInfra
					if errors.Is(err, context.Canceled) {
						code = exitInterrupt
					}
					return &exitError{code: code, err: fmt.Errorf("cluster %q is up, but Chaos Mesh is not: %w", name, err)}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %q is up; kubeconfig: %s\n", name, c.Kubeconfig)
			return nil
		},
	}
	up.Flags().StringVar(&image, "image", DefaultNodeImage, "node image")
	up.Flags().BoolVar(&reuse, "reuse", false, "use the cluster if it exists already")
	up.Flags().StringVar(&from, "scenario", "", "take the nodes from this scenario's cluster section")
	up.Flags().BoolVar(&withChaosMesh, "chaos-mesh", false, "also install Chaos Mesh (controller manager and daemons from `make images`) and wait until its webhooks answer")
	up.Flags().StringArrayVar(&load, "load-image", []string{"mcpsim/reference:dev"}, "local image to load into every node; repeatable")
	down := &cobra.Command{
		Use:   "down",
		Short: "Delete a kind cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := provider(cmd).Down(name); err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %q deleted\n", name)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show a kind cluster's nodes and whether Chaos Mesh is installed and ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := provider(cmd).Connect(name)
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			nodes, err := c.Nodes(cmd.Context())
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tROLE\tZONE\tREADY\tVERSION")
			for _, n := range nodes {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", n.Name, n.Role, n.Zone, n.Ready, n.Version)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(c.Config)
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			st, err := chaosmesh.Status(cmd.Context(), c.Client, dyn, "")
			if err != nil {
				return &exitError{code: exitInfra, err: fmt.Errorf("chaos mesh status: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nchaos mesh: %s\n", st)
			return nil
		},
	}
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Restore the nodes, let go of held packets and delete the namespaces an mcpsim run left on a cluster (after a crash)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := provider(cmd).Connect(name)
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			// Nodes a NodeOutage left off the network come back first:
			// their kubelets must confirm the deletion of their pods.
			isolated, err := c.Isolated(cmd.Context())
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			for _, n := range isolated {
				if err := c.Restore(cmd.Context(), n); err != nil {
					return &exitError{code: exitInfra, err: err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored node %s to the network\n", n)
			}
			// Packets a NetworkChaos delay left held go too.
			held, err := c.ReleaseHeld(cmd.Context())
			for _, n := range held {
				fmt.Fprintf(cmd.OutOrStdout(), "let go of the packets held on node %s\n", n)
			}
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			deleted, err := kube.Clean(cmd.Context(), c.Client)
			for _, ns := range deleted {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted namespace %s\n", ns)
			}
			if err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			if len(deleted) == 0 && len(isolated) == 0 && len(held) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to clean")
			}
			return nil
		},
	}
	cmd.AddCommand(up, down, status, clean)
	return cmd
}

// installChaosMesh loads Chaos Mesh's images into the nodes and installs
// it (idempotent: on a cluster that has it, this updates it in place).
func installChaosMesh(cmd *cobra.Command, c *kind.Cluster) error {
	log := cmd.ErrOrStderr()
	var ids []string
	for _, img := range []string{chaosmesh.DefaultControllerImage, chaosmesh.DefaultDaemonImage} {
		id, err := exec.CommandContext(cmd.Context(), "docker", "image", "inspect", "-f", "{{.Id}}", img).Output()
		if err != nil {
			return fmt.Errorf("image %s is not on this machine (build it with `make images`): %w", img, err)
		}
		ids = append(ids, strings.TrimSpace(string(id)))
		fmt.Fprintf(log, "loading image %s into the nodes\n", img)
		if err := c.LoadImage(cmd.Context(), img); err != nil {
			return fmt.Errorf("loading %s: %w", img, err)
		}
	}
	// Install applies ~40 objects (23 large CRDs) and polls: client-go's
	// default rate limit (5 requests/s) would make that half a minute.
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = 50, 100
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The images keep their :dev tag when rebuilt: their IDs restart the
	// pods when they changed.
	res, err := chaosmesh.Install(cmd.Context(), c.Client, dyn, chaosmesh.Options{Log: log, ImageRevision: chaosmesh.Revision(ids...),
		ControllerNodeSelector: kind.ControlPlaneSelector, ControllerTolerations: kind.ControlPlaneTolerations})
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "chaos mesh %s installed in %s (%d CRDs, certificates %s)\n", res.Version, res.Total.Round(100*time.Millisecond), res.CRDs,
		map[bool]string{true: "kept", false: "generated"}[res.CertsReused])
	return nil
}

func newImagesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "images", Short: "Build the images mcpsim needs (run from the repository)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "build",
		Short: "Build the reference and kind node images, cached by content (same as `make images`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			script := filepath.Join("images", "build.sh")
			if _, err := os.Stat(script); err != nil {
				return usageErr("run this from the mcpsim repository: %s not found", script)
			}
			c := exec.CommandContext(cmd.Context(), "bash", script)
			c.Stdout, c.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := c.Run(); err != nil {
				return &exitError{code: exitInfra, err: fmt.Errorf("image build failed: %w", err)}
			}
			return nil
		},
	})
	return cmd
}
