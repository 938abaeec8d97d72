package sim

import (
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// benchRun runs a scenario b.N times and reports the simulator's speed as
// virtual seconds per wall second, and requests simulated per wall second.
func benchRun(b *testing.B, sc *scenario.Scenario) {
	b.ReportAllocs()
	requests := 0
	start := time.Now()
	for i := 0; i < b.N; i++ {
		tl := run(b, plan(b, sc, uint64(i+1), nil))
		requests += len(tl.EntryService().Requests)
	}
	wall := time.Since(start).Seconds()
	b.ReportMetric(sc.Spec.Duration.Seconds()*float64(b.N)/wall, "virtual-s/s")
	b.ReportMetric(float64(requests)/wall, "requests/s")
}

// BenchmarkHPAScaleUp runs the built-in hpa-scale-up scenario (10 virtual
// minutes, ~50,000 requests, scaling 2 → 10 pods).
func BenchmarkHPAScaleUp(b *testing.B) {
	file, data, _ := scenarios.Get("hpa-scale-up")
	sc, err := scenario.Parse(file, data)
	if err != nil {
		b.Fatal(err)
	}
	benchRun(b, sc)
}

// Benchmark500RPS30Min is 500 req/s for 30 virtual minutes (900,000
// requests) on an autoscaled Deployment of 10 pods.
func Benchmark500RPS30Min(b *testing.B) { benchRun(b, bench500RPS(b, "")) }

// Benchmark500RPS30MinNetworkDelay is the same with a NetworkChaos delay
// (10ms, jitter 2ms) on every pod for the whole run: the cost of holding
// every answer in the network.
func Benchmark500RPS30MinNetworkDelay(b *testing.B) {
	benchRun(b, bench500RPS(b, `  faults:
    - at: 0s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow}
      spec: {action: delay, mode: all, selector: {labelSelectors: {app: gateway}}, delay: {latency: 10ms, jitter: 2ms}}`))
}

func bench500RPS(b *testing.B, faults string) *scenario.Scenario {
	return build(b, "30m", `      - {name: a, count: 4, cpu: "8", memory: 32Gi}`, `    service: gateway
    replicas: 10
    resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}
    hpa:
      minReplicas: 5
      maxReplicas: 20
      metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}`, `    profile: constant
    rate: 500
    cpuPerRequest: 5ms
    timeout: 2s`, faults)
}
