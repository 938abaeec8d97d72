package kind

import (
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// TestRouteDevice reads the pod's host veth from `ip -o route get`: a
// pod on the node is behind a veth (kindnet's host route); an address
// routed out of eth0 is another node's pod, and holding it here would
// hold nothing.
func TestRouteDevice(t *testing.T) {
	for out, want := range map[string]string{
		"10.244.1.5 dev veth1a2b3c4d scope host src 10.244.1.1 uid 0 \\    cache \n": "veth1a2b3c4d",
		"10.244.2.7 via 172.18.0.3 dev eth0 src 172.18.0.4 uid 0 \\    cache \n":     "error: eth0",
		"RTNETLINK answers: Network is unreachable\n":                                "error: no device",
	} {
		got, err := routeDevice(out, "10.244.1.5")
		if strings.HasPrefix(want, "error: ") {
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(want, "error: ")) {
				t.Errorf("%q: %q, %v; want an error naming %s", out, got, err, strings.TrimPrefix(want, "error: "))
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %s", out, got, err, want)
		}
	}
}

// TestQueueBound reads /proc/net/netfilter/nfnetlink_queue: one line a
// bound queue, its number first (the kernel pads it to 5 columns).
func TestQueueBound(t *testing.T) {
	list := " 4200  12345     0 1  65531     0     0        7  1\n 4201  12346     3 1  65531     0     0       12  1\n"
	for q, want := range map[int]bool{4200: true, 4201: true, 4202: false, 42: false} {
		if got := queueBound(list, q); got != want {
			t.Errorf("queue %d bound: %v, want %v", q, got, want)
		}
	}
	if queueBound("", 4200) {
		t.Error("an empty list binds a queue")
	}
}

// TestDelayerArgs: the delayer gets the delay as Chaos Mesh wrote it
// (percentages as percentages) and lives for the fault's time plus the
// grace, so that it lets go by itself should mcpsim be gone.
func TestDelayerArgs(t *testing.T) {
	got := strings.Join(delayerArgs(4203, cluster.PacketDelay{Netem: scenario.Netem{Latency: 200 * time.Millisecond, Jitter: 10 * time.Millisecond, Correlation: 25, Loss: 0.5}, For: time.Minute, Seed: 7}), " ")
	want := "netdelay --queue 4203 --latency 200ms --jitter 10ms --correlation 25 --loss 0.5 --loss-correlation 0 --max-len 65536 --max-runtime 3m0s --seed 7"
	if got != want {
		t.Fatalf("args\n %s\nwant\n %s", got, want)
	}
}

// TestHoldRule: what arrives from the pod's veth goes to the queue, in
// the mangle table before routing, tagged for Undelay and cluster clean,
// and passes when no delayer listens.
func TestHoldRule(t *testing.T) {
	r := holdRule(4200, "veth1a2b3c4d")
	want := "iptables -t mangle PREROUTING -i veth1a2b3c4d -m comment --comment mcpsim-netdelay-4200 -j NFQUEUE --queue-num 4200 --queue-bypass"
	if got := r.cmd + " " + strings.Join(r.spec, " "); got != want {
		t.Fatalf("rule %s, want %s", got, want)
	}
}
