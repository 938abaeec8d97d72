package kube

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/mcpsim/mcpsim/pkg/reference"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// breakerWatch follows the circuit breakers of the pods of calling
// services through their /metrics (mcp_circuit_breaker_state), read via
// the API server's pod proxy: the host cannot reach pod IPs. Transitions
// are seen at the scrape's resolution (every sample, 1s).
type breakerWatch struct {
	client  kubernetes.Interface
	ns      string
	callers []string                     // services with calls
	state   map[string]map[string]string // pod -> downstream -> state
	service map[string]string            // pod -> service
}

func newBreakerWatch(client kubernetes.Interface, ns string, callers []string) *breakerWatch {
	return &breakerWatch{client: client, ns: ns, callers: callers, state: map[string]map[string]string{}, service: map[string]string{}}
}

// scrape reads every calling pod's breakers and returns the transitions
// since the last scrape, at t; a pod that is gone takes its open breakers
// with it ("removed"), as on the sim.
func (w *breakerWatch) scrape(ctx context.Context, obs *observer, t time.Duration) []timeline.BreakerTransition {
	var out []timeline.BreakerTransition
	seen := map[string]bool{}
	for _, svc := range w.callers {
		pods, _ := obs.pods.List(labels.SelectorFromSet(labels.Set{"app": svc}))
		for _, p := range pods {
			if p.Status.PodIP == "" || p.DeletionTimestamp != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			raw, err := w.client.CoreV1().Pods(w.ns).ProxyGet("http", p.Name, strconv.Itoa(reference.Port), "metrics", nil).DoRaw(ctx)
			cancel()
			if err != nil {
				continue // not serving yet, or gone: keep its last state
			}
			seen[p.Name] = true
			w.service[p.Name] = svc
			states, err := breakerStates(raw)
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

// breakerStates parses mcp_circuit_breaker_state out of a /metrics page.
func breakerStates(page []byte) (map[string]string, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	fam, ok := fams["mcp_circuit_breaker_state"]
	if !ok {
		return out, nil
	}
	for _, m := range fam.GetMetric() {
		down := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "downstream" {
				down = l.GetValue()
			}
		}
		f := m.GetGauge().GetValue()
		if m.GetGauge() == nil {
			f = m.GetUntyped().GetValue()
		}
		v := int(f)
		if down == "" || v < int(reference.Closed) || v > int(reference.HalfOpen) {
			return nil, fmt.Errorf("mcp_circuit_breaker_state: unexpected sample %v", m)
		}
		out[down] = reference.BreakerState(v).String()
	}
	return out, nil
}
