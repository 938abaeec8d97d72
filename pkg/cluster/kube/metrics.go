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
