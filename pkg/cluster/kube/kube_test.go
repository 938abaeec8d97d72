package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/cluster"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
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

// TestCFSPeriodOfTheKubelets: a real cluster's CPU limits are enforced
// per its kubelets' CFS period, 100ms unless configured otherwise, which
// mcpsim does not do: a scenario asking another period is refused before
// anything starts; the Periodic model at 100ms, or Fluid, runs.
func TestCFSPeriodOfTheKubelets(t *testing.T) {
	b := New(Options{Name: "kind", Target: "http://127.0.0.1:30080"})
	for _, c := range []struct {
		quota string
		ok    bool
	}{
		{"", true},
		{"\n    cpuQuota: {model: Fluid}", true},
		{"\n    cpuQuota: {model: Periodic}", true},
		{"\n    cpuQuota: {model: Periodic, period: 100ms}", true},
		{"\n    cpuQuota: {model: Periodic, period: 50ms}", false},
	} {
		sc, err := scenario.Parse("q.yaml", []byte(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: q}
spec:
  duration: 1m
  cluster:`+c.quota+`
    nodePools:
      - {name: a, count: 1, cpu: "2", memory: 4Gi}
  services:
    - {name: gateway, role: gateway, work: {cpu: 1ms}, resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}}
  load: {profile: constant, rate: 1, timeout: 1s}
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`))
		if err != nil {
			t.Fatal(err)
		}
		err = b.Check(sc)
		var ue *cluster.UnsupportedError
		switch {
		case c.ok && err != nil:
			t.Errorf("%q: %v", c.quota, err)
		case !c.ok && (!errors.As(err, &ue) || ue.Path != "spec.cluster.cpuQuota.period"):
			t.Errorf("%q: want the period refused, got %v", c.quota, err)
		}
	}
}

// TestOverheadEvents: a service's measured overhead is reported as charged
// to its work while it is smaller, and as a difference from the sim once
// it is not (mcp-topology's gateway: 0.5ms of work, more than that of
// HTTP for one inbound and three outbound calls).
func TestOverheadEvents(t *testing.T) {
	kind, msg := overheadEvent(930*time.Microsecond+400, 7, 500*time.Microsecond)
	if kind != "OverheadExceedsWork" || !strings.Contains(msg, "930µs of the reference service's own CPU per request") ||
		!strings.Contains(msg, "mean of 7 pods") || !strings.Contains(msg, "exceeds its 500µs of work") {
		t.Errorf("%s: %s", kind, msg)
	}
	kind, msg = overheadEvent(210*time.Microsecond, 3, 2500*time.Microsecond)
	if kind != "ReferenceOverhead" || !strings.Contains(msg, "210µs") || !strings.Contains(msg, "charged to its 2.5ms of work") {
		t.Errorf("%s: %s", kind, msg)
	}
}

// TestSamplesKeepUpWithTheClock: a round of sampling that overran its
// second skips the samples it missed instead of taking them late (the
// kind run of mcp-topology fell 2m30s behind, reading a dozen pods'
// /metrics one by one, and its samples showed the cluster after the load
// had stopped under times when it ran).
func TestSamplesKeepUpWithTheClock(t *testing.T) {
	s := time.Second
	for _, c := range []struct{ last, now, want time.Duration }{
		{5 * s, 5*s + 200*time.Millisecond, 6 * s}, // on time
		{5 * s, 6 * s, 7 * s},                      // the next one is due now: taken late, skip it
		{5 * s, 8*s + 700*time.Millisecond, 9 * s}, // three seconds overrun
	} {
		if got := nextSample(c.last, c.now); got != c.want {
			t.Errorf("nextSample(%s, %s) = %s, want %s", c.last, c.now, got, c.want)
		}
	}
}

// TestProgressRateOverTheTimeSinceTheLast: the progress line's request
// rate divides by the time since the last report, which skipped samples
// make longer than the reporting period.
func TestProgressRateOverTheTimeSinceTheLast(t *testing.T) {
	sc, err := scenario.Parse("fake.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder(sc, nil)
	r.start(time.Now())
	send := func(n int) {
		for range n {
			r.result(&vegeta.Result{Code: 200, Latency: time.Millisecond, Timestamp: time.Now()})
		}
	}
	send(300)
	if st := r.status(30*time.Second, timeline.Sample{}); st.RPS != 10 {
		t.Errorf("300 requests in the first 30s: %v req/s, want 10", st.RPS)
	}
	send(450)
	if st := r.status(75*time.Second, timeline.Sample{}); st.RPS != 10 {
		t.Errorf("450 requests in the 45s since: %v req/s, want 10", st.RPS)
	}
}

// slowPage is a pod's /metrics answer that takes a while, counting the
// reads in flight.
type slowPage struct {
	page              []byte
	inFlight, maxSeen *atomic.Int32
}

func (p slowPage) DoRaw(context.Context) ([]byte, error) {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxSeen.Load()
		if n <= m || p.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	if p.page == nil {
		return nil, errors.New("connection refused")
	}
	return p.page, nil
}

func (p slowPage) Stream(context.Context) (io.ReadCloser, error) {
	return nil, errors.New("not streamed")
}

// fixedPage is a pod's /metrics answer, at once.
type fixedPage string

func (p fixedPage) DoRaw(context.Context) ([]byte, error) { return []byte(p), nil }

func (p fixedPage) Stream(context.Context) (io.ReadCloser, error) {
	return nil, errors.New("not streamed")
}

// TestMetricsPagesAtOnceWithinABound: 80 pods' pages are read together,
// at most metricsReaders at a time (80 one by one at 20ms would take
// 1.6s, more than the second a sampling round has); a pod that does not
// answer has no page, the others their own.
func TestMetricsPagesAtOnceWithinABound(t *testing.T) {
	client := fake.NewClientset()
	var inFlight, maxSeen atomic.Int32
	client.PrependProxyReactor("pods", func(a k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		name := a.(k8stesting.ProxyGetAction).GetName()
		var page []byte
		if !strings.HasSuffix(name, "7") {
			page = []byte("page of " + name)
		}
		return true, slowPage{page: page, inFlight: &inFlight, maxSeen: &maxSeen}, nil
	})
	var pods []*corev1.Pod
	for i := range 80 {
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gw-%d", i), Namespace: "ns"}})
	}
	pages := metricsPages(context.Background(), client, "ns", pods)
	for i, p := range pods {
		switch want := "page of " + p.Name; {
		case strings.HasSuffix(p.Name, "7") && pages[i] != nil:
			t.Errorf("%s did not answer, but has a page %q", p.Name, pages[i])
		case !strings.HasSuffix(p.Name, "7") && string(pages[i]) != want:
			t.Errorf("%s: page %q, want %q", p.Name, pages[i], want)
		}
	}
	if m := maxSeen.Load(); m > metricsReaders || m < 2 {
		t.Errorf("%d reads in flight at most, want between 2 and %d", m, metricsReaders)
	}
}

// TestBreakersFollowedUntilStopped: the breakers are read round after
// round on their own until stopped, and not after. The gateway pod's page
// says closed for its first two reads and open from the third: one
// transition, closed → open, at a time after the start; once stop has
// returned, no read is made any more.
func TestBreakersFollowedUntilStopped(t *testing.T) {
	sc, err := scenario.Parse("fake.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gateway-1", Namespace: "ns", Labels: map[string]string{"app": "gateway"}},
		Status: corev1.PodStatus{PodIP: "10.0.0.9", Phase: corev1.PodRunning}}
	client := fake.NewClientset(pod)
	var reads atomic.Int32
	client.PrependProxyReactor("pods", func(k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		state := "0"
		if reads.Add(1) >= 3 {
			state = "1"
		}
		return true, fixedPage("# TYPE mcp_circuit_breaker_state gauge\nmcp_circuit_breaker_state{downstream=\"payment\"} " + state + "\n"), nil
	})
	ctx := context.Background()
	r := newRecorder(sc, nil)
	obs, err := startObserver(ctx, client, "ns", sc, r)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.stop()
	t0 := time.Now()
	r.start(t0)
	// Rounds 20ms apart, not the real half second: the test is about
	// what a round sees and when rounds stop, not their pace.
	watch := newBreakerWatch(client, "ns", []string{"gateway"})
	watch.every = 20 * time.Millisecond
	stop := watch.follow(ctx, obs, r, t0)
	for reads.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	after := reads.Load()
	stop() // a second call does nothing
	time.Sleep(5 * watch.every)
	if n := reads.Load(); n != after {
		t.Errorf("%d reads after stop returned", n-after)
	}
	tl := r.finish()
	if len(tl.Breakers) != 1 {
		t.Fatalf("transitions %+v, want one", tl.Breakers)
	}
	if b := tl.Breakers[0]; b.Pod != "gateway-1" || b.Service != "gateway" || b.From != "closed" || b.To != "open" || b.T <= 0 {
		t.Errorf("transition %+v, want gateway-1's breaker to payment closed → open after the start", b)
	}
}
