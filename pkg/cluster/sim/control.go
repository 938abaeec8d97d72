package sim

import (
	"errors"
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/hpa"
)

// scheduleMetricsServer scrapes every pod's CPU counter each metric
// resolution, as metrics-server does from the kubelets: a pod's usage is
// the CPU it used between its last two scrapes, so a new pod has no sample
// until its second scrape.
func (w *world) scheduleMetricsServer(s *service) {
	res := s.spec.MetricResolution()
	var scrape func()
	scrape = func() {
		for _, p := range s.pods {
			if !p.running || p.gone || (p.node != nil && p.node.down) {
				continue // metrics-server cannot reach a stopped machine
			}
			p.srv.advance(w.now)
			if p.scraped && w.now > p.scrapeT {
				win := w.now - p.scrapeT
				p.sample = int64((p.srv.cpu - p.scrapeCPU) / win.Seconds() * 1000)
				p.sampleT, p.sampleWin, p.hasSample = w.now, win, true
			}
			p.scraped, p.scrapeT, p.scrapeCPU = true, w.now, p.srv.cpu
		}
		if next := w.now + res; next <= w.end {
			w.events.push(next, scrape)
		}
	}
	w.events.push(res, scrape)
}

// hpaController runs package hpa's Reconcile on the sync period against
// the simulated metrics API and scales the Deployment.
type hpaController struct {
	w           *world
	s           *service
	cfg         hpa.Config
	spec        *autoscalingv2.HorizontalPodAutoscalerSpec
	state       hpa.State
	utilization int32
	// containers is what the HPA reads of every pod's spec (its requests).
	containers []hpa.Container
	// buffers reused across syncs
	pods    []hpa.Pod
	samples []hpa.ResourceSample
}

func newHPAController(w *world, s *service) *hpaController {
	c := &hpaController{w: w, s: s, cfg: s.spec.HPAConfig(), spec: s.spec.HPA, utilization: -1}
	requests := map[corev1.ResourceName]int64{corev1.ResourceCPU: s.podCPU}
	if s.podMem > 0 {
		requests[corev1.ResourceMemory] = s.podMem * 1000 // milli-units, as the HPA counts
	}
	c.containers = []hpa.Container{{Name: "app", Requests: requests}}
	// A new HPA is first synced one period after it is created.
	w.events.push(c.cfg.SyncPeriod, c.sync)
	return c
}

func (c *hpaController) sync() {
	w, s := c.w, c.s
	// The HPA's view of each pod is kept in the pod and updated in place:
	// with 10,000 pods, rebuilding it every sync allocated gigabytes over
	// a long run.
	pods := c.pods[:0]
	statusReplicas := int32(0)
	for _, p := range s.pods {
		if p.isolated {
			continue // its labels are gone: the HPA's selector misses it
		}
		hp := hpa.Pod{Name: p.name, Phase: corev1.PodPending, Deleting: p.deleting, Containers: c.containers}
		if !p.deleting {
			statusReplicas++
		}
		if p.node != nil {
			p.hpaStart = w.at(p.bound)
			hp.StartTime = &p.hpaStart
			p.hpaReady = hpa.ReadyCondition{Status: corev1.ConditionFalse, LastTransitionTime: w.at(p.readySince)}
			if p.ready {
				p.hpaReady.Status = corev1.ConditionTrue
			}
			hp.Ready = &p.hpaReady
		}
		if p.running {
			hp.Phase = corev1.PodRunning
		}
		pods = append(pods, hp)
	}
	c.pods = pods
	res := c.cfg.Reconcile(w.at(w.now), c.spec, hpa.Scale{SpecReplicas: s.desired, StatusReplicas: statusReplicas}, pods, c, &c.state)
	for _, m := range res.Metrics {
		if m.Utilization != nil {
			c.utilization = *m.Utilization
		}
	}
	if res.Rescale && res.DesiredReplicas != s.desired {
		reason := ""
		if cond, ok := res.Condition(autoscalingv2.ScalingLimited); ok && cond.Status == corev1.ConditionTrue {
			reason = " (limited: " + cond.Reason + ")"
		}
		w.tl.AddEvent(w.now, "SuccessfulRescale", s.name, fmt.Sprintf("New size: %d; reason: cpu utilization %d%%%s", res.DesiredReplicas, c.utilization, reason))
		s.desired = res.DesiredReplicas
		w.reconcileReplicaSet(s)
	} else if res.Err != nil {
		w.tl.AddEvent(w.now, "FailedComputeMetricsReplicas", s.name, res.Err.Error())
	}
	if next := w.now + c.cfg.SyncPeriod; next <= w.end {
		w.events.push(next, c.sync)
	}
}

// ResourceMetrics implements hpa.MetricsSource: metrics-server's latest
// samples of the pods that exist.
func (c *hpaController) ResourceMetrics(resource corev1.ResourceName) ([]hpa.ResourceSample, error) {
	if resource != corev1.ResourceCPU {
		return nil, fmt.Errorf("the sim's metrics-server reports cpu only, not %s", resource)
	}
	out := c.samples[:0]
	for _, p := range c.s.pods {
		if !p.hasSample || p.isolated {
			continue
		}
		if p.usage == nil {
			p.usage = []hpa.ContainerUsage{{Name: "app", Usage: map[corev1.ResourceName]int64{}}}
		}
		p.usage[0].Usage[corev1.ResourceCPU] = p.sample
		out = append(out, hpa.ResourceSample{Pod: p.name, Timestamp: c.w.at(p.sampleT), Window: p.sampleWin, Containers: p.usage})
	}
	c.samples = out
	return out, nil
}

var errNoCustomMetrics = errors.New("the sim serves no custom or external metrics")

// PodsMetric implements hpa.MetricsSource.
func (c *hpaController) PodsMetric(string) ([]hpa.PodSample, error) { return nil, errNoCustomMetrics }

// ObjectMetric implements hpa.MetricsSource.
func (c *hpaController) ObjectMetric(string, autoscalingv2.CrossVersionObjectReference) (int64, error) {
	return 0, errNoCustomMetrics
}

// ExternalMetric implements hpa.MetricsSource.
func (c *hpaController) ExternalMetric(string) ([]int64, error) { return nil, errNoCustomMetrics }
