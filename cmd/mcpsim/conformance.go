package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/hpa/conformance"
)

func newConformanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check the simulator's fidelity against reference cases",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "hpa FILE...",
		Short: "Run HPA reference cases (hpa-cases.json schema) through the sim's HPA",
		Long: `Runs every case through package hpa, the same code the simulated cluster
uses, prints one line per failing case and ends with "N passed, M failed".
Exit 0 only if all pass; 2 if a case file is malformed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []conformance.Case
			for _, path := range args {
				f, err := os.Open(path)
				if err != nil {
					return usageErr("%v", err)
				}
				cases, err := conformance.Load(path, f)
				f.Close()
				if err != nil {
					return usageErr("%v", err)
				}
				all = append(all, cases...)
			}
			passed, failed := 0, 0
			out := cmd.OutOrStdout()
			for _, c := range all {
				o := conformance.Run(c)
				if o.Passed {
					passed++
					continue
				}
				failed++
				fmt.Fprintf(out, "FAIL %s [%s]: expected %s, got %s\n", c.Name, c.Kind, o.Expected, o.Got)
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return &exitError{code: exitFailed, err: errors.New("")}
			}
			return nil
		},
	})
	return cmd
}
