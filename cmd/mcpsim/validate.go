package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/runner"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

func newValidateCmd() *cobra.Command {
	output := "text"
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without running them",
		Long: `Check scenario files (or directories, or built-in names) and report every problem with file:line:column.
With -o json, stdout has one entry per file: {file, valid, errors: [{file, line, column, path, message}]}.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeScenarios,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if output == "json" {
				results, bad := validateAll(args)
				if err := printJSON(cmd, results); err != nil {
					return err
				}
				if bad > 0 {
					return &exitError{code: exitUsage, err: errors.New("")}
				}
				return nil
			}
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
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// validation is one file's result for validate -o json.
type validation struct {
	File   string            `json:"file"`
	Valid  bool              `json:"valid"`
	Errors []validationError `json:"errors"`
}

type validationError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// validateAll is parseEach as data: every argument's files with their
// errors, and the number of invalid ones.
func validateAll(args []string) (out []validation, bad int) {
	out = []validation{}
	for _, arg := range args {
		sources, err := runner.Resolve(arg)
		if err != nil {
			out = append(out, validation{File: arg, Errors: []validationError{{File: arg, Message: err.Error()}}})
			bad++
			continue
		}
		for _, src := range sources {
			v := validation{File: src.Name, Valid: true, Errors: []validationError{}}
			if _, err := scenario.Parse(src.Name, src.Data); err != nil {
				v.Valid = false
				bad++
				var fes scenario.Errors
				var fe *scenario.FieldError
				switch {
				case errors.As(err, &fes):
					for _, e := range fes {
						v.Errors = append(v.Errors, validationError{e.File, e.Line, e.Column, e.Path, e.Message})
					}
				case errors.As(err, &fe):
					v.Errors = append(v.Errors, validationError{fe.File, fe.Line, fe.Column, fe.Path, fe.Message})
				default:
					v.Errors = append(v.Errors, validationError{File: src.Name, Message: err.Error()})
				}
			}
			out = append(out, v)
		}
	}
	return out, bad
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
