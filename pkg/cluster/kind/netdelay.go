package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/constants"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/mcpsim/mcpsim/pkg/cluster"
)

// Holding pods' packets without netem. Chaos Mesh builds NetworkChaos
// delay and loss on the kernel's netem queueing discipline, which some
// kernels lack (kind's nodes share the host's: NetemMissing). There,
// mcpsim holds the packets itself: `mcpsim netdelay` (package netdelay)
// runs in the node container of each pod, bound to an NFQUEUE queue, and
// one iptables rule per pod sends that queue every packet arriving from
// the pod's side of its veth pair:
//
//	iptables -t mangle -I PREROUTING -i <pod's host veth> -j NFQUEUE --queue-num Q --queue-bypass
//
// which is what the pod sends, to other pods, to the node (probes'
// answers) or out, as netem on the pod's eth0 holds it. The rule is on
// the node's side, not in the pod's network namespace: there a held
// packet still counts against its socket, and TCP then holds back the
// rest of the connection (a bulk transfer crawled at 14 KB/s in a test).
// --queue-bypass lets packets through when no delayer listens: a delayer
// gone means no fault, not an outage. The delayer stops by itself after
// the fault's time (--max-runtime) should mcpsim be gone.
//
// The delayer is this very binary (a hidden subcommand), copied into the
// node: mcpsim is built static (CGO_ENABLED=0) and the node is Linux on
// the same machine. Its rules carry netdelayComment plus the queue, so
// that Undelay and `mcpsim cluster clean` find them; its pid and what it
// prints live under netdelayDir in the node.

const (
	netdelayBin     = "/usr/local/bin/mcpsim-netdelay"
	netdelayDir     = "/run/mcpsim-netdelay"
	netdelayComment = "mcpsim-netdelay"
	// netdelayQueue is the first NFQUEUE queue number a delay uses; delay
	// id uses netdelayQueue + id. (kube-proxy and kindnet use none.)
	netdelayQueue = 4200
	// netdelayGrace is how long a delayer outlives its fault's time
	// before it lets go by itself.
	netdelayGrace = 2 * time.Minute
	// netdelayMaxLen bounds the packets a delayer holds: more than a
	// pod sends in a delay at the rates a kind cluster on a laptop serves
	// (65,536 packets in 200 ms is 330,000 packets a second).
	netdelayMaxLen = 65536
)

// heldOn is where one delay holds packets: its rules, by node.
type heldOn map[string][]string // node name -> host veths

// Delay implements kube.NetworkDelayer: it starts a delayer on the node
// of every pod and sends it what the pod sends, on all the nodes at once
// (each takes a few docker execs).
func (c *Cluster) Delay(ctx context.Context, id int, spec cluster.PacketDelay, pods []cluster.DelayedPod) error {
	q := netdelayQueue + id
	byNode := map[string][]cluster.DelayedPod{}
	for _, p := range pods {
		byNode[p.Node] = append(byNode[p.Node], p)
	}
	kn, err := c.kindNodes()
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(byNode))
	held := heldOn{}
	if c.delays == nil {
		c.delays = map[int]heldOn{}
	}
	c.delays[id] = held
	type result struct {
		veths []string
		err   error
	}
	results := make([]result, len(names))
	var wg sync.WaitGroup
	for k, name := range names {
		i := slices.IndexFunc(kn, func(n nodes.Node) bool { return n.String() == name })
		if i < 0 {
			results[k].err = fmt.Errorf("cluster %q has no node %s", c.Name, name)
			continue
		}
		n := kn[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k].veths, results[k].err = c.holdOn(ctx, n, q, spec, byNode[name])
		}()
	}
	wg.Wait()
	var errs []error
	for k, name := range names {
		// What was done is recorded, so that Undelay undoes it.
		held[name] = results[k].veths
		if results[k].err != nil {
			errs = append(errs, results[k].err)
		}
	}
	if len(errs) > 0 {
		// Half a delay is none: undo what was done.
		_, _ = c.Undelay(context.WithoutCancel(ctx), id)
		return errors.Join(errs...)
	}
	return nil
}

// holdOn starts the delayer of queue q on node n and sends it what the
// pods send; it returns the veths it holds (even on error: what to undo).
func (c *Cluster) holdOn(ctx context.Context, n nodes.Node, q int, spec cluster.PacketDelay, pods []cluster.DelayedPod) ([]string, error) {
	if err := c.startDelayer(ctx, n, q, spec); err != nil {
		return nil, err
	}
	var veths []string
	for _, p := range pods {
		veth, err := hostVeth(ctx, n, p.IP)
		if err != nil {
			return veths, fmt.Errorf("pod %s: %w", p.Name, err)
		}
		// Counted before it is inserted: an insertion cut short (Ctrl-C
		// kills the exec, not iptables) may have happened, and removing a
		// rule that is not there does nothing.
		veths = append(veths, veth)
		if err := holdRule(q, veth).run(ctx, n, "-I"); err != nil {
			return veths, fmt.Errorf("pod %s: %w", p.Name, err)
		}
	}
	return veths, nil
}

// PrepareDelays copies this binary into every worker node (where the
// scenarios' pods run) ahead of the run, all at once, so that a delay
// starts with its fault rather than a copy of mcpsim per node later (60 MB
// each, about a second).
func (c *Cluster) PrepareDelays(ctx context.Context) error {
	kn, err := c.kindNodes()
	if err != nil {
		return err
	}
	kn = slices.DeleteFunc(kn, func(n nodes.Node) bool {
		role, err := n.Role()
		return err == nil && role != constants.WorkerNodeRoleValue
	})
	errs := make([]error, len(kn))
	var wg sync.WaitGroup
	for k, n := range kn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = c.copySelfOnce(ctx, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// copySelfOnce copies this binary into n unless it was already.
func (c *Cluster) copySelfOnce(ctx context.Context, n nodes.Node) error {
	c.netdelayMu.Lock()
	done := c.netdelayCopied[n.String()]
	c.netdelayMu.Unlock()
	if done {
		return nil
	}
	if err := copySelf(ctx, n); err != nil {
		return err
	}
	c.netdelayMu.Lock()
	defer c.netdelayMu.Unlock()
	if c.netdelayCopied == nil {
		c.netdelayCopied = map[string]bool{}
	}
	c.netdelayCopied[n.String()] = true
	return nil
}

// Undelay implements kube.NetworkDelayer: the rules go first (nothing
// more is held), then each delayer lets go of what it holds and exits,
// saying what it saw.
func (c *Cluster) Undelay(ctx context.Context, id int) (string, error) {
	held, ok := c.delays[id]
	if !ok {
		return "", nil
	}
	q := netdelayQueue + id
	kn, err := c.kindNodes()
	if err != nil {
		return "", err
	}
	var seen, failed []string
	for _, name := range slices.Sorted(maps.Keys(held)) {
		i := slices.IndexFunc(kn, func(n nodes.Node) bool { return n.String() == name })
		if i < 0 {
			continue // the node is gone, and its delayer with it
		}
		n := kn[i]
		for _, veth := range held[name] {
			if err := holdRule(q, veth).remove(ctx, n); err != nil {
				failed = append(failed, err.Error())
			}
		}
		stats, err := stopDelayer(ctx, n, q)
		if err != nil {
			failed = append(failed, fmt.Sprintf("node %s: %v", name, err))
			continue
		}
		seen = append(seen, fmt.Sprintf("%s: %s", name, stats))
	}
	if len(failed) > 0 {
		return strings.Join(seen, "; "), fmt.Errorf("letting go of held packets: %s", strings.Join(failed, "; "))
	}
	delete(c.delays, id)
	return strings.Join(seen, "; "), nil
}

// startDelayer copies this binary into the node (once) and starts it as
// a delayer on queue q, waiting (bounded) until it has bound the queue.
func (c *Cluster) startDelayer(ctx context.Context, n nodes.Node, q int, spec cluster.PacketDelay) error {
	if err := c.copySelfOnce(ctx, n); err != nil {
		return err
	}
	args := delayerArgs(q, spec)
	base := fmt.Sprintf("%s/%d", netdelayDir, q)
	// setsid: the delayer outlives this exec's session; its pid is $!.
	script := fmt.Sprintf("mkdir -p %s && (setsid %s %s >%s.out 2>%s.err </dev/null & echo $! >%s.pid)",
		netdelayDir, netdelayBin, strings.Join(args, " "), base, base, base)
	if out, err := run(ctx, n, "sh", "-c", script); err != nil {
		return fmt.Errorf("starting the delayer on %s: %v: %s", n, err, out)
	}
	// Bound when the kernel lists its queue; a delayer that exits first
	// says why in its error output.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := run(ctx, n, "cat", "/proc/net/netfilter/nfnetlink_queue")
		if err == nil && queueBound(out, q) {
			return nil
		}
		if _, err := run(ctx, n, "sh", "-c", fmt.Sprintf("kill -0 $(cat %s.pid)", base)); err != nil {
			msg, _ := run(ctx, n, "cat", base+".err")
			return fmt.Errorf("the delayer on %s exited: %s", n, strings.TrimSpace(msg))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_, _ = stopDelayer(context.WithoutCancel(ctx), n, q)
			return fmt.Errorf("the delayer on %s did not bind NFQUEUE queue %d within 10s", n, q)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delayerArgs are `mcpsim netdelay`'s arguments for spec on queue q.
func delayerArgs(q int, spec cluster.PacketDelay) []string {
	pct := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return []string{"netdelay",
		"--queue", strconv.Itoa(q),
		"--latency", spec.Latency.String(),
		"--jitter", spec.Jitter.String(),
		"--correlation", pct(spec.Correlation),
		"--loss", pct(spec.Loss),
		"--loss-correlation", pct(spec.LossCorrelation),
		"--max-len", strconv.Itoa(netdelayMaxLen),
		"--max-runtime", (spec.For + netdelayGrace).String(),
		"--seed", strconv.FormatUint(spec.Seed, 10),
	}
}

// queueBound reports whether /proc/net/netfilter/nfnetlink_queue (one
// line a bound queue, its number first) lists queue q.
func queueBound(list string, q int) bool {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == strconv.Itoa(q) {
			return true
		}
	}
	return false
}

// stopDelayer ends the delayer of queue q on n (SIGTERM: it lets go of
// what it holds), waits for it (bounded) and returns what it printed.
func stopDelayer(ctx context.Context, n nodes.Node, q int) (string, error) {
	base := fmt.Sprintf("%s/%d", netdelayDir, q)
	script := fmt.Sprintf(`[ -f %[1]s.pid ] || exit 0
pid=$(cat %[1]s.pid)
kill -TERM "$pid" 2>/dev/null
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "did not exit within 10s" >&2; fi
cat %[1]s.out 2>/dev/null; rm -f %[1]s.pid %[1]s.out %[1]s.err`, base)
	out, err := run(ctx, n, "sh", "-c", script)
	if err != nil {
		return "", fmt.Errorf("stopping the delayer of queue %d: %v: %s", q, err, out)
	}
	return strings.TrimSpace(out), nil
}

// hostVeth is the node's side of the veth pair of the pod at ip: the
// device the node routes ip through (kindnet gives each pod a host route).
func hostVeth(ctx context.Context, n nodes.Node, ip string) (string, error) {
	out, err := run(ctx, n, "ip", "-o", "route", "get", ip)
	if err != nil {
		return "", fmt.Errorf("no route to %s on %s: %v: %s", ip, n, err, out)
	}
	return routeDevice(out, ip)
}

// routeDevice reads the device of `ip -o route get` output ("10.244.1.5
// dev veth1a2b3c4d scope host src 10.244.1.1 ..."); a pod on this node is
// reached through a veth, anything else (eth0: another node) is an error.
func routeDevice(out, ip string) (string, error) {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			if dev := f[i+1]; strings.HasPrefix(dev, "veth") {
				return dev, nil
			}
			return "", fmt.Errorf("%s is routed through %s, not a pod's veth: the pod is not on this node", ip, f[i+1])
		}
	}
	return "", fmt.Errorf("no device in the route to %s: %q", ip, strings.TrimSpace(out))
}

// holdRule is the rule that sends queue q what arrives from veth.
func holdRule(q int, veth string) outageRule {
	return outageRule{"iptables", []string{"-t", "mangle", "PREROUTING", "-i", veth,
		"-m", "comment", "--comment", fmt.Sprintf("%s-%d", netdelayComment, q),
		"-j", "NFQUEUE", "--queue-num", strconv.Itoa(q), "--queue-bypass"}}
}

// remove deletes every copy of the rule (bounded: more than 16 are not
// ours).
func (r outageRule) remove(ctx context.Context, n nodes.Node) error {
	for i := 0; i < 16 && r.run(ctx, n, "-C") == nil; i++ {
		if err := r.run(ctx, n, "-D"); err != nil {
			return err
		}
	}
	return nil
}

// copySelf copies the running mcpsim binary into the node as the
// delayer.
func copySelf(ctx context.Context, n nodes.Node) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding mcpsim's own binary to run on the nodes: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("reading mcpsim's own binary: %w", err)
	}
	defer f.Close()
	tmp := netdelayBin + ".tmp"
	var out bytes.Buffer
	cmd := n.CommandContext(ctx, "sh", "-c", fmt.Sprintf("cat >%s && chmod 755 %s && mv %s %s", tmp, tmp, tmp, netdelayBin))
	if err := cmd.SetStdin(f).SetStdout(&out).SetStderr(&out).Run(); err != nil {
		return fmt.Errorf("copying mcpsim into node %s: %v: %s", n, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// run runs a command in node n and returns its output (stdout and
// stderr).
func run(ctx context.Context, n nodes.Node, name string, args ...string) (string, error) {
	var out bytes.Buffer
	err := n.CommandContext(ctx, name, args...).SetStdout(&out).SetStderr(&out).Run()
	return out.String(), err
}

// ReleaseHeld removes every delay rule and stops every delayer a run left
// on the cluster's nodes (a run that was killed leaves them; `mcpsim
// cluster clean`), and names the nodes it cleaned.
func (c *Cluster) ReleaseHeld(ctx context.Context) ([]string, error) {
	kn, err := c.kindNodes()
	if err != nil {
		return nil, err
	}
	var cleaned []string
	for _, n := range kn {
		rules, err := run(ctx, n, "iptables-save", "-t", "mangle")
		if err != nil {
			return cleaned, fmt.Errorf("reading node %s's rules: %v: %s", n, err, rules)
		}
		found := false
		for _, line := range strings.Split(rules, "\n") {
			if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, netdelayComment) {
				continue
			}
			found = true
			spec := strings.Fields(strings.TrimPrefix(line, "-A "))
			if _, err := run(ctx, n, "iptables", append([]string{"-w", "-t", "mangle", "-D"}, spec...)...); err != nil {
				return cleaned, fmt.Errorf("removing %q on %s: %w", line, n, err)
			}
		}
		pids, _ := run(ctx, n, "sh", "-c", "ls "+netdelayDir+"/*.pid 2>/dev/null")
		for _, pidFile := range strings.Fields(pids) {
			found = true
			q, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(pidFile, netdelayDir+"/"), ".pid"))
			if _, err := stopDelayer(ctx, n, q); err != nil {
				return cleaned, err
			}
		}
		if found {
			cleaned = append(cleaned, n.String())
		}
	}
	return cleaned, nil
}
