package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mcpsim",
		Short: "Simulation and chaos testing for microservices on Kubernetes",
		Long: `mcpsim runs scenarios: a cluster, a reference service with an HPA, Vegeta
load and Chaos Mesh faults, and assertions on scaling, recovery and SLOs.
The default backend is a deterministic simulated cluster in virtual time.

Exit codes: 0 all assertions passed, 1 an assertion failed, 2 bad usage or
invalid scenario, 3 infrastructure error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newValidateCmd(), newListCmd(), newVersionCmd(), newConformanceCmd(), newServeCmd(), newClusterCmd(), newImagesCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see '%s --help')", err, c.CommandPath())
	})
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the mcpsim version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "mcpsim %s\n", buildVersion())
			return nil
		},
	}
}
