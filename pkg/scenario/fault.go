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

// PodHangKind is mcpsim's own fault kind for a pod that is alive but does
// not serve: the reference service's process keeps running and its port
// open, but every request, /healthz and /readyz included, hangs (a
// deadlock, an exhausted pool). Kubernetes does not see it unless a probe
// times out; it is what a self-heal policy is for. Real backends deliver
// it through the reference service's admin endpoint (POST /admin/hang).
const PodHangKind = "PodHang"

// PodHang makes the pods picked by its selector and mode hang for
// Duration (to the end of the run if unset).
type PodHang struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              PodHangSpec `json:"spec"`
}

// PodHangSpec picks the pods as Chaos Mesh's PodSelector does (selector,
// mode, value).
type PodHangSpec struct {
	chaosv1alpha1.PodSelector `json:",inline"`
	Duration                  *metav1.Duration `json:"duration,omitempty"`
}

type podHangFault struct {
	At      metav1.Duration `json:"at"`
	PodHang `json:",inline"`
}

// networkChaosFault and stressChaosFault are the file forms of those
// Chaos Mesh kinds: the manifest plus `at`.
type networkChaosFault struct {
	At                         metav1.Duration `json:"at"`
	chaosv1alpha1.NetworkChaos `json:",inline"`
}

type stressChaosFault struct {
	At                        metav1.Duration `json:"at"`
	chaosv1alpha1.StressChaos `json:",inline"`
}

// faultHeader is what selects the concrete fault type.
type faultHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// SupportedFaultKinds lists the fault kinds a scenario may use.
var supportedFaultKinds = []string{"PodChaos", "NetworkChaos", "StressChaos", NodeOutageKind, PodHangKind}

// faultFileType returns the Go type a fault of this kind decodes into.
func faultFileType(kind string) (reflect.Type, error) {
	switch kind {
	case "PodChaos":
		return reflect.TypeOf(podChaosFault{}), nil
	case NodeOutageKind:
		return reflect.TypeOf(nodeOutageFault{}), nil
	case PodHangKind:
		return reflect.TypeOf(podHangFault{}), nil
	case "NetworkChaos":
		return reflect.TypeOf(networkChaosFault{}), nil
	case "StressChaos":
		return reflect.TypeOf(stressChaosFault{}), nil
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
	strictly := func(v any) error {
		strict, err := sigsjson.UnmarshalStrict(data, v)
		if err != nil {
			return err
		}
		if len(strict) > 0 {
			return strict[0]
		}
		return nil
	}
	switch h.Kind {
	case NodeOutageKind:
		var no nodeOutageFault
		if err := strictly(&no); err != nil {
			return err
		}
		f.At, f.NodeOutage = no.At, &no.NodeOutage
		return nil
	case PodHangKind:
		var ph podHangFault
		if err := strictly(&ph); err != nil {
			return err
		}
		f.At, f.PodHang = ph.At, &ph.PodHang
		return nil
	case "NetworkChaos":
		var nc networkChaosFault
		if err := strictly(&nc); err != nil {
			return err
		}
		f.At, f.NetworkChaos = nc.At, &nc.NetworkChaos
		return nil
	case "StressChaos":
		var st stressChaosFault
		if err := strictly(&st); err != nil {
			return err
		}
		f.At, f.StressChaos = st.At, &st.StressChaos
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
	if f.PodHang != nil {
		return json.Marshal(podHangFault{At: f.At, PodHang: *f.PodHang})
	}
	if f.NetworkChaos != nil {
		return json.Marshal(networkChaosFault{At: f.At, NetworkChaos: *f.NetworkChaos})
	}
	if f.StressChaos != nil {
		return json.Marshal(stressChaosFault{At: f.At, StressChaos: *f.StressChaos})
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
	case f.PodHang != nil:
		return f.PodHang.Name
	case f.NetworkChaos != nil:
		return f.NetworkChaos.Name
	case f.StressChaos != nil:
		return f.StressChaos.Name
	}
	return ""
}

// Kind is the fault's kind: PodChaos, NetworkChaos, StressChaos,
// NodeOutage or PodHang.
func (f *Fault) Kind() string {
	switch {
	case f.PodChaos != nil:
		return "PodChaos"
	case f.NodeOutage != nil:
		return NodeOutageKind
	case f.PodHang != nil:
		return PodHangKind
	case f.NetworkChaos != nil:
		return "NetworkChaos"
	case f.StressChaos != nil:
		return "StressChaos"
	}
	return ""
}

// Action is what the fault does, as reports name it: the Chaos Mesh
// object's spec.action ("stress" for a StressChaos, which has none) or
// "outage" for a NodeOutage, "hang" for a PodHang.
func (f *Fault) Action() string {
	switch {
	case f.PodChaos != nil:
		return string(f.PodChaos.Spec.Action)
	case f.NodeOutage != nil:
		return "outage"
	case f.PodHang != nil:
		return "hang"
	case f.NetworkChaos != nil:
		return string(f.NetworkChaos.Spec.Action)
	case f.StressChaos != nil:
		return "stress"
	}
	return ""
}

// ChaosObject is the fault's Chaos Mesh object (nil for mcpsim's own
// kinds).
func (f *Fault) ChaosObject() chaosv1alpha1.InnerObject {
	switch {
	case f.PodChaos != nil:
		return f.PodChaos
	case f.NetworkChaos != nil:
		return f.NetworkChaos
	case f.StressChaos != nil:
		return f.StressChaos
	}
	return nil
}

// Duration is the fault's spec.duration, if it has one.
func (f *Fault) Duration() (time.Duration, bool) {
	var own *metav1.Duration
	switch {
	case f.NodeOutage != nil:
		own = f.NodeOutage.Spec.Duration
	case f.PodHang != nil:
		own = f.PodHang.Spec.Duration
	}
	if f.NodeOutage != nil || f.PodHang != nil {
		if own != nil && own.Duration > 0 {
			return own.Duration, true
		}
		return 0, false
	}
	var spec *string
	switch {
	case f.PodChaos != nil:
		spec = f.PodChaos.Spec.Duration
	case f.NetworkChaos != nil:
		spec = f.NetworkChaos.Spec.Duration
	case f.StressChaos != nil:
		spec = f.StressChaos.Spec.Duration
	}
	if spec == nil {
		return 0, false
	}
	d, err := time.ParseDuration(*spec)
	return d, err == nil && d > 0
}
