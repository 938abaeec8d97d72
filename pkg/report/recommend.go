package report

import (
	"cmp"
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
	// Each second stands for Ready samples of the same value: kept as
	// (value, count) rather than repeated, since a service of 10,000 pods
	// over an hour would otherwise need 36 million entries.
	type weighted struct {
		perPod float64
		pods   int
	}
	var usage []weighted
	total := 0
	for _, x := range s.Samples {
		if x.CPUMillicores < 0 || x.Ready <= 0 || x.T <= 0 {
			continue
		}
		usage = append(usage, weighted{float64(x.CPUMillicores) / float64(x.Ready), int(x.Ready)})
		total += int(x.Ready)
	}
	if total == 0 {
		return nil
	}
	slices.SortFunc(usage, func(a, b weighted) int { return cmp.Compare(a.perPod, b.perPod) })
	// at is the nearest-rank q-quantile of the samples, with the margin.
	at := func(q float64) int64 {
		rank := min(max(int(math.Ceil(q*float64(total))), 1), total)
		seen := 0
		for _, u := range usage {
			if seen += u.pods; seen >= rank {
				return max(int64(math.Ceil(u.perPod*(1+vpaSafetyMargin))), vpaMinMillicores)
			}
		}
		return 0 // unreachable: seen reaches total
	}
	r := &Recommendation{Target: at(vpaTargetPercentile), LowerBound: at(vpaLowerPercentile), UpperBound: at(vpaUpperPercentile), Samples: total}
	if svc, ok := sc.ServiceByName(s.Name); ok {
		if q, ok := svc.Resources.Requests[corev1.ResourceCPU]; ok {
			r.Requested = q.MilliValue()
		}
	}
	return r
}
