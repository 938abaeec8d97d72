package sim

// With load.keepAlive the client keeps its connections to the entry
// service and reuses them, and kube-proxy (iptables mode) picks an
// endpoint per connection, when it is opened: conntrack keeps every later
// packet of it on that pod, even after the pod has left the endpoints.
// So a request goes to the pod of the connection it is sent on:
//
//   - Go's http.Transport, under Vegeta, takes the most recently used idle
//     connection first (its idle list is a stack); with none idle it opens
//     one, and kube-proxy picks an endpoint at random (none: refused).
//   - A connection survives any HTTP answer (a 502 included) and goes back
//     on the stack. It dies with an error: a timeout (the client closes
//     it), a reset, a refusal.
//   - An idle connection whose pod's process ended (killed, restarted,
//     replaced by pause, drained after deletion) was closed by that pod's
//     kernel; the transport notices and drops it, silently. A machine that
//     stopped (NodeOutage) or a hung process (PodHang) closes nothing: the
//     request sent on it hangs until the client's timeout.
//
// So a dead or hung pod costs about one failed request per connection it
// held, where per-request balancing (keepAlive false, a new connection
// per request) sends it its share of every request until it leaves the
// endpoints.

// clientConn is an idle keep-alive connection: the pod it is pinned to,
// and the life of the pod's container it was opened to.
type clientConn struct {
	pod  *pod
	life int
}

// open reports whether the connection is still open as the client sees
// it: its pod's process (the same life of it) is there, or its machine
// stopped, which closes nothing.
func (c clientConn) open() bool {
	p := c.pod
	if p.node != nil && p.node.down {
		return true
	}
	return !p.gone && !p.deleting && !p.appDown && p.life == c.life
}

// takeConn gives the pod an entry request is sent to, on the most recently
// used open connection or on a new one; nil if there is no endpoint to
// connect to.
func (w *world) takeConn(i int32) *pod {
	for n := len(w.idleConns); n > 0; n = len(w.idleConns) {
		c := w.idleConns[n-1]
		w.idleConns = w.idleConns[:n-1]
		if c.open() {
			w.hops[i].connLife = int32(c.life)
			return c.pod
		}
	}
	lb := w.entry.lb
	if len(lb) == 0 {
		return nil
	}
	p := lb[w.rng.IntN(len(lb))]
	w.hops[i].connLife = int32(p.life)
	return p
}

// putConn returns the connection of a finished entry request to the idle
// stack, unless the request failed without an answer (the connection is
// closed) or the connection's pod went meanwhile.
func (w *world) putConn(p *pod, life int32, o outcome) {
	if p == nil || o.err() != "" {
		return
	}
	if c := (clientConn{pod: p, life: int(life)}); c.open() {
		w.idleConns = append(w.idleConns, c)
	}
}
