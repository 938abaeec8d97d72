//go:build e2e

// The real-cluster suite: `make e2e-kind` (needs root for Docker; builds the
// images first). Not part of `make test`.
package kind

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const (
	nodeImage      = "mcpsim/node:v1.34.4"
	referenceImage = "mcpsim/reference:dev"
)

func provider(t *testing.T) *Provider {
	return NewProvider(Options{NodeImage: nodeImage, KubeconfigDir: t.TempDir(), Log: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// leftovers lists the Docker containers of a kind cluster.
func leftovers(t *testing.T, name string) string {
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestE2EClusterServesReferenceAndMetrics(t *testing.T) {
	const name = "mcpsim-e2e"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	p := provider(t)
	p.Down(name) // a previous run that was killed
	spec := Spec{NodePort: DefaultNodePort, HostPort: DefaultNodePort, ControlPlaneLabels: map[string]string{ZoneLabel: "zone-a"},
		Workers: []map[string]string{{ZoneLabel: "zone-a"}, {ZoneLabel: "zone-b"}}}
	start := time.Now()
	c, err := p.Up(ctx, name, spec, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %s", time.Since(start).Round(time.Second))
	defer func() {
		if err := p.Down(name); err != nil {
			t.Error(err)
		}
		if l := leftovers(t, name); l != "" {
			t.Errorf("containers left behind: %s", l)
		}
	}()
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
	zones := map[string]bool{}
	for _, n := range nodes {
		zones[n.Zone] = true
		if !n.Ready || n.Version != "v1.34.4" {
			t.Fatalf("node %+v", n)
		}
	}
	if len(zones) != 2 {
		t.Fatalf("zones %v, want 2", zones)
	}
	if _, err := p.Up(ctx, name, spec, false); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Up without reuse: %v", err)
	}
	if err := c.LoadImage(ctx, referenceImage); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "reference"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "reference", Namespace: "default"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: referenceImage, ImagePullPolicy: corev1.PullNever,
			Args:           []string{"--role", "payment", "--listen", "0.0.0.0:8080", "--cpu", "2ms"},
			Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 2},
			Resources:      corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("100m")}, Limits: corev1.ResourceList{corev1.ResourceCPU: mustQ("500m")}},
		}}}},
	}}
	if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reference", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: labels,
		Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080), NodePort: DefaultNodePort}}}}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAvailable(ctx, "default", "reference", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	// Requests through 127.0.0.1:30080 (the only address load may target),
	// bounded in count and time.
	client := &http.Client{Timeout: 2 * time.Second}
	ok := 0
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < 200 && ok < 50 && time.Now().Before(deadline); i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", DefaultNodePort))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), `"role":"payment"`) {
				ok++
				continue
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ok < 50 {
		t.Fatalf("only %d of 50 requests through the NodePort succeeded", ok)
	}
	// The Metrics API reports the reference pods.
	var found int
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Second) {
		pods, err := c.PodMetrics(ctx, "default")
		found = 0
		for _, pm := range pods {
			if strings.HasPrefix(pm.Name, "reference-") && pm.Containers["app"] != "" {
				found++
			}
		}
		if err == nil && found == 3 {
			break
		}
	}
	if found != 3 {
		t.Fatalf("the Metrics API reports %d of 3 reference pods", found)
	}
}

// TestE2EFailedUpLeavesNothing: a creation that fails (missing image) and
// one interrupted with Ctrl-C leave no container behind.
func TestE2EFailedUpLeavesNothing(t *testing.T) {
	p := NewProvider(Options{NodeImage: "mcpsim/node:does-not-exist", KubeconfigDir: t.TempDir()})
	if _, err := p.Up(context.Background(), "mcpsim-e2e-bad", Spec{}, false); err == nil || !strings.Contains(err.Error(), "make images") {
		t.Fatalf("Up with a missing image: %v", err)
	}
	if l := leftovers(t, "mcpsim-e2e-bad"); l != "" {
		t.Fatalf("containers left: %s", l)
	}

	bin := filepath.Join(t.TempDir(), "mcpsim")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/mcpsim").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	const name = "mcpsim-e2e-int"
	cmd := exec.Command(bin, "cluster", "up", "--name", name)
	cmd.Env = append(os.Environ(), "MCPSIM_STATE="+t.TempDir())
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the node containers exist.
	for i := 0; i < 120 && leftovers(t, name) == ""; i++ {
		time.Sleep(500 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("an interrupted cluster up exited %d, want 130", code)
	}
	if l := leftovers(t, name); l != "" {
		exec.Command("docker", "rm", "-f", l).Run()
		t.Fatalf("an interrupted cluster up left containers: %s", l)
	}
}

// TestE2ENotReadyNodesAreNamed: without pod networking nodes stay NotReady;
// the error names them and shows their kubelet's last lines.
func TestE2ENotReadyNodesAreNamed(t *testing.T) {
	const name = "mcpsim-e2e-nr"
	p := provider(t)
	p.Down(name)
	spec := Spec{Workers: []map[string]string{{ZoneLabel: "zone-a"}}}
	if err := p.kind.Create(name, createOptions(p, name, spec)...); err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Down(name)
		if l := leftovers(t, name); l != "" {
			t.Errorf("containers left behind: %s", l)
		}
	}()
	c, err := p.connect(name)
	if err != nil {
		t.Fatal(err)
	}
	err = c.waitNodesReadyWithin(context.Background(), 15*time.Second)
	if err == nil {
		t.Fatal("nodes without pod networking reported Ready")
	}
	msg := err.Error()
	for _, want := range []string{"nodes not Ready after 15s", name + "-control-plane", name + "-worker", "--- kubelet on " + name + "-worker, last lines:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
