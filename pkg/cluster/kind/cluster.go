package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	nodeutil "k8s.io/component-helpers/node/util"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/constants"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// ErrExists is returned by Up when the cluster exists and reuse was not
// asked for.
var ErrExists = errors.New("cluster already exists")

// Options configure a Provider.
type Options struct {
	// NodeImage is the node image (make images builds mcpsim/node:<k8s version>).
	NodeImage string
	// KubeconfigDir holds one kubeconfig per cluster (<dir>/<name>.kubeconfig).
	KubeconfigDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Provider manages mcpsim's kind clusters.
type Provider struct {
	opts Options
	kind *kindcluster.Provider
}

// NewProvider returns a Provider on Docker.
func NewProvider(opts Options) *Provider {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Provider{opts: opts, kind: kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger{opts.Log}))}
}

// Cluster is a running cluster.
type Cluster struct {
	Name       string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	p          *Provider
	// The delays in force (netdelay.go), by id, and the nodes this
	// binary was copied into to hold packets.
	delays         map[int]heldOn
	netdelayMu     sync.Mutex
	netdelayCopied map[string]bool
}

func (p *Provider) kubeconfigPath(name string) string {
	return filepath.Join(p.opts.KubeconfigDir, name+".kubeconfig")
}

func (p *Provider) logf(format string, args ...any) {
	fmt.Fprintf(p.opts.Log, format+"\n", args...)
}

// Exists reports whether a cluster of that name exists.
func (p *Provider) Exists(name string) (bool, error) {
	names, err := p.kind.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(names, name), nil
}

// Up creates the cluster (or, with reuse, connects to an existing one),
// configures pod networking, waits for every node to be Ready and
// installs metrics-server. A failed creation leaves nothing behind.
func (p *Provider) Up(ctx context.Context, name string, spec Spec, reuse bool) (*Cluster, error) {
	exists, err := p.Exists(name)
	if err != nil {
		return nil, err
	}
	if exists && !reuse {
		return nil, fmt.Errorf("%w: kind cluster %q (reuse it, or delete it with `mcpsim cluster down --name %s`)", ErrExists, name, name)
	}
	if err := os.MkdirAll(p.opts.KubeconfigDir, 0o700); err != nil {
		return nil, err
	}
	if !exists {
		if err := p.checkImage(); err != nil {
			return nil, err
		}
		p.logf("creating kind cluster %q: %s, node image %s", name, spec, p.opts.NodeImage)
		start := time.Now()
		err := p.kind.Create(name, createOptions(p, name, spec)...)
		if err != nil {
			p.deleteQuietly(name)
			return nil, fmt.Errorf("creating kind cluster %q: %w", name, err)
		}
		p.logf("nodes created in %s", time.Since(start).Round(time.Second))
	}
	c, err := p.connect(name)
	if err != nil {
		if !exists {
			p.deleteQuietly(name)
		}
		return nil, err
	}
	steps := []struct {
		what string
		fn   func(context.Context) error
	}{
		{"guarding the host network", func(context.Context) error { return guardHostNetwork("kind") }},
		{"waiting for kube-proxy", c.waitKubeProxy},
		{"configuring pod network", c.setupNetwork},
		{"waiting for nodes to be Ready", c.waitNodesReady},
		{"placing CoreDNS on the control plane", c.pinCoreDNS},
		{"waiting for CoreDNS", c.waitCoreDNS},
		{"installing metrics-server", c.installMetricsServer},
	}
	for _, s := range steps {
		start := time.Now()
		p.logf("%s", s.what)
		if err := s.fn(ctx); err != nil {
			if !exists {
				p.deleteQuietly(name)
			}
			return nil, fmt.Errorf("cluster %q: %s: %w", name, s.what, err)
		}
		p.logf("  done in %s", time.Since(start).Round(100*time.Millisecond))
	}
	return c, nil
}

func createOptions(p *Provider, name string, spec Spec) []kindcluster.CreateOption {
	return []kindcluster.CreateOption{
		kindcluster.CreateWithV1Alpha4Config(spec.v1alpha4()),
		kindcluster.CreateWithNodeImage(p.opts.NodeImage),
		kindcluster.CreateWithKubeconfigPath(p.kubeconfigPath(name)),
		kindcluster.CreateWithRetain(false),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
	}
}

func (p *Provider) checkImage() error {
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", p.opts.NodeImage).CombinedOutput()
	if err != nil {
		return fmt.Errorf("node image %s is not on this machine (build it with `make images`): %s", p.opts.NodeImage, strings.TrimSpace(string(out)))
	}
	return nil
}

func (p *Provider) deleteQuietly(name string) {
	p.logf("removing cluster %q", name)
	if err := p.kind.Delete(name, p.kubeconfigPath(name)); err != nil {
		p.logf("  could not remove cluster %q: %v", name, err)
	}
	if err := unguardIfLast(p.opts.NodeImage); err != nil {
		p.logf("  %v", err)
	}
}

// Down deletes a cluster and its kubeconfig; deleting a cluster that does
// not exist is not an error.
func (p *Provider) Down(name string) error {
	if err := p.kind.Delete(name, p.kubeconfigPath(name)); err != nil {
		return fmt.Errorf("deleting kind cluster %q: %w", name, err)
	}
	os.Remove(p.kubeconfigPath(name))
	// The last mcpsim cluster takes the host firewall guard with it.
	if err := unguardIfLast(p.opts.NodeImage); err != nil {
		return fmt.Errorf("cluster %q deleted, but removing the host firewall chain %s failed: %w", name, guardChain, err)
	}
	return nil
}

func (p *Provider) connect(name string) (*Cluster, error) {
	raw, err := p.kind.KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %q: %w", name, err)
	}
	path := p.kubeconfigPath(name)
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Name: name, Kubeconfig: path, Config: cfg, Client: client, p: p}, nil
}

// Connect returns an existing cluster.
func (p *Provider) Connect(name string) (*Cluster, error) {
	ok, err := p.Exists(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("no kind cluster %q (create it with `mcpsim cluster up --name %s`)", name, name)
	}
	return p.connect(name)
}

// NodeStatus is one node's state.
type NodeStatus struct {
	Name, Role, Zone, Version string
	Ready                     bool
}

// Nodes lists the cluster's nodes.
func (c *Cluster) Nodes(ctx context.Context) ([]NodeStatus, error) {
	list, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []NodeStatus
	for _, n := range list.Items {
		s := NodeStatus{Name: n.Name, Role: "worker", Zone: n.Labels[ZoneLabel], Version: n.Status.NodeInfo.KubeletVersion}
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp {
			s.Role = "control-plane"
		}
		_, ready := nodeutil.GetNodeCondition(&n.Status, corev1.NodeReady)
		s.Ready = ready != nil && ready.Status == corev1.ConditionTrue
		out = append(out, s)
	}
	return out, nil
}

func (c *Cluster) kindNodes() ([]nodes.Node, error) {
	return c.p.kind.ListInternalNodes(c.Name)
}

// run runs a command in node n and returns its output (stdout and
// stderr).
func run(ctx context.Context, n nodes.Node, name string, args ...string) (string, error) {
	var out bytes.Buffer
	err := n.CommandContext(ctx, name, args...).SetStdout(&out).SetStderr(&out).Run()
	return out.String(), err
}

// waitNodesReady waits until every node is Ready; on timeout the error
// names the nodes that are not and shows their kubelet's last log lines.
func (c *Cluster) waitNodesReady(ctx context.Context) error {
	return c.waitNodesReadyWithin(ctx, 4*time.Minute)
}

func (c *Cluster) waitNodesReadyWithin(ctx context.Context, timeout time.Duration) error {
	var notReady []string
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		st, err := c.Nodes(ctx)
		notReady, lastErr = nil, err
		if err != nil {
			return false, nil
		}
		for _, n := range st {
			if !n.Ready {
				notReady = append(notReady, n.Name)
			}
		}
		return len(st) > 0 && len(notReady) == 0, nil
	})
	if err == nil || ctx.Err() != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nodes not Ready after %s: %s", timeout, strings.Join(notReady, ", "))
	if lastErr != nil {
		fmt.Fprintf(&b, " (last error: %v)", lastErr)
	}
	ns, _ := c.kindNodes()
	for _, n := range ns {
		if !slices.Contains(notReady, n.String()) {
			continue
		}
		var out bytes.Buffer
		_ = n.Command("journalctl", "-u", "kubelet", "--no-pager", "-n", "15").SetStdout(&out).SetStderr(&out).Run()
		fmt.Fprintf(&b, "\n--- kubelet on %s, last lines:\n%s", n, out.String())
	}
	return errors.New(b.String())
}

// waitKubeProxy waits for kube-proxy on every node. It runs on the host
// network, so it starts before pod networking exists; configuring the CNI
// only after it means no pod starts before the Service rules are there
// (a pod that did could not reach the API server's ClusterIP).
func (c *Cluster) waitKubeProxy(ctx context.Context) error {
	var msg string
	err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			msg = err.Error()
			return false, nil
		}
		ds, err := c.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
		if err != nil {
			msg = err.Error()
			return false, nil
		}
		msg = fmt.Sprintf("kube-proxy ready on %d of %d nodes", ds.Status.NumberReady, len(nodes.Items))
		return len(nodes.Items) > 0 && int(ds.Status.NumberReady) >= len(nodes.Items), nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("after 3m: %s", msg)
	}
	return err
}

// waitCoreDNS waits for the cluster DNS.
func (c *Cluster) waitCoreDNS(ctx context.Context) error {
	return c.WaitAvailable(ctx, "kube-system", "coredns", 3*time.Minute)
}

// LoadImage copies a local Docker image into every node's containerd.
func (c *Cluster) LoadImage(ctx context.Context, image string) error {
	ns, err := c.kindNodes()
	if err != nil {
		return err
	}
	for _, n := range ns {
		cmd := exec.CommandContext(ctx, "docker", "save", image)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		loadErr := nodeutils.LoadImageArchive(n, out)
		waitErr := cmd.Wait()
		if waitErr != nil {
			return fmt.Errorf("docker save %s: %v: %s", image, waitErr, strings.TrimSpace(stderr.String()))
		}
		if loadErr != nil {
			return fmt.Errorf("loading %s into %s: %w", image, n, loadErr)
		}
	}
	return nil
}

// logger adapts kind's logger to a writer.
type logger struct{ w io.Writer }

func (l logger) Warn(message string)                       { fmt.Fprintln(l.w, "kind: warning:", message) }
func (l logger) Warnf(format string, args ...interface{})  { l.Warn(fmt.Sprintf(format, args...)) }
func (l logger) Error(message string)                      { fmt.Fprintln(l.w, "kind: error:", message) }
func (l logger) Errorf(format string, args ...interface{}) { l.Error(fmt.Sprintf(format, args...)) }
func (l logger) V(level kindlog.Level) kindlog.InfoLogger {
	if level > 0 {
		return kindlog.NoopInfoLogger{}
	}
	return infoLogger(l)
}

type infoLogger logger

func (l infoLogger) Info(message string)                      { fmt.Fprintln(l.w, "kind:", message) }
func (l infoLogger) Infof(format string, args ...interface{}) { l.Info(fmt.Sprintf(format, args...)) }
func (l infoLogger) Enabled() bool                            { return true }

// NodePortURL is the address at which this machine reaches a NodePort
// through the control plane's own address on the cluster's Docker
// network: kube-proxy's NodePort rules directly, with no userland proxy in
// the way. (The mapping to 127.0.0.1 goes through Docker's docker-proxy,
// a process per published port that accepts every connection and opens
// another: a load spike of thousands of connections a second killed it
// here, and with it every later request.) The address is a container
// mcpsim created, which load may target.
func (c *Cluster) NodePortURL(port int32) (string, error) {
	kn, err := c.kindNodes()
	if err != nil {
		return "", err
	}
	for _, n := range kn {
		if role, err := n.Role(); err != nil || role != constants.ControlPlaneNodeRoleValue {
			continue
		}
		ip, _, err := n.IP()
		if err != nil || ip == "" {
			return "", fmt.Errorf("the control plane's address on the kind network: %v", err)
		}
		return fmt.Sprintf("http://%s:%d", ip, port), nil
	}
	return "", fmt.Errorf("cluster %q has no control-plane node", c.Name)
}
