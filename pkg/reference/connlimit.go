package reference

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimiter bounds a server's open connections. Unlike
// golang.org/x/net/netutil.LimitListener, which blocks Accept once the
// limit is reached (so a flood of idle keep-alive connections would lock
// out the kubelet's probes and Kubernetes would kill a healthy pod), it
// makes room by closing the longest-idle connection: idle connections
// and connections that have sent nothing for newGrace are cheap to drop,
// active requests are never cut, and the slots they hold are bounded by
// the server's timeouts.
//
// A connection the server has just accepted is new until its goroutine
// reads the request, and on an overloaded pod that goroutine waits its
// turn behind every request in flight (the sim's processor sharing: a
// second and more in overload-flapping). Closing it then would turn a
// request the sim queues into an error; so a new connection is only a
// victim once it has been silent for newGrace.
type connLimiter struct {
	net.Listener
	max      int
	newGrace time.Duration

	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

// newConnGrace is how long a new connection may stay silent before it may
// be closed to make room. A silent client is the server's to close: its
// readHeaderTimeout (5s) runs from when the connection's goroutine first
// reads. A connection still new after that has a goroutine that has not
// run yet: a request waiting for its turn on an overloaded pod, which may
// take seconds where the pod gets less than its quota (overload-flapping
// on kind had 2% of its requests end in EOF with 3s here, the likely
// cause). 10s leaves those to the sim's model, and the limiter to idle
// connections.
const newConnGrace = 10 * time.Second

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: max, newGrace: newConnGrace, conns: map[net.Conn]connInfo{}}
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	var victim net.Conn
	if len(l.conns) >= l.max {
		var oldest time.Time
		now := time.Now()
		for vc, info := range l.conns {
			switch {
			case info.state == http.StateIdle:
			case info.state == http.StateNew && now.Sub(info.since) >= l.newGrace:
			default:
				continue
			}
			if victim == nil || info.since.Before(oldest) {
				victim, oldest = vc, info.since
			}
		}
	}
	if victim != nil {
		// Forget it now, so that the next Accept picks another one before
		// the server's goroutine has noticed the close.
		delete(l.conns, victim)
	}
	l.mu.Unlock()
	if victim != nil {
		victim.Close()
	}
	return c, nil
}

// track is the server's ConnState hook.
func (l *connLimiter) track(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	case http.StateNew:
		l.conns[c] = connInfo{state: st, since: time.Now()}
	default:
		if _, ok := l.conns[c]; ok { // not evicted
			l.conns[c] = connInfo{state: st, since: time.Now()}
		}
	}
}

// open is the number of connections tracked.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
