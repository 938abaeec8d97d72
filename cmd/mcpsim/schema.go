package main

import (
	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/report"
)

func newSchemaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schemas of mcpsim's outputs",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "report",
		Short: "Print the JSON Schema (draft 2020-12) of report.json, " + report.SchemaVersion,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(report.Schema)
			return err
		},
	})
	return cmd
}
