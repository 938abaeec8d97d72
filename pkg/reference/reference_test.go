package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// TestBreakerFollowsGobreaker replays sequences of requests against the
// breaker and checks each step against sony/gobreaker's documented
// behaviour (Settings docs and its state machine): ReadyToTrip's default
// is ConsecutiveFailures > 5, the open state lasts Timeout and ends only
// when expiry is before now, half-open lets MaxRequests requests through
// and closes after MaxRequests consecutive successes, any half-open
// failure reopens, and outcomes of an older generation are ignored.
func TestBreakerFollowsGobreaker(t *testing.T) {
	// Steps: "a" Allow must pass, "r" Allow must be rejected, "s"/"f"/"x"
	// report success/failure/exclusion of the oldest allowed request still
	// outstanding, "+D" advances the clock, "=S" checks the state.
	cases := []struct {
		name   string
		policy BreakerPolicy
		steps  string
	}{
		{"five failures do not trip, the sixth does", DefaultBreakerPolicy,
			"af af af af af =closed af =open r"},
		{"a success resets the consecutive count", DefaultBreakerPolicy,
			"af af af af af as af af af af af =closed af =open"},
		{"open for exactly OpenFor still rejects; just after, half-open", DefaultBreakerPolicy,
			"af af af af af af =open +10s r +1ns =half-open a r"},
		{"a half-open success closes", DefaultBreakerPolicy,
			"af af af af af af +11s as =closed a a a"},
		{"a half-open failure reopens for another OpenFor", DefaultBreakerPolicy,
			"af af af af af af +11s af =open +10s r +1ns a"},
		{"MaxRequests trials, closing after as many successes",
			BreakerPolicy{ConsecutiveFailures: 0, OpenFor: time.Second, HalfOpenRequests: 3},
			"af =open +2s a a a r s s =half-open s =closed"},
		{"results from before the breaker opened are ignored", BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenRequests: 1},
			"a a a f f =open s =open +2s a s =closed"},
		{"exclusions count for nothing, and free a half-open slot", BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenRequests: 1},
			"ax ax ax ax af af =open +2s a r x a s =closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0)}
			var changes []string
			b := NewBreaker(c.policy, clk, func(from, to BreakerState, _ time.Time) { changes = append(changes, from.String()+">"+to.String()) })
			var outstanding []Ticket
			for i, tok := range strings.Fields(c.steps) {
				for len(tok) > 0 {
					step := tok
					switch tok[0] {
					case '+', '=':
						tok = ""
					default:
						step, tok = tok[:1], tok[1:]
					}
					switch step[0] {
					case 'a', 'r':
						tk, err := b.Allow()
						if (err == nil) != (step[0] == 'a') {
							t.Fatalf("step %d %q: Allow() = %v in state %v (changes %v)", i, step, err, b.State(), changes)
						}
						if err == nil {
							outstanding = append(outstanding, tk)
						}
					case 's', 'f', 'x':
						o := map[byte]Outcome{'s': Success, 'f': Failure, 'x': Excluded}[step[0]]
						b.Done(outstanding[0], o)
						outstanding = outstanding[1:]
					case '+':
						d, _ := time.ParseDuration(step[1:])
						clk.t = clk.t.Add(d)
					case '=':
						if got := b.State().String(); got != step[1:] {
							t.Fatalf("step %d: state %s, want %s (changes %v)", i, got, step[1:], changes)
						}
					}
				}
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func newService(t *testing.T, cfg ServiceConfig, opts Options) *Service {
	t.Helper()
	svc, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	svc.SetReady(true)
	return svc
}

func call(name, url string, threshold uint32) CallConfig {
	return CallConfig{Service: name, URL: url, Timeout: Duration(time.Second), Fallback: "static",
		Breaker: BreakerPolicy{ConsecutiveFailures: threshold, OpenFor: time.Hour, HalfOpenRequests: 1}}
}

func TestGatewayFansOutAndFallsBack(t *testing.T) {
	var backends []*httptest.Server
	var calls []CallConfig
	for _, role := range []string{"user", "order", "payment"} {
		svc := newService(t, ServiceConfig{Role: role, Work: WorkConfig{CPU: Duration(time.Millisecond)}}, Options{})
		srv := httptest.NewServer(svc.Handler())
		backends = append(backends, srv)
		calls = append(calls, call(role, srv.URL, 1))
	}
	gw := newService(t, ServiceConfig{Role: "gateway", Calls: calls}, Options{})
	front := httptest.NewServer(gw.Handler())
	defer front.Close()

	code, body := get(t, front.URL+"/")
	var r Response
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || r.Degraded || r.Downstreams["payment"] != "ok" {
		t.Fatalf("healthy fan-out: %d %s", code, body)
	}
	// Payment goes away: its calls fail, the breaker opens after more than
	// 1 consecutive failure (the 2nd), and the gateway keeps answering
	// with a fallback, marked degraded.
	backends[2].Close()
	for i := 0; i < 3; i++ {
		resp, err := http.Get(front.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"payment":"fallback"`) || resp.Header.Get(DegradedHeader) != "true" {
			t.Fatalf("degraded answer %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if st, _ := gw.BreakerState("payment"); st != Open {
		t.Fatalf("payment breaker %v, want open", st)
	}
	if st, _ := gw.BreakerState("user"); st != Closed {
		t.Fatalf("user breaker %v, want closed", st)
	}
	_, metrics := get(t, front.URL+"/metrics")
	for _, want := range []string{`mcp_requests_total{code="200",outcome="degraded",role="gateway",service="gateway"} 3`,
		`mcp_downstream_fallbacks_total{downstream="payment",role="gateway",service="gateway"} 3`,
		`mcp_circuit_breaker_state{downstream="payment",role="gateway",service="gateway"} 1`, "mcp_request_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, b := range backends[:2] {
		b.Close()
	}
}

func TestNoFallbackFailsTheRequest(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer dead.Close()
	c := call("payment", dead.URL, 5)
	c.Fallback = "none"
	gw := newService(t, ServiceConfig{Role: "gateway", Calls: []CallConfig{c}}, Options{})
	front := httptest.NewServer(gw.Handler())
	defer front.Close()
	if code, body := get(t, front.URL+"/"); code != http.StatusBadGateway || !strings.Contains(body, "payment") {
		t.Fatalf("want 502 naming payment, got %d %s", code, body)
	}
}

// slowDownstream answers after d unless its client goes away first.
func slowDownstream(d time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			fmt.Fprintln(w, "ok")
		case <-r.Context().Done():
		}
	}))
}

// TestImpatientClientsDoNotOpenTheBreaker reproduces the audit's finding:
// clients that give up after 20ms on a healthy 50ms downstream must not
// count as downstream failures (gobreaker's IsExcluded for
// context.Canceled).
func TestImpatientClientsDoNotOpenTheBreaker(t *testing.T) {
	down := slowDownstream(50 * time.Millisecond)
	defer down.Close()
	gw := newService(t, ServiceConfig{Role: "gateway", Calls: []CallConfig{call("payment", down.URL, 5)}}, Options{})
	front := httptest.NewServer(gw.Handler())
	defer front.Close()
	impatient := &http.Client{Timeout: 20 * time.Millisecond}
	for i := 0; i < 10; i++ {
		if resp, err := impatient.Get(front.URL + "/"); err == nil {
			resp.Body.Close()
			t.Fatalf("request %d answered within 20ms; the downstream takes 50ms", i)
		}
	}
	if st, _ := gw.BreakerState("payment"); st != Closed {
		t.Fatalf("breaker %v after 10 impatient clients, want closed", st)
	}
	code, body := get(t, front.URL+"/")
	if code != 200 || !strings.Contains(body, `"payment":"ok"`) {
		t.Fatalf("a patient client got %d %s", code, body)
	}
}

// TestDownstreamConnectionsAreReused: the gateway drains each answer so
// that its transport keeps the connection, and closes it after
// callsPerConn (4) calls so that kube-proxy picks a new endpoint: 50
// sequential calls need ceil(50 / 4) = 13 connections (calls 1-4 on the
// first, ..., 49-50 on the 13th), not 50 (a body left unread) nor 1.
func TestDownstreamConnectionsAreReused(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	down := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, strings.Repeat("x", 4096)) // a body that must be read
	}))
	down.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	down.Start()
	defer down.Close()
	gw := newService(t, ServiceConfig{Role: "gateway", Calls: []CallConfig{call("user", down.URL, 5)}}, Options{})
	front := httptest.NewServer(gw.Handler())
	defer front.Close()
	for i := 0; i < 50; i++ {
		if code, _ := get(t, front.URL+"/"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 13 {
		t.Fatalf("50 sequential downstream calls opened %d connections, want 13 (4 calls each)", conns)
	}
}

func TestCPUKnobOnlyOnTheAdminPath(t *testing.T) {
	plain := httptest.NewServer(newService(t, ServiceConfig{Role: "user"}, Options{}).Handler())
	defer plain.Close()
	for _, c := range []struct{ method, path string }{{"POST", "/healthz"}, {"POST", "/admin/cpu?d=1ms"}, {"GET", "/anything"}} {
		req, _ := http.NewRequest(c.method, plain.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("%s %s answered 200 without the admin knob", c.method, c.path)
		}
	}
	admin := httptest.NewServer(newService(t, ServiceConfig{Role: "user"}, Options{AdminCPU: true}).Handler())
	defer admin.Close()
	resp, err := http.Post(admin.URL+"/admin/cpu?d=1ms", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin knob enabled: %d", resp.StatusCode)
	}
}

func TestBurnStopsWhenTheClientGoesAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := burn(ctx, 10*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("burn = %v, want the context's error", err)
	}
}

func TestReadiness(t *testing.T) {
	svc, _ := New(ServiceConfig{Role: "order"}, Options{})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	if code, _ := get(t, srv.URL+"/readyz"); code != 503 {
		t.Fatalf("ready before start: %d", code)
	}
	svc.SetReady(true)
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Fatalf("not ready after start: %d", code)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if _, err := New(ServiceConfig{Role: "cache"}, Options{}); err == nil {
		t.Fatal("unknown role accepted")
	}
}

// TestTimeBudgetReachesTheDownstream: a client that will wait 100ms says
// so; the gateway's call to a hung downstream (call timeout 1s) carries
// the remaining budget, and the downstream sees at most 100ms.
func TestTimeBudgetReachesTheDownstream(t *testing.T) {
	budgets := make(chan string, 1)
	// The handler never blocks on the channel: a call that arrives with
	// nobody reading (the 20ms budgets below, on a loaded machine, may
	// run out before or after the call is made) would hold hung.Close
	// forever.
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case budgets <- r.Header.Get(TimeoutHeader):
		default:
		}
		<-r.Context().Done()
	}))
	defer hung.Close()
	gw := newService(t, ServiceConfig{Role: "gateway", Calls: []CallConfig{call("payment", hung.URL, 5)}}, Options{})
	front := httptest.NewServer(gw.Handler())
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	req.Header.Set(TimeoutHeader, "100ms")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(DegradedHeader) != "true" {
		t.Fatalf("got %d (degraded %q), want a degraded answer", resp.StatusCode, resp.Header.Get(DegradedHeader))
	}
	var budget string
	select {
	case budget = <-budgets:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the downstream")
	}
	d, err := time.ParseDuration(budget)
	if err != nil || d <= 0 || d > 100*time.Millisecond {
		t.Fatalf("downstream budget %v (%v), want at most the client's 100ms", d, err)
	}
	// Running out of the client's budget is the downstream's failure, not
	// an exclusion: with threshold 5, the 6th such call opens the breaker.
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Header.Set(TimeoutHeader, "20ms")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Whether the call got out before its 20ms ran out or not, it
		// failed: drain what arrived without waiting for it.
		select {
		case <-budgets:
		default:
		}
	}
	if st, _ := gw.BreakerState("payment"); st != Open {
		t.Fatalf("breaker %v after 6 calls that ran out of budget, want open", st)
	}
	for _, bad := range []string{"soon", "-1s", "1h"} {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Header.Set(TimeoutHeader, bad)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %q → %d, want 400", TimeoutHeader, bad, resp.StatusCode)
		}
	}
}

// TestHangHoldsEverythingButAdmin: after POST /admin/hang, a request and
// /healthz get no answer within 200ms (each client gives up), the port
// stays open (the connection is accepted), and DELETE /admin/hang, which
// is not held, lets the next ones through. A hang with for=100ms ends by
// itself.
func TestHangHoldsEverythingButAdmin(t *testing.T) {
	svc := httptest.NewServer(newService(t, ServiceConfig{Role: "user"}, Options{AdminHang: true}).Handler())
	defer svc.Close()
	do := func(method, path string, timeout time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, svc.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := do("POST", "/admin/hang", time.Second); err != nil || code != 200 {
		t.Fatalf("hang: %d %v", code, err)
	}
	for _, path := range []string{"/", "/healthz", "/readyz"} {
		if code, err := do("GET", path, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GET %s while hung: %d %v, want no answer before the client's deadline", path, code, err)
		}
	}
	if code, err := do("DELETE", "/admin/hang", time.Second); err != nil || code != 200 {
		t.Fatalf("unhang: %d %v", code, err)
	}
	if code, err := do("GET", "/healthz", time.Second); err != nil || code != 200 {
		t.Fatalf("healthz after the hang: %d %v", code, err)
	}
	// The hang begins after start (when the server takes the POST), so
	// the answer cannot come before start + 100ms, however slow the
	// machine: a lower bound that follows from causality, not timing.
	start := time.Now()
	if code, _ := do("POST", "/admin/hang?for=100ms", time.Second); code != 200 {
		t.Fatal("timed hang refused")
	}
	if code, err := do("GET", "/healthz", 5*time.Second); err != nil || code != 200 || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("healthz during a 100ms hang: %d %v after %v, want an answer once it ends", code, err, time.Since(start))
	}
	if code, _ := do("POST", "/admin/hang?for=-1s", time.Second); code != 400 {
		t.Fatalf("negative hang: %d, want 400", code)
	}
}
