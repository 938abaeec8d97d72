package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// builtin is a built-in scenario as `list -o json` prints it.
type builtin struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	File        string            `json:"file"`
}

func newListCmd() *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			list := []builtin{}
			for _, name := range scenarios.Names() {
				file, data, _ := scenarios.Get(name)
				sc, err := scenario.Parse(file, data)
				if err != nil {
					return &exitError{code: exitInfra, err: fmt.Errorf("built-in scenario %s is invalid: %w", name, err)}
				}
				labels := sc.Metadata.Labels
				if labels == nil {
					labels = map[string]string{}
				}
				list = append(list, builtin{Name: name, Description: sc.Metadata.Description, Labels: labels, File: file})
			}
			if output == "json" {
				return printJSON(cmd, list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, b := range list {
				fmt.Fprintf(tw, "%s\t%s\n", b.Name, termSafe(b.Description))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageErr("--output must be text or json, not %q", output)
	}
	return nil
}

// printJSON writes v as indented JSON on stdout.
func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
