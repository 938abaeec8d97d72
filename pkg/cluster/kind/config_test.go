package kind

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

func TestSpecForScenarioPools(t *testing.T) {
	c := &scenario.Cluster{NodePools: []scenario.NodePool{
		{Name: "a", Count: 2, CPU: resource.MustParse("2"), Labels: map[string]string{ZoneLabel: "zone-a"}},
		{Name: "b", Count: 1, CPU: resource.MustParse("2"), Labels: map[string]string{ZoneLabel: "zone-b", "tier": "edge"}},
	}}
	s := SpecFor(c)
	if len(s.Workers) != 3 || s.Workers[2]["tier"] != "edge" || s.Workers[0][scenario.PoolLabel] != "a" ||
		s.Workers[1][scenario.NodeLabel] != "a-1" || s.Workers[2][scenario.NodeLabel] != "b-0" || s.ControlPlaneLabels[ZoneLabel] != "zone-a" {
		t.Fatalf("spec: %+v", s)
	}
	if got := s.String(); got != "1 control plane + 3 workers in 2 zone(s)" {
		t.Fatalf("String() = %q", got)
	}
	cfg := s.v1alpha4()
	if cfg.Networking.APIServerAddress != "127.0.0.1" || !cfg.Networking.DisableDefaultCNI || len(cfg.Nodes) != 4 {
		t.Fatalf("config: %+v", cfg.Networking)
	}
	pm := cfg.Nodes[0].ExtraPortMappings
	if len(pm) != 1 || pm[0].ListenAddress != "127.0.0.1" || pm[0].HostPort != DefaultNodePort {
		t.Fatalf("port mapping must listen on loopback only: %+v", pm)
	}
}

func TestCNIConfig(t *testing.T) {
	raw, err := cniConfig("10.245.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Plugins []struct {
			Type string
			IPAM struct {
				Type   string
				Ranges [][]struct{ Subnet string }
			}
		}
	}
	if err := json.Unmarshal(raw, &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0].Type != "ptp" || conf.Plugins[0].IPAM.Type != "host-local" || conf.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.245.1.0/24" || conf.Plugins[1].Type != "portmap" {
		t.Fatalf("conf: %s", raw)
	}
}

func TestGuardRulesKeepPodTrafficLocal(t *testing.T) {
	rules := guardRules("172.19.0.0/16")
	// Pod-to-pod and pod-to-node traffic passes; other pod traffic and
	// untranslated Service traffic is rejected, in that order.
	want := []string{
		"-s 10.245.0.0/16 -d 10.245.0.0/16 -j RETURN",
		"-s 10.245.0.0/16 -d 172.19.0.0/16 -j RETURN",
		"-s 10.245.0.0/16 -j REJECT --reject-with icmp-net-unreachable",
		"-d 10.97.0.0/16 -j REJECT --reject-with icmp-net-unreachable",
	}
	if len(rules) != len(want) {
		t.Fatalf("%d rules", len(rules))
	}
	for i, r := range rules {
		if got := strings.Join(r, " "); got != want[i] {
			t.Errorf("rule %d: %q, want %q", i, got, want[i])
		}
	}
}

// TestGuardNeverMatchesKindDefaults: the guard's rules only name mcpsim's
// own subnets, so a kind cluster with kind's default subnets on the same
// host is never rejected.
func TestGuardNeverMatchesKindDefaults(t *testing.T) {
	for _, r := range guardRules("172.19.0.0/16") {
		line := strings.Join(r, " ")
		if strings.Contains(line, "10.244.") || strings.Contains(line, "10.96.") {
			t.Errorf("rule %q matches kind's default subnets", line)
		}
		if !strings.Contains(line, PodSubnet) && !strings.Contains(line, ServiceSubnet) {
			t.Errorf("rule %q matches traffic that is not mcpsim's", line)
		}
	}
}

func TestUnguardRemovesTheChain(t *testing.T) {
	var got []string
	for _, c := range unguardCommands() {
		got = append(got, strings.Join(c, " "))
	}
	want := []string{"-D DOCKER-USER -j MCPSIM-GUARD", "-F MCPSIM-GUARD", "-X MCPSIM-GUARD"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("unguard: %q, want %q", got, want)
	}
}

func TestLastMcpsimCluster(t *testing.T) {
	for _, c := range []struct {
		images string
		last   bool
	}{
		{"", true},
		{"kindest/node:v1.37.0\nkindest/node:v1.37.0\n", true},
		{"kindest/node:v1.37.0\nmcpsim/node:v1.34.4\n", false},
	} {
		if got := noMcpsimNodes(c.images, "mcpsim/node:v1.34.4"); got != c.last {
			t.Errorf("images %q: last = %v, want %v", c.images, got, c.last)
		}
	}
}

// TestSpecFits: a cluster fits a spec when it has exactly its workers,
// each (found by its mcpsim.dev/node name) with at least the spec's
// labels; ShapeName is the same for the same spec and differs for
// another.
func TestSpecFits(t *testing.T) {
	c := &scenario.Cluster{NodePools: []scenario.NodePool{
		{Name: "zone-a", Count: 2, Labels: map[string]string{ZoneLabel: "zone-a"}},
		{Name: "zone-b", Count: 1, Labels: map[string]string{ZoneLabel: "zone-b"}},
	}}
	s := SpecFor(c)
	node := func(name, zone string) map[string]string {
		// kind and the kubelet add labels of their own.
		return map[string]string{scenario.NodeLabel: name, scenario.PoolLabel: name[:6], ZoneLabel: zone, "kubernetes.io/hostname": "mcpsim-worker-" + name}
	}
	whole := []map[string]string{node("zone-b-0", "zone-b"), node("zone-a-0", "zone-a"), node("zone-a-1", "zone-a")}
	if !s.fits(whole) {
		t.Fatal("the cluster made from the spec does not fit it")
	}
	for name, workers := range map[string][]map[string]string{
		"a node short":                 whole[:2],
		"a node more":                  append(whole[:3:3], node("zone-b-1", "zone-b")),
		"a node in the wrong zone":     {node("zone-b-0", "zone-a"), whole[1], whole[2]},
		"nodes before mcpsim.dev/node": {{ZoneLabel: "zone-a"}, {ZoneLabel: "zone-a"}, {ZoneLabel: "zone-b"}},
	} {
		if s.fits(workers) {
			t.Errorf("%s: fits", name)
		}
	}
	if a, b := ShapeName("mcpsim", s), ShapeName("mcpsim", SpecFor(c)); a != b || len(a) != len("mcpsim-")+8 {
		t.Fatalf("ShapeName not stable: %q, %q", a, b)
	}
	c.NodePools[1].Count = 2
	if ShapeName("mcpsim", s) == ShapeName("mcpsim", SpecFor(c)) {
		t.Fatal("two shapes, one name")
	}
}
