package kube

import (
	"context"
	"time"

	"github.com/mcpsim/mcpsim/pkg/cluster/metricsapi"
)

// podCPU is metrics-server's latest CPU of each pod of the run's
// namespace, in millicores.
func (b *Backend) podCPU(ctx context.Context, ns string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return metricsapi.PodCPU(ctx, b.opts.Client, ns)
}

// cpuReader asks the Metrics API at most every cpuRefresh: metrics-server
// itself only has a new figure every 15s (its resolution), so asking every
// one-second sample would only load the API server.
type cpuReader struct {
	b    *Backend
	ns   string
	last time.Time
	cpu  map[string]int64
}

const cpuRefresh = 5 * time.Second

func (r *cpuReader) get(ctx context.Context) map[string]int64 {
	if now := time.Now(); r.last.IsZero() || now.Sub(r.last) >= cpuRefresh {
		if cpu, err := r.b.podCPU(ctx, r.ns); err == nil {
			r.cpu, r.last = cpu, now // metrics-server may not know the pods yet: keep asking
		}
	}
	return r.cpu
}
