package report

import (
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Recommendation is the CPU request the observed usage supports, as the
// Vertical Pod Autoscaler's recommender computes it
// (k8s.io/autoscaler/vertical-pod-autoscaler, pkg/recommender/logic:
// target = the 90th percentile of CPU usage samples, lower bound the 50th,
// upper bound the 95th, each raised by the 15% safety margin of
// --recommendation-margin-fraction, and at least the 25 millicores of
// --pod-recommendation-min-cpu-millicores). Its samples are each pod's CPU
// usage; every sample weighs the same here because a service's pods all
// request the same CPU (the recommender weighs CPU samples by request).
// Not modelled: the recommender's decaying histogram (half-life 24h, which
// a run shorter than a day barely sees) and its confidence scaling of the
// bounds for short histories.
type Recommendation struct {
	// Requested is the scenario's CPU request per pod, in millicores.
	Requested int64 `json:"requestedMillicores"`
	// Target, LowerBound and UpperBound are in millicores per pod.
	Target     int64 `json:"targetMillicores"`
	LowerBound int64 `json:"lowerBoundMillicores"`
	UpperBound int64 `json:"upperBoundMillicores"`
	// Samples is how many per-pod usage samples they rest on.
	Samples int `json:"samples"`
}

// The recommender's defaults.
const (
	vpaTargetPercentile = 0.90
	vpaLowerPercentile  = 0.50
	vpaUpperPercentile  = 0.95
	vpaSafetyMargin     = 0.15
	vpaMinMillicores    = 25
)

// recommend derives a service's recommendation from its samples: each
// second with ready pods and a CPU figure gives every ready pod's average
// usage as a sample (null without usage data).
func recommend(sc *scenario.Scenario, s *timeline.Service) *Recommendation {
	var usage []float64
	for _, x := range s.Samples {
		if x.CPUMillicores < 0 || x.Ready <= 0 || x.T <= 0 {
			continue
		}
		per := float64(x.CPUMillicores) / float64(x.Ready)
		for i := int32(0); i < x.Ready; i++ {
			usage = append(usage, per)
		}
	}
	if len(usage) == 0 {
		return nil
	}
	slices.Sort(usage)
	at := func(q float64) int64 {
		rank := int(math.Ceil(q * float64(len(usage))))
		v := usage[min(max(rank, 1), len(usage))-1] * (1 + vpaSafetyMargin)
		return max(int64(math.Ceil(v)), vpaMinMillicores)
	}
	r := &Recommendation{Target: at(vpaTargetPercentile), LowerBound: at(vpaLowerPercentile), UpperBound: at(vpaUpperPercentile), Samples: len(usage)}
	if svc, ok := sc.ServiceByName(s.Name); ok {
		if q, ok := svc.Resources.Requests[corev1.ResourceCPU]; ok {
			r.Requested = q.MilliValue()
		}
	}
	return r
}
