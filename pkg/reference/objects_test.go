package reference

import (
	"encoding/json"
	"testing"
	"time"

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
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.Resources.Limits.Cpu().String() != "500m" {
		t.Fatalf("container: %+v", c)
	}
	if gw.HPA == nil || gw.HPA.Spec.ScaleTargetRef.Name != "gateway" || objs[3].HPA.Spec.MaxReplicas != 12 {
		t.Fatalf("HPAs: %+v / %+v", gw.HPA, objs[3].HPA)
	}
	var cfg ServiceConfig
	if err := json.Unmarshal([]byte(gw.ConfigMap.Data["service.json"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Calls) != 3 || cfg.Calls[2].URL != "http://payment.run-1.svc:8080" || time.Duration(cfg.Calls[2].Timeout) != 500*time.Millisecond ||
		cfg.Calls[2].Breaker != DefaultBreakerPolicy || time.Duration(cfg.Work.CPU) != 2*time.Millisecond {
		t.Fatalf("gateway config: %+v", cfg)
	}
	if _, err := New(cfg, Options{}); err != nil {
		t.Fatalf("the reference service rejects its own config: %v", err)
	}
}
