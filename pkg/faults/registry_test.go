package faults

import (
	"strings"
	"testing"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

func TestRegistryLookup(t *testing.T) {
	r := Registry[int]{"PodChaos": {Inject: func(int, *scenario.Fault) ([]string, func() Recovery, error) { return nil, nil, nil }}}
	if _, err := r.Lookup(&scenario.Fault{PodChaos: &chaosv1alpha1.PodChaos{}}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Lookup(&scenario.Fault{StressChaos: &chaosv1alpha1.StressChaos{}})
	if err == nil || !strings.Contains(err.Error(), `"StressChaos" is not modelled`) || !strings.Contains(err.Error(), "[PodChaos]") {
		t.Fatalf("lookup of an unregistered kind: %v", err)
	}
}
