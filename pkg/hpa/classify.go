package hpa

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodGroups is the result of classifying the selected pods (§4.1).
type PodGroups struct {
	ReadyCount int
	Unready    map[string]bool
	Missing    map[string]bool
	Ignored    map[string]bool
}

// GroupPods classifies pods as ready, unready, missing or ignored for one
// metric (upstream groupPods, §4.1). resource is the resource name for
// Resource and ContainerResource metrics and "" for Pods metrics; the pod's
// readiness only matters for CPU. The first matching rule wins.
func GroupPods(pods []Pod, samples map[string]PodSample, resource corev1.ResourceName, cpuInitializationPeriod, initialReadinessDelay time.Duration, now time.Time) PodGroups {
	g := PodGroups{Unready: map[string]bool{}, Missing: map[string]bool{}, Ignored: map[string]bool{}}
	for i := range pods {
		pod := &pods[i]
		if pod.Deleting || pod.Phase == corev1.PodFailed {
			g.Ignored[pod.Name] = true
			continue
		}
		if pod.Phase == corev1.PodPending {
			g.Unready[pod.Name] = true
			continue
		}
		// Missing beats unready (Q8): a pod without a sample is missing.
		sample, found := samples[pod.Name]
		if !found {
			g.Missing[pod.Name] = true
			continue
		}
		if resource == corev1.ResourceCPU {
			if pod.Ready == nil || pod.StartTime == nil {
				g.Unready[pod.Name] = true
				continue
			}
			var unready bool
			if pod.StartTime.Add(cpuInitializationPeriod).After(now) {
				// A young pod counts only when its sample covers a full
				// window since it became ready (Q9).
				unready = pod.Ready.Status == corev1.ConditionFalse ||
					sample.Timestamp.Before(pod.Ready.LastTransitionTime.Add(sample.Window))
			} else {
				// An old pod is unready only if it has never been ready (Q10).
				unready = pod.Ready.Status == corev1.ConditionFalse &&
					pod.StartTime.Add(initialReadinessDelay).After(pod.Ready.LastTransitionTime)
			}
			if unready {
				g.Unready[pod.Name] = true
				continue
			}
		}
		g.ReadyCount++
	}
	return g
}
