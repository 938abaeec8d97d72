package kind

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The cluster's own services — CoreDNS, metrics-server, Chaos Mesh's
// controller — run on the control plane. A NodeOutage takes workers only,
// so what resolves names, measures and injects keeps working through a
// zone outage, as on the sim, which has no such pods: a lost zone must
// cost the scenario's services, not blind the HPA (metrics-server) or
// strand a chaos object whose webhook lived on the lost node.

// ControlPlaneSelector and ControlPlaneTolerations place a pod on the
// control plane (kind taints it NoSchedule in a multi-node cluster).
var (
	ControlPlaneSelector    = map[string]string{controlPlaneLabel: ""}
	ControlPlaneTolerations = []corev1.Toleration{{Key: controlPlaneLabel, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
)

const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// onControlPlane places a pod spec on the control plane.
func onControlPlane(spec *corev1.PodSpec) {
	spec.NodeSelector = ControlPlaneSelector
	spec.Tolerations = append(spec.Tolerations, ControlPlaneTolerations...)
}

// pinCoreDNS moves kind's CoreDNS to the control plane (its Deployment
// tolerates the taint already; the selector keeps it off the workers).
func (c *Cluster) pinCoreDNS(ctx context.Context) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"nodeSelector": ControlPlaneSelector,
		"tolerations":  ControlPlaneTolerations,
	}}}})
	if err != nil {
		return err
	}
	if _, err := c.Client.AppsV1().Deployments("kube-system").Patch(ctx, "coredns", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("placing CoreDNS on the control plane: %w", err)
	}
	return nil
}
