//go:build e2e

// Package e2eframework_test runs an mcpsim scenario as an e2e-framework
// feature against a real cluster: the environment comes from a kubeconfig
// (MCPSIM_KUBECONFIG, e.g. the one `mcpsim cluster up` writes), the
// feature's assessment runs the scenario through the harness on that
// cluster and asserts on the report. `make e2e-kind` runs it.
package e2eframework_test

import (
	"context"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"

	"github.com/mcpsim/mcpsim/pkg/harness"
)

var testenv env.Environment

func TestMain(m *testing.M) {
	path := os.Getenv("MCPSIM_KUBECONFIG")
	if path == "" {
		path = "/var/lib/mcpsim/kubeconfig/mcpsim.kubeconfig"
	}
	testenv = env.NewWithConfig(envconf.NewWithKubeConfig(path))
	os.Exit(testenv.Run(m))
}

// A short scenario that fits this machine: a gateway calling payment, one
// payment pod killed at 20s. On a real cluster the pod is replaced and
// nothing reaches the client as an error.
const scenarioYAML = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: e2e-framework-example}
spec:
  duration: 60s
  cluster:
    nodePools:
      - {name: zone-a, count: 1, cpu: "2", memory: 4Gi}
  services:
    - name: gateway
      role: gateway
      replicas: 2
      work: {cpu: 2ms}
      calls: [{service: payment, timeout: 500ms}]
      resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 2}
    - name: payment
      role: payment
      replicas: 2
      work: {cpu: 5ms}
      resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}
      readinessProbe: {initialDelaySeconds: 1, periodSeconds: 2}
  load: {profile: poisson, rate: 20, timeout: 2s}
  faults:
    - at: 20s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill-one}
      spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: payment}}}
  assertions:
    - {name: payment recovers, type: readyRecovers, service: payment, atLeast: 2, within: 30s, after: {fault: kill-one}}
    - {name: available, type: availability, minRatio: 0.99}
`

func TestScenarioAsAFeature(t *testing.T) {
	f := features.New("payment pod kill").
		Assess("the scenario passes on the cluster", func(ctx context.Context, t *testing.T, cfg *envconf.Config) context.Context {
			client, err := kubernetes.NewForConfig(cfg.Client().RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := harness.RunSource(ctx, "e2e-framework-example.yaml", []byte(scenarioYAML),
				harness.Options{Backend: harness.Kube(client, "http://127.0.0.1:30080", 30080)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Backend != "kube" || !rep.Passed {
				t.Fatalf("scenario on %s:\n%s", rep.Backend, harness.Failures(rep))
			}
			return ctx
		}).Feature()
	testenv.Test(t, f)
}
