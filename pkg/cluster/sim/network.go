package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/internal/netem"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// NetworkChaos, as Chaos Mesh applies it (controllers/chaosimpl/
// networkchaos). The selector and mode pick the source pods; target (a
// selector with its own mode) the pods on the other side, or, when it is
// absent, every peer, inside the cluster or not (the load client, the
// kubelet's probes). A packet from X to Y is affected when
//
//	direction to (the default): X is a source and Y a target;
//	direction from:             X is a target and Y a source;
//	direction both:             either.
//
// delay and loss are a netem qdisc on the sending pod's interface (tc
// qdisc ... netem delay LATENCY JITTER CORR loss PCT CORR, built by the
// chaos daemon's convertNetemToArgs); partition is an iptables DROP rule
// in the pods' OUTPUT and INPUT chains. The sim's unit is the message: a
// call's request and its response each cross the network once, so a
// delay on a callee's pods slows every call to them by its latency once
// (the response), a delay on both ends twice, and a delay on the entry
// service's pods slows what the load client gets.
//
// netem's numbers (jitter, correlation, loss) are package netem's, the
// same as the kind backend's delayer uses: each sending pod's qdisc has
// its own correlation state.
//
// A lost message costs TCP's retransmission time: a request or response
// of the reference services fits in one segment, so no duplicate ACKs
// can trigger a fast retransmit and the retransmission timer fires. On a
// low-latency network its timeout is TCP_RTO_MIN, 200ms
// (include/net/tcp.h: TCP_RTO_MIN = HZ/5), doubled for each consecutive
// loss of the same segment (tcp_retransmit_timer: icsk_rto << 1, up to
// TCP_RTO_MAX, 120s). k losses in a row cost 200ms·(2^k − 1); with
// independent losses of probability p the mean is 200ms·p/(1 − 2p), about
// p·200ms when p is small. The caller's timeout still applies: it ends a
// call whose message is still being retransmitted.
//
// A partition drops the packets: a call across it hangs until its
// caller's timeout (TCP needs both directions, so the request being lost
// or its answer, it is the same to the caller).
//
// Chaos Mesh resolves the pods when the fault starts; pods created later
// are not affected. While no NetworkChaos is in force the request path
// does not look at any of this (world.netFaults is empty).

const (
	tcpRTOMin   = 200 * time.Millisecond
	tcpRTOMax   = 120 * time.Second
	tcpRetries2 = 15 // net.ipv4.tcp_retries2: then the connection is dropped
)

// netFault is one NetworkChaos in force.
type netFault struct {
	src map[*pod]bool
	dst map[*pod]bool // nil: any peer
	// to: packets from src to dst; from: from dst to src
	to, from  bool
	partition bool

	latency, jitter time.Duration
	delayCorr       float64 // 0..1
	loss, lossCorr  float64 // 0..1
	rng             *rand.Rand
	// netem's correlation state (the last random number) of each sending
	// pod's qdisc
	delayLast, lossLast map[*pod]float64
}

// matches reports whether a packet from → to crosses the fault; nil is a
// peer outside the pods (the load client, the kubelet).
func (nf *netFault) matches(from, to *pod) bool {
	peer := func(p *pod) bool { return nf.dst == nil || (p != nil && nf.dst[p]) }
	return (nf.to && from != nil && nf.src[from] && peer(to)) ||
		(nf.from && to != nil && nf.src[to] && peer(from))
}

// crandom is netem's correlated random number of sender's qdisc.
func (nf *netFault) crandom(last map[*pod]float64, sender *pod, rho float64) float64 {
	u := nf.rng.Float64()
	if rho == 0 {
		return u
	}
	prev, ok := last[sender]
	if !ok {
		prev = nf.rng.Float64() // init_crandom starts from a random value
	}
	u = netem.Correlate(u, prev, rho)
	last[sender] = u
	return u
}

// cost is what the fault does to one message sent by sender: the time it
// adds, or lost when it never arrives.
func (nf *netFault) cost(sender *pod) (d time.Duration, lost bool) {
	if nf.partition {
		return 0, true
	}
	if nf.loss > 0 {
		rto := tcpRTOMin
		for k := 0; ; k++ {
			if !netem.Lost(nf.crandom(nf.lossLast, sender, nf.lossCorr), nf.loss) {
				break
			}
			if k == tcpRetries2 {
				return 0, true
			}
			d += rto
			rto = min(2*rto, tcpRTOMax)
		}
	}
	if nf.latency > 0 || nf.jitter > 0 {
		delay := nf.latency
		if nf.jitter > 0 {
			delay = netem.Jitter(nf.latency, nf.jitter, nf.crandom(nf.delayLast, sender, nf.delayCorr))
		}
		d += max(delay, 0)
	}
	return d, false
}

// netEffect is what the network faults in force do to a message from →
// to (nil: outside the pods). Call it only while w.netFaults is not
// empty.
func (w *world) netEffect(from, to *pod) (d time.Duration, lost bool) {
	for _, nf := range w.netFaults {
		if !nf.matches(from, to) {
			continue
		}
		// The qdisc of the sending pod; a packet from outside (matched by
		// a partition's INPUT rule only) has none.
		c, l := nf.cost(from)
		if l {
			return 0, true
		}
		d += c
	}
	return d, false
}

// callerOf is the pod that sent hop h: its parent's, nil for the load
// client's requests and the kubelet's probes.
func (w *world) callerOf(h *hop) *pod {
	if h.probe != probeNone || h.parent.idx < 0 {
		return nil
	}
	return w.hops[h.parent.idx].pod
}

// holdRequest applies the network faults to hop i's request on its way
// to p: it reports false when they do nothing to it, else it holds it
// until it arrives (reach) or loses it (it then ends at its caller's
// deadline).
func (w *world) holdRequest(i int32, p *pod) bool {
	h := &w.hops[i]
	d, lost := w.netEffect(w.callerOf(h), p)
	switch {
	case lost:
		h.pod, h.state = p, hopLost
		return true
	case d == 0:
		return false
	}
	h.pod, h.state = p, hopHeld
	w.events.pushHeld(w.now+d, w.ref(i))
	return true
}

// holdReply applies the network faults to the answer o of hop i on its
// way back to its caller: it reports false when they do nothing to it,
// else the hop's caller gets it later (or never: its deadline ends it).
// Only answers of the pod's application cross the network here; errors
// such as a refused connection are the caller's own.
func (w *world) holdReply(i int32, o outcome) bool {
	h := &w.hops[i]
	if (h.state != hopWorking && h.state != hopCalling) || (o != outcomeOK && o != outcomeBadGateway) {
		return false
	}
	d, lost := w.netEffect(h.pod, w.callerOf(h))
	if !lost && d == 0 {
		return false
	}
	w.stopHop(i) // its own work is done; calls still in flight are abandoned
	h = &w.hops[i]
	if lost {
		h.state = hopLost
		return true
	}
	h.state, h.reply = hopReplying, o
	w.events.pushHeld(w.now+d, w.ref(i))
	return true
}

// released is the end of held hop r's delay in the network: its request
// reaches its pod, or its answer its caller (unless it is over by then).
func (w *world) released(r hopRef) {
	hh, ok := w.live(r)
	switch {
	case !ok:
	case hh.state == hopHeld:
		w.reach(r.idx, hh.pod)
	case hh.state == hopReplying:
		w.finishHop(r.idx, hh.reply)
	}
}

var networkActionsModelled = []string{string(chaosv1alpha1.DelayAction), string(chaosv1alpha1.LossAction), string(chaosv1alpha1.NetemAction), string(chaosv1alpha1.PartitionAction)}

// checkNetworkChaos refuses what the sim does not model.
func checkNetworkChaos(f *scenario.Fault, p *field.Path) error {
	s := &f.NetworkChaos.Spec
	sp := p.Child("spec")
	no := func(set bool, path *field.Path, what string) error {
		if set {
			return field.Forbidden(path, what+" is not modelled by the sim (on kind it runs as the real Chaos Mesh object)")
		}
		return nil
	}
	switch s.Action {
	case chaosv1alpha1.DelayAction, chaosv1alpha1.LossAction, chaosv1alpha1.NetemAction, chaosv1alpha1.PartitionAction:
	default:
		return field.NotSupported(sp.Child("action"), s.Action, networkActionsModelled)
	}
	for _, c := range []error{
		no(s.Bandwidth != nil, sp.Child("bandwidth"), "bandwidth limiting"),
		no(s.Rate != nil, sp.Child("rate"), "rate limiting"),
		no(s.Duplicate != nil, sp.Child("duplicate"), "packet duplication"),
		no(s.Corrupt != nil, sp.Child("corrupt"), "packet corruption"),
		no(s.Delay != nil && s.Delay.Reorder != nil, sp.Child("delay", "reorder"), "reordering"),
		no(len(s.ExternalTargets) > 0, sp.Child("externalTargets"), "traffic to outside the cluster"),
		no(s.Device != "", sp.Child("device"), "choosing a device"),
		no(s.TargetDevice != "", sp.Child("targetDevice"), "choosing a device"),
		no(s.RemoteCluster != "", sp.Child("remoteCluster"), "a remote cluster"),
		no(s.PartitionBehavior == chaosv1alpha1.RejectPartitionBehavior, sp.Child("partitionBehavior"), "partitionBehavior reject"),
	} {
		if c != nil {
			return c
		}
	}
	return nil
}

func (w *world) injectNetworkChaos(f *scenario.Fault) ([]string, func() faults.Recovery, error) {
	nc := f.NetworkChaos
	s := &nc.Spec
	src, err := w.selectPods(s.PodSelector, nc.Namespace)
	if err != nil {
		return nil, nil, err
	}
	var dst []*pod
	if s.Target != nil {
		if dst, err = w.selectPods(*s.Target, nc.Namespace); err != nil {
			return nil, nil, err
		}
	}
	nf := &netFault{src: map[*pod]bool{}, partition: s.Action == chaosv1alpha1.PartitionAction,
		to:   s.Direction != chaosv1alpha1.From,
		from: s.Direction == chaosv1alpha1.From || s.Direction == chaosv1alpha1.Both,
		// Its own PRNG, so that the messages it affects draw nothing from
		// the world's.
		rng:       rand.New(rand.NewPCG(w.rng.Uint64(), w.rng.Uint64())),
		delayLast: map[*pod]float64{}, lossLast: map[*pod]float64{},
	}
	if !nf.partition {
		n := scenario.NetemOf(s)
		nf.latency, nf.jitter = n.Latency, n.Jitter
		nf.delayCorr, nf.loss, nf.lossCorr = n.Correlation/100, n.Loss/100, n.LossCorrelation/100
	}
	names := podNames(src)
	for _, p := range src {
		nf.src[p] = true
	}
	if s.Target != nil {
		nf.dst = map[*pod]bool{}
		for _, p := range dst {
			nf.dst[p] = true
			if !nf.src[p] {
				names = append(names, p.name)
			}
		}
	}
	act := func() faults.Recovery {
		w.netFaults = append(w.netFaults, nf)
		return func() {
			w.netFaults = slices.DeleteFunc(w.netFaults, func(x *netFault) bool { return x == nf })
		}
	}
	return names, act, nil
}
