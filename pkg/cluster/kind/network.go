package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
)

// cniConfig is the CNI configuration of one node: ptp veth pairs with
// addresses from the node's podCIDR (host-local IPAM), plus portmap. It
// replaces kindnetd, which cannot be built offline (docs/kind-offline.md).
func cniConfig(podCIDR string) ([]byte, error) {
	return json.MarshalIndent(map[string]any{
		"cniVersion": "0.4.0",
		"name":       "mcpsim",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
}

type nodeNet struct {
	name, ip, podCIDR string
}

// setupNetwork gives every node its CNI configuration and a route to every
// other node's pod CIDR through that node's address on the cluster's
// Docker network (pod traffic crosses nodes only on that network, which
// mcpsim created).
func (c *Cluster) setupNetwork(ctx context.Context) error {
	var nets []nodeNet
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		nets, lastErr = nets[:0], err
		if err != nil || len(list.Items) == 0 {
			return false, nil
		}
		complete := true
		for _, n := range list.Items {
			nn := nodeNet{name: n.Name, podCIDR: n.Spec.PodCIDR}
			for _, a := range n.Status.Addresses {
				if a.Type == corev1.NodeInternalIP && !strings.Contains(a.Address, ":") {
					nn.ip = a.Address
				}
			}
			complete = complete && nn.ip != "" && nn.podCIDR != ""
			nets = append(nets, nn)
		}
		return complete, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("nodes have no pod CIDR or address after 2m (last error: %v): is the controller-manager allocating node CIDRs?", lastErr)
	}
	kn, err := c.kindNodes()
	if err != nil {
		return err
	}
	for _, n := range kn {
		var self *nodeNet
		for i := range nets {
			if nets[i].name == n.String() {
				self = &nets[i]
			}
		}
		if self == nil {
			return fmt.Errorf("node container %s has no Node object", n)
		}
		conf, err := cniConfig(self.podCIDR)
		if err != nil {
			return err
		}
		if err := nodeutils.WriteFile(n, "/etc/cni/net.d/10-mcpsim.conflist", string(conf)); err != nil {
			return fmt.Errorf("writing the CNI configuration of %s: %w", n, err)
		}
		for _, other := range nets {
			if other.name == self.name {
				continue
			}
			var out bytes.Buffer
			if err := n.Command("ip", "route", "replace", other.podCIDR, "via", other.ip).SetStderr(&out).Run(); err != nil {
				return fmt.Errorf("route to %s's pods (%s via %s) on %s: %v: %s", other.name, other.podCIDR, other.ip, n, err, strings.TrimSpace(out.String()))
			}
		}
	}
	return nil
}
