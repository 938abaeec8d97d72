package chaosmesh

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// What Chaos Mesh leaves in a pod's network namespace, as the chaos-daemon
// sees it: the clean-up checks of the e2e tests (here and in
// pkg/cluster/kube) read a namespace with NetnsDumpScript and judge the
// dump with ActiveRules and InertLeftovers.

// NetnsDumpScript is a shell script that prints the network namespace of
// process pid (a shell expression, e.g. "$pid") in sections: "# iptables"
// (iptables-save without comments, table lines and default-policy
// chains), "# ipsets" (ipset names) and "# qdiscs" (tc qdisc show). It is
// meant to run where the chaos-daemon's tools are (its container, hostPID).
func NetnsDumpScript(pid string) string {
	return `echo "# iptables"; nsenter -t ` + pid + ` -n iptables-save | grep -v '^#' | grep -v '^:.*ACCEPT' | grep -v '^\*\|^COMMIT'
echo "# ipsets"; nsenter -t ` + pid + ` -n ipset list -n 2>/dev/null || echo "(ipset list failed)"
echo "# qdiscs"; nsenter -t ` + pid + ` -n tc qdisc show`
}

// ActiveRules are the iptables rules of a dump that act on packets
// because of Chaos Mesh: the jumps from its CHAOS-INPUT and CHAOS-OUTPUT
// chains into a chaos's chain (what the daemon adds to inject and removes
// to recover) and any rule in INPUT or OUTPUT other than the jumps to
// those two chains.
func ActiveRules(dump string) []string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "-A CHAOS-INPUT ") || strings.HasPrefix(l, "-A CHAOS-OUTPUT "):
			out = append(out, l)
		case (strings.HasPrefix(l, "-A INPUT ") || strings.HasPrefix(l, "-A OUTPUT ")) && !strings.HasSuffix(l, "-j CHAOS-INPUT") && !strings.HasSuffix(l, "-j CHAOS-OUTPUT"):
			out = append(out, l)
		}
	}
	return out
}

// InertLeftovers are the chains and ipsets of a dump that a recovered
// partition leaves: upstream's chaos-daemon never deletes a chaos's chain
// nor destroys its ipsets; with the jumps gone they match no packet.
func InertLeftovers(dump string) []string {
	var out []string
	section := ""
	for _, l := range strings.Split(dump, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "# "):
			section = l
		case section == "# iptables" && strings.HasPrefix(l, ":") && !strings.HasPrefix(l, ":CHAOS-"):
			out = append(out, "chain "+strings.Fields(l)[0][1:])
		case section == "# ipsets" && l != "" && !strings.HasPrefix(l, "("):
			out = append(out, "ipset "+l)
		}
	}
	return out
}

// ConditionTrue says whether a chaos object's status has condition typ
// (AllInjected, AllRecovered, ...) true.
func ConditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}
