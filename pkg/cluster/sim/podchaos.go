package sim

import (
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/faults"
	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// PodChaos: pod-kill deletes the pods (pods.go), container-kill and
// pod-failure act on their containers (chaos.go).

var podChaosActions = []string{string(chaosv1alpha1.PodKillAction), string(chaosv1alpha1.ContainerKillAction), string(chaosv1alpha1.PodFailureAction)}

func checkPodChaos(f *scenario.Fault, p *field.Path) error {
	switch a := f.PodChaos.Spec.Action; a {
	case chaosv1alpha1.PodKillAction, chaosv1alpha1.ContainerKillAction, chaosv1alpha1.PodFailureAction:
		return nil
	default:
		return field.NotSupported(p.Child("spec", "action"), a, podChaosActions)
	}
}

func (w *world) injectPodChaos(f *scenario.Fault) ([]string, func() faults.Recovery, error) {
	pc := f.PodChaos
	pods, err := w.selectPods(pc.Spec.PodSelector, pc.Namespace)
	if err != nil {
		return nil, nil, err
	}
	act := func() faults.Recovery {
		reason := "PodChaos " + pc.Name + ": " + string(pc.Spec.Action)
		var failed []*pod
		for _, p := range pods {
			switch pc.Spec.Action {
			case chaosv1alpha1.PodKillAction:
				w.killPod(p, time.Duration(pc.Spec.GracePeriod)*time.Second, reason)
			case chaosv1alpha1.ContainerKillAction:
				w.containerKill(p, reason)
			case chaosv1alpha1.PodFailureAction:
				w.podFailure(p, reason)
				failed = append(failed, p)
			}
		}
		if len(failed) == 0 {
			return nil // killed pods and containers have nothing to undo
		}
		// Chaos Mesh gives a pod-failure's pods their images back.
		return func() {
			for _, p := range failed {
				w.endPodFailure(p)
			}
		}
	}
	return podNames(pods), act, nil
}
