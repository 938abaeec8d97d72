package kind

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/exec"
)

// fakeNode is a kind node whose iptables keeps its rules in a list, as
// iptables does: -I inserts (duplicates allowed), -C checks, -D deletes
// one. failInsert makes the n-th insertion fail.
type fakeNode struct {
	name       string
	rules      []string
	calls      []string
	inserts    int
	failInsert int
}

func (f *fakeNode) String() string              { return f.name }
func (f *fakeNode) Role() (string, error)       { return "worker", nil }
func (f *fakeNode) IP() (string, string, error) { return "", "", nil }
func (f *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (f *fakeNode) Command(cmd string, args ...string) exec.Cmd {
	return f.CommandContext(context.Background(), cmd, args...)
}
func (f *fakeNode) CommandContext(_ context.Context, cmd string, args ...string) exec.Cmd {
	return &fakeCmd{n: f, args: append([]string{cmd}, args...)}
}

type fakeCmd struct {
	n    *fakeNode
	args []string
}

func (c *fakeCmd) Run() error {
	f := c.n
	f.calls = append(f.calls, strings.Join(c.args, " "))
	// iptables|ip6tables -w -t TABLE OP CHAIN spec...
	if len(c.args) < 6 || (c.args[0] != "iptables" && c.args[0] != "ip6tables") || c.args[1] != "-w" || c.args[2] != "-t" {
		return errors.New("unexpected command " + strings.Join(c.args, " "))
	}
	rule := c.args[0] + " " + c.args[3] + " " + c.args[5] + " " + strings.Join(c.args[6:], " ")
	switch c.args[4] {
	case "-C":
		if !slices.Contains(f.rules, rule) {
			return errors.New("iptables: Bad rule (does a matching rule exist in that chain?).")
		}
	case "-I":
		f.inserts++
		if f.inserts == f.failInsert {
			return errors.New("iptables: No chain/target/match by that name.")
		}
		f.rules = append([]string{rule}, f.rules...)
	case "-D":
		i := slices.Index(f.rules, rule)
		if i < 0 {
			return errors.New("iptables: Bad rule")
		}
		f.rules = slices.Delete(f.rules, i, i+1)
	default:
		return errors.New("unexpected op " + c.args[4])
	}
	return nil
}
func (c *fakeCmd) SetEnv(...string) exec.Cmd    { return c }
func (c *fakeCmd) SetStdin(io.Reader) exec.Cmd  { return c }
func (c *fakeCmd) SetStdout(io.Writer) exec.Cmd { return c }
func (c *fakeCmd) SetStderr(io.Writer) exec.Cmd { return c }

// TestOutageRules: an outage drops the kind interface's traffic both
// ways with two commented rules; isolating twice adds nothing; restoring
// removes every copy (also one a second process added) and leaves other
// rules alone; a failed insertion leaves no half outage.
func TestOutageRules(t *testing.T) {
	ctx := context.Background()
	n := &fakeNode{name: "mcpsim-worker", rules: []string{"iptables filter INPUT -j KUBE-FIREWALL"}}
	if err := isolate(ctx, n); err != nil {
		t.Fatal(err)
	}
	// Both address families: a kubelet cut off over IPv4 reconnects over
	// IPv6 on kind's dual-stack network.
	want := []string{
		"ip6tables mangle POSTROUTING -o eth0 -m comment --comment mcpsim-node-outage -j DROP",
		"ip6tables raw PREROUTING -i eth0 -m comment --comment mcpsim-node-outage -j DROP",
		"iptables mangle POSTROUTING -o eth0 -m comment --comment mcpsim-node-outage -j DROP",
		"iptables raw PREROUTING -i eth0 -m comment --comment mcpsim-node-outage -j DROP",
		"iptables filter INPUT -j KUBE-FIREWALL",
	}
	if !slices.Equal(n.rules, want) || !isolated(ctx, n) {
		t.Fatalf("rules after isolate: %q", n.rules)
	}
	if err := isolate(ctx, n); err != nil || len(n.rules) != 5 {
		t.Fatalf("isolating again: %v, rules %q", err, n.rules)
	}
	n.rules = append([]string{want[1]}, n.rules...) // a second copy
	if err := restore(ctx, n); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.rules, []string{"iptables filter INPUT -j KUBE-FIREWALL"}) || isolated(ctx, n) {
		t.Fatalf("rules after restore: %q", n.rules)
	}
	if err := restore(ctx, n); err != nil {
		t.Fatalf("restoring a restored node: %v", err)
	}

	half := &fakeNode{name: "mcpsim-worker2", failInsert: 3} // the first ip6tables rule
	if err := isolate(ctx, half); err == nil || !strings.Contains(err.Error(), "isolating node mcpsim-worker2") {
		t.Fatalf("want the insertion's error, got %v", err)
	}
	if len(half.rules) != 0 {
		t.Fatalf("a failed isolation left %q", half.rules)
	}
}
