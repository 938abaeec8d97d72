package kind

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestDelayerArgs: the delayer gets the delay as Chaos Mesh wrote it
// (percentages as percentages) and lives for the fault's time plus the
// grace, so that it lets go by itself should mcpsim be gone.
func TestDelayerArgs(t *testing.T) {
	got := strings.Join(delayerArgs(4203, cluster.PacketDelay{Netem: scenario.Netem{Latency: 200 * time.Millisecond, Jitter: 10 * time.Millisecond, Correlation: 25, Loss: 0.5}, For: time.Minute, Seed: 7}), " ")
	want := "netdelay --queue 4203 --latency 200ms --jitter 10ms --correlation 25 --loss 0.5 --loss-correlation 0 --max-runtime 3m0s --seed 7"
	if got != want {
		t.Fatalf("args\n %s\nwant\n %s", got, want)
	}
}

// scriptNode is a node for holdScript and undoScript, on this machine: a
// directory for the delayer's files, a fake kernel queue list, and fake
// ip, iptables, iptables-save and iptables-restore first in PATH, which
// keep the mangle table's rules in a file as iptables-save prints them.
// Pods 10.244.1.N are on the node behind vethN; 10.244.2.N on another
// node (routed out of eth0); anything else has no route.
type scriptNode struct {
	t     *testing.T
	files nodeFiles
	state string // the directory of rules and queues
	env   []string
}

func newScriptNode(t *testing.T, delayer string) *scriptNode {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	state := filepath.Join(root, "state")
	for _, d := range []string{bin, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &scriptNode{t: t, state: state,
		files: nodeFiles{bin: filepath.Join(bin, "mcpsim-netdelay"), dir: filepath.Join(root, "run"), queues: filepath.Join(state, "queues")}}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("ip", `case "$4" in
10.244.1.*) printf '%s dev veth%s scope host src 10.244.1.1 uid 0 \\    cache \n' "$4" "${4##*.}" ;;
10.244.2.*) echo "$4 via 172.18.0.3 dev eth0 src 172.18.0.4 uid 0" ;;
*) echo "RTNETLINK answers: Network is unreachable" >&2; exit 2 ;;
esac
`)
	write("iptables-save", `cat "$STATE/rules" 2>/dev/null; true`)
	// -I lines become -A lines (at the top, as -I inserts); a commit
	// is all or nothing: the input is read whole first.
	write("iptables-restore", `echo "$@" >"$STATE/restore-args"
in=$(cat) || exit 1
echo "$in" | sed -n 's/^-I /-A /p' >"$STATE/new"
cat "$STATE/rules" >>"$STATE/new" 2>/dev/null
mv "$STATE/new" "$STATE/rules"
`)
	write("iptables", `[ "$1 $2 $3 $4" = "-w -t mangle -D" ] || { echo "fake iptables: $*" >&2; exit 2; }
shift 4
grep -qxF -- "-A $*" "$STATE/rules" || { echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1; }
grep -vxF -- "-A $*" "$STATE/rules" >"$STATE/kept"; mv "$STATE/kept" "$STATE/rules"
`)
	write("mcpsim-netdelay", delayer)
	f.env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STATE="+state)
	return f
}

// sh runs script as the node would (sh -c) and returns its output.
func (f *scriptNode) sh(script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f *scriptNode) rules() []string {
	b, _ := os.ReadFile(filepath.Join(f.state, "rules"))
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

func (f *scriptNode) running(pidFile string) bool {
	b, err := os.ReadFile(filepath.Join(f.files.dir, pidFile))
	if err != nil {
		return false
	}
	out, err := exec.Command("ps", "-o", "stat=", "-p", strings.TrimSpace(string(b))).Output()
	return err == nil && !strings.HasPrefix(string(out), "Z")
}

// delayerBinds is a delayer that binds its queue (it appears in the
// kernel's list, as the kernel pads it) and, on SIGTERM, prints its
// statistics and exits.
const delayerBinds = `q=$3
trap 'echo "{\"seen\":12,\"delayed\":12}"; exit 0' TERM
printf '%5d  4242     0 2  65531     0     0        0  1\n' "$q" >>"$STATE/queues"
while :; do sleep 0.05; done
`

// TestHoldAndUndoScripts runs a delay's start and undo on a fake node:
// the delayer is started and bound before any rule exists, both pods'
// veths are sent to its queue in one commit, tagged with the queue;
// undoing removes exactly that queue's rules (another delay's stays),
// stops the delayer, which says what it saw, and leaves no file behind.
func TestHoldAndUndoScripts(t *testing.T) {
	f := newScriptNode(t, delayerBinds)
	other := "-A PREROUTING -i veth9 -m comment --comment mcpsim-netdelay-4207 -j NFQUEUE --queue-num 4207 --queue-bypass\n"
	if err := os.WriteFile(filepath.Join(f.state, "rules"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	args := delayerArgs(4203, cluster.PacketDelay{Netem: scenario.Netem{Latency: 100 * time.Millisecond}, For: time.Minute})
	if out, err := f.sh(holdScript(f.files, 4203, args, []string{"10.244.1.5", "10.244.1.6"})); err != nil {
		t.Fatalf("hold: %v: %s", err, out)
	}
	// (iptables-restore inserts each rule at the top: the order of the
	// two is not ours.)
	want := []string{
		"-A_PREROUTING_-i_veth5_-m_comment_--comment_mcpsim-netdelay-4203_-j_NFQUEUE_--queue-num_4203_--queue-bypass",
		"-A_PREROUTING_-i_veth6_-m_comment_--comment_mcpsim-netdelay-4203_-j_NFQUEUE_--queue-num_4203_--queue-bypass",
		strings.ReplaceAll(strings.TrimSpace(other), " ", "_"),
	}
	got := f.rules()
	slices.Sort(got[:min(2, len(got))])
	if !slices.Equal(got, want) {
		t.Fatalf("rules\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
	}
	if b, _ := os.ReadFile(filepath.Join(f.state, "restore-args")); strings.TrimSpace(string(b)) != "-w --noflush" {
		t.Errorf("iptables-restore %s: it must keep the table's other rules (--noflush) and wait for the lock (-w)", b)
	}
	if !f.running("4203.pid") {
		t.Fatal("no delayer running after the hold")
	}
	if _, err := os.Stat(filepath.Join(f.files.dir, "4203.hold")); !os.IsNotExist(err) {
		t.Errorf("the hold script left its pid file: %v", err)
	}
	out, err := f.sh(undoScript(f.files, 4203))
	if err != nil {
		t.Fatalf("undo: %v: %s", err, out)
	}
	if strings.TrimSpace(out) != `{"seen":12,"delayed":12}` {
		t.Errorf("undo printed %q, want the delayer's statistics", out)
	}
	if got := f.rules(); !slices.Equal(got, want[2:]) {
		t.Errorf("rules after the undo %v, want only queue 4207's", got)
	}
	if left, _ := os.ReadDir(f.files.dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
	// Undoing again (or a delay never started here) does nothing.
	if out, err := f.sh(undoScript(f.files, 4203)); err != nil || out != "" {
		t.Errorf("second undo: %q, %v", out, err)
	}
}

// TestHoldScriptRefusesAPodOnAnotherNode: a pod routed out of eth0 is
// not on the node; the hold fails naming it, inserts no rule at all, not
// even the first pod's (one commit), and starts no delayer (the routes
// come first).
func TestHoldScriptRefusesAPodOnAnotherNode(t *testing.T) {
	f := newScriptNode(t, delayerBinds)
	for ip, why := range map[string]string{"10.244.2.7": "10.244.2.7 is routed through eth0, not a pod's veth", "10.9.9.9": "no route to 10.9.9.9: RTNETLINK answers"} {
		out, err := f.sh(holdScript(f.files, 4200, []string{"netdelay", "--queue", "4200"}, []string{"10.244.1.5", ip}))
		if err == nil || !strings.Contains(out, why) {
			t.Errorf("%s: %v: %q; want a failure saying %q", ip, err, out, why)
		}
		if got := f.rules(); len(got) != 0 {
			t.Errorf("%s: rules %v after a failed hold, want none", ip, got)
		}
		// The routes are looked up before the delayer starts: there is
		// none to undo, nor any file of one.
		if left, _ := os.ReadDir(f.files.dir); len(left) != 0 {
			t.Errorf("%s: files after a refused hold: %v; want none (no delayer started)", ip, left)
		}
		if out, err := f.sh(undoScript(f.files, 4200)); err != nil || out != "" {
			t.Errorf("%s: undo: %v: %q; want nothing to do", ip, err, out)
		}
	}
}

// TestHoldScriptSaysWhyTheDelayerExited: a delayer that cannot bind
// exits; the hold says what it printed.
func TestHoldScriptSaysWhyTheDelayerExited(t *testing.T) {
	f := newScriptNode(t, `echo "binding NFQUEUE queue $3: operation not permitted" >&2; exit 1`)
	out, err := f.sh(holdScript(f.files, 4200, []string{"netdelay", "--queue", "4200"}, []string{"10.244.1.5"}))
	if err == nil || !strings.Contains(out, "the delayer exited: binding NFQUEUE queue 4200: operation not permitted") {
		t.Fatalf("%v: %q; want the delayer's own words", err, out)
	}
}

// TestUndoStopsAHoldUnderWay: Ctrl-C during a delay's start kills the
// docker exec, not the script in the node. Here the delayer never binds,
// so the hold script waits; the undo stops it, and no rule appears
// later (the script would have gone on to insert one).
func TestUndoStopsAHoldUnderWay(t *testing.T) {
	f := newScriptNode(t, `trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	hold := exec.Command("sh", "-c", holdScript(f.files, 4201, []string{"netdelay", "--queue", "4201"}, []string{"10.244.1.5"}))
	hold.Env = f.env
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- hold.Wait() }()
	for i := 0; !f.running("4201.hold"); i++ {
		if i == 500 {
			t.Fatal("the hold script never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out, err := f.sh(undoScript(f.files, 4201)); err != nil {
		t.Fatalf("undo: %v: %s", err, out)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the hold script finished by itself; it should have been killed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hold script still runs after the undo")
	}
	if f.running("4201.pid") || len(f.rules()) != 0 {
		t.Fatalf("after the undo: delayer running %v, rules %v", f.running("4201.pid"), f.rules())
	}
}

// TestLeftQueues: cluster clean finds the queues a killed run left on a
// node, from the comments of its rules (quoted or not) and from its
// files, each once, and nothing from kube-proxy's rules or addresses
// (leftQueuesScript run on a fake node).
func TestLeftQueues(t *testing.T) {
	f := newScriptNode(t, delayerBinds)
	rules := `-A PREROUTING -i veth5 -m comment --comment mcpsim-netdelay-4203 -j NFQUEUE --queue-num 4203 --queue-bypass
-A PREROUTING -i veth6 -m comment --comment "mcpsim-netdelay-4205" -j NFQUEUE --queue-num 4205 --queue-bypass
-A KUBE-SVC -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns" -j KUBE-SEP
`
	if err := os.WriteFile(filepath.Join(f.state, "rules"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	// Before the delay directory exists: the rules' queues alone.
	out, err := f.sh(leftQueuesScript(f.files))
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, err := leftQueues(out); err != nil || !slices.Equal(got, []int{4203, 4205}) {
		t.Fatalf("queues %v (%v) from\n%s\nwant [4203 4205]", got, err, out)
	}
	if err := os.MkdirAll(f.files.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"4200.pid", "4200.out", "4201.hold", "4203.pid", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(f.files.dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err = f.sh(leftQueuesScript(f.files))
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, err := leftQueues(out); err != nil || !slices.Equal(got, []int{4200, 4201, 4203, 4205}) {
		t.Fatalf("queues %v (%v) from\n%s\nwant [4200 4201 4203 4205]", got, err, out)
	}
	// Rules that cannot be read are an error, not a node without delays.
	f.env = append(f.env, "PATH=/nonexistent")
	if out, err := f.sh(leftQueuesScript(f.files)); err == nil {
		t.Errorf("no iptables-save, yet the listing succeeded: %q", out)
	}
	if _, err := leftQueues("4200\nmcpsim\n"); err == nil {
		t.Error("leftQueues took a word for a queue number")
	}
}
