package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/hpa"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
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
		if !p.hasSample {
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

// inject applies a fault: Chaos Mesh resolves the selector against the
// pods that exist now, picks by mode, then acts.
func (w *world) inject(f *scenario.Fault) {
	if f.NodeOutage != nil {
		w.injectNodeOutage(f)
		return
	}
	pc := f.PodChaos
	if pc == nil {
		return // other kinds are refused by Check
	}
	rec := timeline.Fault{Name: f.Name(), Kind: f.Kind(), Action: f.Action(), At: w.now}
	ns := pc.Namespace
	if ns == "" {
		ns = "default"
	}
	sel := pc.Spec.Selector
	if len(sel.Namespaces) == 0 {
		sel.Namespaces = []string{ns}
	}
	var candidates []*pod
	for _, s := range w.services {
		for _, p := range s.pods {
			if p.deleting || p.gone {
				continue
			}
			t := faults.Target{Name: p.name, Namespace: "default", Phase: string(corev1.PodPending), Labels: s.labels}
			var nodeLabels map[string]string
			if p.node != nil {
				t.Node, nodeLabels = p.node.name, p.node.labels
			}
			if p.running {
				t.Phase = string(corev1.PodRunning)
			}
			if ok, err := faults.Matches(&sel, t, nodeLabels); err == nil && ok {
				candidates = append(candidates, p)
			}
		}
	}
	slices.SortFunc(candidates, func(a, b *pod) int { return strings.Compare(a.name, b.name) })
	idx, err := faults.SelectByMode(w.rng, pc.Spec.Mode, pc.Spec.Value, len(candidates))
	if err != nil {
		rec.Error = err.Error()
		w.tl.Faults = append(w.tl.Faults, rec)
		w.tl.AddEvent(w.now, "FaultFailed", pc.Name, err.Error())
		return
	}
	for _, i := range idx {
		rec.Targets = append(rec.Targets, candidates[i].name)
	}
	w.tl.Faults = append(w.tl.Faults, rec)
	w.faults = append(w.faults, pc.Name)
	w.tl.AddEvent(w.now, "FaultInjected", pc.Name, fmt.Sprintf("%s %s: %s", rec.Kind, rec.Action, strings.Join(rec.Targets, ", ")))
	w.injected[f] = len(w.tl.Faults) - 1
	reason := "PodChaos " + pc.Name + ": " + string(pc.Spec.Action)
	for _, i := range idx {
		p := candidates[i]
		switch pc.Spec.Action {
		case chaosv1alpha1.PodKillAction:
			w.killPod(p, time.Duration(pc.Spec.GracePeriod)*time.Second, reason)
		case chaosv1alpha1.ContainerKillAction:
			w.containerKill(p, reason)
		case chaosv1alpha1.PodFailureAction:
			w.podFailure(p, reason)
			w.failed[f] = append(w.failed[f], p)
		}
	}
}

// endFault is a fault's end: its Chaos Mesh object is deleted (its
// duration is over, or the run ended) and Chaos Mesh recovers what it
// did: a pod-failure's pods get their images back. Killed pods and
// containers have nothing to undo.
func (w *world) endFault(f *scenario.Fault) {
	i, ok := w.injected[f]
	if !ok {
		return
	}
	end := w.now
	w.tl.Faults[i].End = &end
	for _, p := range w.failed[f] {
		w.endPodFailure(p)
	}
	delete(w.failed, f)
	for _, n := range w.downNodes[f] {
		w.nodeUp(n)
	}
	delete(w.downNodes, f)
	w.tl.AddEvent(w.now, "FaultRecovered", w.tl.Faults[i].Name, "the chaos object is deleted")
}
