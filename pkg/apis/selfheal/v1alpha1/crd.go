package v1alpha1

import (
	_ "embed"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// crdYAML is controller-gen's CRD for these types (go generate).
//
//go:embed crd/mcpsim.dev_selfhealpolicies.yaml
var crdYAML []byte

// CRDYAML is the generated CustomResourceDefinition as written.
func CRDYAML() []byte { return append([]byte(nil), crdYAML...) }

// CRD is the generated CustomResourceDefinition of SelfHealPolicy.
func CRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(crdYAML, crd); err != nil {
		return nil, fmt.Errorf("the embedded SelfHealPolicy CRD does not decode (regenerate it with go generate ./pkg/apis/...): %w", err)
	}
	crd.TypeMeta.APIVersion = apiextensionsv1.SchemeGroupVersion.String()
	crd.TypeMeta.Kind = "CustomResourceDefinition"
	return crd, nil
}
