package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/pkg/scenario"
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
invalid scenario, 3 infrastructure error, 130 interrupted (Ctrl-C).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newValidateCmd(), newListCmd(), newVersionCmd(), newConformanceCmd(), newServeCmd(), newClusterCmd(), newImagesCmd(), newReportCmd(), newSchemaCmd(), newNetdelayCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see '%s --help')", err, c.CommandPath())
	})
	strictGroups(root)
	return root
}

// strictGroups makes every command that only groups sub-commands (cluster,
// images, conformance) reject an unknown sub-command with exit code 2;
// cobra would print the help and exit 0, which a CI script takes for
// success. Alone, a group prints its help.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil || !c.HasParent() {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("unknown command %q for %q (see '%s --help')", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func newVersionCmd() *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the mcpsim version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if output == "json" {
				return printJSON(cmd, map[string]string{
					"version":            buildVersion(),
					"go":                 runtime.Version(),
					"reportSchema":       report.SchemaVersion,
					"scenarioAPIVersion": scenario.APIVersion,
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "mcpsim %s\n", buildVersion())
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
