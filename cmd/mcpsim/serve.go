package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/selfheal/operator"
)

// maxServiceConfig bounds a --config file (they are a few hundred bytes).
const maxServiceConfig = 1 << 20

func newServeCmd() *cobra.Command {
	var (
		cfg         reference.ServiceConfig
		opts        reference.Options
		configFile  string
		listen      string
		cpu         time.Duration
		timeout     time.Duration
		downstreams []string
		selfHeal    operator.Options
		// startMin, startMax: a scenario's startupLatency, as a slow
		// application start (the kubelet's own start comes on top).
		startMin, startMax time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a reference MCP service (the role a pod of the reference image plays)",
		Long: `Serve a reference MCP service. In a pod, --config names the service's
topology (its work and its calls), written by mcpsim from the scenario.
Without it, --role, --cpu and --downstream describe the service.

Each request spends CPU time (not wall time) drawn from the work
distribution, stops when its client goes away, then makes its calls
through one circuit breaker per downstream.

--role selfheal runs the self-heal operator instead: it reconciles the
SelfHealPolicies (mcpsim.dev/v1alpha1) of one namespace.`,
		Example: `  mcpsim serve --role payment --cpu 10ms
  mcpsim serve --role gateway --downstream user=http://127.0.0.1:8081 --downstream order=http://127.0.0.1:8082
  mcpsim serve --config /etc/mcpsim/service.json --listen 0.0.0.0:8080
  mcpsim serve --role selfheal --namespace demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Role == roleSelfHeal && configFile == "" {
				return runSelfHeal(cmd, selfHeal)
			}
			if configFile != "" {
				c, err := readServiceConfig(configFile)
				if err != nil {
					return usageErr("--config %s: %v", configFile, err)
				}
				cfg = c
			} else {
				cfg.Work = reference.WorkConfig{CPU: reference.Duration(cpu), Distribution: "exponential"}
				for _, d := range downstreams {
					name, url, ok := strings.Cut(d, "=")
					if !ok || name == "" || !strings.HasPrefix(url, "http") {
						return usageErr("--downstream %q: want NAME=http://HOST:PORT", d)
					}
					cfg.Calls = append(cfg.Calls, reference.CallConfig{Service: name, URL: url, Timeout: reference.Duration(timeout), Breaker: reference.DefaultBreakerPolicy, Fallback: "static"})
				}
			}
			svc, err := reference.New(cfg, opts)
			if err != nil {
				return usageErr("%v", err)
			}
			d, err := drawStartDelay(startMin, startMax, rand.Int64N)
			if err != nil {
				return usageErr("%v", err)
			}
			if d > 0 {
				// Nothing listens meanwhile: readiness probes are refused,
				// as an application still starting refuses them.
				fmt.Fprintf(cmd.ErrOrStderr(), "starting in %s\n", d)
				select {
				case <-time.After(d):
				case <-cmd.Context().Done():
					return nil
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "serving %s (%s) on %s\n", cfg.Name, cfg.Role, listen)
			if err := svc.ListenAndServe(cmd.Context(), listen); err != nil {
				return &exitError{code: exitInfra, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "the service's topology as JSON (written by mcpsim into the pod's ConfigMap)")
	f.StringVar(&cfg.Role, "role", "gateway", "role: "+strings.Join(reference.Roles, ", ")+", or "+roleSelfHeal+" (the self-heal operator)")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (loopback unless given; pods listen on 0.0.0.0)")
	f.DurationVar(&cpu, "cpu", 10*time.Millisecond, "mean CPU time per request (exponentially distributed)")
	f.StringArrayVar(&downstreams, "downstream", nil, "a downstream service NAME=URL; repeatable")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "timeout of each downstream call")
	f.DurationVar(&opts.DrainDelay, "drain-delay", reference.DefaultDrainDelay, "how long to keep serving after SIGTERM, while endpoints update")
	f.BoolVar(&opts.AdminCPU, "admin-cpu", false, "enable POST /admin/cpu?d=DURATION, which burns CPU (a test knob)")
	f.BoolVar(&opts.ChargeOverhead, "charge-overhead", true, "charge the service's own CPU per request (HTTP, runtime, probes; measured every second) to the work, so that a request costs the work's mean all told, as in the sim")
	f.BoolVar(&opts.AdminHang, "admin-hang", false, "enable POST /admin/hang?for=DURATION and DELETE /admin/hang: every other request waits unanswered (the PodHang fault)")
	f.DurationVar(&startMin, "start-delay-min", 0, "wait at least this long before listening (a slow start: the scenario's startupLatency)")
	f.DurationVar(&startMax, "start-delay-max", 0, "wait at most this long before listening; the wait is uniform between min and max")
	addSelfHealFlags(f, &selfHeal)
	f.IntVar(&opts.MaxConns, "max-conns", 1024, "open client connections at most (idle ones are closed to admit new ones)")
	return cmd
}

// maxStartDelay bounds --start-delay-max (a scenario runs for a day at
// most; a start of an hour is a mistake).
const maxStartDelay = time.Hour

// drawStartDelay draws the wait before listening, uniform in [min, max], from
// n (rand.Int64N in the service; the sim draws its own in virtual time).
func drawStartDelay(min, max time.Duration, n func(int64) int64) (time.Duration, error) {
	switch {
	case min < 0 || max < 0:
		return 0, fmt.Errorf("--start-delay-min and --start-delay-max must not be negative")
	case max == 0 && min == 0:
		return 0, nil
	case max < min:
		return 0, fmt.Errorf("--start-delay-max %s is below --start-delay-min %s", max, min)
	case max > maxStartDelay:
		return 0, fmt.Errorf("--start-delay-max %s is over %s", max, maxStartDelay)
	}
	return min + time.Duration(n(int64(max-min)+1)), nil
}

// readServiceConfig reads a service's topology: a regular file of bounded
// size, strictly decoded.
func readServiceConfig(path string) (reference.ServiceConfig, error) {
	var cfg reference.ServiceConfig
	f, err := os.Open(path)
	if err != nil {
		return cfg, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return cfg, err
	} else if !st.Mode().IsRegular() {
		return cfg, fmt.Errorf("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxServiceConfig+1))
	if err != nil {
		return cfg, err
	}
	if len(data) > maxServiceConfig {
		return cfg, fmt.Errorf("larger than %d bytes", maxServiceConfig)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}
