package kube

import (
	"context"
	"fmt"
	"time"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// recordOverhead reads, at the end of the run, what each service's pods
// measured of their own CPU per request beyond the work (HTTP, runtime,
// probes: mcp_request_overhead_seconds) and records it as an event per
// service. The reference service charges it to the work, so that a
// request costs the work's mean all told, as in the sim; where it
// exceeds the work there is nothing left to charge it to, the pods use
// more CPU than the scenario says, and the event says that instead
// (OverheadExceedsWork): a difference from the sim the report should not
// leave unexplained.
func (b *Backend) recordOverhead(ctx context.Context, ns string, sc *scenario.Scenario, obs *observer, r *recorder) {
	for i := range sc.Spec.Services {
		svc := &sc.Spec.Services[i]
		pods := obs.servingPods(svc.Name)
		var sum time.Duration
		n := 0
		for _, raw := range metricsPages(ctx, b.opts.Client, ns, pods) {
			if raw == nil {
				continue
			}
			if d, ok, err := reference.ParseOverhead(raw); err == nil && ok {
				sum += d
				n++
			}
		}
		if n == 0 {
			continue
		}
		kind, msg := overheadEvent(sum/time.Duration(n), n, svc.Work.CPU.Duration)
		r.event(time.Now(), kind, svc.Name, msg)
	}
}

// overheadEvent words a service's mean overhead per request over n pods
// against its work's mean.
func overheadEvent(overhead time.Duration, n int, work time.Duration) (kind, msg string) {
	per := fmt.Sprintf("%s of the reference service's own CPU per request (HTTP, runtime, probes; mean of %d pods)", overhead.Round(time.Microsecond), n)
	if overhead >= work {
		return "OverheadExceedsWork", fmt.Sprintf("%s exceeds its %s of work: its pods used more CPU per request than the scenario says, and than the sim models", per, work)
	}
	return "ReferenceOverhead", fmt.Sprintf("%s, charged to its %s of work", per, work)
}
