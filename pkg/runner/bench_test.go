package runner

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/cluster/sim"
	"github.com/mcpsim/mcpsim/pkg/internal/pcg"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// benchCommand measures what a user waits for: parse the file, run it on
// the sim, judge it and write report.json, junit.xml and report.html.
func benchCommand(b *testing.B, file string, data []byte) {
	b.ReportAllocs()
	dir := b.TempDir()
	var virtual time.Duration
	requests := 0
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sc, err := scenario.Parse(file, data)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Run(context.Background(), sc, file, Options{Backend: sim.Backend{}, Seed: uint64(i + 1), OutDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		virtual += sc.Spec.Duration.Duration
		for _, s := range rep.Services {
			requests += s.Load.Requests
		}
	}
	wall := time.Since(start).Seconds()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(virtual.Seconds()/wall, "virtual-s/s")
	b.ReportMetric(float64(requests)/wall, "service-requests/s")
	if requests > 0 {
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(requests), "alloc-B/request")
	}
}

// BenchmarkCommandLarge is the performance issue's large run:
// testdata/bench/large.yaml, 1,000 nodes in 4 zones, an HPA growing the
// gateway from 1,000 to about 4,000 pods, 10,000 req/s for one virtual
// hour: 36 M requests. Peak RSS is measured outside (README: /usr/bin/time
// -v bin/mcpsim run pkg/runner/testdata/bench/large.yaml).
func BenchmarkCommandLarge(b *testing.B) {
	data, err := os.ReadFile("testdata/bench/large.yaml")
	if err != nil {
		b.Fatal(err)
	}
	benchCommand(b, "large.yaml", data)
}

// BenchmarkBareEventLoop is the yardstick the performance issue measures
// the large run against: the least a discrete-event run of as many
// requests (36 M) must do, one arrival, one exponential draw, one heap
// push and pop and one 24-byte record per request, and nothing else.
// Arrivals come every 100µs (10,000 req/s for one virtual hour, as in
// large.yaml); each request takes an exponential time of 10ms mean (its
// work), so about 100 are in flight (Little's law: 10,000/s × 10ms) in a
// binary heap of completion times, written out for the int64 times it
// holds (container/heap's interface calls would make the yardstick
// slower, and the comparison kinder to us). Records go into a slice sized
// for all of them up front, the cheapest the floor can be. The run's
// result, the mean latency, must be the work's mean, or the loop did not
// do what it claims.
func BenchmarkBareEventLoop(b *testing.B) {
	const (
		requests = 36_000_000
		every    = 100 * time.Microsecond
		mean     = 10 * time.Millisecond
	)
	type record struct {
		sent, latency time.Duration
		code          int64
	}
	type inFlight struct{ done, sent time.Duration }
	less := func(h []inFlight, i, j int) bool { return h[i].done < h[j].done }
	push := func(h []inFlight, x inFlight) []inFlight {
		h = append(h, x)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !less(h, i, p) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		return h
	}
	pop := func(h []inFlight) (inFlight, []inFlight) {
		top := h[0]
		n := len(h) - 1
		h[0] = h[n]
		h = h[:n]
		for i := 0; ; {
			l, r, m := 2*i+1, 2*i+2, i
			if l < n && less(h, l, m) {
				m = l
			}
			if r < n && less(h, r, m) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
		return top, h
	}
	start := time.Now()
	for it := 0; it < b.N; it++ {
		rng := pcg.New(uint64(it+1), 0x9e3779b97f4a7c15)
		records := make([]record, 0, requests)
		var heap []inFlight
		for i := 0; i < requests; i++ {
			now := time.Duration(i) * every
			for len(heap) > 0 && heap[0].done <= now {
				var c inFlight
				c, heap = pop(heap)
				records = append(records, record{c.sent, c.done - c.sent, 200})
			}
			heap = push(heap, inFlight{now + time.Duration(rng.ExpFloat64()*float64(mean)), now})
		}
		for len(heap) > 0 {
			var c inFlight
			c, heap = pop(heap)
			records = append(records, record{c.sent, c.done - c.sent, 200})
		}
		var sum time.Duration
		for _, r := range records {
			sum += r.latency
		}
		// The mean of 36 M exponential draws of mean 10ms is within
		// 10ms × 4/sqrt(36 M) = 6.7µs of it four standard errors out.
		if len(records) != requests || (sum/requests-mean).Abs() > 7*time.Microsecond {
			b.Fatalf("%d records of mean latency %v, want %d of about %v", len(records), sum/requests, requests, mean)
		}
	}
	b.ReportMetric(float64(b.N*requests)/time.Since(start).Seconds(), "requests/s")
}

// BenchmarkCommandMCPTopology500RPS30Min is the built-in mcp-topology
// scenario at 500 req/s (Poisson) for 30 virtual minutes: 900,000 client
// requests, 3.6 million service requests, four HPAs (the HPAs may grow to
// 60 pods each, on 12 nodes).
func BenchmarkCommandMCPTopology500RPS30Min(b *testing.B) {
	file, data, _ := scenarios.Get("mcp-topology")
	src := string(data)
	for old, nw := range map[string]string{
		"  duration: 10m":                    "  duration: 30m",
		"      - {rate: 20, duration: 2m}\n": "",
		"{rate: 100, duration: 8m}":          "{rate: 500, duration: 30m}",
		"maxReplicas: 10":                    "maxReplicas: 60",
		"maxReplicas: 12":                    "maxReplicas: 60",
		"count: 3":                           "count: 6",
	} {
		if !strings.Contains(src, old) {
			b.Fatalf("mcp-topology no longer contains %q", old)
		}
		src = strings.ReplaceAll(src, old, nw)
	}
	benchCommand(b, file, []byte(src))
}

// BenchmarkCommandHPAScaleUp is the built-in hpa-scale-up scenario end to
// end (10 virtual minutes, one service).
func BenchmarkCommandHPAScaleUp(b *testing.B) {
	file, data, _ := scenarios.Get("hpa-scale-up")
	benchCommand(b, file, data)
}

// BenchmarkCommand500RPS30Min is the performance issue's reference run
// through the whole command: 10 nodes, one autoscaled service, 500 req/s
// for 30 virtual minutes (900,000 requests), reports written.
func BenchmarkCommand500RPS30Min(b *testing.B) {
	src := `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: bench-500rps}
spec:
  duration: 30m
  cluster:
    nodePools:
      - {name: a, count: 10, cpu: "8", memory: 32Gi}
  services:
    - name: gateway
      role: gateway
      replicas: 10
      work: {cpu: 5ms}
      resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}
      hpa:
        minReplicas: 5
        maxReplicas: 20
        metrics:
          - type: Resource
            resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  load: {profile: constant, rate: 500, timeout: 2s}
  assertions:
    - {name: p99, type: latency, quantile: 0.99, max: 100ms}
    - {name: errors, type: errorRate, maxRatio: 0.01}
`
	benchCommand(b, "bench-500rps.yaml", []byte(src))
}
