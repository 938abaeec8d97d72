package kube

import (
	"errors"
	"testing"

	"github.com/mcpsim/mcpsim/pkg/cluster"
)

func TestBreakerStatesFromMetrics(t *testing.T) {
	page := []byte(`# HELP mcp_circuit_breaker_state Circuit breaker state per downstream: 0 closed, 1 open, 2 half-open.
# TYPE mcp_circuit_breaker_state gauge
mcp_circuit_breaker_state{downstream="payment",role="gateway",service="gateway"} 1
mcp_circuit_breaker_state{downstream="user",role="gateway",service="gateway"} 0
mcp_circuit_breaker_state{downstream="order",role="gateway",service="gateway"} 2
# TYPE mcp_requests_in_flight gauge
mcp_requests_in_flight{role="gateway",service="gateway"} 3
`)
	got, err := breakerStates(page)
	if err != nil {
		t.Fatal(err)
	}
	if got["payment"] != "open" || got["user"] != "closed" || got["order"] != "half-open" || len(got) != 3 {
		t.Fatalf("states %v", got)
	}
	if _, err := breakerStates([]byte("mcp_circuit_breaker_state{downstream=\"x\"} 7\n")); err == nil {
		t.Fatal("a state out of range was accepted")
	}
}

func TestLoadGoesToLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		target string
		allow  bool
		ok     bool
	}{
		{"http://127.0.0.1:30080", false, true},
		{"http://127.9.9.9:80", false, true},
		{"http://[::1]:8080", false, true},
		{"http://localhost:8080", false, true},
		{"http://10.0.0.5:80", false, false},
		{"http://192.168.1.10", false, false},
		{"http://example.com", false, false},
		{"http://10.0.0.5:80", true, true},
		{"ftp://127.0.0.1", false, false},
		{"127.0.0.1:80", false, false},
	} {
		err := CheckTarget(c.target, c.allow)
		if (err == nil) != c.ok {
			t.Errorf("%s (allow %v): %v", c.target, c.allow, err)
		}
		if err != nil && !errors.Is(err, cluster.ErrUnsupported) {
			t.Errorf("%s: error is not ErrUnsupported: %v", c.target, err)
		}
	}
}
