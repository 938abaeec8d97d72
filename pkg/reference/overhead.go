package reference

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A scenario's `work` is what a request costs its service in CPU, all
// told: the sim charges a pod exactly rate × work. A real process spends
// more than the CPU it burns on purpose: accepting the connection,
// parsing, answering, its calls' HTTP, the runtime, probes and /metrics.
// Measured on a kind node's host with a new connection per request, that
// is 0.2-0.8 ms a request; on 2.5 ms of work it is enough to push a pod
// whose HPA sits at its target beyond the 10% tolerance, which the sim
// (rightly, by the scenario) does not do.
//
// So the service charges its own costs to the work: every second it reads
// the process's CPU time (getrusage) and what it burned on purpose, and
// over the last overheadWindow the difference per request is its
// overhead; each request then burns its drawn work scaled by
// (mean − overhead) / mean, which keeps the work's distribution (an
// exponential stays exponential) and makes the pod's CPU per request the
// scenario's mean. Where the overhead alone exceeds the mean nothing is
// burned and the service costs more than the scenario says: the
// mcp_request_overhead_seconds gauge shows it.
type overhead struct {
	burned   atomic.Int64 // ns of CPU burned on purpose, all told
	requests atomic.Int64 // requests whose work was drawn
	perReq   atomic.Int64 // ns: the current estimate (0 until known)

	procCPU func() (time.Duration, error)
	mu      sync.Mutex
	samples []overheadSample // one per update, the last overheadWindow
}

type overheadSample struct {
	proc, burned time.Duration
	requests     int64
}

const (
	// overheadWindow is how many one-second samples the estimate spans.
	overheadWindow = 10
	// overheadMinRequests: fewer requests in the window say too little
	// (idle CPU would be charged to a handful of requests); the estimate
	// is kept as it was.
	overheadMinRequests = 50
)

func newOverhead() *overhead { return &overhead{procCPU: processCPU} }

// processCPU is the process's user and system CPU time.
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// update takes one sample and revises the estimate.
func (o *overhead) update() {
	proc, err := o.procCPU()
	if err != nil {
		return
	}
	s := overheadSample{proc: proc, burned: time.Duration(o.burned.Load()), requests: o.requests.Load()}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.samples = append(o.samples, s)
	if len(o.samples) > overheadWindow+1 {
		o.samples = o.samples[1:]
	}
	first := o.samples[0]
	n := s.requests - first.requests
	if n < overheadMinRequests {
		return
	}
	per := (s.proc - first.proc - (s.burned - first.burned)) / time.Duration(n)
	o.perReq.Store(int64(max(per, 0)))
}

// run updates the estimate every second until ctx is done.
func (o *overhead) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	o.update()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.update()
		}
	}
}

// charge counts one request and gives the part of its drawn work d (of
// mean `mean`) left to burn once the service's own overhead is charged
// to it.
func (o *overhead) charge(d, mean time.Duration) time.Duration {
	o.requests.Add(1)
	c := time.Duration(o.perReq.Load())
	if c <= 0 || mean <= 0 {
		return d
	}
	if c >= mean {
		return 0
	}
	return time.Duration(float64(d) * float64(mean-c) / float64(mean))
}
