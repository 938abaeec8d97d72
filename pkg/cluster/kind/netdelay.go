package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
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
)

// heldOn is where one delay holds packets: the nodes it was started on.
type heldOn map[string]bool

// Delay implements kube.NetworkDelayer: it starts a delayer on the node
// of every pod and sends it what the pod sends, on all the nodes at once,
// one docker exec each (holdScript).
func (c *Cluster) Delay(ctx context.Context, id int, spec cluster.PacketDelay, pods []cluster.DelayedPod) error {
	q := netdelayQueue + id
	byNode := map[string][]cluster.DelayedPod{}
	for _, p := range pods {
		if net.ParseIP(p.IP) == nil {
			return fmt.Errorf("pod %s: %q is not an IP address", p.Name, p.IP)
		}
		byNode[p.Node] = append(byNode[p.Node], p)
	}
	kn, err := c.kindNodes()
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(byNode))
	var on []nodes.Node
	for _, name := range names {
		i := slices.IndexFunc(kn, func(n nodes.Node) bool { return n.String() == name })
		if i < 0 {
			return fmt.Errorf("cluster %q has no node %s", c.Name, name)
		}
		on = append(on, kn[i])
	}
	if c.delays == nil {
		c.delays = map[int]heldOn{}
	}
	// Recorded before it starts: a start cut short (Ctrl-C kills the
	// docker exec, not what it runs) may have done anything, and undoing
	// what was not done does nothing.
	held := heldOn{}
	for _, name := range names {
		held[name] = true
	}
	c.delays[id] = held
	errs := onNodes(on, func(_ int, n nodes.Node) error { return c.holdOn(ctx, n, q, spec, byNode[n.String()]) })
	if err := errors.Join(errs...); err != nil {
		// Half a delay is none: undo what was done.
		_, _ = c.Undelay(context.WithoutCancel(ctx), id)
		return err
	}
	return nil
}

// onNodes runs fn on every node at once (each is a docker exec or two,
// 0.1–0.3 s on a busy host: one node after another, the last would act
// that much later) and returns its errors, by node. fn gets the node's
// index in ns too.
func onNodes(ns []nodes.Node, fn func(k int, n nodes.Node) error) []error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for k, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = fn(k, n)
		}()
	}
	wg.Wait()
	return errs
}

// holdOn starts the delayer of queue q on node n and sends it what the
// pods send.
func (c *Cluster) holdOn(ctx context.Context, n nodes.Node, q int, spec cluster.PacketDelay, pods []cluster.DelayedPod) error {
	if err := c.copySelfOnce(ctx, n); err != nil {
		return err
	}
	ips := make([]string, len(pods))
	for i, p := range pods {
		ips[i] = p.IP
	}
	if out, err := run(ctx, n, "sh", "-c", holdScript(inNode, q, delayerArgs(q, spec), ips)); err != nil {
		return fmt.Errorf("holding the packets of %s on %s: %v: %s", podNames(pods), n, err, strings.TrimSpace(out))
	}
	return nil
}

func podNames(pods []cluster.DelayedPod) string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = fmt.Sprintf("%s (%s)", p.Name, p.IP)
	}
	return strings.Join(names, ", ")
}

// aliveFunc is a shell function of both scripts: whether process $1
// runs. A zombie has exited (kill -0 would say it runs until its parent,
// PID 1 here, reaps it).
const aliveFunc = `alive() { s=$(ps -o stat= -p "$1" 2>/dev/null) && [ "${s#Z}" = "$s" ]; }
`

// nodeFiles are where a delay lives in a node: the delayer's binary, the
// directory of its files, and the kernel's list of bound queues. (A test
// runs the scripts on a directory of its own.)
type nodeFiles struct{ bin, dir, queues string }

var inNode = nodeFiles{netdelayBin, netdelayDir, "/proc/net/netfilter/nfnetlink_queue"}

// holdScript is a delay's start on one node, in one docker exec: each
// exec costs 0.1–0.3 s on a busy 2-core host, and one per step (start,
// wait for the bind, a route and a rule per pod) put the delay in place
// 0.6–1.1 s after its fault's time. In the node, it
//
//  1. finds each pod's host veth, the device the node routes the pod's
//     address through (kindnet gives each pod a host route); a pod
//     routed out of eth0 is on another node, and holding it here would
//     hold nothing. First, as it changes nothing: a pod it refuses
//     leaves no delayer to undo;
//  2. starts the delayer of queue q (setsid: it outlives the exec; its
//     pid in q.pid, what it prints in q.out and q.err);
//  3. waits, up to 10 s, until the kernel lists queue q as bound, or
//     says why the delayer exited;
//  4. sends the queue what arrives from those veths, every rule in one
//     iptables-restore commit: all of them or none.
//
// While it runs, its pid is in q.hold, so that undoScript can stop it
// first: Ctrl-C kills the docker exec, not the script.
func holdScript(f nodeFiles, q int, args []string, ips []string) string {
	return fmt.Sprintf(`d=%[1]s; q=%[2]d; b=$d/$q
`+aliveFunc+`mkdir -p "$d" && echo $$ >"$b.hold" || exit 1
trap 'rm -f "$b.hold"' EXIT
rules=""
for ip in %[6]s; do
	route=$(ip -o route get "$ip" 2>&1) || { echo "no route to $ip: $route"; exit 3; }
	dev=$(printf '%%s\n' "$route" | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
	case "$dev" in
	veth*) ;;
	"") echo "no device in the route to $ip: $route"; exit 3 ;;
	*) echo "$ip is routed through $dev, not a pod's veth: the pod is not on this node"; exit 3 ;;
	esac
	rules="$rules-I PREROUTING -i $dev -m comment --comment %[7]s-$q -j NFQUEUE --queue-num $q --queue-bypass
"
done
(setsid %[3]s %[4]s >"$b.out" 2>"$b.err" </dev/null & echo $! >"$b.pid")
i=0
until awk -v q="$q" '$1 == q {found = 1} END {exit !found}' %[5]s 2>/dev/null; do
	if ! alive "$(cat "$b.pid")"; then echo "the delayer exited: $(cat "$b.err")"; exit 2; fi
	i=$((i + 1))
	if [ $i -gt 500 ]; then echo "the delayer did not bind NFQUEUE queue $q within 10s"; exit 2; fi
	sleep 0.02
done
printf '*mangle\n%%sCOMMIT\n' "$rules" | iptables-restore -w --noflush || exit 4
`, f.dir, q, f.bin, strings.Join(args, " "), f.queues, strings.Join(ips, " "), netdelayComment)
}

// undoScript undoes a delay on one node, in one docker exec: it stops a
// hold script still running (stopped first, so that it starts nothing
// more; then its children, an iptables-restore among them committing
// all or nothing, and itself), removes every rule of queue q (the rules
// go first: nothing more is held), then stops the delayer (SIGTERM: it
// lets go of what it holds, bounded to 10 s) and prints what it said.
func undoScript(f nodeFiles, q int) string {
	return fmt.Sprintf(`d=%[1]s; q=%[2]d; b=$d/$q
`+aliveFunc+`if [ -f "$b.hold" ]; then
	h=$(cat "$b.hold")
	kill -STOP "$h" 2>/dev/null; pkill -KILL -P "$h" 2>/dev/null; kill -KILL "$h" 2>/dev/null
	rm -f "$b.hold"
fi
iptables-save -t mangle | sed -n 's/^-A \(.*--comment "\{0,1\}%[3]s-'$q'"\{0,1\} .*\)$/\1/p' | while read -r spec; do
	eval iptables -w -t mangle -D "$spec" || exit 5
done || { echo "removing the rules of queue $q failed" >&2; exit 5; }
[ -f "$b.pid" ] || exit 0
pid=$(cat "$b.pid")
kill -TERM "$pid" 2>/dev/null
i=0; while alive "$pid" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if alive "$pid"; then kill -KILL "$pid"; echo "did not exit within 10s" >&2; fi
cat "$b.out" 2>/dev/null; rm -f "$b.pid" "$b.out" "$b.err"
`, f.dir, q, netdelayComment)
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
	return errors.Join(onNodes(kn, func(_ int, n nodes.Node) error { return c.copySelfOnce(ctx, n) })...)
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

// Undelay implements kube.NetworkDelayer: on every node the delay was
// started on, all at once, the rules go first (nothing more is held),
// then the delayer lets go of what it holds and exits, saying what it
// saw.
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
	var on []nodes.Node
	for _, name := range slices.Sorted(maps.Keys(held)) {
		if i := slices.IndexFunc(kn, func(n nodes.Node) bool { return n.String() == name }); i >= 0 {
			on = append(on, kn[i]) // (a node that is gone took its delayer with it)
		}
	}
	stats := make([]string, len(on))
	errs := onNodes(on, func(k int, n nodes.Node) error {
		var err error
		stats[k], err = undoDelay(ctx, n, q)
		return err
	})
	var seen, failed []string
	for k, n := range on {
		if errs[k] != nil {
			failed = append(failed, errs[k].Error())
			continue
		}
		seen = append(seen, fmt.Sprintf("%s: %s", n, stats[k]))
	}
	if len(failed) > 0 {
		return strings.Join(seen, "; "), fmt.Errorf("letting go of held packets: %s", strings.Join(failed, "; "))
	}
	delete(c.delays, id)
	return strings.Join(seen, "; "), nil
}

// undoDelay runs undoScript for queue q on n and returns the delayer's
// statistics.
func undoDelay(ctx context.Context, n nodes.Node, q int) (string, error) {
	out, err := run(ctx, n, "sh", "-c", undoScript(inNode, q))
	if err != nil {
		return "", fmt.Errorf("node %s, queue %d: %v: %s", n, q, err, strings.TrimSpace(out))
	}
	return strings.TrimSpace(out), nil
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
		"--max-runtime", (spec.For + netdelayGrace).String(),
		"--seed", strconv.FormatUint(spec.Seed, 10),
	}
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

// ReleaseHeld removes every delay rule and stops every delayer a run left
// on the cluster's nodes (a run that was killed leaves them; `mcpsim
// cluster clean`), on all the nodes at once, and names the nodes it
// cleaned.
func (c *Cluster) ReleaseHeld(ctx context.Context) ([]string, error) {
	kn, err := c.kindNodes()
	if err != nil {
		return nil, err
	}
	left := make([]bool, len(kn))
	errs := onNodes(kn, func(k int, n nodes.Node) error {
		out, err := run(ctx, n, "sh", "-c", leftQueuesScript(inNode))
		if err != nil {
			return fmt.Errorf("reading node %s's rules: %v: %s", n, err, out)
		}
		queues, err := leftQueues(out)
		if err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		for _, q := range queues {
			if _, err := undoDelay(ctx, n, q); err != nil {
				return err
			}
		}
		left[k] = len(queues) > 0
		return nil
	})
	var cleaned []string
	for k, n := range kn {
		if left[k] {
			cleaned = append(cleaned, n.String())
		}
	}
	return cleaned, errors.Join(errs...)
}

// leftQueuesScript prints, a number a line, the queues of the delays a
// node holds: those its mangle rules name (their comment is
// netdelayComment-Q, quoted or not) and those with files in the delay
// directory (Q.pid, Q.hold, ...).
func leftQueuesScript(f nodeFiles) string {
	return fmt.Sprintf(`rules=$(iptables-save -t mangle) || exit 1
printf '%%s\n' "$rules" | sed -n 's/.*--comment "\{0,1\}%[2]s-\([0-9][0-9]*\).*/\1/p'
ls %[1]s 2>/dev/null | sed -n 's/^\([0-9][0-9]*\)\..*/\1/p'
true
`, f.dir, netdelayComment)
}

// leftQueues reads leftQueuesScript's output: the queues, in order, each
// once.
func leftQueues(out string) ([]int, error) {
	seen := map[int]bool{}
	for _, f := range strings.Fields(out) {
		q, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("listing the delays left: %q is not a queue number", f)
		}
		seen[q] = true
	}
	return slices.Sorted(maps.Keys(seen)), nil
}
