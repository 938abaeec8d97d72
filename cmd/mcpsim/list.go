package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, name := range scenarios.Names() {
				file, data, _ := scenarios.Get(name)
				sc, err := scenario.Parse(file, data)
				if err != nil {
					return &exitError{code: exitInfra, err: fmt.Errorf("built-in scenario %s is invalid: %w", name, err)}
				}
				fmt.Fprintf(tw, "%s\t%s\n", name, termSafe(sc.Metadata.Description))
			}
			return tw.Flush()
		},
	}
}
