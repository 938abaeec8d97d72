package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/reference"
)

func newServeCmd() *cobra.Command {
	var (
		cfg         reference.Config
		listen      string
		downstreams []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a reference MCP service (the role a pod of the reference image plays)",
		Example: `  mcpsim serve --role payment --cpu-per-request 10ms
  mcpsim serve --role gateway --downstream user=http://user:8080 --downstream order=http://order:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Downstreams = map[string]string{}
			for _, d := range downstreams {
				name, url, ok := strings.Cut(d, "=")
				if !ok || name == "" || !strings.HasPrefix(url, "http") {
					return usageErr("--downstream %q: want NAME=http://HOST:PORT", d)
				}
				cfg.Downstreams[name] = url
			}
			svc, err := reference.New(cfg)
			if err != nil {
				return usageErr("%v", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "serving %s on %s\n", cfg.Role, listen)
			if err := svc.ListenAndServe(cmd.Context(), listen); err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.Role, "role", "gateway", "role: "+strings.Join(reference.Roles, ", "))
	cmd.Flags().StringVar(&listen, "listen", ":8080", "address to listen on")
	cmd.Flags().DurationVar(&cfg.CPUPerRequest, "cpu-per-request", 10*time.Millisecond, "CPU work per request")
	cmd.Flags().StringArrayVar(&downstreams, "downstream", nil, "a downstream service NAME=URL (gateway); repeatable")
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 2*time.Second, "timeout of each downstream call")
	cmd.Flags().DurationVar(&cfg.DrainDelay, "drain-delay", 5*time.Second, "how long to keep serving after SIGTERM, while endpoints update")
	return cmd
}
