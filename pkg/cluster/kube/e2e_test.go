//go:build e2e

package kube

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// These tests need the kind cluster `mcpsim` (`mcpsim cluster up`, or
// `make e2e-kind`), and run the CLI as a user would.

// defaultClusterYAML is a scenario's cluster section for the cluster
// mcpsim (kind.DefaultCluster's pools), so that runs use that cluster.
const defaultClusterYAML = `  cluster:
    nodePools:
      - {name: zone-a, count: 1, cpu: "2", memory: 4Gi, labels: {topology.kubernetes.io/zone: zone-a}}
      - {name: zone-b, count: 1, cpu: "2", memory: 4Gi, labels: {topology.kubernetes.io/zone: zone-b}}
`

const interruptScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: interrupt}
spec:
  duration: 2m
` + defaultClusterYAML + `  services:
    - {name: gateway, role: gateway, replicas: 2, work: {cpu: 2ms}, calls: [{service: payment}], resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
    - {name: payment, role: payment, replicas: 2, work: {cpu: 2ms}, resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
  load: {profile: poisson, rate: 20, timeout: 2s}
  faults:
    - at: 5s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill-one}
      spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: payment}}}
    - at: 10s
      apiVersion: mcpsim.dev/v1alpha2
      kind: NodeOutage
      metadata: {name: zone-b-down}
      spec: {selector: {topology.kubernetes.io/zone: zone-b}}
  assertions:
    - {name: errors, type: errorRate, maxRatio: 1}
`

func e2eClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, _ := e2eClients(t)
	return c
}

// e2eClients are clients of the kind cluster mcpsim (the test is skipped
// when there is none).
func e2eClients(t *testing.T) (*kubernetes.Clientset, *dynamic.DynamicClient) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", "/var/lib/mcpsim/kubeconfig/mcpsim.kubeconfig")
	if err != nil {
		t.Skipf("no mcpsim kind cluster: %v", err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, dyn
}

// e2eBinary builds mcpsim into dir, for tests that interrupt it: static,
// as `make build` builds it, since a delay runs it in the kind nodes.
func e2eBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mcpsim")
	build := exec.Command("go", "build", "-o", bin, "../../../cmd/mcpsim")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	return bin
}

// kindRun is `mcpsim run --backend kind` of one scenario on the cluster
// mcpsim, started as a user would, for the tests that interrupt it: the
// run's namespace once it names it, and the end of its rollout.
type kindRun struct {
	cmd     *exec.Cmd
	ns      chan string
	rollout chan struct{}
}

// startKindRun writes the scenario (named name) and runs it with a freshly
// built binary; the run is killed when the test ends, should it still go.
func startKindRun(t *testing.T, name, scenarioYAML string) *kindRun {
	t.Helper()
	dir := t.TempDir()
	bin := e2eBinary(t, dir)
	file := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(file, []byte(scenarioYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &kindRun{cmd: exec.Command(bin, "run", file, "--backend", "kind", "--cluster", "mcpsim", "--out", ""),
		ns: make(chan string, 1), rollout: make(chan struct{})}
	stderr, _ := r.cmd.StderrPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() }) // a failed test does not leave the run going
	nsLine := regexp.MustCompile(`namespace (mcpsim-` + regexp.QuoteMeta(name) + `-\d+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Split(scanLinesOrReturns)
		closed := false
		for sc.Scan() {
			if m := nsLine.FindStringSubmatch(sc.Text()); m != nil && len(r.ns) == 0 {
				r.ns <- m[1]
			}
			if !closed && strings.Contains(sc.Text(), "rollout complete") {
				close(r.rollout)
				closed = true
			}
		}
	}()
	return r
}

// TestE2EInterruptLeavesNothing: Ctrl-C during the load, just after a
// fault, and during a node outage, ends the run with exit code 130, no
// namespace of the run left on the cluster, no node off the network and
// every node Ready.
func TestE2EInterruptLeavesNothing(t *testing.T) {
	client := e2eClient(t)
	dir := t.TempDir()
	bin := e2eBinary(t, dir)
	file := filepath.Join(dir, "interrupt.yaml")
	if err := os.WriteFile(file, []byte(interruptScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, waitFor string }{
		{"during the load", "rollout complete"},
		{"during a fault", "faults: kill-one"},
		{"during a node outage", "zone-b-down"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, "run", file, "--backend", "kind", "--cluster", "mcpsim", "--out", "")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			seen := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				sc.Split(scanLinesOrReturns)
				closed := false
				for sc.Scan() {
					if !closed && strings.Contains(sc.Text(), c.waitFor) {
						close(seen)
						closed = true
					}
				}
			}()
			select {
			case <-seen:
			case <-time.After(5 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("never saw %q", c.waitFor)
			}
			start := time.Now()
			cmd.Process.Signal(syscall.SIGINT)
			err := cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d (%v), want 130", code, err)
			}
			t.Logf("exited %s after Ctrl-C", time.Since(start).Round(100*time.Millisecond))
			list, err := client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: managedBy})
			if err != nil {
				t.Fatal(err)
			}
			for _, ns := range list.Items {
				if strings.HasPrefix(ns.Name, "mcpsim-interrupt-") {
					t.Errorf("namespace %s (%s) left behind", ns.Name, ns.Status.Phase)
				}
			}
			c, err := kind.NewProvider(kind.Options{KubeconfigDir: t.TempDir()}).Connect("mcpsim")
			if err != nil {
				t.Fatal(err)
			}
			if isolated, err := c.Isolated(context.Background()); err != nil || len(isolated) > 0 {
				t.Errorf("nodes left off the network: %v (%v)", isolated, err)
			}
			nodes, err := client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range nodes.Items {
				if !nodeReady(&nodes.Items[i]) {
					t.Errorf("node %s not Ready after the run", nodes.Items[i].Name)
				}
			}
		})
	}
}

// scanLinesOrReturns splits on \n and \r: a terminal's live line is
// redrawn with \r.
func scanLinesOrReturns(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// TestE2EScenariosFitTheClusterMcpsim: the interrupt tests run their
// scenarios on the cluster mcpsim and look for leftovers there; a
// scenario with other node pools would run on a cluster of its own and
// the checks would pass for nothing.
func TestE2EScenariosFitTheClusterMcpsim(t *testing.T) {
	want := kind.SpecFor(&kind.DefaultCluster)
	for name, src := range map[string]string{"interrupt": interruptScenario, "interrupt-partition": interruptPartitionScenario} {
		sc, err := scenario.Parse(name+".yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := kind.SpecFor(&sc.Spec.Cluster); !reflect.DeepEqual(got, want) {
			t.Errorf("%s asks for %s, the cluster mcpsim is %s", name, got, want)
		}
	}
}
