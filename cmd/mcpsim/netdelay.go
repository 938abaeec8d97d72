package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpsim/mcpsim/pkg/netdelay"
)

// newNetdelayCmd is the delayer the kind and kube backends run in a node's
// network namespace (docker exec) in place of NetworkChaos's netem delay,
// which needs the sch_netem module the host may lack. It is hidden: a
// user runs scenarios, not this.
func newNetdelayCmd() *cobra.Command {
	var (
		c                                  netdelay.Config
		correlation, loss, lossCorrelation float64
		maxRuntime                         time.Duration
	)
	cmd := &cobra.Command{
		Use:    "netdelay",
		Short:  "Delay and drop the packets of an NFQUEUE, as netem would (used by the kind and kube backends)",
		Hidden: true,
		Long: `Bind NFQUEUE --queue in this network namespace and hold each packet for
--latency ± --jitter (netem's uniform jitter and correlation), dropping a
--loss percentage, until SIGTERM, SIGINT or --max-runtime. Then accept every
packet still held, print the stats as one JSON line on stdout and exit 0.

Send packets to the queue with iptables' --queue-bypass, so they pass when
no delayer is bound. Needs CAP_NET_ADMIN. Percentages are written as
Chaos Mesh writes them: 25 is 25%.`,
		Example: `  mcpsim netdelay --queue 3 --latency 200ms --jitter 10ms --correlation 25 --max-runtime 10m`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("queue") {
				return usageErr("--queue is required: the NFQUEUE number of the iptables rule")
			}
			if maxRuntime <= 0 {
				return usageErr("--max-runtime must be above 0 (got %v): the delayer stops by itself if whoever started it does not", maxRuntime)
			}
			if c.Latency < 0 || c.Jitter < 0 {
				return usageErr("--latency %v and --jitter %v must not be negative", c.Latency, c.Jitter)
			}
			if c.MaxLen == 0 {
				return usageErr("--max-len must be above 0: at least packets-per-second × (latency+jitter)")
			}
			var err error
			if c.Correlation, err = fraction("--correlation", correlation); err != nil {
				return err
			}
			if c.Loss, err = fraction("--loss", loss); err != nil {
				return err
			}
			if c.LossCorrelation, err = fraction("--loss-correlation", lossCorrelation); err != nil {
				return err
			}
			// Every field Config.Validate checks was checked above, in the
			// flags' words; netdelay.Run validates again at its own door.
			// The root context ends on SIGINT and SIGTERM (main); both
			// are a normal stop here, not an interruption.
			ctx, cancel := context.WithTimeout(cmd.Context(), maxRuntime)
			defer cancel()
			stats, runErr := netdelay.Run(ctx, c)
			line, err := json.Marshal(stats)
			if err != nil {
				return errors.Join(runErr, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", line)
			if runErr != nil {
				return &exitError{code: exitInfra, err: runErr}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint16Var(&c.Queue, "queue", 0, "NFQUEUE number (iptables' --queue-num); required")
	f.DurationVar(&c.Latency, "latency", 0, "delay added to every packet")
	f.DurationVar(&c.Jitter, "jitter", 0, "uniform jitter: delays drawn from [latency-jitter, latency+jitter)")
	f.Float64Var(&correlation, "correlation", 0, "jitter correlation in percent (0-100), as netem's")
	f.Float64Var(&loss, "loss", 0, "percentage of packets dropped (0-100)")
	f.Float64Var(&lossCorrelation, "loss-correlation", 0, "loss correlation in percent (0-100), as netem's")
	f.Uint32Var(&c.MaxLen, "max-len", netdelay.DefaultMaxLen, "most packets held; past it the kernel passes packets undelayed")
	f.DurationVar(&maxRuntime, "max-runtime", 0, "stop by itself after this long; required")
	f.Uint64Var(&c.Seed, "seed", 0, "seed of the delay and loss draws")
	return cmd
}

// fraction turns a percentage flag into a fraction.
func fraction(flag string, percent float64) (float64, error) {
	if math.IsNaN(percent) || percent < 0 || percent > 100 {
		return 0, usageErr("%s %v: want a percentage from 0 to 100", flag, percent)
	}
	return percent / 100, nil
}
