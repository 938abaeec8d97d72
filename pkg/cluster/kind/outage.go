package kind

import (
	"bytes"
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

// outageRules are the iptables rule specifications (table, chain, match)
// of an outage.
var outageRules = [][]string{
	{"-t", "raw", "PREROUTING", "-i", kindInterface, "-m", "comment", "--comment", outageComment, "-j", "DROP"},
	{"-t", "mangle", "POSTROUTING", "-o", kindInterface, "-m", "comment", "--comment", outageComment, "-j", "DROP"},
}

// outageTables are the commands the rules go into: both address families.
var outageTables = []string{"iptables", "ip6tables"}

// ruleArgs gives the arguments to apply op (-I, -D or -C) to rule.
func ruleArgs(op string, rule []string) []string {
	args := []string{"-w", rule[0], rule[1], op, rule[2]}
	return append(args, rule[3:]...)
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
	for _, table := range outageTables {
		for _, rule := range outageRules {
			if nodeTable(ctx, n, table, ruleArgs("-C", rule)) == nil {
				continue
			}
			if err := nodeTable(ctx, n, table, ruleArgs("-I", rule)); err != nil {
				// Half an outage is none: undo what was done.
				_ = restore(context.WithoutCancel(ctx), n)
				return fmt.Errorf("isolating node %s: %w", n, err)
			}
		}
	}
	return nil
}

// restore removes every outage rule (however many times it was inserted).
func restore(ctx context.Context, n nodes.Node) error {
	for _, table := range outageTables {
		for _, rule := range outageRules {
			// Bounded: a rule inserted more often than this is not ours.
			for i := 0; i < 16 && nodeTable(ctx, n, table, ruleArgs("-C", rule)) == nil; i++ {
				if err := nodeTable(ctx, n, table, ruleArgs("-D", rule)); err != nil {
					return fmt.Errorf("restoring node %s: %w", n, err)
				}
			}
		}
	}
	return nil
}

func isolated(ctx context.Context, n nodes.Node) bool {
	for _, table := range outageTables {
		for _, rule := range outageRules {
			if nodeTable(ctx, n, table, ruleArgs("-C", rule)) == nil {
				return true
			}
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

// nodeTable runs iptables or ip6tables in the node.
func nodeTable(ctx context.Context, n nodes.Node, table string, args []string) error {
	var out bytes.Buffer
	if err := n.CommandContext(ctx, table, args...).SetStdout(&out).SetStderr(&out).Run(); err != nil {
		return fmt.Errorf("%s %s on %s: %v: %s", table, strings.Join(args, " "), n, err, strings.TrimSpace(out.String()))
	}
	return nil
}
