package reference

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// BreakerMetric is the gauge a reference service exports per downstream
// call: its circuit breaker's state (0 closed, 1 open, 2 half-open).
const BreakerMetric = "mcp_circuit_breaker_state"

// ParseBreakerStates reads the breaker states out of a reference
// service's /metrics page, by downstream; a page without the gauge has
// none.
func ParseBreakerStates(page []byte) (map[string]BreakerState, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	out := map[string]BreakerState{}
	fam, ok := fams[BreakerMetric]
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
		if down == "" || v < int(Closed) || v > int(HalfOpen) {
			return nil, fmt.Errorf("%s: unexpected sample %v", BreakerMetric, m)
		}
		out[down] = BreakerState(v)
	}
	return out, nil
}

// OverheadMetric is the gauge of a reference service's own CPU per
// request beyond its work (HTTP, runtime, probes), in seconds.
const OverheadMetric = "mcp_request_overhead_seconds"

// ParseOverhead reads OverheadMetric out of a reference service's
// /metrics page; ok is false when the page has none, or 0 (not measured
// yet).
func ParseOverhead(page []byte) (d time.Duration, ok bool, err error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return 0, false, err
	}
	fam, found := fams[OverheadMetric]
	if !found || len(fam.GetMetric()) != 1 {
		return 0, false, nil
	}
	m := fam.GetMetric()[0]
	v := m.GetGauge().GetValue()
	if m.GetGauge() == nil {
		v = m.GetUntyped().GetValue()
	}
	if math.IsNaN(v) || v < 0 || v > 3600 {
		return 0, false, fmt.Errorf("%s: unexpected value %v", OverheadMetric, v)
	}
	if v == 0 {
		return 0, false, nil
	}
	return time.Duration(v * 1e9), true, nil
}
