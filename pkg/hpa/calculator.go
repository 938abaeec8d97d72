package hpa

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ReplicaCalculator holds what every per-metric calculation needs: the
// selected pods, the controller settings, the tolerance band and now. It is
// the counterpart of upstream's ReplicaCalculator (replica_calculator.go).
type ReplicaCalculator struct {
	Pods       []Pod
	Config     Config
	Tolerances Tolerances
	Now        time.Time
}

var (
	errNoPods           = errors.New("no pods returned by selector while calculating replica count")
	errNoMetricsForPods = errors.New("did not receive metrics for targeted pods (pods might be unready)")
)

// ResourceSamples turns resource-metrics API entries into one sample per
// pod (§4.3): the pod total for Resource metrics, or the named container's
// usage for ContainerResource metrics (container != "").
func ResourceSamples(entries []ResourceSample, resource corev1.ResourceName, container string) (map[string]PodSample, error) {
	if len(entries) == 0 {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	out := make(map[string]PodSample, len(entries))
	for _, e := range entries {
		var sum int64
		ok := false
		if container == "" {
			ok = len(e.Containers) > 0
			for _, c := range e.Containers {
				v, has := c.Usage[resource]
				if !has {
					ok = false
					break
				}
				sum += v
			}
		} else {
			for _, c := range e.Containers {
				if c.Name != container {
					continue
				}
				sum, ok = c.Usage[resource]
				break
			}
		}
		if ok {
			out[e.Pod] = PodSample{Pod: e.Pod, Value: sum, Timestamp: e.Timestamp, Window: e.Window}
		}
	}
	return out, nil
}

// supportedPodLevelResources are the resources a pod-level request may set
// (upstream IsSupportedPodLevelResource).
func supportedPodLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// requests computes every selected pod's request of resource (§4.2, Q19).
func (c *ReplicaCalculator) requests(resource corev1.ResourceName, container string) (map[string]int64, error) {
	out := make(map[string]int64, len(c.Pods))
	for _, pod := range c.Pods {
		if c.Config.PodLevelResources && container == "" && hasPodLevelRequests(pod) {
			v, ok := pod.PodRequests[resource]
			if !ok {
				return nil, fmt.Errorf("missing pod-level request for %s in Pod %s", resource, pod.Name)
			}
			out[pod.Name] = v
			continue
		}
		var sum int64
		for _, ctr := range pod.Containers {
			if container != "" && ctr.Name != container {
				continue
			}
			v, ok := ctr.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, ctr.Name, pod.Name)
			}
			sum += v
		}
		out[pod.Name] = sum
	}
	return out, nil
}

func hasPodLevelRequests(pod Pod) bool {
	for name := range pod.PodRequests {
		if supportedPodLevelResource(name) {
			return true
		}
	}
	return false
}

// utilizationRatio is upstream GetResourceUtilizationRatio: utilization is
// truncated to an integer percent before the ratio is formed (Q5).
func utilizationRatio(samples map[string]PodSample, requests map[string]int64, target int32) (ratio float64, utilization int32, rawAverage int64, err error) {
	var total, reqTotal int64
	n := 0
	for name, s := range samples {
		req, ok := requests[name]
		if !ok {
			continue // a sample for a pod outside the pod list (Q3)
		}
		total += s.Value
		reqTotal += req
		n++
	}
	if reqTotal == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	utilization = int32((total * 100) / reqTotal)
	return float64(utilization) / float64(target), utilization, total / int64(n), nil
}

// usageRatio is upstream GetMetricUsageRatio: every sample is averaged,
// including samples of pods outside the pod list (Q3).
func usageRatio(samples map[string]PodSample, target int64) (float64, int64) {
	var total int64
	for _, s := range samples {
		total += s.Value
	}
	usage := total / int64(len(samples))
	return float64(usage) / float64(target), usage
}

func (c *ReplicaCalculator) group(samples map[string]PodSample, resource corev1.ResourceName) PodGroups {
	g := GroupPods(c.Pods, samples, resource, c.Config.CPUInitializationPeriod, c.Config.InitialReadinessDelay, c.Now)
	for name := range g.Ignored {
		delete(samples, name)
	}
	for name := range g.Unready {
		delete(samples, name)
	}
	return g
}

// ResourceUtilizationReplicas is upstream GetResourceReplicas (§4.4). The
// samples map is consumed (pods are removed and filled in).
func (c *ReplicaCalculator) ResourceUtilizationReplicas(current int32, target int32, resource corev1.ResourceName, container string, samples map[string]PodSample) (replicas int32, utilization int32, rawAverage int64, err error) {
	if len(c.Pods) == 0 {
		return 0, 0, 0, errNoPods
	}
	g := c.group(samples, resource)
	if len(samples) == 0 {
		return 0, 0, 0, errNoMetricsForPods
	}
	requests, err := c.requests(resource, container)
	if err != nil {
		return 0, 0, 0, err
	}
	ratio, utilization, rawAverage, err := utilizationRatio(samples, requests, target)
	if err != nil {
		return 0, 0, 0, err
	}
	upWithUnready := len(g.Unready) > 0 && ratio > 1.0
	if !upWithUnready && len(g.Missing) == 0 {
		if c.Tolerances.within(ratio) {
			return current, utilization, rawAverage, nil
		}
		// Q1: multiply by the number of ready pods.
		return int32(math.Ceil(ratio * float64(g.ReadyCount))), utilization, rawAverage, nil
	}
	fill := max(100, int64(target)) // Q11
	fillIn(samples, g, ratio, upWithUnready, func(pod string) int64 { return requests[pod] * fill / 100 })
	newRatio, _, _, err := utilizationRatio(samples, requests, target)
	if err != nil {
		return 0, utilization, rawAverage, err
	}
	return c.secondPass(current, ratio, newRatio, len(samples)), utilization, rawAverage, nil
}

// fillIn completes the samples for the conservative second pass (§4.4,
// §4.5): on scale-down missing pods are assumed at downValue, on scale-up
// at 0 (and, when scaling up, unready pods at 0 too). At a ratio of
// exactly 1 missing pods are left out.
func fillIn(samples map[string]PodSample, g PodGroups, ratio float64, upWithUnready bool, downValue func(pod string) int64) {
	for name := range g.Missing {
		switch {
		case ratio < 1.0:
			samples[name] = PodSample{Pod: name, Value: downValue(name)}
		case ratio > 1.0:
			samples[name] = PodSample{Pod: name}
		}
	}
	if upWithUnready {
		for name := range g.Unready {
			samples[name] = PodSample{Pod: name}
		}
	}
}

// secondPass applies the "no change rather than a smaller change" rule
// (Q12) after missing and unready pods were filled in.
func (c *ReplicaCalculator) secondPass(current int32, ratio, newRatio float64, n int) int32 {
	if c.Tolerances.within(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	replicas := int32(math.Ceil(newRatio * float64(n)))
	if (newRatio < 1.0 && replicas > current) || (newRatio > 1.0 && replicas < current) {
		return current
	}
	return replicas
}

// PlainMetricReplicas is upstream calcPlainMetricReplicas (§4.5): Pods
// metrics (resource "") and Resource metrics with an AverageValue target.
func (c *ReplicaCalculator) PlainMetricReplicas(current int32, target int64, resource corev1.ResourceName, samples map[string]PodSample) (replicas int32, usage int64, err error) {
	if len(c.Pods) == 0 {
		return 0, 0, errNoPods
	}
	g := c.group(samples, resource)
	if len(samples) == 0 {
		return 0, 0, errNoMetricsForPods
	}
	ratio, usage := usageRatio(samples, target)
	upWithUnready := len(g.Unready) > 0 && ratio > 1.0
	if !upWithUnready && len(g.Missing) == 0 {
		if c.Tolerances.within(ratio) {
			return current, usage, nil
		}
		return int32(math.Ceil(ratio * float64(g.ReadyCount))), usage, nil
	}
	fillIn(samples, g, ratio, upWithUnready, func(string) int64 { return target })
	newRatio, _ := usageRatio(samples, target)
	return c.secondPass(current, ratio, newRatio, len(samples)), usage, nil
}

// UsageRatioReplicas is upstream getUsageRatioReplicaCount (§4.6): Object
// and External metrics with a Value target.
func (c *ReplicaCalculator) UsageRatioReplicas(current int32, ratio float64) (int32, error) {
	if current == 0 {
		return int32(math.Ceil(ratio)), nil // scale from zero: no tolerance (Q15)
	}
	if c.Tolerances.within(ratio) {
		return current, nil
	}
	if len(c.Pods) == 0 {
		return 0, errNoPods
	}
	ready := 0
	for _, p := range c.Pods {
		if p.Phase == corev1.PodRunning && p.Ready != nil && p.Ready.Status == corev1.ConditionTrue {
			ready++
		}
	}
	return int32(math.Ceil(ratio * float64(ready))), nil
}

// PerPodReplicas is upstream GetObjectPerPodMetricReplicas and
// GetExternalPerPodMetricReplicas (§4.7): AverageValue targets against
// status.replicas, ignoring pods.
func (c *ReplicaCalculator) PerPodReplicas(statusReplicas int32, usage, target int64) (replicas int32, average int64) {
	replicas = statusReplicas
	ratio := float64(usage) / (float64(target) * float64(statusReplicas))
	if !c.Tolerances.within(ratio) {
		r := math.Ceil(float64(usage) / float64(target))
		if r > math.MaxInt32 {
			r = math.MaxInt32
		}
		replicas = int32(r)
	}
	if usage == math.MaxInt64 {
		return replicas, math.MaxInt64
	}
	avg := math.Ceil(float64(usage) / float64(statusReplicas))
	if avg >= math.MaxInt64 || math.IsInf(avg, 0) || math.IsNaN(avg) {
		return replicas, math.MaxInt64
	}
	return replicas, int64(avg)
}

// saturatingSum adds values, saturating at MaxInt64 (§4.7).
func saturatingSum(values []int64) int64 {
	var sum int64
	for _, v := range values {
		if v > 0 && sum > math.MaxInt64-v {
			return math.MaxInt64
		}
		sum += v
	}
	return sum
}
