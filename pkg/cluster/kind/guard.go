package kind

import (
	"fmt"
	"os/exec"
	"strings"
)

// guardChain holds the host firewall rules that keep cluster-internal
// traffic on this machine.
const guardChain = "MCPSIM-GUARD"

// guardRules are the rules of guardChain, in order. Pods talk to pods and
// to the nodes on the kind network; anything else a pod sends, and any
// packet still addressed to a Service IP (no kube-proxy rule has
// translated it yet), must not leave the machine: it is rejected at once,
// which also makes the client retry quickly instead of waiting for a
// timeout.
func guardRules(kindSubnet string) [][]string {
	return [][]string{
		{"-s", PodSubnet, "-d", PodSubnet, "-j", "RETURN"},
		{"-s", PodSubnet, "-d", kindSubnet, "-j", "RETURN"},
		{"-s", PodSubnet, "-j", "REJECT", "--reject-with", "icmp-net-unreachable"},
		{"-d", ServiceSubnet, "-j", "REJECT", "--reject-with", "icmp-net-unreachable"},
	}
}

// guardHostNetwork installs guardChain in Docker's DOCKER-USER chain
// (idempotent; the rules stay for later clusters).
func guardHostNetwork(network string) error {
	out, err := exec.Command("docker", "network", "inspect", network, "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}").Output()
	if err != nil {
		return fmt.Errorf("inspecting docker network %s: %w", network, err)
	}
	subnet := ""
	for _, s := range strings.Fields(string(out)) {
		if !strings.Contains(s, ":") {
			subnet = s
		}
	}
	if subnet == "" {
		return fmt.Errorf("docker network %s has no IPv4 subnet", network)
	}
	ipt := func(args ...string) error {
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// Rebuild the chain from scratch so that a changed kind subnet is
	// picked up.
	if exec.Command("iptables", "-n", "-L", guardChain).Run() != nil {
		if err := ipt("-N", guardChain); err != nil {
			return err
		}
	}
	if err := ipt("-F", guardChain); err != nil {
		return err
	}
	for _, r := range guardRules(subnet) {
		if err := ipt(append([]string{"-A", guardChain}, r...)...); err != nil {
			return err
		}
	}
	if exec.Command("iptables", "-C", "DOCKER-USER", "-j", guardChain).Run() != nil {
		return ipt("-I", "DOCKER-USER", "-j", guardChain)
	}
	return nil
}

// unguardCommands remove guardChain: the jump from DOCKER-USER, its rules,
// the chain itself.
func unguardCommands() [][]string {
	return [][]string{{"-D", "DOCKER-USER", "-j", guardChain}, {"-F", guardChain}, {"-X", guardChain}}
}

// noMcpsimNodes reports whether none of the kind node containers' images
// (one per line) is mcpsim's node image (repository and tag).
func noMcpsimNodes(images, nodeImage string) bool {
	repo, _, _ := strings.Cut(nodeImage, ":")
	for _, img := range strings.Fields(images) {
		if r, _, _ := strings.Cut(img, ":"); r == repo {
			return false
		}
	}
	return true
}

// unguardIfLast removes guardChain once no mcpsim cluster is left on the
// host (the chain is shared by every mcpsim cluster).
func unguardIfLast(nodeImage string) error {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--format", "{{.Image}}").Output()
	if err != nil {
		return fmt.Errorf("listing kind nodes: %w", err)
	}
	if !noMcpsimNodes(string(out), nodeImage) {
		return nil
	}
	if exec.Command("iptables", "-n", "-L", guardChain).Run() != nil {
		return nil // already gone
	}
	for _, c := range unguardCommands() {
		if out, err := exec.Command("iptables", c...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %s: %v: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
