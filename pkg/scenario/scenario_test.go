package scenario

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/scenarios"
)

const valid = `apiVersion: mcpsim.dev/v1alpha1
kind: Scenario
metadata:
  name: t
spec:
  duration: 5m
  cluster:
    nodePools:
      - name: a
        count: 1
        cpu: "4"
        memory: 8Gi
  workload:
    service: gateway
    replicas: 2
    resources:
      requests: {cpu: 200m}
  load:
    profile: constant
    rate: 10
    cpuPerRequest: 10ms
    timeout: 2s
  faults:
    - at: 1m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: PodChaos
      metadata: {name: kill}
      spec:
        action: pod-kill
        mode: one
        selector: {labelSelectors: {app: gateway}}
  assertions:
    - name: errors
      type: errorRate
      maxRatio: 0.1
`

func TestBuiltinScenariosAreValid(t *testing.T) {
	names := scenarios.Names()
	if len(names) < 2 {
		t.Fatalf("built-in scenarios: %v", names)
	}
	for _, name := range names {
		file, data, ok := scenarios.Get(name)
		if !ok {
			t.Fatalf("Get(%q) failed", name)
		}
		sc, err := Parse(file, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sc.Metadata.Name != name {
			t.Errorf("%s: metadata.name is %q: built-ins are named after their file", file, sc.Metadata.Name)
		}
	}
}

func TestValidScenarioDefaults(t *testing.T) {
	sc, err := Parse("ok.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Spec.Services[0].Name != "gateway" || sc.Spec.Load.Duration.Duration.String() != "5m0s" {
		t.Fatalf("defaults not applied: name %q, load duration %v", sc.Spec.Services[0].Name, sc.Spec.Load.Duration)
	}
	if sc.Spec.Faults[0].PodChaos == nil || sc.Spec.Faults[0].At.Duration.String() != "1m0s" {
		t.Fatalf("fault not decoded: %+v", sc.Spec.Faults[0])
	}
	if p := sc.Spec.Services[0].ReadinessProbe; p.PeriodSeconds != 10 || p.SuccessThreshold != 1 {
		t.Fatalf("probe defaults: %+v", p)
	}
}

// edit replaces one exact piece of the valid scenario.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(valid, old) {
		t.Fatalf("test bug: %q not in the valid scenario", old)
	}
	return strings.Replace(valid, old, new, 1)
}

func TestParseErrorsCarryPositions(t *testing.T) {
	cases := []struct {
		name, old, new string
		want           []string // each must appear in one error line
	}{
		{"misspelled field", "    replicas: 2", "    replicaz: 2", []string{"bad.yaml:15:5: spec.workload.replicaz: unknown field \"replicaz\" (did you mean \"replicas\"?)"}},
		{"negative duration", "duration: 5m", "duration: -5m", []string{"bad.yaml:6:13: spec.duration", "must be greater than zero"}},
		{"unknown fault action", "action: pod-kill", "action: pod-explode", []string{"bad.yaml:29:17: spec.faults[0].spec.action", "pod-explode", "supported values"}},
		{"wrong type", "replicas: 2", "replicas: two", []string{"bad.yaml:15:15: spec.workload.replicas: expected a whole number, got the string \"two\""}},
		{"bad duration syntax", "timeout: 2s", "timeout: 2 seconds", []string{"bad.yaml:22:14: spec.load.timeout: invalid duration \"2 seconds\""}},
		{"bad quantity", `cpu: "4"`, `cpu: "four"`, []string{"bad.yaml:11:14: spec.cluster.nodePools[0].cpu: invalid quantity"}},
		{"unsupported fault kind", "kind: PodChaos", "kind: TimeChaos", []string{"bad.yaml:26:13: spec.faults[0].kind: unsupported fault kind \"TimeChaos\""}},
		{"unknown chaos mode", "mode: one", "mode: some", []string{"spec.faults[0].spec.mode", "\"some\""}},
		{"chaos value out of range", "mode: one", "mode: fixed-percent\n        value: \"150\"", []string{"spec.faults[0].spec.value", "Must be (0,100]"}},
		{"duplicate field", "    replicas: 2", "    replicas: 2\n    replicas: 3", []string{"bad.yaml:16:5: spec.workload.replicas: duplicate field"}},
		{"unknown assertion fault", "      maxRatio: 0.1", "      maxRatio: 0.1\n    - name: r\n      type: readyRecovers\n      atLeast: 2\n      within: 30s\n      after: {fault: nope}", []string{"spec.assertions[1].after.fault: Not found: \"nope\""}},
		{"unsupported profile", "profile: constant", "profile: spiky", []string{"bad.yaml:19:14: spec.load.profile: Unsupported value: \"spiky\""}},
		{"bad api version", "apiVersion: mcpsim.dev/v1alpha1", "apiVersion: mcpsim.dev/v9", []string{"bad.yaml:1:13: apiVersion: Unsupported value"}},
		{"yaml syntax", "  workload:", "  workload: [", []string{"bad.yaml:", "invalid YAML"}},
		{"fault after end", "at: 1m", "at: 6m", []string{"spec.faults[0].at", "before the end of the scenario"}},
		{"too many requests", "rate: 10", "rate: 500000", []string{"bad.yaml:19:5: spec.load", "150000000 service requests", "more than the 50000000"}},
		{"too long", "duration: 5m", "duration: 25h", []string{"spec.duration: Invalid value: \"25h0m0s\": must be at most 24h0m0s"}},
		{"too many replicas", "replicas: 2", "replicas: 20000", []string{"spec.workload.replicas", "between 0 and 10000"}},
		{"sync too fast", "      requests: {cpu: 200m}", "      requests: {cpu: 200m}\n    hpaController: {syncPeriod: 1ms}", []string{"spec.workload.hpaController.syncPeriod", "at least 1s"}},
		{"too many nodes", "count: 1", "count: 6000", []string{"spec.cluster.nodePools: Too many: 6000"}},
		{"duplicate assertion name", "      maxRatio: 0.1\n", "      maxRatio: 0.1\n    - {name: errors, type: errorRate, maxRatio: 0.2}\n", []string{"spec.assertions[1].name: Duplicate value: \"errors\""}},
		{"unnamed assertion", "    - name: errors\n", "    - name: \"\"\n", []string{"spec.assertions[0].name: Required value: assertions are named in reports"}},
		{"duplicate fault name", "  assertions:\n", "    - {at: 2m, apiVersion: chaos-mesh.org/v1alpha1, kind: PodChaos, metadata: {name: kill}, spec: {action: pod-kill, mode: one, selector: {labelSelectors: {app: gateway}}}}\n  assertions:\n", []string{"spec.faults[1].metadata.name: Duplicate value: \"kill\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(edit(t, c.old, c.new)))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want Errors", err)
			}
			text := err.Error()
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("errors do not mention %q:\n%s", w, text)
				}
			}
			for _, e := range errs {
				if e.File != "bad.yaml" || e.Line == 0 {
					t.Errorf("error without a position: %v", e)
				}
			}
		})
	}
}

func TestEveryErrorReportedAtOnce(t *testing.T) {
	src := edit(t, "duration: 5m", "duration: -5m")
	src = strings.Replace(src, "    replicas: 2", "    replicaz: 2", 1)
	src = strings.Replace(src, "action: pod-kill", "action: pod-explode", 1)
	_, err := Parse("bad.yaml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 errors (unknown field, negative duration, bad action), got:\n%v", err)
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Fatalf("errors not in file order:\n%v", err)
		}
	}
}

func TestEmptyAndMultiDocumentFiles(t *testing.T) {
	for name, src := range map[string]string{"empty": "", "list": "- a\n- b\n", "two docs": valid + "---\n" + valid} {
		if _, err := Parse("f.yaml", []byte(src)); err == nil || !strings.HasPrefix(err.Error(), "f.yaml") {
			t.Errorf("%s: Parse = %v, want an error naming the file", name, err)
		}
	}
}

func TestAliasBombIsRejectedQuickly(t *testing.T) {
	src := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		src += name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = name
	}
	src += "spec: *h\n"
	_, err := Parse("bomb.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("alias bomb: %v", err)
	}
}

func TestHPAControllerSettings(t *testing.T) {
	src := edit(t, "      requests: {cpu: 200m}", `      requests: {cpu: 200m}
    hpa: {minReplicas: 1, maxReplicas: 4}
    hpaController:
      syncPeriod: 30s
      tolerance: 0.05
      downscaleStabilization: 1m
      cpuInitializationPeriod: 2m
      initialReadinessDelay: 10s
      metricResolution: 30s`)
	sc, err := Parse("hpa.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	svc := &sc.Spec.Services[0]
	cfg := svc.HPAConfig()
	if cfg.SyncPeriod.String() != "30s" || cfg.Tolerance != 0.05 || cfg.DownscaleStabilization.String() != "1m0s" ||
		cfg.CPUInitializationPeriod.String() != "2m0s" || cfg.InitialReadinessDelay.String() != "10s" || svc.MetricResolution().String() != "30s" {
		t.Fatalf("settings not applied: %+v", cfg)
	}
	// The HPA spec was defaulted as the API server does: CPU at 80%.
	if m := svc.HPA.Metrics; len(m) != 1 || *m[0].Resource.Target.AverageUtilization != 80 {
		t.Fatalf("metrics not defaulted: %+v", m)
	}
	var plain Service
	if d := plain.HPAConfig(); d.SyncPeriod.String() != "15s" || d.Tolerance != 0.1 || d.DownscaleStabilization.String() != "5m0s" || d.CPUInitializationPeriod.String() != "5m0s" || d.InitialReadinessDelay.String() != "30s" {
		t.Fatalf("Kubernetes defaults wrong: %+v", d)
	}
}

const topology = `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: topo}
spec:
  duration: 5m
  cluster:
    nodePools:
      - {name: a, count: 2, cpu: "4", memory: 8Gi}
  services:
    - name: gateway
      role: gateway
      resources: {requests: {cpu: 200m}}
      work: {cpu: 2ms}
      calls:
        - service: user
        - service: payment
          timeout: 300ms
          retries: 1
          fallback: none
          circuitBreaker: {consecutiveFailures: 3, openFor: 5s}
    - name: user
      role: user
      resources: {requests: {cpu: 100m}}
      work: {cpu: 5ms, distribution: constant}
    - name: payment
      role: payment
      resources: {requests: {cpu: 100m}}
      work: {cpu: 5ms}
  load:
    profile: poisson
    rate: 50
    timeout: 2s
  assertions:
    - {name: avail, type: availability, minRatio: 0.99}
    - {name: opens, type: breakerOpens, downstream: payment, within: 10s, after: {time: 1m}}
    - {name: user p99, type: latency, service: user, quantile: 0.99, max: 50ms}
`

func TestTopologyDefaults(t *testing.T) {
	sc, err := Parse("topo.yaml", []byte(topology))
	if err != nil {
		t.Fatal(err)
	}
	gw := sc.Spec.Services[0]
	if sc.Spec.Load.Target != "gateway" || sc.Spec.Load.Arrivals != ArrivalsPoisson || gw.FanOut != FanOutParallel || gw.Work.Distribution != DistributionExponential {
		t.Fatalf("defaults: load %+v gateway %+v", sc.Spec.Load, gw)
	}
	user, pay := gw.Calls[0], gw.Calls[1]
	// The seed policy: open past 5 consecutive failures, for 10s, one trial.
	if user.Timeout.Duration.String() != "2s" || user.Fallback != FallbackStatic || *user.CircuitBreaker.ConsecutiveFailures != 5 || user.CircuitBreaker.OpenFor.Duration.String() != "10s" || *user.CircuitBreaker.HalfOpenRequests != 1 {
		t.Fatalf("call defaults: %+v %+v", user, user.CircuitBreaker)
	}
	if pay.Retries != 1 || pay.Fallback != FallbackNone || *pay.CircuitBreaker.ConsecutiveFailures != 3 || pay.CircuitBreaker.OpenFor.Duration.String() != "5s" {
		t.Fatalf("payment call: %+v", pay)
	}
	if sc.Spec.Assertions[0].Service != "gateway" || sc.Spec.Assertions[2].Service != "user" {
		t.Fatalf("assertion services: %+v", sc.Spec.Assertions)
	}
	if HopsPerRequest(sc, "gateway") != 3 {
		t.Fatalf("hops per request: %d, want 3", HopsPerRequest(sc, "gateway"))
	}
}

func TestV1alpha1IsConverted(t *testing.T) {
	sc, err := Parse("old.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if sc.APIVersion != APIVersion || sc.Spec.Workload != nil || len(sc.Spec.Services) != 1 {
		t.Fatalf("not converted: %+v", sc.Spec)
	}
	s := sc.Spec.Services[0]
	if s.Name != "gateway" || s.Role != "gateway" || s.Work.CPU.Duration.String() != "10ms" || s.Work.Distribution != DistributionExponential || len(s.Calls) != 0 || sc.Spec.Load.Target != "gateway" || sc.Spec.Load.Arrivals != ArrivalsUniform {
		t.Fatalf("conversion: %+v", s)
	}
	// Errors of a converted file point at its own lines and fields.
	bad := strings.Replace(valid, "requests: {cpu: 200m}", "requests: {memory: 1Gi}", 1)
	_, err = Parse("old.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "old.yaml:17:") || !strings.Contains(err.Error(), "spec.workload.resources.requests.cpu") {
		t.Fatalf("v1alpha1 error position: %v", err)
	}
	bad = strings.Replace(valid, "cpuPerRequest: 10ms", "cpuPerRequest: 0s", 1)
	_, err = Parse("old.yaml", []byte(bad))
	if err == nil || !strings.Contains(err.Error(), "spec.load.cpuPerRequest") {
		t.Fatalf("v1alpha1 cpuPerRequest error: %v", err)
	}
}

func TestSchemaFormsAreNotMixed(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"workload in v1alpha2", strings.Replace(valid, "mcpsim.dev/v1alpha1", "mcpsim.dev/v1alpha2", 1), "in v1alpha2 write services:"},
		{"services in v1alpha1", strings.Replace(topology, "mcpsim.dev/v1alpha2", "mcpsim.dev/v1alpha1", 1), "a v1alpha1 scenario has one workload"},
	} {
		_, err := Parse("x.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestTopologyErrors(t *testing.T) {
	for _, c := range []struct{ name, old, new, want string }{
		{"unknown call target", "        - service: user\n", "        - service: usr\n", `spec.services[0].calls[0].service: Unsupported value: "usr"`},
		{"cycle", "      work: {cpu: 5ms, distribution: constant}", "      work: {cpu: 5ms, distribution: constant}\n      calls: [{service: gateway}]", "calls form a cycle"},
		{"self call", "      work: {cpu: 5ms, distribution: constant}", "      work: {cpu: 5ms, distribution: constant}\n      calls: [{service: user}]", "cannot call itself"},
		{"duplicate name", "    - name: payment\n", "    - name: user\n", "spec.services[2].name: Duplicate value"},
		{"bad distribution", "distribution: constant", "distribution: normal", `Unsupported value: "normal"`},
		{"no work", "      work: {cpu: 2ms}\n", "", "spec.services[0].work.cpu: Invalid value"},
		{"bad fallback", "fallback: none", "fallback: cache", `spec.services[0].calls[1].fallback: Unsupported value: "cache"`},
		{"bad target", "    profile: poisson", "    target: cart\n    profile: poisson", `spec.load.target: Not found: "cart"`},
		{"breaker on a leaf", "downstream: payment, within", "service: user, within", "makes no calls"},
		{"downstream not called", "downstream: payment, within", "downstream: order, within", `spec.assertions[1].downstream: Unsupported value: "order"`},
		{"poisson with uniform", "    rate: 50", "    rate: 50\n    arrivals: uniform", "the poisson profile has poisson arrivals"},
		{"too many retries", "retries: 1", "retries: 11", "must be between 0 and 10"},
		{"placement without criterion", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: spread, type: placement}", "spec.assertions[1].maxSkew: Required value: what must hold"},
		{"placement skew zero", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: spread, type: placement, maxPerNode: 0}", "spec.assertions[1].maxPerNode: Invalid value: 0: must be at least 1"},
		{"placement with a window", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: spread, type: placement, maxSkew: 1, window: {from: 1m}}", "spec.assertions[1].window: Forbidden: not used by type placement"},
		{"rescheduled without within", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: moved, type: rescheduledWithin}", "spec.assertions[1].within: Required value"},
		{"flaps without a count", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: flaps, type: readinessFlaps, window: {from: 1m}}", "spec.assertions[1].atLeast: Required value: the count of Ready"},
		{"flaps with both counts", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: flaps, type: readinessFlaps, atLeast: 1, atMost: 2}", "spec.assertions[1].atLeast: Required value"},
		{"hang without mode", "  assertions:\n", "  faults:\n    - {at: 1m, apiVersion: mcpsim.dev/v1alpha2, kind: PodHang, metadata: {name: h}, spec: {selector: {labelSelectors: {app: gateway}}}}\n  assertions:\n", "spec.faults[0].spec.mode: Required value"},
		{"hang with a chaos apiVersion", "  assertions:\n", "  faults:\n    - {at: 1m, apiVersion: chaos-mesh.org/v1alpha1, kind: PodHang, metadata: {name: h}, spec: {mode: one, selector: {labelSelectors: {app: gateway}}}}\n  assertions:\n", `spec.faults[0].apiVersion: Unsupported value: "chaos-mesh.org/v1alpha1"`},
		{"hang unknown field", "  assertions:\n", "  faults:\n    - {at: 1m, apiVersion: mcpsim.dev/v1alpha2, kind: PodHang, metadata: {name: h}, spec: {mode: one, forever: true, selector: {labelSelectors: {app: gateway}}}}\n  assertions:\n", `unknown field "forever"`},
		{"selfHealWithin after a time", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: healed, type: selfHealWithin, within: 20s, after: {time: 1m}}", "spec.assertions[1].after.fault: Required value"},
		{"noCollateral without a count", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99}\n    - {name: safe, type: noCollateral}", "spec.assertions[1].atLeast: Required value"},
		{"skew on a latency", "    - {name: avail, type: availability, minRatio: 0.99}", "    - {name: avail, type: availability, minRatio: 0.99, maxSkew: 1}", "spec.assertions[0].maxSkew: Forbidden: not used by type availability"},
		// Placement fields, with the API server's rules.
		{"spread skew", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      topologySpreadConstraints: [{maxSkew: 0, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}]\n", "topo.yaml:14:45: spec.services[0].topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be at least 1"},
		{"spread mode", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Never}]\n", `whenUnsatisfiable: Unsupported value: "Never"`},
		{"minDomains soft", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      topologySpreadConstraints: [{maxSkew: 1, minDomains: 2, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway}]\n", "minDomains: Invalid value: 2: only with whenUnsatisfiable: DoNotSchedule"},
		{"spread duplicate", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}, {maxSkew: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]\n", "topologySpreadConstraints[1]: Duplicate value"},
		{"toleration exists with value", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      tolerations: [{key: k, operator: Exists, value: v}]\n", "spec.services[0].tolerations[0].value: Invalid value: \"v\": value must be empty when operator is Exists"},
		{"toleration seconds", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      tolerations: [{key: k, operator: Exists, effect: NoSchedule, tolerationSeconds: 30}]\n", "effect must be NoExecute when tolerationSeconds is set"},
		{"toleration without key", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      tolerations: [{operator: Equal, value: v}]\n", "operator must be Exists when key is empty"},
		{"anti-affinity without key", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: {matchLabels: {app: gateway}}}]}}\n", "spec.services[0].affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value"},
		{"affinity weight", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 101, podAffinityTerm: {topologyKey: zone}}]}}\n", "weight: Invalid value: 101: must be in the range 1-100"},
		{"bad selector operator", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: zone, labelSelector: {matchExpressions: [{key: app, operator: Near}]}}]}}\n", "operator: Invalid value: \"Near\""},
		{"bad node affinity operator", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: Near, values: [a]}]}]}}}\n", "spec.services[0].affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"},
		{"taint effect", "count: 2, cpu: \"4\", memory: 8Gi}", "count: 2, cpu: \"4\", memory: 8Gi, taints: [{key: k, effect: Sometimes}]}", `spec.cluster.nodePools[0].taints[0].effect: Unsupported value: "Sometimes"`},
		{"reserved node label", "count: 2, cpu: \"4\", memory: 8Gi}", "count: 2, cpu: \"4\", memory: 8Gi, labels: {mcpsim.dev/node: x}}", "spec.cluster.nodePools[0].labels[mcpsim.dev/node]: Forbidden: set by mcpsim"},
		// 62 + "-1" is 64 characters: node a's name would not be a label value.
		{"pool name too long", "{name: a, count: 2", "{name: " + strings.Repeat("a", 62) + ", count: 2", "the pool's node names (" + strings.Repeat("a", 62) + "-1) must fit in 63 characters"},
		// The CPU quota model.
		{"quota model", "    nodePools:\n", "    cpuQuota: {model: periodic}\n    nodePools:\n", `topo.yaml:7:23: spec.cluster.cpuQuota.model: Unsupported value: "periodic": supported values: "Fluid", "Periodic"`},
		{"quota period too short", "    nodePools:\n", "    cpuQuota: {model: Periodic, period: 500us}\n    nodePools:\n", "topo.yaml:7:41: spec.cluster.cpuQuota.period: Invalid value: \"500µs\": must be between 1ms and 1s"},
		{"quota period too long", "    nodePools:\n", "    cpuQuota: {model: Periodic, period: 2s}\n    nodePools:\n", "spec.cluster.cpuQuota.period: Invalid value: \"2s\": must be between 1ms and 1s"},
		{"fluid with a period", "    nodePools:\n", "    cpuQuota: {period: 100ms}\n    nodePools:\n", "topo.yaml:7:24: spec.cluster.cpuQuota.period: Forbidden: only the Periodic model has a period"},
		{"node selector value", "      work: {cpu: 2ms}\n", "      work: {cpu: 2ms}\n      nodeSelector: {zone: \"a b\"}\n", "spec.services[0].nodeSelector[zone]: Invalid value: \"a b\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, nw := strings.ReplaceAll(c.old, "\\n", "\n"), strings.ReplaceAll(c.new, "\\n", "\n")
			if !strings.Contains(topology, old) {
				t.Fatalf("fixture lacks %q", old)
			}
			_, err := Parse("topo.yaml", []byte(strings.Replace(topology, old, nw, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if !strings.Contains(err.Error(), "topo.yaml:") {
				t.Fatalf("error without a position: %v", err)
			}
		})
	}
}

func TestReadFileRefusesWhatIsNotAScenarioFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "named pipe", zero: "device", big: "larger than the 1048576-byte limit", dir: "is a directory"} {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v, want an error saying %q", filepath.Base(path), err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ReadFile still blocked after 10s", filepath.Base(path))
		}
	}
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(ok); err != nil || string(data) != valid {
		t.Fatalf("a regular file: %v", err)
	}
	if _, err := Parse("big.yaml", bytes.Repeat([]byte(" "), MaxFileSize+1)); err == nil || !strings.Contains(err.Error(), "big.yaml:1:1") {
		t.Fatalf("Parse of an oversized input: %v", err)
	}
}

func TestTrailingDocumentSeparator(t *testing.T) {
	if _, err := Parse("t.yaml", []byte(valid+"---\n")); err != nil {
		t.Fatalf("a trailing --- must be accepted: %v", err)
	}
	if _, err := Parse("t.yaml", []byte(valid+"---\nkind: Other\n")); err == nil || !strings.Contains(err.Error(), "found a second one") {
		t.Fatalf("a second document: %v", err)
	}
}

func TestOutOfRangeValues(t *testing.T) {
	for _, c := range []struct{ name, old, new, want string }{
		{"huge cpu", `cpu: "4"`, `cpu: 1e1000`, "spec.cluster.nodePools[0].cpu"},
		{"cpu past 1e16", `cpu: "4"`, `cpu: "2e16"`, "must be at most 100k"},
		{"huge request", "requests: {cpu: 200m}", "requests: {cpu: 200m, memory: 1e30}", "spec.workload.resources.requests[memory]"},
		{"probe overflow", "    replicas: 2\n", "    replicas: 2\n    readinessProbe: {initialDelaySeconds: 2147483647}\n", "must be at most 86400"},
		{"probe product", "    replicas: 2\n", "    replicas: 2\n    readinessProbe: {periodSeconds: 80000, successThreshold: 80000}\n", "periodSeconds × successThreshold"},
		{"sine period 1ns", "    profile: constant\n    rate: 10\n", "    profile: sine\n    mean: 10\n    amplitude: 5\n    period: 1ns\n", "must be at least 1s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(edit(t, c.old, c.new)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
}

// TestOneBadValueOneError: a bad value is reported once, and does not make
// the rest of the file look empty (no cascade of false errors).
func TestOneBadValueOneError(t *testing.T) {
	for _, name := range scenarios.Names() {
		_, data, _ := scenarios.Get(name)
		for _, c := range []struct{ old, new string }{
			{"duration: 10m", "duration: 10mm"}, {"duration: 5m", "duration: 5mm"},
			{"timeout: 2s", "timeout: 2ss"}, {"replicas: 2", "replicas: two"}, {"replicas: 3", "replicas: three"},
		} {
			src := string(data)
			if !strings.Contains(src, c.old) {
				continue
			}
			_, err := Parse(name+".yaml", []byte(strings.Replace(src, c.old, c.new, 1)))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Errorf("%s with %q: %d errors, want 1:\n%v", name, c.new, len(errs), err)
			}
		}
	}
}

func TestSelfHealPolicies(t *testing.T) {
	policy := `  selfHeal:
    - name: heal
      target: payment
      subscriptions: [{event: InstanceDown, action: restart}]
`
	sc, err := Parse("sh.yaml", []byte(topology+policy))
	if err != nil {
		t.Fatal(err)
	}
	// The seed's example is the default: restart, 5s, 3 retries; checks
	// of /healthz every 5s with a 1s timeout, 3 failures.
	p := sc.Spec.SelfHeal[0].EnginePolicy()
	if p.Subscriptions[0].Timeout.String() != "5s" || p.Subscriptions[0].Retries != 3 || p.HealthCheck.Path != "/healthz" ||
		p.HealthCheck.Interval.String() != "5s" || p.HealthCheck.Timeout.String() != "1s" || p.HealthCheck.FailureThreshold != 3 ||
		p.RateLimit.MaxConcurrent != 1 || p.RateLimit.MinAvailable != 1 {
		t.Fatalf("defaults: %+v", p)
	}
	for _, c := range []struct{ old, new, want string }{
		{"target: payment", "target: cart", `spec.selfHeal[0].target: Not found: "cart"`},
		{"event: InstanceDown", "event: Dizzy", `Unsupported value: "Dizzy"`},
		{"action: restart", "action: reboot", `Unsupported value: "reboot"`},
		{"action: restart}]", "action: restart, retries: 99}]", "must be between 0 and 10"},
	} {
		_, err := Parse("sh.yaml", []byte(topology+strings.Replace(policy, c.old, c.new, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.new, err)
		}
	}
}

func TestNetworkAndStressChaosFaults(t *testing.T) {
	faults := `  faults:
    - at: 1m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: NetworkChaos
      metadata: {name: cut}
      spec:
        action: partition
        mode: all
        direction: to
        duration: 30s
        selector: {labelSelectors: {app: gateway}}
        target: {mode: all, selector: {labelSelectors: {app: payment}}}
    - at: 2m
      apiVersion: chaos-mesh.org/v1alpha1
      kind: StressChaos
      metadata: {name: burn}
      spec:
        mode: one
        duration: 1m
        selector: {labelSelectors: {app: payment}}
        stressors: {cpu: {workers: 1, load: 100}}
`
	sc, err := Parse("f.yaml", []byte(topology+faults))
	if err != nil {
		t.Fatal(err)
	}
	if f := sc.Spec.Faults[0]; f.NetworkChaos == nil || f.Name() != "cut" || f.ChaosObject() == nil {
		t.Fatalf("NetworkChaos not decoded: %+v", f)
	}
	if d, ok := sc.Spec.Faults[1].Duration(); !ok || d != time.Minute || sc.Spec.Faults[1].StressChaos == nil {
		t.Fatalf("StressChaos: duration %v %v", d, ok)
	}
	// Reports name a fault by kind and action: the NetworkChaos's
	// spec.action, "stress" for a StressChaos (it has no action field).
	for i, want := range [][2]string{{"NetworkChaos", "partition"}, {"StressChaos", "stress"}} {
		if f := &sc.Spec.Faults[i]; f.Kind() != want[0] || f.Action() != want[1] {
			t.Errorf("faults[%d]: kind %q action %q, want %q %q", i, f.Kind(), f.Action(), want[0], want[1])
		}
	}
	// Chaos Mesh's own validation: a StressChaos with no stressor.
	_, err = Parse("f.yaml", []byte(topology+strings.Replace(faults, "        stressors: {cpu: {workers: 1, load: 100}}\n", "", 1)))
	if err == nil || !strings.Contains(err.Error(), "spec.faults[1].spec") {
		t.Fatalf("a StressChaos without stressors: %v", err)
	}
}

// TestRequestsPerService: in the topology fixture the gateway calls user
// and payment once each: one request each, three in all; a cycle has no
// finite tree.
func TestRequestsPerService(t *testing.T) {
	sc, err := Parse("topo.yaml", []byte(topology))
	if err != nil {
		t.Fatal(err)
	}
	counts, ok := RequestsPerService(sc, "gateway")
	if !ok || counts["gateway"] != 1 || counts["user"] != 1 || counts["payment"] != 1 || len(counts) != 3 {
		t.Fatalf("counts %v ok %v", counts, ok)
	}
	// Poisson at 50 req/s for 5 minutes: 15,000 requests on average, 3
	// service requests each.
	if n := ExpectedServiceRequests(sc); n != 45000 {
		t.Fatalf("expected service requests %v, want 45,000", n)
	}
	sc.Spec.Services[1].Calls = []Call{{Service: "gateway"}}
	if _, ok := RequestsPerService(sc, "gateway"); ok || HopsPerRequest(sc, "gateway") != -1 {
		t.Fatal("a cycle counted as a tree")
	}
}

func TestPodHangFault(t *testing.T) {
	src := strings.Replace(topology, "  assertions:\n", `  faults:
    - at: 1m
      apiVersion: mcpsim.dev/v1alpha2
      kind: PodHang
      metadata: {name: stuck}
      spec: {mode: fixed, value: "2", duration: 30s, selector: {labelSelectors: {app: gateway}}}
  assertions:
`, 1)
	sc, err := Parse("hang.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	f := &sc.Spec.Faults[0]
	if d, ok := f.Duration(); f.Kind() != PodHangKind || f.Action() != "hang" || f.Name() != "stuck" || !ok || d != 30*time.Second || f.PodHang.Spec.Value != "2" {
		t.Fatalf("kind %s action %s name %s duration %v %v value %q", f.Kind(), f.Action(), f.Name(), d, ok, f.PodHang.Spec.Value)
	}
	out, err := f.MarshalJSON()
	if err != nil || !strings.Contains(string(out), `"kind":"PodHang"`) || !strings.Contains(string(out), `"at":"1m0s"`) {
		t.Fatalf("file form %s (%v)", out, err)
	}
	var back Fault
	if err := back.UnmarshalJSON(out); err != nil || back.PodHang == nil || back.PodHang.Spec.Mode != "fixed" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

// TestLocate: a backend's complaint about a field is placed where the
// field is written (counting the fixture's lines: calls[1].timeout is on
// line 17, its value at column 20), at the nearest written ancestor for a
// field the file leaves out (services[0] starts at line 10, column 7),
// and, for a converted v1alpha1 file, where the old form wrote it
// (spec.workload.replicas: line 15, column 15).
func TestLocate(t *testing.T) {
	sc, err := Parse("topo.yaml", []byte(topology))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path       string
		line, col  int
		wantInFile string
	}{
		{"spec.services[0].calls[1].timeout", 17, 20, "topo.yaml:17:20: spec.services[0].calls[1].timeout: m"},
		{"spec.services[0].hpa", 10, 7, "topo.yaml:10:7: spec.services[0].hpa: m"},
	} {
		e := sc.Locate(c.path, "m")
		if e.Line != c.line || e.Column != c.col || e.Error() != c.wantInFile {
			t.Errorf("%s at %d:%d (%q), want %d:%d", c.path, e.Line, e.Column, e.Error(), c.line, c.col)
		}
	}
	old, err := Parse("old.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if e := old.Locate("spec.services[0].replicas", "m"); e.Line != 15 || e.Column != 15 {
		t.Errorf("converted file: %v, want line 15, column 15", e)
	}
	var built Scenario
	if e := built.Locate("spec.duration", "m"); e.Line != 0 || e.Error() != "spec.duration: m" {
		t.Errorf("a scenario not parsed from a file: %q", e.Error())
	}
}
