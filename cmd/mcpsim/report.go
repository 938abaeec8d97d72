package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/report"
)

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Work with written reports: re-render, compare",
	}
	cmd.AddCommand(newReportRenderCmd(), newReportCompareCmd())
	return cmd
}

// readReport reads a report.json (or a report directory's); any problem
// is a usage error.
func readReport(path string) (*report.Report, error) {
	r, err := report.ReadFile(path)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return r, nil
}

func newReportRenderCmd() *cobra.Command {
	var htmlOut string
	cmd := &cobra.Command{
		Use:   "render DIR|report.json",
		Short: "Rebuild report.html from report.json, without running anything",
		Example: `  mcpsim report render reports/pod-kill-recovery
  mcpsim report render old/report.json --html /tmp/old.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := readReport(args[0])
			if err != nil {
				return err
			}
			dest := htmlOut
			if dest == "" {
				dir := args[0]
				if info, err := os.Stat(dir); err == nil && !info.IsDir() {
					dir = filepath.Dir(dir)
				}
				dest = filepath.Join(dir, report.HTMLFile)
			}
			if err := r.WriteHTML(dest); err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), dest)
			return nil
		},
	}
	cmd.Flags().StringVar(&htmlOut, "html", "", "where to write the page (default: report.html beside report.json)")
	return cmd
}

func newReportCompareCmd() *cobra.Command {
	opts := report.DefaultCompareOptions
	output, htmlOut := "text", ""
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two runs' reports; exit 1 if NEW regressed",
		Long: `Compare two report.json files (or report directories): every assertion and
every service's load metrics and final ready replicas, base against new,
with the change. Given two suites' report directories (what
'mcpsim run DIR --out OUT' writes: one sub-directory per scenario), it
compares every scenario in both and lists those in one only.

NEW regressed when an assertion that passed in BASE no longer passes, or a
judged value worsened beyond the tolerance: times and latencies (assertion
values, mean, p50, p90, p99) by more than --tolerance of BASE's value and
more than 1ms, ratios (error, degraded, availability rates) by more than
--ratio-tolerance. Request counts, rates, the maximum and the replicas are
shown only.

--both-ways judges agreement instead, as between the simulator and a real
cluster: a judged value beyond the tolerance either way differs, a verdict
that changed either way differs, and the final ready replicas are judged
by --tolerance too.

Exit codes: 0 no regression (or agreement), 1 regression (or a
difference), 2 a report cannot be read.`,
		Example: `  mcpsim report compare baseline/pod-kill-recovery reports/pod-kill-recovery
  mcpsim report compare a/report.json b/report.json --tolerance 0.05 -o json
  mcpsim report compare reports/sim reports/kind --both-ways --tolerance 0.2`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageErr("--output must be text or json, not %q", output)
			}
			if opts.Tolerance < 0 || opts.RatioTolerance < 0 {
				return usageErr("tolerances cannot be negative")
			}
			suiteBase, suiteNew := report.IsSuiteDir(args[0]), report.IsSuiteDir(args[1])
			if suiteBase || suiteNew {
				if suiteBase != suiteNew {
					suite, single := args[0], args[1]
					if suiteNew {
						suite, single = args[1], args[0]
					}
					return usageErr("%s is a suite's report directory and %s a scenario's report: compare two of a kind", suite, single)
				}
				return compareSuites(cmd, args[0], args[1], opts, output, htmlOut)
			}
			base, err := readReport(args[0])
			if err != nil {
				return err
			}
			cur, err := readReport(args[1])
			if err != nil {
				return err
			}
			c := report.Compare(base, cur, opts)
			if htmlOut != "" {
				if err := writeComparePage(htmlOut, c); err != nil {
					return err
				}
			}
			return printComparison(cmd.OutOrStdout(), output, c, c.Regressed)
		},
	}
	cmd.Flags().Float64Var(&opts.Tolerance, "tolerance", opts.Tolerance, "relative worsening allowed for times and latencies (0.1 = 10%)")
	cmd.Flags().Float64Var(&opts.RatioTolerance, "ratio-tolerance", opts.RatioTolerance, "absolute worsening allowed for ratios (0.001 = 0.1 percentage points)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().StringVar(&htmlOut, "html", "", "also write the comparison as an HTML page to this file (for two suites: a directory, one page per scenario)")
	cmd.Flags().BoolVar(&opts.BothWays, "both-ways", false, "judge agreement: a difference beyond the tolerance either way counts (simulator against a real cluster)")
	return cmd
}

// compareSuites is report compare of two suites' report directories.
func compareSuites(cmd *cobra.Command, baseDir, newDir string, opts report.CompareOptions, output, htmlOut string) error {
	sc, err := report.CompareSuites(baseDir, newDir, opts)
	if err != nil {
		return usageErr("%v", err)
	}
	if htmlOut != "" {
		if err := os.MkdirAll(htmlOut, 0o755); err != nil {
			return &exitError{code: exitInfra, err: err}
		}
		for _, c := range sc.Comparisons {
			if err := writeComparePage(filepath.Join(htmlOut, c.Dir+".html"), c.Comparison); err != nil {
				return err
			}
		}
	}
	return printComparison(cmd.OutOrStdout(), output, sc, sc.Regressed)
}

// writeComparePage writes a comparison's HTML page to path.
func writeComparePage(path string, c *report.Comparison) error {
	page, err := c.HTML()
	if err == nil {
		err = os.WriteFile(path, page, 0o644)
	}
	if err != nil {
		return &exitError{code: exitInfra, err: err}
	}
	return nil
}

// printComparison writes a comparison (one scenario's or a suite's) as
// JSON or text; exit 1 if it regressed.
func printComparison(w io.Writer, output string, c interface{ Text(io.Writer) error }, regressed bool) error {
	var err error
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(c)
	} else {
		// Names come from scenario files: made safe for a terminal as a
		// whole (not per write, which could split a character).
		var b strings.Builder
		if err = c.Text(&b); err == nil {
			_, err = io.WriteString(w, termSafe(b.String()))
		}
	}
	if err != nil {
		return err
	}
	if regressed {
		return &exitError{code: exitFailed, err: errors.New("")}
	}
	return nil
}
