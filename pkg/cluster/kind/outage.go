package kind

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/constants"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// A node outage on kind takes a worker off the cluster's network as a lost
// machine is: every packet on its interface to the kind network (eth0 in
// a kind node, its only network) is dropped, both ways. The kubelet's
// heartbeats stop reaching the API server (the node lifecycle controller
// marks it NotReady after its grace period, taints it, and the taint
// manager evicts its pods), and its pods stop answering other nodes and
// the NodePort, with no reset: callers time out, as on the sim.
//
// Dropping (rather than stopping the container or disconnecting it from
// Docker's network) keeps the node's address, routes and pods, so
// restoring it is removing two rules: the node then rejoins as a machine
// that comes back. The rules live in the node's own network namespace, in
// the raw table (ingress, before conntrack) and the mangle table (egress,
// local and forwarded), which kube-proxy does not manage; they carry
// outageComment, so Restore and `mcpsim cluster clean` find them.
//
// The rules go into iptables and ip6tables: kind's Docker network is
// dual-stack, and a kubelet cut off over IPv4 reconnects to the API server
// by its name over IPv6 and stays Ready (seen on kind: a node isolated
// over IPv4 only was still Ready minutes later).

const (
	outageComment = "mcpsim-node-outage"
	kindInterface = "eth0"
)

// outageRule is one rule of an outage: the command (iptables or
// ip6tables) and the rule's specification (table, chain, match).
type outageRule struct {
	cmd  string
	spec []string
}

// outageRules are an outage's rules, in both address families.
var outageRules = func() []outageRule {
	specs := [][]string{
		{"-t", "raw", "PREROUTING", "-i", kindInterface, "-m", "comment", "--comment", outageComment, "-j", "DROP"},
		{"-t", "mangle", "POSTROUTING", "-o", kindInterface, "-m", "comment", "--comment", outageComment, "-j", "DROP"},
	}
	var rules []outageRule
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, spec := range specs {
			rules = append(rules, outageRule{cmd, spec})
		}
	}
	return rules
}()

// run applies op (-I, -D or -C) to the rule in node n.
func (r outageRule) run(ctx context.Context, n nodes.Node, op string) error {
	args := append([]string{"-w", r.spec[0], r.spec[1], op, r.spec[2]}, r.spec[3:]...)
	if out, err := run(ctx, n, r.cmd, args...); err != nil {
		return fmt.Errorf("%s %s on %s: %v: %s", r.cmd, strings.Join(args, " "), n, err, strings.TrimSpace(out))
	}
	return nil
}

// Isolate takes the worker node off the cluster's network (idempotent).
// The control plane is refused: the cluster would go with it.
func (c *Cluster) Isolate(ctx context.Context, node string) error {
	n, err := c.worker(node)
	if err != nil {
		return err
	}
	return isolate(ctx, n)
}

// Restore puts the node back on the network. Restoring a node that is not
// isolated does nothing.
func (c *Cluster) Restore(ctx context.Context, node string) error {
	n, err := c.worker(node)
	if err != nil {
		return err
	}
	return restore(ctx, n)
}

func isolate(ctx context.Context, n nodes.Node) error {
	for _, rule := range outageRules {
		if rule.run(ctx, n, "-C") == nil {
			continue
		}
		if err := rule.run(ctx, n, "-I"); err != nil {
			// Half an outage is none: undo what was done.
			_ = restore(context.WithoutCancel(ctx), n)
			return fmt.Errorf("isolating node %s: %w", n, err)
		}
	}
	return nil
}

// restore removes every outage rule (however many times it was inserted).
func restore(ctx context.Context, n nodes.Node) error {
	for _, rule := range outageRules {
		// Bounded: a rule inserted more often than this is not ours.
		for i := 0; i < 16 && rule.run(ctx, n, "-C") == nil; i++ {
			if err := rule.run(ctx, n, "-D"); err != nil {
				return fmt.Errorf("restoring node %s: %w", n, err)
			}
		}
	}
	return nil
}

func isolated(ctx context.Context, n nodes.Node) bool {
	for _, rule := range outageRules {
		if rule.run(ctx, n, "-C") == nil {
			return true
		}
	}
	return false
}

// Isolated lists the nodes an outage has taken off the network (a run
// that was killed leaves them so; `mcpsim cluster clean` restores them).
func (c *Cluster) Isolated(ctx context.Context) ([]string, error) {
	kn, err := c.kindNodes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range kn {
		if isolated(ctx, n) {
			out = append(out, n.String())
		}
	}
	return out, nil
}

// worker finds the named worker node's container.
func (c *Cluster) worker(name string) (nodes.Node, error) {
	kn, err := c.kindNodes()
	if err != nil {
		return nil, err
	}
	for _, n := range kn {
		if n.String() != name {
			continue
		}
		role, err := n.Role()
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", name, err)
		}
		if role != constants.WorkerNodeRoleValue {
			return nil, fmt.Errorf("node %s is the cluster's %s: a node outage takes workers only", name, role)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cluster %q has no node %s", c.Name, name)
}
