// Package reference holds the reference MCP services that scenarios
// deploy: a gateway that fans out to user, order and payment services,
// each with /healthz, /readyz and Prometheus /metrics; the Kubernetes
// objects that deploy them (Objects); and the pure policy logic (circuit
// breaker) that the simulator reuses. One binary serves every role
// (`mcpsim serve --config`), so one image serves them all.
package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Roles a service can play.
var Roles = []string{"gateway", "user", "order", "payment"}

// DefaultDrainDelay is how long a service keeps serving after SIGTERM, for
// its endpoint removal to reach every load balancer.
const DefaultDrainDelay = 5 * time.Second

// Options configure one running service beyond its topology.
type Options struct {
	// DrainDelay is how long the service keeps serving after it stops
	// being ready, for the endpoint removal to propagate.
	DrainDelay time.Duration
	// AdminCPU enables POST /admin/cpu?d=DURATION, which burns that much
	// CPU (at most 10s): a test knob, off unless asked for.
	AdminCPU bool
	// MaxConns bounds open client connections (default 1024); idle ones
	// are closed to admit new ones, so probes always get in.
	MaxConns int
	// AdminHang enables POST /admin/hang?for=DURATION and DELETE
	// /admin/hang: every other request, /healthz and /readyz included,
	// waits without an answer until the hang ends (the PodHang fault).
	AdminHang bool
	// ChargeOverhead makes the service's own CPU per request (HTTP,
	// runtime, probes) part of the work, so that a request costs the
	// work's mean all told, as the sim charges it (see overhead). Pods
	// run with it; tests that burn exact amounts do not.
	ChargeOverhead bool
}

// Service is one running reference service.
type Service struct {
	cfg      ServiceConfig
	opts     Options
	ready    atomic.Bool
	client   *http.Client
	breakers []*Breaker // per call; nil when disabled
	// sent counts each call's requests, so that every callsPerConn-th
	// closes its connection (call).
	sent     []atomic.Uint64
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
	fallback *prometheus.CounterVec
	bstate   *prometheus.GaugeVec
	mux      *http.ServeMux
	lim      atomic.Pointer[connLimiter]
	hang     hangSwitch

	rngMu sync.Mutex
	rng   *rand.Rand
	ovh   *overhead
}

// New builds a service from its configuration; it is ready once
// ListenAndServe runs (or SetReady is called).
func New(cfg ServiceConfig, opts Options) (*Service, error) {
	if !slices.Contains(Roles, cfg.Role) {
		return nil, fmt.Errorf("unknown role %q: one of %v", cfg.Role, Roles)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Role
	}
	if cfg.Work.Distribution == "" {
		cfg.Work.Distribution = "exponential"
	}
	if cfg.Work.Distribution != "exponential" && cfg.Work.Distribution != "constant" {
		return nil, fmt.Errorf("work distribution %q: exponential or constant", cfg.Work.Distribution)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 1024
	}
	for i := range cfg.Calls {
		c := &cfg.Calls[i]
		if c.Timeout <= 0 {
			c.Timeout = Duration(2 * time.Second)
		}
		if c.Fallback == "" {
			c.Fallback = "static"
		}
		if c.Breaker == (BreakerPolicy{}) {
			c.Breaker = DefaultBreakerPolicy
		}
	}
	// Draining each response body lets the transport reuse the connection;
	// keep enough idle ones per downstream for a busy gateway.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	s := &Service{cfg: cfg, opts: opts, client: &http.Client{Transport: transport}, reg: prometheus.NewRegistry(), mux: http.NewServeMux(),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)), ovh: newOverhead()}
	labels := prometheus.Labels{"role": cfg.Role, "service": cfg.Name}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcp_requests_total", Help: "Requests served, by status code and outcome (ok, degraded, error, canceled).", ConstLabels: labels}, []string{"code", "outcome"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcp_request_duration_seconds", Help: "Request latency.", ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"code"})
	s.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcp_requests_in_flight", Help: "Requests being served.", ConstLabels: labels})
	s.fallback = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcp_downstream_fallbacks_total", Help: "Downstream calls answered by the fallback (breaker open or call failed).", ConstLabels: labels}, []string{"downstream"})
	s.bstate = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mcp_circuit_breaker_state", Help: "Circuit breaker state per downstream: 0 closed, 1 open, 2 half-open.", ConstLabels: labels}, []string{"downstream"})
	ovhGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcp_request_overhead_seconds", Help: "The service's own CPU per request beyond its work (HTTP, runtime, probes), charged to the work when --charge-overhead is on; 0 until measured.", ConstLabels: labels},
		func() float64 { return time.Duration(s.ovh.perReq.Load()).Seconds() })
	s.reg.MustRegister(s.requests, s.latency, s.inflight, s.fallback, s.bstate, ovhGauge, prometheus.NewGoCollector())
	for _, c := range cfg.Calls {
		if c.NoBreak {
			s.breakers = append(s.breakers, nil)
			continue
		}
		g := s.bstate.WithLabelValues(c.Service)
		g.Set(0)
		s.breakers = append(s.breakers, NewBreaker(c.Breaker, WallClock{}, func(_, to BreakerState, _ time.Time) { g.Set(float64(to)) }))
	}
	s.sent = make([]atomic.Uint64, len(cfg.Calls))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/{$}", s.serve)
	if opts.AdminCPU {
		s.mux.HandleFunc("POST /admin/cpu", s.adminCPU)
	}
	if opts.AdminHang {
		s.mux.HandleFunc("POST /admin/hang", s.adminHang)
		s.mux.HandleFunc("DELETE /admin/hang", s.adminUnhang)
	}
	return s, nil
}

// Handler is the service's HTTP handler.
func (s *Service) Handler() http.Handler { return s.hang.wrap(s.mux) }

// SetReady flips readiness.
func (s *Service) SetReady(v bool) { s.ready.Store(v) }

func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// work draws one request's CPU time from the configured distribution, as
// the simulator does.
func (s *Service) work() time.Duration {
	mean := time.Duration(s.cfg.Work.CPU)
	if s.cfg.Work.Distribution == "constant" {
		return mean
	}
	s.rngMu.Lock()
	e := s.rng.ExpFloat64()
	s.rngMu.Unlock()
	return time.Duration(e * float64(mean))
}

func (s *Service) adminCPU(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 || d > 10*time.Second {
		http.Error(w, "d: a duration between 0 and 10s", http.StatusBadRequest)
		return
	}
	burned, err := burn(r.Context(), d)
	s.ovh.burned.Add(int64(burned)) // on purpose: no overhead
	if err != nil {
		return
	}
	fmt.Fprintln(w, "ok")
}

// Response is a reference service's answer.
type Response struct {
	Service     string            `json:"service"`
	Role        string            `json:"role"`
	Downstreams map[string]string `json:"downstreams,omitempty"`
	Degraded    bool              `json:"degraded,omitempty"`
}

// DegradedHeader marks an answer that used a fallback.
const DegradedHeader = "Mcp-Degraded"

// StatusClientClosed is the status recorded (never sent) when the client
// went away before the answer, as nginx names it.
const StatusClientClosed = 499

// TimeoutHeader carries a caller's time budget (a Go duration) to its
// downstream: the downstream bounds its own calls by it, so a hung service
// deeper in the tree costs each request at most what its first caller was
// willing to wait, not a full call timeout per hop.
const TimeoutHeader = "Mcp-Timeout"

// maxBudget bounds a TimeoutHeader value.
const maxBudget = 10 * time.Minute

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.inflight.Inc()
	defer s.inflight.Dec()
	clientCtx := r.Context()
	ctx := clientCtx
	if v := r.Header.Get(TimeoutHeader); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxBudget {
			http.Error(w, TimeoutHeader+": a duration between 0 and "+maxBudget.String(), http.StatusBadRequest)
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	record := func(code int, outcome string) {
		c := strconv.Itoa(code)
		s.requests.WithLabelValues(c, outcome).Inc()
		s.latency.WithLabelValues(c).Observe(time.Since(start).Seconds())
	}
	d := s.work()
	if s.opts.ChargeOverhead {
		d = s.ovh.charge(d, time.Duration(s.cfg.Work.CPU))
	}
	burned, err := burn(ctx, d)
	s.ovh.burned.Add(int64(burned))
	if err != nil {
		if clientCtx.Err() != nil {
			record(StatusClientClosed, "canceled")
			return
		}
		http.Error(w, "the caller's time budget ran out", http.StatusGatewayTimeout)
		record(http.StatusGatewayTimeout, "error")
		return
	}
	resp := Response{Service: s.cfg.Name, Role: s.cfg.Role}
	if len(s.cfg.Calls) > 0 {
		var err error
		resp.Downstreams, resp.Degraded, err = s.callDownstreams(clientCtx, ctx)
		if clientCtx.Err() != nil {
			record(StatusClientClosed, "canceled")
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			record(http.StatusBadGateway, "error")
			return
		}
	}
	outcome := "ok"
	w.Header().Set("Content-Type", "application/json")
	if resp.Degraded {
		outcome = "degraded"
		w.Header().Set(DegradedHeader, "true")
	}
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
	record(http.StatusOK, outcome)
}

// callDownstreams makes the configured calls, all at once (parallel) or
// one after another (sequential). A failed call with a static fallback
// makes the answer degraded; with no fallback it fails the request and
// cancels the calls still running.
//
// clientCtx ends when the client goes away; ctx also ends with the
// client's time budget.
func (s *Service) callDownstreams(clientCtx, ctx context.Context) (map[string]string, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(map[string]string, len(s.cfg.Calls))
	var (
		mu       sync.Mutex
		degraded bool
		firstErr error
	)
	one := func(i int) {
		c := &s.cfg.Calls[i]
		deg, err := s.callWithRetries(clientCtx, ctx, i)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && deg:
			out[c.Service] = "degraded"
			degraded = true
		case err == nil:
			out[c.Service] = "ok"
		case c.Fallback == "static":
			out[c.Service] = "fallback"
			degraded = true
			s.fallback.WithLabelValues(c.Service).Inc()
		default:
			out[c.Service] = "error"
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", c.Service, err)
				cancel()
			}
		}
	}
	if s.cfg.FanOut == "sequential" {
		for i := range s.cfg.Calls {
			one(i)
			if firstErr != nil || ctx.Err() != nil {
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for i := range s.cfg.Calls {
			wg.Add(1)
			go func() { defer wg.Done(); one(i) }()
		}
		wg.Wait()
	}
	return out, degraded, firstErr
}

// callWithRetries makes one call through its breaker, retrying failed
// attempts. A downstream answer that was itself degraded is a success for
// the breaker and makes this answer degraded too.
func (s *Service) callWithRetries(clientCtx, ctx context.Context, i int) (degraded bool, err error) {
	c := &s.cfg.Calls[i]
	b := s.breakers[i]
	for attempt := 0; attempt <= c.Retries; attempt++ {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var t Ticket
		if b != nil {
			if t, err = b.Allow(); err != nil {
				return false, err // open: no point retrying now
			}
		}
		degraded, err = s.call(ctx, i, time.Duration(c.Timeout))
		if b != nil {
			switch {
			case err == nil:
				b.Done(t, Success)
			case clientCtx.Err() != nil || errors.Is(ctx.Err(), context.Canceled):
				// Our own client went away (or a sibling call failed the
				// request): says nothing about the downstream. Running out
				// of the client's time budget does: it did not answer in
				// the time we had.
				b.Done(t, Excluded)
			default:
				b.Done(t, Failure)
			}
		}
		if err == nil {
			return degraded, nil
		}
	}
	return false, err
}

// callsPerConn is how many requests a downstream connection carries
// before it is closed. kube-proxy picks a Service's endpoint when a
// connection opens, and a kept connection stays on its pod: on kind the
// gateway's few long-lived connections put 1m on one payment pod and 68m
// on another, where the sim balances every call. Four calls a connection
// spread them nearly as evenly over an HPA window (a pod's share varies
// about twice as much as per call) for a new connection per four calls
// (a handshake's CPU, and TIME_WAIT sockets: 200 calls/s from a pod keep
// 3,000, of 28,000 ports).
const callsPerConn = 4

func (s *Service) call(ctx context.Context, i int, timeout time.Duration) (degraded bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Calls[i].URL+"/", nil)
	if err != nil {
		return false, err
	}
	req.Close = s.sent[i].Add(1)%callsPerConn == 0
	if deadline, ok := ctx.Deadline(); ok {
		req.Header.Set(TimeoutHeader, time.Until(deadline).Round(time.Millisecond).String())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false, err
	}
	// Read the body to the end so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return false, errors.New(resp.Status)
	}
	return resp.Header.Get(DegradedHeader) != "", nil
}

// BreakerState is the state of the breaker of the call to the named
// downstream.
func (s *Service) BreakerState(name string) (BreakerState, bool) {
	for i, c := range s.cfg.Calls {
		if c.Service == name && s.breakers[i] != nil {
			return s.breakers[i].State(), true
		}
	}
	return Closed, false
}

// Server timeouts: a request must arrive within readTimeout; answers are
// bounded by the calls' timeouts, far below writeTimeout; keep-alive
// connections idle longer than idleTimeout are closed.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 60 * time.Second
)

// Server returns the http.Server of the service with its timeouts and
// connection limit (see Serve).
func (s *Service) server() *http.Server {
	return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}
}

// Serve serves on ln until ctx is done, then stops being ready, keeps
// serving for the drain delay and shuts down gracefully.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.server()
	lim := newConnLimiter(ln, s.opts.MaxConns)
	s.lim.Store(lim)
	srv.ConnState = lim.track
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lim) }()
	if s.opts.ChargeOverhead {
		meter, stop := context.WithCancel(context.Background())
		defer stop()
		go s.ovh.run(meter)
	}
	s.SetReady(true)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.SetReady(false)
	t := time.NewTimer(s.opts.DrainDelay)
	select {
	case <-t.C:
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// ListenAndServe listens on addr and serves (see Serve).
func (s *Service) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}
