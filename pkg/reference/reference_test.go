package reference

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	b := NewBreaker(3, 10*time.Second, clk)
	for i := 0; i < 2; i++ {
		b.Allow()
		b.Record(false)
	}
	if b.State() != Closed || !b.Allow() {
		t.Fatal("opened before the threshold")
	}
	b.Record(false)
	if b.State() != Open || b.Allow() {
		t.Fatal("not open after 3 consecutive failures")
	}
	clk.t = clk.t.Add(9 * time.Second)
	if b.Allow() {
		t.Fatal("allowed during the cooldown")
	}
	clk.t = clk.t.Add(time.Second)
	if !b.Allow() || b.State() != HalfOpen {
		t.Fatal("no trial after the cooldown")
	}
	if b.Allow() {
		t.Fatal("a second request during the half-open trial")
	}
	b.Record(false)
	if b.State() != Open {
		t.Fatal("a failed trial must reopen")
	}
	clk.t = clk.t.Add(10 * time.Second)
	b.Allow()
	b.Record(true)
	if b.State() != Closed || !b.Allow() {
		t.Fatal("a successful trial must close")
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

func TestGatewayFansOutAndFallsBack(t *testing.T) {
	var backends []*httptest.Server
	urls := map[string]string{}
	for _, role := range []string{"user", "order", "payment"} {
		svc, err := New(Config{Role: role})
		if err != nil {
			t.Fatal(err)
		}
		svc.SetReady(true)
		srv := httptest.NewServer(svc.Handler())
		backends = append(backends, srv)
		urls[role] = srv.URL
	}
	gw, err := New(Config{Role: "gateway", Downstreams: urls, BreakerThreshold: 2, BreakerCooldown: time.Hour, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReady(true)
	front := httptest.NewServer(gw.Handler())
	defer front.Close()

	code, body := get(t, front.URL+"/?cpu=1ms")
	var r response
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != 200 || r.Degraded || r.Downstreams["payment"] != "ok" {
		t.Fatalf("healthy fan-out: %d %s", code, body)
	}
	// Payment goes away: its calls fail, the breaker opens after 2, and the
	// gateway keeps answering with a fallback.
	backends[2].Close()
	for i := 0; i < 3; i++ {
		code, body = get(t, front.URL+"/")
		if code != 200 || !strings.Contains(body, `"payment":"fallback"`) {
			t.Fatalf("degraded answer %d: %d %s", i, code, body)
		}
	}
	if st, _ := gw.BreakerState("payment"); st != Open {
		t.Fatalf("payment breaker %v, want open", st)
	}
	if st, _ := gw.BreakerState("user"); st != Closed {
		t.Fatalf("user breaker %v, want closed", st)
	}
	_, metrics := get(t, front.URL+"/metrics")
	for _, want := range []string{`mcp_requests_total{code="200",role="gateway"} 4`, `mcp_downstream_fallbacks_total{downstream="payment",role="gateway"} 3`, "mcp_request_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, b := range backends[:2] {
		b.Close()
	}
}

func TestReadiness(t *testing.T) {
	svc, _ := New(Config{Role: "order"})
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
	if _, err := New(Config{Role: "cache"}); err == nil {
		t.Fatal("unknown role accepted")
	}
}
