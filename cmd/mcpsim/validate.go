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
			_, names, bad := parseEach(cmd, args)
			for _, name := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", name)
			}
			if bad > 0 {
				return &exitError{code: exitUsage, err: errors.New("")}
			}
			return nil
		},
	}
}

// parseEach resolves and parses every argument, printing each problem on
// stderr, and returns the valid scenarios, their sources and the number of
// problems.
func parseEach(cmd *cobra.Command, args []string) (scs []*scenario.Scenario, names []string, bad int) {
	for _, arg := range args {
		sources, err := runner.Resolve(arg)
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), termSafe(err.Error()))
			bad++
			continue
		}
		for _, src := range sources {
			sc, err := scenario.Parse(src.Name, src.Data)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), termSafe(err.Error()))
				bad++
				continue
			}
			scs = append(scs, sc)
			names = append(names, src.Name)
		}
	}
	return scs, names, bad
}

// parseAll is parseEach for commands that run nothing unless every
// argument is valid.
func parseAll(cmd *cobra.Command, args []string) ([]*scenario.Scenario, []string, error) {
	scs, names, bad := parseEach(cmd, args)
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
