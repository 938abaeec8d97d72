//go:build e2e

package kube

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/cluster/kind"
)

// The delay starts at 15s and would last 2m: the run is interrupted while
// mcpsim holds payment's packets (on a kernel without netem; with netem,
// Chaos Mesh delays them and the test is skipped).
const interruptDelayScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: interrupt-delay}
spec:
  duration: 3m
` + defaultClusterYAML + `  services:
    - {name: gateway, role: gateway, replicas: 1, work: {cpu: 2ms}, calls: [{service: payment, timeout: 500ms}], resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
    - {name: payment, role: payment, replicas: 2, work: {cpu: 2ms}, resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
  load: {profile: poisson, rate: 10, timeout: 2s}
  faults:
    - at: 15s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow-payment}
      spec: {action: delay, mode: all, selector: {labelSelectors: {app: payment}}, delay: {latency: 100ms}, duration: 2m}
  assertions:
    - {name: errors, type: errorRate, maxRatio: 1}
`

// TestE2EInterruptWhileHoldingPackets: Ctrl-C while mcpsim holds pods'
// packets (NetworkChaos delay on a kernel without netem) ends the run
// with exit code 130 and leaves no namespace, no hold rule and no delayer
// on any node: the nodes pass every packet again.
func TestE2EInterruptWhileHoldingPackets(t *testing.T) {
	client := e2eClient(t)
	if kind.NetemMissing() == "" {
		t.Skip("this kernel has netem (or does not say): Chaos Mesh delays the packets, mcpsim does not hold them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	run := startKindRun(t, "interrupt-delay", interruptDelayScenario)
	cmd := run.cmd
	var ns string
	select {
	case ns = <-run.ns:
	case <-time.After(8 * time.Minute): // installing Chaos Mesh first takes a few minutes
		t.Fatal("never saw the run's namespace")
	}
	// Until a node holds packets (the fault is at 15s after the rollout).
	workers := workerNodes(ctx, t, client)
	for start := time.Now(); !slices.ContainsFunc(holding(t, workers), func(s string) bool { return strings.HasSuffix(s, " rules") }); time.Sleep(500 * time.Millisecond) {
		if time.Since(start) > 5*time.Minute {
			t.Fatal("no node held packets within 5 minutes")
		}
	}
	t.Logf("holding packets on %v", holding(t, workers))
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130", code, err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s left behind (%v)", ns, err)
	}
	if left := holding(t, workers); len(left) > 0 {
		t.Errorf("left holding packets after the interrupt: %v", left)
	}
}

// workerNodes are the cluster's worker nodes (their containers' names).
func workerNodes(ctx context.Context, t *testing.T, client kubernetes.Interface) []string {
	t.Helper()
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range list.Items {
		if _, cp := n.Labels[controlPlaneLabel]; !cp {
			out = append(out, n.Name)
		}
	}
	return out
}

// holding lists what holds packets on the nodes: each node's hold rules
// (mcpsim-netdelay in its mangle table) and delayer processes.
func holding(t *testing.T, nodes []string) []string {
	t.Helper()
	var out []string
	for _, n := range nodes {
		// (pgrep's pattern is anchored at the delayer's path: unanchored,
		// it would match this very shell's command line.)
		rules, err := exec.Command("docker", "exec", n, "sh", "-c", "iptables-save -t mangle | grep -c -- '--comment mcpsim-netdelay'; pgrep -c -f '^/usr/local/bin/mcpsim-netdelay '; true").Output()
		if err != nil {
			t.Fatalf("reading node %s: %v", n, err)
		}
		f := strings.Fields(string(rules))
		if len(f) != 2 {
			t.Fatalf("reading node %s: %q", n, rules)
		}
		if f[0] != "0" {
			out = append(out, n+": "+f[0]+" rules")
		}
		if f[1] != "0" {
			out = append(out, n+": "+f[1]+" delayers")
		}
	}
	return out
}
