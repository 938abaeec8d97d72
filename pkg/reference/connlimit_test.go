package reference

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestHealthzAnswersUnderConnectionFlood: 300 idle keep-alive connections
// against a limit of 100 must not lock /healthz out; the oldest idle ones
// are closed to make room.
func TestHealthzAnswersUnderConnectionFlood(t *testing.T) {
	svc := newService(t, ServiceConfig{Role: "user"}, Options{MaxConns: 100})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := 0; i < 300; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		flood = append(flood, c)
		// One request, answered, and the connection is kept: idle.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("/healthz under a flood of 300 idle connections: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz %d", resp.StatusCode)
	}
	// The evicted connections are closed by the server's goroutines.
	open := 0
	for i := 0; i < 200; i++ {
		if open = svc.lim.Load().open(); open <= 101 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if open > 101 {
		t.Fatalf("%d connections open, limit 100", open)
	}
}

// TestNewConnectionsAreClosedOnlyOnceSilentForTheGrace: a connection the
// server has accepted but not yet read from may be a request waiting for
// its turn on a busy pod, so the limiter leaves it alone for newGrace; a
// connection silent for longer is made room from.
func TestNewConnectionsAreClosedOnlyOnceSilentForTheGrace(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lim := newConnLimiter(ln, 2)
	lim.newGrace = 300 * time.Millisecond
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	// accept dials one connection and accepts it as the server does.
	accept := func() {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		s, err := lim.Accept()
		if err != nil {
			t.Fatal(err)
		}
		lim.track(s, http.StateNew)
	}
	// closed says whether the server closed the client's connection.
	closed := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	start := time.Now()
	accept()
	accept()
	accept() // over the limit, but both others are young: none closed
	// (Unless this machine took the whole grace to get here.)
	if young := time.Since(start) < lim.newGrace; young {
		if lim.open() != 3 || closed(clients[0]) {
			t.Fatalf("%d connections open, want all 3 (none silent for the grace yet)", lim.open())
		}
	}
	time.Sleep(lim.newGrace)
	accept() // the first is silent past the grace: it makes room
	if !closed(clients[0]) {
		t.Fatalf("the oldest silent connection is still open (%d open)", lim.open())
	}
	if got := lim.open(); got != 3 {
		t.Fatalf("%d connections tracked, want 3", got)
	}
}
