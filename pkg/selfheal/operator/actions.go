package operator

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// Labels and annotations of an isolated pod.
const (
	// IsolatedByLabel names the policy that isolated the pod, so that the
	// policy still finds it when its selector no longer matches.
	IsolatedByLabel = "selfheal.mcpsim.dev/isolated-by"
	// IsolatedLabelsAnnotation keeps the labels isolation removed (JSON),
	// to put them back.
	IsolatedLabelsAnnotation = "selfheal.mcpsim.dev/isolated-labels"
)

// restart deletes the pod, at once (grace period 0, as Chaos Mesh's
// pod-kill and the sim do: an instance that hangs does not drain). It is
// done when the pod is gone (completeRestarts); a pod gone already is
// done now.
func (rc *round) restart(d selfheal.Decision) (done bool, err error) {
	pod, ok := rc.pods[d.Instance]
	if !ok {
		return true, nil
	}
	a := rc.st.pending[d.ID]
	a.uid = pod.UID
	rc.st.pending[d.ID] = a
	err = rc.r.Client.Delete(rc.ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &pod.UID})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err): // gone, or replaced under the same name
		delete(rc.pods, d.Instance)
		return true, nil
	case err != nil:
		return false, fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	delete(rc.pods, d.Instance) // not serving from now on, for the rate limit
	return false, nil
}

// isolate takes the pod out of the endpoints of every Service that
// selects it by removing the labels their selectors require (kept in an
// annotation), and marks it as isolated by this policy. A pod that leaves
// its ReplicaSet's selector this way is orphaned and replaced, as with a
// manual quarantine; it is adopted again when it rejoins.
func (rc *round) isolate(name string) error {
	pod, ok := rc.pods[name]
	if !ok {
		return nil // gone: nothing left to isolate
	}
	var svcs corev1.ServiceList
	if err := rc.r.Client.List(rc.ctx, &svcs, client.InNamespace(pod.Namespace)); err != nil {
		return fmt.Errorf("listing Services: %w", err)
	}
	removed := map[string]string{}
	for _, s := range svcs.Items {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for k := range s.Spec.Selector {
			removed[k] = pod.Labels[k]
		}
	}
	if prev := pod.Annotations[IsolatedLabelsAnnotation]; prev != "" {
		// Isolated before and not rejoined (an operator restart): keep
		// what was removed then too.
		var old map[string]string
		if json.Unmarshal([]byte(prev), &old) == nil {
			for k, v := range old {
				if _, ok := removed[k]; !ok {
					removed[k] = v
				}
			}
		}
	}
	keep, _ := json.Marshal(removed) // strings: cannot fail
	lbls := map[string]any{IsolatedByLabel: rc.pol.Name}
	for _, k := range slices.Sorted(maps.Keys(removed)) {
		if _, has := pod.Labels[k]; has {
			lbls[k] = nil
		}
	}
	patch := map[string]any{"metadata": map[string]any{"labels": lbls,
		"annotations": map[string]any{IsolatedLabelsAnnotation: string(keep)}}}
	if err := rc.mergePatch(pod, patch); err != nil {
		return fmt.Errorf("relabelling pod %s: %w", name, err)
	}
	pod.Labels = withLabels(pod.Labels, lbls)
	return nil
}

// rejoin puts back the labels isolation removed.
func (rc *round) rejoin(name string) error {
	pod, ok := rc.pods[name]
	if !ok || pod.Labels[IsolatedByLabel] == "" {
		return nil
	}
	var removed map[string]string
	if s := pod.Annotations[IsolatedLabelsAnnotation]; s != "" {
		if err := json.Unmarshal([]byte(s), &removed); err != nil {
			return fmt.Errorf("pod %s: annotation %s: %w", name, IsolatedLabelsAnnotation, err)
		}
	}
	lbls := map[string]any{IsolatedByLabel: nil}
	for k, v := range removed {
		lbls[k] = v
	}
	patch := map[string]any{"metadata": map[string]any{"labels": lbls,
		"annotations": map[string]any{IsolatedLabelsAnnotation: nil}}}
	if err := rc.mergePatch(pod, patch); err != nil {
		return fmt.Errorf("restoring the labels of pod %s: %w", name, err)
	}
	pod.Labels = withLabels(pod.Labels, lbls)
	return nil
}

func withLabels(have map[string]string, patch map[string]any) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range patch {
		if s, ok := v.(string); ok {
			out[k] = s
		} else {
			delete(out, k)
		}
	}
	return out
}

func (rc *round) mergePatch(pod *corev1.Pod, patch map[string]any) error {
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return rc.r.Client.Patch(rc.ctx, pod, client.RawPatch(types.MergePatchType, data))
}

// scale adds a replica to a Deployment through its scale subresource: the
// downstream named in a breaker trip (a reference service's Deployment is
// named after it), else the Deployment that owns the pod. Not beyond the
// maxReplicas of an HPA that scales the same Deployment (the HPA would
// take it back at its next sync), as the sim does; at that bound the
// action is done, with nothing to do.
func (rc *round) scale(d selfheal.Decision) error {
	name := d.Downstream
	if name == "" {
		var err error
		if name, err = rc.deploymentOf(d.Instance); err != nil {
			return err
		}
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rc.pol.Namespace}}
	sc := &autoscalingv1.Scale{}
	if err := rc.r.Client.SubResource("scale").Get(rc.ctx, dep, sc); err != nil {
		return fmt.Errorf("reading the scale of Deployment %s: %w", name, err)
	}
	limit, err := rc.hpaMax(name)
	if err != nil {
		return err
	}
	if limit >= 0 && sc.Spec.Replicas >= limit {
		return nil
	}
	sc.Spec.Replicas++
	if err := rc.r.Client.SubResource("scale").Update(rc.ctx, dep, client.WithSubResourceBody(sc)); err != nil {
		return fmt.Errorf("scaling Deployment %s to %d: %w", name, sc.Spec.Replicas, err)
	}
	return nil
}

// hpaMax is the smallest maxReplicas of the HPAs in the policy's
// namespace that scale Deployment name, or -1 when none does.
func (rc *round) hpaMax(name string) (int32, error) {
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	if err := rc.r.Client.List(rc.ctx, &hpas, client.InNamespace(rc.pol.Namespace)); err != nil {
		return 0, fmt.Errorf("listing the HPAs of namespace %s: %w", rc.pol.Namespace, err)
	}
	limit := int32(-1)
	for _, h := range hpas.Items {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind == "Deployment" && ref.Name == name && (limit < 0 || h.Spec.MaxReplicas < limit) {
			limit = h.Spec.MaxReplicas
		}
	}
	return limit, nil
}

// deploymentOf follows the pod's controller to its ReplicaSet and that
// ReplicaSet's controller to its Deployment.
func (rc *round) deploymentOf(podName string) (string, error) {
	pod, ok := rc.st.pods[podName]
	if !ok {
		return "", fmt.Errorf("pod %s is gone: no Deployment to scale", podName)
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return "", fmt.Errorf("pod %s is not controlled by a ReplicaSet: no Deployment to scale", podName)
	}
	var rs appsv1.ReplicaSet
	if err := rc.r.Client.Get(rc.ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, &rs); err != nil {
		return "", fmt.Errorf("reading ReplicaSet %s of pod %s: %w", ref.Name, podName, err)
	}
	dref := metav1.GetControllerOf(&rs)
	if dref == nil || dref.Kind != "Deployment" {
		return "", fmt.Errorf("ReplicaSet %s is not controlled by a Deployment: nothing to scale", rs.Name)
	}
	return dref.Name, nil
}
