package reference

import (
	"bytes"
	"fmt"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
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
	fam, err := family(page, BreakerMetric)
	if err != nil {
		return nil, err
	}
	out := map[string]BreakerState{}
	for _, m := range fam.GetMetric() {
		down := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "downstream" {
				down = l.GetValue()
			}
		}
		v := int(gaugeValue(m))
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
	fam, err := family(page, OverheadMetric)
	if err != nil || len(fam.GetMetric()) != 1 {
		return 0, false, err
	}
	v := gaugeValue(fam.GetMetric()[0])
	if math.IsNaN(v) || v < 0 || v > 3600 {
		return 0, false, fmt.Errorf("%s: unexpected value %v", OverheadMetric, v)
	}
	if v == 0 {
		return 0, false, nil
	}
	return time.Duration(v * 1e9), true, nil
}

// family parses a /metrics page and returns its metric family name (none:
// an empty family).
func family(page []byte, name string) (*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	if fam, ok := fams[name]; ok {
		return fam, nil
	}
	return &dto.MetricFamily{}, nil
}

// gaugeValue is a sample's value, typed as a gauge or untyped.
func gaugeValue(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetUntyped().GetValue()
}
