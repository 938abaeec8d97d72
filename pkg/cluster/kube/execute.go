package kube

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/loadgen"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// maxWorkers bounds the attack's concurrency whatever the scenario says.
const maxWorkers = 10000

// execute runs the schedule on the wall clock from t0: samples every
// second, the load from its start to its stop, progress reports, the end.
func (b *Backend) execute(ctx context.Context, ns string, plan *cluster.Plan, r *recorder, obs *observer, t0 time.Time) error {
	// Chaos target choice follows the seed, as on the sim (the pods differ,
	// so the same seed need not pick the same pod).
	rng := rand.New(rand.NewPCG(plan.Seed, plan.Seed^0x5eed))
	sc := plan.Scenario
	schedule := plan.Schedule
	if schedule == nil {
		schedule = cluster.Schedule(sc)
	}
	var (
		wg       sync.WaitGroup
		attacker *vegeta.Attacker
	)
	chaos := &chaosObjects{b: b, ns: ns}
	outages := &nodeOutages{b: b}
	delays := &networkDelays{b: b, end: sc.Spec.Duration.Duration}
	// PodHang faults in force: their targets, to end the hang at the
	// fault's end (the namespace's deletion ends it otherwise).
	hung := map[string][]string{}
	defer func() {
		if attacker != nil {
			attacker.Stop()
		}
		wg.Wait()
		// Every lost node comes back and is Ready first: the namespace
		// cannot go before its kubelet confirms the deletion of its pods,
		// and Chaos Mesh must reach whatever of it ran there.
		if err := outages.restoreAll(3 * time.Minute); err != nil {
			r.event(time.Now(), "FaultCleanupFailed", "", err.Error())
			b.logf("%v", err)
		}
		if err := delays.restoreAll(time.Minute); err != nil {
			r.event(time.Now(), "FaultCleanupFailed", "", err.Error())
			b.logf("%v", err)
		}
		// Every Chaos Mesh object goes, recovered, whatever happened.
		if err := chaos.removeAll(); err != nil {
			r.event(time.Now(), "FaultCleanupFailed", "", err.Error())
			b.logf("%v", err)
		}
	}()
	// Workers: enough for the peak rate if every request took the whole
	// client timeout, within a fixed bound.
	timeout := sc.Spec.Load.Timeout.Duration
	workers := uint64(math.Ceil(loadgen.MaxRate(&sc.Spec.Load)*timeout.Seconds())) + 16
	workers = min(workers, maxWorkers)
	startLoad := func() {
		attacker = vegeta.NewAttacker(vegeta.Client(loadClient(timeout, int(workers), sc.Spec.Load.KeepAlive)),
			vegeta.Timeout(timeout), vegeta.Workers(min(workers, 64)), vegeta.MaxWorkers(workers), vegeta.Redirects(vegeta.NoFollow))
		target := strings.TrimRight(b.opts.Target, "/") + "/"
		tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: target})
		results := attacker.Attack(tr, plan.Pacer, plan.LoadDuration, sc.Metadata.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for res := range results {
				r.result(res)
			}
		}()
	}
	var callers []string
	for i := range sc.Spec.Services {
		if len(sc.Spec.Services[i].Calls) > 0 {
			callers = append(callers, sc.Spec.Services[i].Name)
		}
	}
	stopBreakers := newBreakerWatch(b.opts.Client, ns, callers).follow(ctx, obs, r, t0)
	defer stopBreakers()
	cpu := &cpuReader{b: b, ns: ns}
	sampleAt := time.Duration(0)
	progressAt := plan.ProgressEvery
	next := 0
	for {
		// The next thing due: an action or a sample.
		due := sampleAt
		if next < len(schedule) && schedule[next].At < due {
			due = schedule[next].At
		}
		if err := sleepUntil(ctx, t0.Add(due)); err != nil {
			return err
		}
		for next < len(schedule) && schedule[next].At <= due {
			a := schedule[next]
			next++
			switch a.Kind {
			case cluster.LoadStart:
				startLoad()
			case cluster.FaultEnd:
				// A fault ends the way it was injected: its record ends,
				// or its clean-up failure is an event.
				name := a.Fault.Name()
				targets, wasHung := hung[name]
				var err error
				var recovered string
				switch {
				case wasHung:
					err, recovered = b.unhangPods(ctx, ns, targets), "the pods answer again"
					delete(hung, name)
				case a.Fault.NodeOutage != nil:
					err, recovered = outages.restore(ctx, name), "the nodes are back on the network"
				case b.held(a.Fault):
					var seen string
					seen, err = delays.restore(ctx, name)
					recovered = "the pods' packets are no longer held; " + seen
				case b.opts.ChaosMesh && a.Fault.ChaosObject() != nil:
					err, recovered = chaos.remove(name), "the chaos object is deleted and recovered"
				default:
					continue // instantaneous (pod-kill without Chaos Mesh)
				}
				if err != nil {
					r.event(time.Now(), "FaultCleanupFailed", name, err.Error())
				} else {
					r.faultEnded(name, time.Since(t0))
					r.event(time.Now(), "FaultRecovered", name, recovered)
				}
			case cluster.LoadStop:
				if attacker != nil {
					attacker.Stop()
				}
			case cluster.FaultStart:
				at := time.Since(t0)
				var rec timeline.Fault
				switch {
				case a.Fault.NodeOutage != nil:
					rec = outages.inject(ctx, a.Fault, at)
				case a.Fault.PodHang != nil:
					rec = b.injectPodHang(ctx, ns, a.Fault, obs, rng, at)
					hung[rec.Name] = rec.Targets
				case b.held(a.Fault):
					rec = delays.inject(ctx, ns, a.Fault, obs, rng, at)
				case b.opts.ChaosMesh:
					rec = chaos.apply(ctx, a.Fault, at)
				default:
					rec = b.injectPodKill(ctx, ns, a.Fault, obs, rng, at)
				}
				r.fault(rec)
				msg := fmt.Sprintf("%s %s: %s", rec.Kind, rec.Action, strings.Join(rec.Targets, ", "))
				if b.held(a.Fault) {
					msg += " (their packets held by `mcpsim netdelay` on their nodes: " + b.opts.NoNetem + ")"
				}
				kind := "FaultInjected"
				if rec.Error != "" {
					kind, msg = "FaultFailed", rec.Error
				}
				r.event(time.Now(), kind, rec.Name, msg)
			case cluster.End:
				// The last sample at the end, as the sim takes one.
				for _, name := range obs.services {
					r.sample(name, obs.sample(name, a.At, cpu.get(ctx)))
				}
				stopBreakers()
				b.recordOverhead(ctx, ns, sc, obs, r)
				return nil
			}
		}
		if due == sampleAt {
			// Stamped with when they are taken, a little after their
			// second.
			at := time.Since(t0)
			usage := cpu.get(ctx)
			for _, name := range obs.services {
				s := obs.sample(name, at, usage)
				r.sample(name, s)
				if name == sc.Spec.Load.Target && plan.Progress != nil && plan.ProgressEvery > 0 && sampleAt >= progressAt {
					plan.Progress(r.status(sampleAt, s))
					progressAt += plan.ProgressEvery
				}
			}
			sampleAt = nextSample(sampleAt, time.Since(t0))
		}
	}
}

// nextSample is when the sample after the one due at last is due, now
// being the time it took: the next second, or the first one not past
// yet. A slow round (many pods' /metrics to read on a busy host) skips
// samples rather than falls behind the wall clock: behind, every later
// sample would read the cluster later than it says, and hold the
// schedule's actions (the load's stop, faults, the end) back with it.
func nextSample(last, now time.Duration) time.Duration {
	next := last + time.Second
	if next <= now {
		next = now.Truncate(time.Second) + time.Second
	}
	return next
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// loadClient is the load generator's HTTP client: Vegeta's, except for
// how it opens connections (see sourcePorts). keepAlive false opens a
// new connection (so kube-proxy picks a new endpoint) per request, as the
// sim does by default.
func loadClient(timeout time.Duration, conns int, keepAlive bool) *http.Client {
	ka := 30 * time.Second // Vegeta's
	if !keepAlive {
		ka = -1 // no TCP keep-alive probes on one-request connections
	}
	ports := newSourcePorts(timeout, ka)
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext:         ports.dial,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
	}}
}

// sourcePorts opens the load generator's connections, for two reasons
// found on kind (zone-outage), where all the load comes from one host to
// one NodePort:
//
//   - A connection attempt gives up with the request. Vegeta's dialer has
//     no timeout, and Go's transport goes on dialing after the request
//     that asked for the connection is gone: a SYN to a pod on a lost node
//     is retried by the kernel for about two minutes (tcp_syn_retries),
//     each such dial holding one of the connections the transport may
//     open; they took all of them within seconds and every request failed
//     for two minutes, pods on live nodes included.
//   - The source ports are taken in turn over the whole ephemeral range
//     (both parities; the kernel prefers even ones for connect, so half
//     the range): an unanswered SYN leaves a conntrack entry, NATed to the
//     lost pod, on the node that took it, for 120s
//     (nf_conntrack_tcp_timeout_syn_sent); the kernel's choice came back
//     to the same port within about 94s at 150 connections a second, the
//     new SYN met the stale entry and went to the lost pod long after it
//     had left the endpoints (4% of requests failing for 105s). Taking
//     the 28,232 ports in turn reuses one after 188s at that rate; many
//     real clients never meet each other's entries at all.
//
// A port the host is using (EADDRINUSE) is skipped; after 64 in a row the
// kernel chooses.
type sourcePorts struct {
	dialer  net.Dialer
	lo, n   uint32
	counter atomic.Uint32
}

func newSourcePorts(timeout, keepAlive time.Duration) *sourcePorts {
	lo, hi := uint32(32768), uint32(60999) // Linux's default range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var l, h uint32
		if _, err := fmt.Sscan(string(b), &l, &h); err == nil && l > 0 && h > l && h < 65536 {
			lo, hi = l, h
		}
	}
	return &sourcePorts{dialer: net.Dialer{Timeout: timeout, KeepAlive: keepAlive}, lo: lo, n: hi - lo + 1}
}

func (s *sourcePorts) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	for range 64 {
		d := s.dialer
		d.LocalAddr = &net.TCPAddr{Port: int(s.lo + s.counter.Add(1)%s.n)}
		c, err := d.DialContext(ctx, network, addr)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return c, err
		}
	}
	return s.dialer.DialContext(ctx, network, addr)
}
