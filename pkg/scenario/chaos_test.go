package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
)

// TestNetworkAndStressChaosErrors: nonsense in a NetworkChaos or
// StressChaos that Chaos Mesh's webhook lets through (or that only its CRD
// patterns catch) is refused with the field's position.
func TestNetworkAndStressChaosErrors(t *testing.T) {
	const network = `  faults:
    - at: 1m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: slow}
      spec:
        action: delay
        mode: all
        duration: 30s
        selector: {labelSelectors: {app: payment}}
        delay: {latency: 200ms, jitter: 10ms, correlation: "25"}
`
	const stress = `  faults:
    - at: 1m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: StressChaos
      metadata: {name: burn}
      spec:
        mode: one
        duration: 1m
        selector: {labelSelectors: {app: payment}}
        stressors: {cpu: {workers: 2, load: 50}}
`
	if _, err := Parse("ok.yaml", []byte(topology+network)); err != nil {
		t.Fatalf("a valid NetworkChaos: %v", err)
	}
	if _, err := Parse("ok.yaml", []byte(topology+stress)); err != nil {
		t.Fatalf("a valid StressChaos: %v", err)
	}
	cases := []struct {
		name, base, old, new string
		want                 []string
	}{
		{"negative latency", network, "latency: 200ms", "latency: -200ms", []string{"f.yaml:47:26:", "spec.faults[0].spec.delay.latency", "not a duration"}},
		{"latency without unit", network, "latency: 200ms", "latency: \"200\"", []string{"spec.faults[0].spec.delay.latency"}},
		{"bad jitter", network, "jitter: 10ms", "jitter: lots", []string{"spec.faults[0].spec.delay.jitter"}},
		{"correlation over 100", network, `correlation: "25"`, `correlation: "125"`, []string{"spec.faults[0].spec.delay.correlation", "between 0 and 100"}},
		{"delay without its spec", network, "        delay: {latency: 200ms, jitter: 10ms, correlation: \"25\"}\n", "", []string{"spec.faults[0].spec.delay: Required value: action delay needs spec.delay"}},
		{"loss over 100", network, "action: delay", "action: loss\n        loss: {loss: \"150\"}", []string{"spec.faults[0].spec.loss.loss", "between 0 and 100"}},
		{"negative loss", network, "action: delay", "action: loss\n        loss: {loss: \"-1\"}", []string{"spec.faults[0].spec.loss.loss"}},
		{"loss without a value", network, "action: delay", "action: loss\n        loss: {correlation: \"5\"}", []string{"spec.faults[0].spec.loss.loss: Required value"}},
		{"unknown direction", network, "mode: all", "mode: all\n        direction: sideways", []string{"spec.faults[0].spec.direction: Unsupported value: \"sideways\""}},
		{"unknown action", network, "action: delay", "action: slow", []string{"spec.faults[0].spec.action: Unsupported value: \"slow\""}},
		{"no mode", network, "        mode: all\n", "", []string{"spec.faults[0].spec.mode: Required value"}},
		{"bad target mode", network, "mode: all", "mode: all\n        target: {mode: most, selector: {labelSelectors: {app: user}}}", []string{"spec.faults[0].spec.target.mode: Unsupported value: \"most\""}},
		{"from without target", network, "mode: all", "mode: all\n        direction: from", []string{"spec.faults[0].spec.direction", "cannot be used when targets is empty"}},
		{"bad duration", network, "duration: 30s", "duration: soon", []string{"spec.faults[0].spec.duration", "non-negative duration"}},
		{"bad partition behavior", network, "action: delay", "action: partition\n        partitionBehavior: explode", []string{"spec.faults[0].spec.partitionBehavior"}},
		{"zero workers", stress, "workers: 2", "workers: 0", []string{"f.yaml:46:36:", "spec.faults[0].spec.stressors.cpu.workers", "between 1 and 8192"}},
		{"load over 100", stress, "load: 50", "load: 150", []string{"spec.faults[0].spec.stressors.cpu.load"}},
		{"no stressor", stress, "stressors: {cpu: {workers: 2, load: 50}}", "stressors: {}", []string{"spec.faults[0].spec.stressors", "missing stressors"}},
		{"bad memory size", stress, "stressors: {cpu: {workers: 2, load: 50}}", "stressors: {memory: {workers: 1, size: lots}}", []string{"spec.faults[0].spec.stressors.memory.size"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(c.base, c.old) {
				t.Fatalf("fixture has no %q", c.old)
			}
			_, err := Parse("f.yaml", []byte(topology+strings.Replace(c.base, c.old, c.new, 1)))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want Errors", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors do not mention %q:\n%v", w, err)
				}
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Line == 0 {
					t.Errorf("error without a position: %v", e)
				}
			}
		})
	}
}

// TestNetemOf: a NetworkChaos's delay and loss as the sim and the kind
// delayer read them: Chaos Mesh's defaults (no jitter, no correlation:
// 0) for what it leaves out, and nothing at all without a delay or a
// loss.
func TestNetemOf(t *testing.T) {
	for _, c := range []struct {
		name string
		tc   chaosv1alpha1.TcParameter
		want Netem
	}{
		{"delay alone", chaosv1alpha1.TcParameter{Delay: &chaosv1alpha1.DelaySpec{Latency: "150ms"}}, Netem{Latency: 150 * time.Millisecond}},
		{"delay with jitter and correlation", chaosv1alpha1.TcParameter{Delay: &chaosv1alpha1.DelaySpec{Latency: "1s", Jitter: "20ms", Correlation: "25"}},
			Netem{Latency: time.Second, Jitter: 20 * time.Millisecond, Correlation: 25}},
		{"loss", chaosv1alpha1.TcParameter{Loss: &chaosv1alpha1.LossSpec{Loss: "0.5", Correlation: "50"}}, Netem{Loss: 0.5, LossCorrelation: 50}},
		{"neither", chaosv1alpha1.TcParameter{}, Netem{}},
	} {
		s := &chaosv1alpha1.NetworkChaosSpec{TcParameter: c.tc}
		if got := NetemOf(s); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
