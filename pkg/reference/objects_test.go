package reference

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// TestObjectsOfTheTopology: mcp-topology's four services become a
// ConfigMap, a Deployment, a Service and an HPA each, labelled as the sim
// labels its pods, and each ConfigMap holds a configuration the reference
// service accepts.
func TestObjectsOfTheTopology(t *testing.T) {
	file, data, _ := scenarios.Get("mcp-topology")
	sc, err := scenario.Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	objs := Objects(sc, "run-1", "mcpsim/mcpsim:dev")
	if len(objs) != 4 {
		t.Fatalf("%d services, want 4", len(objs))
	}
	gw := objs[0]
	if gw.Deployment.Name != "gateway" || gw.Deployment.Namespace != "run-1" || *gw.Deployment.Spec.Replicas != 2 {
		t.Fatalf("gateway Deployment: %+v", gw.Deployment.ObjectMeta)
	}
	labels := gw.Deployment.Spec.Template.Labels
	if labels["app"] != "gateway" || labels["mcpsim.dev/role"] != "gateway" || gw.Service.Spec.Selector["app"] != "gateway" {
		t.Fatalf("labels %v, selector %v", labels, gw.Service.Spec.Selector)
	}
	c := gw.Deployment.Spec.Template.Spec.Containers[0]
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.Resources.Limits.Cpu().String() != "125m" {
		t.Fatalf("container: %+v", c)
	}
	// The grace period: the drain (5s), then the longest a client waits
	// (the load's 2s timeout; the calls' 500ms is less), then a second
	// to exit: 8s, not Kubernetes' 30s.
	if g := gw.Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 8 {
		t.Fatalf("terminationGracePeriodSeconds %v, want 8", g)
	}
	if gw.HPA == nil || gw.HPA.Spec.ScaleTargetRef.Name != "gateway" || objs[3].HPA.Spec.MaxReplicas != 12 {
		t.Fatalf("HPAs: %+v / %+v", gw.HPA, objs[3].HPA)
	}
	var cfg ServiceConfig
	if err := json.Unmarshal([]byte(gw.ConfigMap.Data["service.json"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Calls) != 3 || cfg.Calls[2].URL != "http://payment.run-1.svc:8080" || time.Duration(cfg.Calls[2].Timeout) != 500*time.Millisecond ||
		cfg.Calls[2].Breaker != DefaultBreakerPolicy || time.Duration(cfg.Work.CPU) != 500*time.Microsecond {
		t.Fatalf("gateway config: %+v", cfg)
	}
	if _, err := New(cfg, Options{}); err != nil {
		t.Fatalf("the reference service rejects its own config: %v", err)
	}
}

// TestGracePeriod: a stopping pod gets its drain (5s) and the longest
// wait of any client for a request it already has, plus a second.
func TestGracePeriod(t *testing.T) {
	for _, c := range []struct {
		name, load, call string
		want             int64
	}{
		// Vegeta's 30s default: 5 + 30 + 1.
		{"load timeout 30s", "timeout: 30s", "timeout: 500ms", 36},
		// a call of 3s tried 3 times (retries 2) waits 9s: 5 + 9 + 1.
		{"call with retries", "timeout: 2s", "timeout: 3s, retries: 2", 15},
		// 5 + 1.5 rounded up to 7, + 1.
		{"fractional", "timeout: 1500ms", "timeout: 1s", 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc, err := scenario.Parse("g.yaml", []byte(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: g}
spec:
  duration: 1m
  cluster:
    nodePools: [{name: n, count: 1, cpu: "2", memory: 4Gi}]
  services:
    - {name: gateway, role: gateway, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}}, calls: [{service: pay, `+c.call+`}]}
    - {name: pay, role: payment, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}}}
  load: {profile: constant, rate: 10, `+c.load+`}
  assertions:
    - {name: up, type: availability, minRatio: 0.5}
`))
			if err != nil {
				t.Fatal(err)
			}
			if got := GracePeriod(sc); got != c.want {
				t.Errorf("GracePeriod = %d, want %d", got, c.want)
			}
		})
	}
}

// TestStartDelay: a real pod's application waits for the part of the
// scenario's start-up the kubelet does not do itself (the sim's 2s
// minimum): 20-30s (payment-outage's slow start) waits 18-28s, the
// defaults' 2-5s wait 0-3s, a start within 2s adds nothing; the wait
// reaches the container's arguments.
func TestStartDelay(t *testing.T) {
	r := func(min, max time.Duration) *scenario.LatencyRange {
		return &scenario.LatencyRange{Min: metav1.Duration{Duration: min}, Max: metav1.Duration{Duration: max}}
	}
	for _, c := range []struct {
		in       *scenario.LatencyRange
		min, max time.Duration
		ok       bool
	}{
		{r(20*time.Second, 30*time.Second), 18 * time.Second, 28 * time.Second, true},
		{r(2*time.Second, 5*time.Second), 0, 3 * time.Second, true},
		{r(500*time.Millisecond, 2*time.Second), 0, 0, false},
		{nil, 0, 0, false},
	} {
		min, max, ok := StartDelay(c.in)
		if min != c.min || max != c.max || ok != c.ok {
			t.Errorf("%+v: %v %v %v, want %v %v %v", c.in, min, max, ok, c.min, c.max, c.ok)
		}
	}
	sc, err := scenario.Parse("s.yaml", []byte(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: s}
spec:
  duration: 1m
  cluster: {nodePools: [{name: a, count: 1, cpu: "2", memory: 4Gi}]}
  services:
    - {name: payment, role: payment, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}}, startupLatency: {min: 20s, max: 30s}}
  load: {profile: constant, rate: 1, timeout: 1s}
  assertions: [{name: up, type: availability, minRatio: 0}]
`))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(Objects(sc, "ns", "img")[0].Deployment.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--start-delay-min 18s --start-delay-max 28s") {
		t.Fatalf("args %q", args)
	}
}
