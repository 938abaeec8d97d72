package main

import (
	"fmt"
	"testing"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/scenarios"
)

// TestKindGroupsOfTheBuiltins: the built-in suite on kind needs one
// cluster per distinct set of workers (kind.SpecFor: pools, counts and
// labels; CPU and memory are not kind's to set). From their cluster
// sections: two zones of two nodes (hpa-scale-up, network-delay,
// noisy-neighbour, payment-outage), two zones of three (mcp-topology),
// three unzoned nodes (overload-flapping, self-heal), zone a of two and
// zone b of one (pod-kill-recovery), three zones of two (zone-outage):
// five clusters, in the order of first appearance.
func TestKindGroupsOfTheBuiltins(t *testing.T) {
	var scs []*scenario.Scenario
	var names []string
	for _, name := range scenarios.Names() {
		file, data, _ := scenarios.Get(name)
		sc, err := scenario.Parse(file, data)
		if err != nil {
			t.Fatal(err)
		}
		scs, names = append(scs, sc), append(names, name)
	}
	var got [][]string
	for _, g := range kindGroups(scs) {
		var ns []string
		for _, i := range g {
			ns = append(ns, names[i])
		}
		got = append(got, ns)
	}
	want := "[[hpa-scale-up network-delay noisy-neighbour payment-outage] [mcp-topology] [overload-flapping self-heal] [pod-kill-recovery] [zone-outage]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("groups %v, want %s", got, want)
	}
}
