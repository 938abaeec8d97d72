package faults

import (
	"slices"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Target is a pod that a selector may pick.
type Target struct {
	Name      string
	Namespace string
	Node      string
	Phase     string
	Labels    map[string]string
}

// Matches reports whether a pod matches a Chaos Mesh PodSelectorSpec:
// namespaces, label and expression selectors, explicit pod names, nodes,
// node selectors (given the node's labels) and phase selectors.
func Matches(sel *chaosv1alpha1.PodSelectorSpec, t Target, nodeLabels map[string]string) (bool, error) {
	if len(sel.Namespaces) > 0 && !slices.Contains(sel.Namespaces, t.Namespace) {
		return false, nil
	}
	if len(sel.Pods) > 0 {
		if !slices.Contains(sel.Pods[t.Namespace], t.Name) {
			return false, nil
		}
	}
	ls, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: sel.LabelSelectors, MatchExpressions: sel.ExpressionSelectors})
	if err != nil {
		return false, err
	}
	if !ls.Matches(labels.Set(t.Labels)) {
		return false, nil
	}
	if len(sel.Nodes) > 0 && !slices.Contains(sel.Nodes, t.Node) {
		return false, nil
	}
	if len(sel.NodeSelectors) > 0 && !labels.SelectorFromSet(sel.NodeSelectors).Matches(labels.Set(nodeLabels)) {
		return false, nil
	}
	if len(sel.PodPhaseSelectors) > 0 && !slices.Contains(sel.PodPhaseSelectors, t.Phase) && !slices.Contains(sel.PodPhaseSelectors, "all") {
		return false, nil
	}
	return true, nil
}
