//go:build e2e

package kube

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/chaosmesh"
)

// The partition starts at 15s (time to hold the pods' network namespaces
// and read them before it) and would last 2m: the run is interrupted
// while it is active.
const interruptPartitionScenario = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: interrupt-partition}
spec:
  duration: 3m
` + defaultClusterYAML + `  services:
    - {name: gateway, role: gateway, replicas: 1, work: {cpu: 2ms}, calls: [{service: payment}], resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
    - {name: payment, role: payment, replicas: 1, work: {cpu: 2ms}, resources: {requests: {cpu: 100m}, limits: {cpu: 500m}}}
  load: {profile: poisson, rate: 10, timeout: 2s}
  faults:
    - at: 15s
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: cut-payment}
      spec:
        action: partition
        mode: all
        selector: {labelSelectors: {app: gateway}}
        direction: to
        target: {mode: all, selector: {labelSelectors: {app: payment}}}
        duration: 2m
  assertions:
    - {name: errors, type: errorRate, maxRatio: 1}
`

// TestE2EInterruptDuringPartition: Ctrl-C while a NetworkChaos partition
// is injected ends the run with exit code 130, leaves no namespace and no
// chaos object, and leaves nothing active in the target pods' network
// namespaces. The namespaces die with their pods when the run's namespace
// goes, which would hide any leftover: the test keeps each one alive with
// a holder process (`nsenter -n sleep` in the node container, started
// before the fault) and reads it through that process from the node's
// chaos-daemon (its iptables and ipset, the ones that wrote the rules)
// before the fault, during it and after the interrupt.
//
// Expected: during the partition, rules in the gateway's namespace (the
// source, direction "to": chaos-daemon adds its chains there); after the
// interrupt, the same active rules as before the fault (none), no qdisc
// that was not there before (this kernel has no netem: partition adds
// none, and a delay left behind would show here), and no chaos
// object of the run left anywhere. (A qdisc present before may be gone:
// the CNI plugin deletes the pod's eth0 when the pod goes.) Upstream's daemon never deletes its
// chains nor destroys its ipsets once their jumps are gone; they are
// inert and logged, not counted as active.
func TestE2EInterruptDuringPartition(t *testing.T) {
	client, dyn := e2eClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	run := startKindRun(t, "interrupt-partition", interruptPartitionScenario)
	cmd := run.cmd
	select {
	case <-run.rollout:
	case <-time.After(8 * time.Minute): // installing Chaos Mesh first takes a few minutes
		t.Fatal("never saw the rollout complete")
	}
	ns := <-run.ns
	t.Logf("run namespace %s", ns)
	var holders []*netnsHolder
	for _, app := range []string{"gateway", "payment"} {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("%s pods: %v %v", app, pods, err)
		}
		h := holdNetns(ctx, t, client, pods.Items[0])
		defer h.release(t)
		holders = append(holders, h)
	}
	before := map[string]netns{}
	for _, h := range holders {
		before[h.pod] = h.read(ctx, t)
		t.Logf("%s before the fault: active %v, qdiscs %v", h.pod, before[h.pod].active, before[h.pod].qdiscs)
	}
	// Until Chaos Mesh says the partition is in (the fault is at 15s).
	res := dyn.Resource(networkChaosGVR).Namespace(ns)
	injected := time.Now()
	for {
		u, err := res.Get(ctx, "cut-payment", metav1.GetOptions{})
		if err == nil && chaosmesh.ConditionTrue(u, "AllInjected") {
			break
		}
		if time.Since(injected) > 2*time.Minute {
			t.Fatalf("cut-payment not AllInjected after 2 minutes (%v)", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	gw := holders[0]
	during := gw.read(ctx, t)
	t.Logf("%s during the partition: active %v", gw.pod, during.active)
	if len(during.active) <= len(before[gw.pod].active) {
		t.Fatalf("no partition rule in %s's network namespace during the fault:\n%s", gw.pod, during.raw)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130", code, err)
	}
	t.Logf("exited %s after Ctrl-C", time.Since(start).Round(100*time.Millisecond))
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s left behind (%v)", ns, err)
	}
	all, err := dyn.Resource(networkChaosGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range all.Items {
		if u.GetNamespace() == ns {
			t.Errorf("NetworkChaos %s/%s left behind", u.GetNamespace(), u.GetName())
		}
	}
	for _, h := range holders {
		after := h.read(ctx, t)
		if !slices.Equal(after.active, before[h.pod].active) {
			t.Errorf("%s's network namespace after the interrupt: active rules %v (before the fault: %v)\n%s", h.pod, after.active, before[h.pod].active, after.raw)
		}
		// Every qdisc after was there before: none added (the pod's
		// eth0 may be gone, removed by the CNI plugin with the pod).
		for _, q := range after.qdiscs {
			if !slices.Contains(before[h.pod].qdiscs, q) {
				t.Errorf("%s's network namespace after the interrupt: qdisc %q (before the fault: %v)", h.pod, q, before[h.pod].qdiscs)
			}
		}
		t.Logf("%s after the interrupt: active %v, qdiscs %v, inert leftovers of upstream's daemon %v", h.pod, after.active, after.qdiscs, after.inert)
	}
}

// netnsHolder keeps a pod's network namespace alive after the pod: a
// sleep in it, started in the pod's node container.
type netnsHolder struct {
	pod, node, pidFile, daemon string
	pid                        string
}

func holdNetns(ctx context.Context, t *testing.T, client kubernetes.Interface, p corev1.Pod) *netnsHolder {
	t.Helper()
	cid := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	h := &netnsHolder{pod: p.Name, node: p.Spec.NodeName, pidFile: "/run/mcpsim-e2e-netns-" + p.Name}
	// Bounded: the holder sleeps 10 minutes at most.
	script := `pid=$(grep -l ` + cid + ` /proc/[0-9]*/cgroup 2>/dev/null | head -1 | cut -d/ -f3)
[ -n "$pid" ] || { echo "no process of container ` + cid + `" >&2; exit 1; }
nsenter -t "$pid" -n sleep 600 & echo $! > ` + h.pidFile + `; wait`
	if out, err := exec.CommandContext(ctx, "docker", "exec", "-d", h.node, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("holding %s's network namespace: %v %s", p.Name, err, out)
	}
	for i := 0; i < 40 && h.pid == ""; i++ {
		out, _ := exec.CommandContext(ctx, "docker", "exec", h.node, "cat", h.pidFile).Output()
		h.pid = strings.TrimSpace(string(out))
		if h.pid == "" {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if h.pid == "" {
		t.Fatalf("the holder of %s's network namespace did not start", p.Name)
	}
	daemons, err := client.CoreV1().Pods(chaosmesh.DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: chaosmesh.ComponentLabel + "=chaos-daemon",
		FieldSelector: "spec.nodeName=" + h.node})
	if err != nil || len(daemons.Items) != 1 {
		t.Fatalf("chaos-daemon on %s: %v", h.node, err)
	}
	h.daemon = strings.TrimPrefix(daemons.Items[0].Status.ContainerStatuses[0].ContainerID, "containerd://")
	return h
}

func (h *netnsHolder) release(t *testing.T) {
	if out, err := exec.Command("docker", "exec", h.node, "sh", "-c", "kill "+h.pid+"; rm -f "+h.pidFile).CombinedOutput(); err != nil {
		t.Logf("ending the holder of %s's network namespace: %v %s", h.pod, err, out)
	}
}

// netns is what chaos-daemon's tools see in a held namespace.
type netns struct {
	raw           string
	active, inert []string
	qdiscs        []string
}

func (h *netnsHolder) read(ctx context.Context, t *testing.T) netns {
	t.Helper()
	script := chaosmesh.NetnsDumpScript(h.pid)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "exec", h.node, "ctr", "-n", "k8s.io", "task", "exec",
		"--exec-id", fmt.Sprintf("mcpsim-e2e-%d", time.Now().UnixNano()), h.daemon, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("reading %s's network namespace: %v: %s", h.pod, err, out.String())
	}
	s := out.String()
	n := netns{raw: s, active: chaosmesh.ActiveRules(s), inert: chaosmesh.InertLeftovers(s)}
	section := ""
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "# ") {
			section = l
			continue
		}
		if section == "# qdiscs" && l != "" {
			// "qdisc noqueue 0: dev eth0 root refcnt 2": kind and device.
			f := strings.Fields(l)
			if len(f) >= 5 {
				l = f[1] + " " + f[4]
			}
			n.qdiscs = append(n.qdiscs, l)
		}
	}
	return n
}
