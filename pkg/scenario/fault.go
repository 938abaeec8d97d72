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

// NodeOutageKind is mcpsim's own fault kind: whole nodes go down (a node,
// or a zone when the selector names one), as a power or network loss of
// the machines; Chaos Mesh has no kind for it on Kubernetes.
const NodeOutageKind = "NodeOutage"

// NodeOutage takes the nodes whose labels match Selector down for
// Duration (to the end of the run if unset).
type NodeOutage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              NodeOutageSpec `json:"spec"`
}

// NodeOutageSpec says which nodes go down, and for how long.
type NodeOutageSpec struct {
	// Selector matches node labels, e.g. {topology.kubernetes.io/zone:
	// zone-a} for a zone outage, or {kubernetes.io/hostname: NAME}.
	Selector map[string]string `json:"selector"`
	// Duration of the outage; unset lasts to the end of the run.
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// nodeOutageFault is the file form of a NodeOutage: the object plus `at`.
type nodeOutageFault struct {
	At         metav1.Duration `json:"at"`
	NodeOutage `json:",inline"`
}

// faultHeader is what selects the concrete fault type.
type faultHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// SupportedFaultKinds lists the fault kinds a scenario may use.
var supportedFaultKinds = []string{"PodChaos", NodeOutageKind}

// faultFileType returns the Go type a fault of this kind decodes into.
func faultFileType(kind string) (reflect.Type, error) {
	switch kind {
	case "PodChaos":
		return reflect.TypeOf(podChaosFault{}), nil
	case NodeOutageKind:
		return reflect.TypeOf(nodeOutageFault{}), nil
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
	if h.Kind == NodeOutageKind {
		var no nodeOutageFault
		strict, err := sigsjson.UnmarshalStrict(data, &no)
		if err != nil {
			return err
		}
		if len(strict) > 0 {
			return strict[0]
		}
		f.At, f.NodeOutage = no.At, &no.NodeOutage
		return nil
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
	if f.NodeOutage != nil {
		return json.Marshal(nodeOutageFault{At: f.At, NodeOutage: *f.NodeOutage})
	}
	return json.Marshal(map[string]any{"at": f.At})
}

// Name is the fault's name (its object's).
func (f *Fault) Name() string {
	switch {
	case f.PodChaos != nil:
		return f.PodChaos.Name
	case f.NodeOutage != nil:
		return f.NodeOutage.Name
	}
	return ""
}

// Duration is the fault's spec.duration, if it has one.
func (f *Fault) Duration() (time.Duration, bool) {
	if f.NodeOutage != nil {
		if d := f.NodeOutage.Spec.Duration; d != nil && d.Duration > 0 {
			return d.Duration, true
		}
		return 0, false
	}
	if f.PodChaos == nil || f.PodChaos.Spec.Duration == nil {
		return 0, false
	}
	d, err := time.ParseDuration(*f.PodChaos.Spec.Duration)
	return d, err == nil && d > 0
}
