// Package kind creates, reuses and deletes real kind clusters for mcpsim,
// on the kind Go library (sigs.k8s.io/kind/pkg/cluster), from locally built
// images only: the node image of `make images`, the CNI configured from
// outside (no CNI image to pull), metrics-server from a local image.
package kind

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Defaults of a cluster's network. Every address is loopback on the host:
// the API server and the NodePort mapping listen on 127.0.0.1 only.
const (
	// Not kind's defaults (10.244.0.0/16, 10.96.0.0/16): the host
	// firewall guard matches these subnets, and must never touch the
	// traffic of kind clusters mcpsim did not create.
	PodSubnet       = "10.245.0.0/16"
	ServiceSubnet   = "10.97.0.0/16"
	DefaultNodePort = 30080
	ZoneLabel       = "topology.kubernetes.io/zone"
)

// Spec is what a cluster is made of.
type Spec struct {
	// Workers are the worker nodes' labels, one entry per node.
	Workers []map[string]string
	// ControlPlaneLabels label the control-plane node.
	ControlPlaneLabels map[string]string
	// NodePort is exposed on 127.0.0.1:HostPort of the host.
	NodePort int32
	HostPort int32
}

// DefaultCluster is the cluster `mcpsim cluster up` makes without a
// scenario: two zones, one worker in each. Scenarios with these node
// pools run on it.
var DefaultCluster = scenario.Cluster{NodePools: []scenario.NodePool{
	{Name: "zone-a", Count: 1, Labels: map[string]string{ZoneLabel: "zone-a"}},
	{Name: "zone-b", Count: 1, Labels: map[string]string{ZoneLabel: "zone-b"}},
}}

// SpecFor derives a cluster from a scenario's node pools: one control
// plane (in the first pool's zone) and one worker per pooled node.
func SpecFor(c *scenario.Cluster) Spec {
	s := Spec{NodePort: DefaultNodePort, HostPort: DefaultNodePort}
	for _, np := range c.NodePools {
		for i := int32(0); i < np.Count; i++ {
			s.Workers = append(s.Workers, np.NodeLabels(i))
		}
	}
	if len(c.NodePools) > 0 {
		if z, ok := c.NodePools[0].Labels[ZoneLabel]; ok {
			s.ControlPlaneLabels = map[string]string{ZoneLabel: z}
		}
	}
	return s
}

// v1alpha4 renders the kind configuration. The default CNI is disabled:
// kindnetd cannot be had offline; Up configures the CNI plugins itself.
func (s Spec) v1alpha4() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Networking: v1alpha4.Networking{
			APIServerAddress:  "127.0.0.1",
			PodSubnet:         PodSubnet,
			ServiceSubnet:     ServiceSubnet,
			DisableDefaultCNI: true,
			KubeProxyMode:     v1alpha4.IPTablesProxyMode,
		},
	}
	cp := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Labels: s.ControlPlaneLabels}
	if s.HostPort > 0 {
		cp.ExtraPortMappings = []v1alpha4.PortMapping{{ContainerPort: s.NodePort, HostPort: s.HostPort, ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP}}
	}
	cfg.Nodes = append(cfg.Nodes, cp)
	for _, labels := range s.Workers {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Labels: labels})
	}
	return cfg
}

// String describes the cluster's shape.
func (s Spec) String() string {
	zones := map[string]int{}
	for _, w := range s.Workers {
		zones[w[ZoneLabel]]++
	}
	return fmt.Sprintf("1 control plane + %d workers in %d zone(s)", len(s.Workers), len(zones))
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }

// Fits says whether a running cluster has the spec's workers: as many,
// each with its labels (NodeLabel names each one). A scenario whose
// zones, pools or node count differ must not run on it: its spread,
// placement and outage would mean other things.
func (c *Cluster) Fits(ctx context.Context, s Spec) (bool, error) {
	list, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	var workers []map[string]string
	for _, n := range list.Items {
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; !cp {
			workers = append(workers, n.Labels)
		}
	}
	return s.fits(workers), nil
}

// fits matches the spec's workers to nodes' labels by their NodeLabel.
func (s Spec) fits(workers []map[string]string) bool {
	if len(workers) != len(s.Workers) {
		return false
	}
	byName := map[string]map[string]string{}
	for _, w := range workers {
		byName[w[scenario.NodeLabel]] = w
	}
	for _, want := range s.Workers {
		got, ok := byName[want[scenario.NodeLabel]]
		if !ok {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
	}
	return true
}

// ShapeName names the cluster of a suite's scenarios that need other
// nodes than base has: base-<hash of the spec>, the same name for the same
// nodes on every run (so a kept one is found again).
func ShapeName(base string, s Spec) string {
	h := fnv.New32a()
	for _, w := range s.Workers {
		for _, k := range slices.Sorted(maps.Keys(w)) {
			fmt.Fprintf(h, "%s=%s,", k, w[k])
		}
		h.Write([]byte{';'})
	}
	for _, k := range slices.Sorted(maps.Keys(s.ControlPlaneLabels)) {
		fmt.Fprintf(h, "cp:%s=%s,", k, s.ControlPlaneLabels[k])
	}
	return fmt.Sprintf("%s-%08x", base, h.Sum32())
}
