// Package v1alpha1 is the SelfHealPolicy API (mcpsim.dev/v1alpha1): the
// policy the self-heal operator runs, the same shape as a scenario's
// spec.selfHeal entry with a label selector instead of a service name.
//
// The CRD is generated from these types by controller-gen (`go generate
// ./pkg/apis/...` or `make generate`) and embedded (CRD), so the backend
// applies exactly what the types say.
//
// +kubebuilder:object:generate=true
// +groupName=mcpsim.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.18.0 object paths=. crd:crdVersions=v1 output:crd:artifacts:config=crd

var (
	// GroupVersion is the API's group and version.
	GroupVersion = schema.GroupVersion{Group: "mcpsim.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the API's types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&SelfHealPolicy{}, &SelfHealPolicyList{})
}
