//go:build e2e && linux

// The end-to-end test of Run against the kernel: two network namespaces
// joined by a veth pair, an NFQUEUE rule on one side, real UDP traffic.
// Needs root, ip and iptables:
//
//	go test -tags e2e -count=1 -run E2E ./pkg/netdelay -v
//
// The traffic stays inside the two namespaces the test creates, and every
// loop is bounded in count and time.
package netdelay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	e2eQueue = 7
	addrA    = "10.99.1.1"
	addrB    = "10.99.1.2"
)

// topology is ns a and ns b, joined by veth pair vethA (in a) – vethB (in
// b). Packets from b arriving on vethA are queued to e2eQueue: in
// PREROUTING, after they cross the veth, where the kind integration puts
// its rule (a pod's host-side veth) and where a held packet stalls no
// sender's socket accounting as it would in OUTPUT.
type topology struct{ a, b, vethA string }

func setUp(t *testing.T) topology {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates network namespaces and binds an NFQUEUE")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH: %v", tool, err)
		}
	}
	id := os.Getpid() % 100000
	top := topology{a: fmt.Sprintf("mcpsim-nd-a-%d", id), b: fmt.Sprintf("mcpsim-nd-b-%d", id), vethA: fmt.Sprintf("ndva%d", id)}
	vethB := fmt.Sprintf("ndvb%d", id)
	for _, ns := range []string{top.a, top.b} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			// Deleting a namespace deletes its end of the veth, its
			// rules and with them the queue binding.
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	sh(t, "ip", "link", "add", top.vethA, "netns", top.a, "type", "veth", "peer", "name", vethB, "netns", top.b)
	sh(t, "ip", "-n", top.a, "addr", "add", addrA+"/24", "dev", top.vethA)
	sh(t, "ip", "-n", top.b, "addr", "add", addrB+"/24", "dev", vethB)
	for _, l := range [][]string{{top.a, "lo"}, {top.a, top.vethA}, {top.b, "lo"}, {top.b, vethB}} {
		sh(t, "ip", "-n", l[0], "link", "set", l[1], "up")
	}
	// --queue-bypass: while no delayer is bound, packets pass undelayed.
	sh(t, "ip", "netns", "exec", top.a, "iptables", "-t", "mangle", "-A", "PREROUTING", "-i", top.vethA,
		"-j", "NFQUEUE", "--queue-num", fmt.Sprint(e2eQueue), "--queue-bypass")
	return top
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on a thread that has entered network namespace ns.
// Sockets fn creates belong to ns for good, so they can then be used from
// any goroutine; Run, which creates its socket first thing, is run whole
// inside fn. The thread stays locked and dies with its goroutine, so no
// other goroutine ever runs in ns. This keeps the test one process,
// calling Run as a library user would, where `ip netns exec` would need a
// helper process and a way to read its stats back.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, on purpose
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// startEcho serves UDP echo on addrA in ns a until the test ends.
func startEcho(t *testing.T, top topology) *net.UDPAddr {
	var conn *net.UDPConn
	err := inNetns(top.a, func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addrA)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return // closed
			}
			_, _ = conn.WriteToUDP(buf[:n], from)
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr)
}

// dial opens a UDP socket in ns b to the echo server.
func dial(t *testing.T, top topology, to *net.UDPAddr) *net.UDPConn {
	var conn *net.UDPConn
	err := inNetns(top.b, func() (err error) {
		conn, err = net.DialUDP("udp4", nil, to)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// delayer is Run in ns a, in the background.
type runningDelayer struct {
	cancel context.CancelFunc
	done   chan struct{}
	stats  Stats
	err    error
}

func startDelayer(t *testing.T, top topology, c Config) *runningDelayer {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r := &runningDelayer{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = inNetns(top.a, func() (err error) {
			r.stats, err = Run(ctx, c)
			return err
		})
	}()
	t.Cleanup(func() { r.stop() })
	waitBound(t, top, r)
	return r
}

func (r *runningDelayer) stop() (Stats, error) {
	r.cancel()
	<-r.done
	return r.stats, r.err
}

// waitBound waits until the kernel lists e2eQueue as bound in ns a
// (/proc/net/netfilter/nfnetlink_queue, read from inside the namespace:
// its first column is the queue number), at most 5 s.
func waitBound(t *testing.T, top topology, r *runningDelayer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("Run returned before binding: %v", r.err)
		default:
		}
		var bound bool
		err := inNetns(top.a, func() error {
			f, err := os.Open("/proc/thread-self/net/netfilter/nfnetlink_queue")
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if fields := strings.Fields(sc.Text()); len(fields) > 0 && fields[0] == fmt.Sprint(e2eQueue) {
					bound = true
				}
			}
			return sc.Err()
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bound {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("queue not bound after 5s")
}

// pingPong sends n requests spaced gap apart, each waiting up to 1 s for
// its echo, and returns the round-trip times of those answered.
func pingPong(t *testing.T, conn *net.UDPConn, n int, gap time.Duration) []time.Duration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 64)
	var rtts []time.Duration
	for i := range n {
		if time.Now().After(deadline) {
			t.Fatalf("ping-pong over 30s after %d requests", i)
		}
		req := binary.BigEndian.AppendUint64(nil, uint64(i))
		start := time.Now()
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(start.Add(time.Second))
		for {
			k, err := conn.Read(buf)
			if err != nil {
				break // timed out: no answer
			}
			if k == 8 && binary.BigEndian.Uint64(buf) == uint64(i) {
				rtts = append(rtts, time.Since(start))
				break
			}
		}
		time.Sleep(gap)
	}
	return rtts
}

// collectEchoes reads numbered echoes on conn until all n have come or a
// read times out (in 10 s, or sooner if the caller moves the deadline),
// and then sends the numbers seen.
func collectEchoes(conn *net.UDPConn, n int) <-chan map[uint64]bool {
	got := make(chan map[uint64]bool, 1)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	go func() {
		seen := map[uint64]bool{}
		buf := make([]byte, 64)
		for len(seen) < n {
			k, err := conn.Read(buf)
			if err != nil {
				break
			}
			if k == 8 {
				seen[binary.BigEndian.Uint64(buf)] = true
			}
		}
		got <- seen
	}()
	return got
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func TestE2EDelay(t *testing.T) {
	top := setUp(t)
	conn := dial(t, top, startEcho(t, top))

	// No delayer bound yet: --queue-bypass lets the packets through.
	base := pingPong(t, conn, 50, 10*time.Millisecond)
	if len(base) != 50 {
		t.Fatalf("%d of 50 answered without a delayer", len(base))
	}
	baseP50 := quantile(base, 0.5)

	r := startDelayer(t, top, Config{Queue: e2eQueue, Latency: 50 * time.Millisecond, MaxLen: DefaultMaxLen, Seed: 1})
	rtts := pingPong(t, conn, 100, 10*time.Millisecond)
	stats, err := r.stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rtts) != 100 {
		t.Fatalf("%d of 100 answered with a 50ms delay and no loss", len(rtts))
	}
	p50, lo, hi := quantile(rtts, 0.5), quantile(rtts, 0), quantile(rtts, 1)
	t.Logf("round trip without delay: p50 %v; with 50ms: min %v p50 %v max %v; added at p50 %v", baseP50, lo, p50, hi, p50-baseP50)
	t.Logf("stats %+v", stats)
	// Only the requests cross the queue (the echoes leave ns a), so the
	// whole 50 ms lands on each round trip, and a packet is never held
	// less than its delay.
	if lo < 50*time.Millisecond {
		t.Errorf("a round trip took %v, less than the 50ms delay", lo)
	}
	if added := p50 - baseP50; added < 50*time.Millisecond-baseP50 || added > 60*time.Millisecond {
		t.Errorf("added round trip at p50 %v, want 50–60ms", added)
	}
	// The 100 requests are the only IPv4 packets b sends a.
	if stats.Seen != 100 || stats.Delayed != 100 || stats.Dropped != 0 || stats.VerdictErrors != 0 {
		t.Errorf("stats %+v, want 100 seen and delayed", stats)
	}

	// Run has handed the queue back: bypassed again, no delay.
	after := pingPong(t, conn, 5, 0)
	if len(after) != 5 || quantile(after, 1) > 20*time.Millisecond {
		t.Errorf("after Run returned: %d of 5 answered, slowest %v", len(after), quantile(after, 1))
	}
}

func TestE2ELoss(t *testing.T) {
	top := setUp(t)
	conn := dial(t, top, startEcho(t, top))
	r := startDelayer(t, top, Config{Queue: e2eQueue, Loss: 0.5, MaxLen: DefaultMaxLen, Seed: 2})

	// Send 400 numbered requests 2 ms apart and collect the echoes until
	// 1 s after the last: a request dropped on the way in is never
	// answered (the echoes are not queued).
	const n = 400
	got := collectEchoes(conn, n)
	for i := range n {
		if _, err := conn.Write(binary.BigEndian.AppendUint64(nil, uint64(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	answered := len(<-got)
	stats, err := r.stop()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	lost := float64(n-answered) / n
	t.Logf("loss 0.5: %d of %d answered, lost %.3f; stats %+v", answered, n, lost, stats)
	// Binomial: sd sqrt(400·0.5·0.5) = 10 packets = 0.025 of 400; ±4 sd
	// is ±0.1.
	if math.Abs(lost-0.5) > 0.1 {
		t.Errorf("lost %.3f, want 0.5 ± 0.1", lost)
	}
	if stats.Seen != n || stats.Dropped != uint64(n-answered) {
		t.Errorf("stats %+v: want %d seen, %d dropped", stats, n, n-answered)
	}
}

// Stopping Run in the middle of traffic loses nothing: the packets it
// holds are accepted early (Flushed), those that come while it lets go
// are accepted by the kernel (queue length 0, fail-open), those after it
// pass by --queue-bypass.
func TestE2EStopLosesNothing(t *testing.T) {
	top := setUp(t)
	conn := dial(t, top, startEcho(t, top))
	r := startDelayer(t, top, Config{Queue: e2eQueue, Latency: 200 * time.Millisecond, MaxLen: DefaultMaxLen, Seed: 3})

	const n = 100
	got := collectEchoes(conn, n)
	var stats Stats
	for i := range n {
		if i == n/2 { // 50 requests in, about 50 held
			var err error
			if stats, err = r.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		}
		if _, err := conn.Write(binary.BigEndian.AppendUint64(nil, uint64(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	answered := len(<-got)
	t.Logf("stopped with requests in flight: %d of %d answered; stats %+v", answered, n, stats)
	if answered != n {
		t.Errorf("%d of %d requests answered", answered, n)
	}
	if stats.Flushed == 0 || stats.Seen != stats.Delayed+stats.Flushed {
		t.Errorf("stats %+v: want packets flushed at stop, and seen = delayed + flushed", stats)
	}
}
