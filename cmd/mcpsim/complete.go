package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/scenarios"
)

// completeScenarios completes built-in scenario names, and files and
// directories as the shell does (`mcpsim completion bash|zsh|fish`).
func completeScenarios(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, name := range scenarios.Names() {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, cobra.ShellCompDirectiveDefault
}
