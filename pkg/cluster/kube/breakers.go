package kube

import (
	"context"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// breakerWatch follows the circuit breakers of the pods of calling
// services through their /metrics (mcp_circuit_breaker_state), read via
// the API server's pod proxy: the host cannot reach pod IPs. Transitions
// are seen at the scrape's resolution (every: breakerEvery).
type breakerWatch struct {
	every   time.Duration
	client  kubernetes.Interface
	ns      string
	callers []string                     // services with calls
	state   map[string]map[string]string // pod -> downstream -> state
	service map[string]string            // pod -> service
}

func newBreakerWatch(client kubernetes.Interface, ns string, callers []string) *breakerWatch {
	return &breakerWatch{every: breakerEvery, client: client, ns: ns, callers: callers, state: map[string]map[string]string{}, service: map[string]string{}}
}

// scrape reads every calling pod's breakers and returns the transitions
// since the last scrape, at t; a pod that is gone takes its open breakers
// with it ("removed"), as on the sim.
func (w *breakerWatch) scrape(ctx context.Context, obs *observer, t time.Duration) []timeline.BreakerTransition {
	var out []timeline.BreakerTransition
	seen := map[string]bool{}
	for _, svc := range w.callers {
		pods := obs.servingPods(svc)
		pages := metricsPages(ctx, w.client, w.ns, pods)
		for i, p := range pods {
			if pages[i] == nil {
				continue // not serving yet, or gone: keep its last state
			}
			seen[p.Name] = true
			w.service[p.Name] = svc
			states, err := breakerStates(pages[i])
			if err != nil {
				continue
			}
			prev := w.state[p.Name]
			if prev == nil {
				prev = map[string]string{}
				w.state[p.Name] = prev
			}
			for down, st := range states {
				from, ok := prev[down]
				if !ok {
					from = reference.Closed.String()
				}
				if st != from {
					out = append(out, timeline.BreakerTransition{T: t, Service: svc, Pod: p.Name, Downstream: down, From: from, To: st})
				}
				prev[down] = st
			}
		}
	}
	for pod, downs := range w.state {
		if seen[pod] {
			continue
		}
		if _, err := obs.pods.Pods(w.ns).Get(pod); err == nil {
			continue // still there, only not answering this time
		}
		for down, st := range downs {
			if st != reference.Closed.String() {
				out = append(out, timeline.BreakerTransition{T: t, Service: w.service[pod], Pod: pod, Downstream: down, From: st, To: "removed"})
			}
		}
		delete(w.state, pod)
	}
	return out
}

// breakerStates reads a /metrics page's breaker states, by downstream,
// as the timeline names them.
func breakerStates(page []byte) (map[string]string, error) {
	states, err := reference.ParseBreakerStates(page)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(states))
	for down, st := range states {
		out[down] = st.String()
	}
	return out, nil
}

// metricsTimeout bounds one pod's /metrics read: the reads of a round run
// at once, and a round must fit in the second between samples.
const metricsTimeout = 900 * time.Millisecond

// metricsReaders bounds the /metrics reads in flight: a service of
// hundreds of pods must not open as many requests to the API server at
// once (its proxy answers a few dozen in the second a round has).
const metricsReaders = 32

// metricsPages reads the pods' /metrics pages through the API server's
// pod proxy, up to metricsReaders at once (one by one, a dozen pods on a
// busy host took longer than the second between two samples); a page
// that could not be read is nil.
func metricsPages(ctx context.Context, client kubernetes.Interface, ns string, pods []*corev1.Pod) [][]byte {
	pages := make([][]byte, len(pods))
	var wg sync.WaitGroup
	slots := make(chan struct{}, metricsReaders)
	for i, p := range pods {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
			defer cancel()
			raw, err := client.CoreV1().Pods(ns).ProxyGet("http", p.Name, strconv.Itoa(reference.Port), "metrics", nil).DoRaw(ctx)
			if err == nil {
				pages[i] = raw
			}
		}()
	}
	wg.Wait()
	return pages
}

// breakerEvery is how often the breakers are read: twice the samples'
// rate, for transitions within half a second (the sim has them exactly),
// at a few proxied requests a second per calling pod.
const breakerEvery = 500 * time.Millisecond

// follow reads the breakers every w.every from now on its own
// goroutine, recording transitions at the time of their round, until
// the returned function is called (which waits for the round in flight;
// calling it again does nothing).
func (w *breakerWatch) follow(ctx context.Context, obs *observer, r *recorder, t0 time.Time) (stop func()) {
	if len(w.callers) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.every)
		defer t.Stop()
		for {
			r.breakers(w.scrape(ctx, obs, time.Since(t0)))
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
