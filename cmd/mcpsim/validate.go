package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/runner"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without running them",
		Long:  "Check scenario files (or directories, or built-in names) and report every problem with file:line:column.",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, arg := range args {
				sources, err := runner.Resolve(arg)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				for _, src := range sources {
					if _, err := scenario.Parse(src.Name, src.Data); err != nil {
						fmt.Fprintln(cmd.ErrOrStderr(), err)
						bad++
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", src.Name)
				}
			}
			if bad > 0 {
				return &exitError{code: exitUsage, err: errors.New("")}
			}
			return nil
		},
	}
}

// parseAll resolves and parses every argument, reporting every invalid
// file before giving up.
func parseAll(cmd *cobra.Command, args []string) ([]*scenario.Scenario, []string, error) {
	var scs []*scenario.Scenario
	var names []string
	bad := 0
	for _, arg := range args {
		sources, err := runner.Resolve(arg)
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			bad++
			continue
		}
		for _, src := range sources {
			sc, err := scenario.Parse(src.Name, src.Data)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				bad++
				continue
			}
			scs = append(scs, sc)
			names = append(names, src.Name)
		}
	}
	if bad > 0 {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("%d invalid scenario argument(s); nothing was run", bad)}
	}
	seen := map[string]string{}
	for i, sc := range scs {
		if prev, dup := seen[sc.Metadata.Name]; dup {
			return nil, nil, usageErr("%s and %s are both named %q: their reports would overwrite each other", prev, names[i], sc.Metadata.Name)
		}
		seen[sc.Metadata.Name] = names[i]
	}
	return scs, names, nil
}
