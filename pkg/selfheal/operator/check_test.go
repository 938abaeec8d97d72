package operator

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/reference"
)

func TestHTTPChecker(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
		case "/hang":
			<-release
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	defer close(release)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
		{Name: "metrics", ContainerPort: 1}, {Name: "http", ContainerPort: int32(p)}}}}},
		Status: corev1.PodStatus{PodIP: host}}
	c := NewHTTPChecker()
	for _, tc := range []struct {
		path string
		want bool
	}{{"/healthz", true}, {"/other", false}, {"/hang", false}} {
		if got := c.Check(context.Background(), pod, tc.path, 200*time.Millisecond); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
	}
	if c.Check(context.Background(), &corev1.Pod{}, "/healthz", time.Second) {
		t.Error("a pod without an IP passed")
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ports []corev1.ContainerPort
		want  string
	}{
		{"named http wins", []corev1.ContainerPort{{ContainerPort: 9090}, {Name: "http", ContainerPort: 8080}}, "http://10.1.2.3:8080/healthz"},
		{"else the first TCP port", []corev1.ContainerPort{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {ContainerPort: 9090}}, "http://10.1.2.3:9090/healthz"},
		{"none", nil, ""},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: tc.ports}}}, Status: corev1.PodStatus{PodIP: "10.1.2.3"}}
		got, err := CheckURL(pod, "/healthz")
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestHTTPCheckerReadsBreakers: the breaker states of a real reference
// gateway's /metrics (one call to payment, its breaker closed), and of a
// page that says payment's breaker is open; a page that is not metrics is
// an error.
func TestHTTPCheckerReadsBreakers(t *testing.T) {
	state := "0"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte("# TYPE mcp_circuit_breaker_state gauge\nmcp_circuit_breaker_state{downstream=\"payment\",role=\"gateway\",service=\"gateway\"} " + state + "\n"))
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(p)}}}}},
		Status: corev1.PodStatus{PodIP: host}}
	c := NewHTTPChecker()
	for _, tc := range []struct {
		value string
		want  reference.BreakerState
	}{{"0", reference.Closed}, {"1", reference.Open}, {"2", reference.HalfOpen}} {
		state = tc.value
		got, err := c.Breakers(context.Background(), pod, time.Second)
		if err != nil || len(got) != 1 || got["payment"] != tc.want {
			t.Fatalf("gauge %s: %v %v, want payment %v", tc.value, got, err, tc.want)
		}
	}
	state = "7"
	if _, err := c.Breakers(context.Background(), pod, time.Second); err == nil {
		t.Fatal("a breaker state of 7 was accepted")
	}
}
