package scenario

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// ChaosAPIVersion is the apiVersion of Chaos Mesh objects.
const ChaosAPIVersion = "chaos-mesh.org/v1alpha1"

// podChaosFault is the file form of a PodChaos fault: the manifest plus
// `at`.
type podChaosFault struct {
	At                     metav1.Duration `json:"at"`
	chaosv1alpha1.PodChaos `json:",inline"`
}

// faultHeader is what selects the concrete fault type.
type faultHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// SupportedFaultKinds lists the Chaos Mesh kinds a scenario may use.
var supportedFaultKinds = []string{"PodChaos"}

// faultFileType returns the Go type a fault of this kind decodes into.
func faultFileType(kind string) (reflect.Type, error) {
	switch kind {
	case "PodChaos":
		return reflect.TypeOf(podChaosFault{}), nil
	case "":
		return nil, fmt.Errorf("kind is required: a Chaos Mesh kind, one of %v", supportedFaultKinds)
	}
	return nil, fmt.Errorf("unsupported fault kind %q: supported kinds are %v", kind, supportedFaultKinds)
}

// UnmarshalJSON decodes a Chaos Mesh manifest with an `at` field.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var h faultHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return err
	}
	if _, err := faultFileType(h.Kind); err != nil {
		return err
	}
	var pc podChaosFault
	strict, err := sigsjson.UnmarshalStrict(data, &pc)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return strict[0]
	}
	f.At, f.PodChaos = pc.At, &pc.PodChaos
	return nil
}

// MarshalJSON writes the fault back in its file form.
func (f Fault) MarshalJSON() ([]byte, error) {
	if f.PodChaos != nil {
		return json.Marshal(podChaosFault{At: f.At, PodChaos: *f.PodChaos})
	}
	return json.Marshal(map[string]any{"at": f.At})
}

// Name is the fault's name (its Chaos Mesh object's).
func (f *Fault) Name() string {
	if f.PodChaos != nil {
		return f.PodChaos.Name
	}
	return ""
}

// Duration is the fault's Chaos Mesh spec.duration, if it has one.
func (f *Fault) Duration() (time.Duration, bool) {
	if f.PodChaos == nil || f.PodChaos.Spec.Duration == nil {
		return 0, false
	}
	d, err := time.ParseDuration(*f.PodChaos.Spec.Duration)
	return d, err == nil && d > 0
}
