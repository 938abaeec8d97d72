// Package reference holds the reference MCP services that scenarios
// deploy: a gateway that fans out to user, order and payment services,
// each with /healthz, /readyz and Prometheus /metrics, and the pure policy
// logic (circuit breaker) that the simulator reuses. One binary serves
// every role (`mcpsim serve --role ...`), so one image serves them all.
package reference

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Roles a service can play.
var Roles = []string{"gateway", "user", "order", "payment"}

// Config configures one service.
type Config struct {
	Role string
	// CPUPerRequest is the CPU work each request does before answering.
	CPUPerRequest time.Duration
	// Downstreams are the gateway's services by name (user, order,
	// payment) and base URL.
	Downstreams map[string]string
	// Timeout bounds each downstream call.
	Timeout time.Duration
	// BreakerThreshold and BreakerCooldown configure each downstream's
	// circuit breaker.
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// DrainDelay is how long the service keeps serving after it stops
	// being ready, for the endpoint removal to propagate.
	DrainDelay time.Duration
}

// Service is one running reference service.
type Service struct {
	cfg      Config
	ready    atomic.Bool
	client   *http.Client
	breakers map[string]*Breaker
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
	fallback *prometheus.CounterVec
	mux      *http.ServeMux
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// New builds a service; it is ready once Start is called.
func New(cfg Config) (*Service, error) {
	known := false
	for _, r := range Roles {
		known = known || r == cfg.Role
	}
	if !known {
		return nil, fmt.Errorf("unknown role %q: one of %v", cfg.Role, Roles)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.BreakerThreshold <= 0 {
		cfg.BreakerThreshold = 5
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = 5 * time.Second
	}
	s := &Service{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}, breakers: map[string]*Breaker{}, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	for name := range cfg.Downstreams {
		s.breakers[name] = NewBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown, wallClock{})
	}
	labels := prometheus.Labels{"role": cfg.Role}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcp_requests_total", Help: "Requests served, by status code.", ConstLabels: labels}, []string{"code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mcp_request_duration_seconds", Help: "Request latency.", ConstLabels: labels, Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"code"})
	s.inflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "mcp_requests_in_flight", Help: "Requests being served.", ConstLabels: labels})
	s.fallback = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcp_downstream_fallbacks_total", Help: "Downstream calls answered by the fallback (breaker open or call failed).", ConstLabels: labels}, []string{"downstream"})
	s.reg.MustRegister(s.requests, s.latency, s.inflight, s.fallback, prometheus.NewGoCollector())
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", s.serve)
	return s, nil
}

// Handler is the service's HTTP handler.
func (s *Service) Handler() http.Handler { return s.mux }

// SetReady flips readiness.
func (s *Service) SetReady(v bool) { s.ready.Store(v) }

func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// burn does CPU work for about d: the request's CPU cost.
func burn(d time.Duration) {
	if d <= 0 {
		return
	}
	deadline := time.Now().Add(d)
	var sum [32]byte
	for time.Now().Before(deadline) {
		for i := 0; i < 64; i++ {
			sum = sha256.Sum256(sum[:])
		}
	}
}

type response struct {
	Role        string            `json:"role"`
	Downstreams map[string]string `json:"downstreams,omitempty"`
	Degraded    bool              `json:"degraded,omitempty"`
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.inflight.Inc()
	defer s.inflight.Dec()
	cost := s.cfg.CPUPerRequest
	if v := r.URL.Query().Get("cpu"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= 10*time.Second {
			cost = d
		}
	}
	burn(cost)
	resp := response{Role: s.cfg.Role}
	if len(s.cfg.Downstreams) > 0 {
		resp.Downstreams = s.callDownstreams(r.Context())
		for _, v := range resp.Downstreams {
			resp.Degraded = resp.Degraded || v == "fallback"
		}
	}
	code := http.StatusOK
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
	c := strconv.Itoa(code)
	s.requests.WithLabelValues(c).Inc()
	s.latency.WithLabelValues(c).Observe(time.Since(start).Seconds())
}

// callDownstreams calls every downstream in parallel through its breaker;
// a failed or refused call is answered by the fallback instead of failing
// the whole request.
func (s *Service) callDownstreams(ctx context.Context) map[string]string {
	names := make([]string, 0, len(s.cfg.Downstreams))
	for name := range s.cfg.Downstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]string, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			result := "fallback"
			b := s.breakers[name]
			if b.Allow() {
				err := s.call(ctx, s.cfg.Downstreams[name])
				b.Record(err == nil)
				if err == nil {
					result = "ok"
				}
			}
			if result == "fallback" {
				s.fallback.WithLabelValues(name).Inc()
			}
			mu.Lock()
			out[name] = result
			mu.Unlock()
		}(name)
	}
	wg.Wait()
	return out
}

func (s *Service) call(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}

// BreakerState is the state of the named downstream's breaker.
func (s *Service) BreakerState(name string) (BreakerState, bool) {
	b, ok := s.breakers[name]
	if !ok {
		return Closed, false
	}
	return b.State(), true
}

// ListenAndServe serves on addr until ctx is done, then stops being ready,
// keeps serving for the drain delay and shuts down gracefully.
func (s *Service) ListenAndServe(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	s.SetReady(true)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.SetReady(false)
	time.Sleep(s.cfg.DrainDelay)
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
