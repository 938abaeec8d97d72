package kube

import (
	"context"
	"fmt"
	"slices"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	nodeutil "k8s.io/component-helpers/node/util"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// observer watches the run's namespace with informers (watch, not poll):
// pod transitions and the cluster's Events go to the timeline as they
// happen, with sub-second times; samples read the informers' caches. The
// nodes are watched too (cluster-wide, where the user may): their Ready
// transitions are the timeline's NodeNotReady and NodeReady, as on the
// sim, which placement assertions read to know the live zones.
type observer struct {
	factory   informers.SharedInformerFactory
	nodes     informers.SharedInformerFactory // nil when nodes cannot be listed
	cancel    context.CancelFunc
	pods      corelisters.PodLister
	deploys   appslisters.DeploymentLister
	hpas      autoscalinglisters.HorizontalPodAutoscalerLister
	endpoints discoverylisters.EndpointSliceLister
	services  []string
	ns        string
}

func startObserver(ctx context.Context, client kubernetes.Interface, ns string, sc *scenario.Scenario, r *recorder) (*observer, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	o := &observer{factory: f, cancel: cancel, ns: ns}
	for i := range sc.Spec.Services {
		o.services = append(o.services, sc.Spec.Services[i].Name)
	}
	// The nodes and their labels, for placement assertions; a user who
	// may not list nodes gets runs without them (those assertions then
	// say so).
	// The control plane is left out: the sim has none, and a scenario's
	// pods do not run there (it is tainted), but kind labels it with its
	// first pool's zone, which made that zone a live domain for the
	// spread assertions after the zone's workers were lost.
	if nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		var ns []timeline.Node
		for _, n := range nodes.Items {
			if _, cp := n.Labels[controlPlaneLabel]; cp {
				continue
			}
			ns = append(ns, timeline.Node{Name: n.Name, Labels: n.Labels})
		}
		r.nodes(ns)
		o.nodes = informers.NewSharedInformerFactory(client, 0)
		if err := watchNodeReadiness(o.nodes, r); err != nil {
			cancel()
			return nil, err
		}
	}
	podInf := f.Core().V1().Pods()
	evInf := f.Core().V1().Events()
	o.pods = podInf.Lister()
	o.deploys = f.Apps().V1().Deployments().Lister()
	o.hpas = f.Autoscaling().V2().HorizontalPodAutoscalers().Lister()
	o.endpoints = f.Discovery().V1().EndpointSlices().Lister()
	services := map[string]bool{}
	for _, s := range o.services {
		services[s] = true
	}
	recordPod := func(now time.Time, pod *corev1.Pod) {
		if svc := pod.Labels["app"]; services[svc] {
			r.pod(now, pod.Name, svc, pod.Spec.NodeName, podReady(pod), pod.DeletionTimestamp != nil)
		}
	}
	_, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				recordPod(time.Now(), pod)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			old, okOld := oldObj.(*corev1.Pod)
			pod, okNew := newObj.(*corev1.Pod)
			if !okOld || !okNew {
				return
			}
			now := time.Now()
			recordPod(now, pod)
			if was, is := podReady(old), podReady(pod); was != is {
				if is {
					r.event(now, "Ready", pod.Name, "readiness probe succeeded")
				} else {
					r.event(now, "NotReady", pod.Name, "the Ready condition is False")
				}
			}
		},
		DeleteFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				r.event(time.Now(), "PodDeleted", pod.Name, "")
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	_, err = evInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if e, ok := obj.(*corev1.Event); ok {
				now := time.Now()
				r.event(now, e.Reason, e.InvolvedObject.Name, e.Message)
				if rp, at, ok := repairFromEvent(e, now); ok {
					r.repair(at, rp)
				}
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	// Informers of the kinds only sampled.
	f.Apps().V1().Deployments().Informer()
	f.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	f.Discovery().V1().EndpointSlices().Informer()
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			cancel()
			return nil, fmt.Errorf("watching %v in %s: the cache did not sync", typ, ns)
		}
	}
	if o.nodes != nil {
		o.nodes.Start(ctx.Done())
		for typ, ok := range o.nodes.WaitForCacheSync(ctx.Done()) {
			if !ok {
				cancel()
				return nil, fmt.Errorf("watching %v: the cache did not sync", typ)
			}
		}
	}
	return o, nil
}

// watchNodeReadiness records every change of a node's Ready condition:
// NodeNotReady (the node lifecycle controller's verdict once the kubelet
// stopped posting status, with its message) and NodeReady. A node
// already not Ready when the watch starts is no event: the run did not
// see it go.
func watchNodeReadiness(f informers.SharedInformerFactory, r *recorder) error {
	_, err := f.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			old, okOld := oldObj.(*corev1.Node)
			n, okNew := newObj.(*corev1.Node)
			if !okOld || !okNew {
				return
			}
			was, is := nodeReady(old), nodeReady(n)
			if was == is {
				return
			}
			kind, msg := "NodeNotReady", ""
			if is {
				kind = "NodeReady"
			}
			if c := readyCondition(n); c != nil {
				msg = c.Message
			}
			r.event(time.Now(), kind, n.Name, msg)
		},
	})
	return err
}

// readyCondition is the node's Ready condition (nil when it has none).
func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	_, c := nodeutil.GetNodeCondition(&n.Status, corev1.NodeReady)
	return c
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	c := readyCondition(n)
	return c != nil && c.Status == corev1.ConditionTrue
}

func (o *observer) stop() {
	o.cancel()
	o.factory.Shutdown()
	if o.nodes != nil {
		o.nodes.Shutdown()
	}
}

var everything = labels.Everything()

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sample observes one service at t, as the sim's sample does; cpu is
// metrics-server's latest per-pod CPU (nil if unknown).
func (o *observer) sample(name string, t time.Duration, cpu map[string]int64) timeline.Sample {
	s := timeline.Sample{T: t, CPUUtilization: -1, CPUMillicores: -1}
	if d, err := o.deploys.Deployments(o.namespace()).Get(name); err == nil {
		s.Desired = 1
		if d.Spec.Replicas != nil {
			s.Desired = *d.Spec.Replicas
		}
	}
	pods, _ := o.pods.List(labels.SelectorFromSet(labels.Set{"app": name}))
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		s.Pods++
		if podReady(p) {
			s.Ready++
		}
		if m, ok := cpu[p.Name]; ok {
			if s.CPUMillicores < 0 {
				s.CPUMillicores = 0
			}
			s.CPUMillicores += int32(m)
		}
		if p.Spec.NodeName == "" {
			s.Pending++
		}
	}
	eps, _ := o.endpoints.List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	for _, es := range eps {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				s.Endpoints++
			}
		}
	}
	if h, err := o.hpas.HorizontalPodAutoscalers(o.namespace()).Get(name); err == nil {
		s.CPUUtilization = hpaCPU(h)
	}
	return s
}

// namespace is the one namespace the factory watches.
func (o *observer) namespace() string { return o.ns }

// servingPods are service svc's pods that have an address and are not
// being deleted: those whose /metrics may answer.
func (o *observer) servingPods(svc string) []*corev1.Pod {
	pods, _ := o.pods.List(labels.SelectorFromSet(labels.Set{"app": svc}))
	return slices.DeleteFunc(pods, func(p *corev1.Pod) bool { return p.Status.PodIP == "" || p.DeletionTimestamp != nil })
}

func hpaCPU(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	for _, m := range h.Status.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil {
			return *m.Resource.Current.AverageUtilization
		}
	}
	return -1
}
