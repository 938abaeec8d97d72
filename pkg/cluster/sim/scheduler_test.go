package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// placed runs a scenario of the given node pools and services (YAML list
// items, indented for spec.services) for 1 minute without load and
// returns where each service's pods are: service -> node -> count, and
// the FailedScheduling messages.
func placed(t *testing.T, pools, services string, seed uint64) (map[string]map[string]int, []string, *timeline.Timeline) {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: sched}
spec:
  duration: 1m
  cluster:
    nodePools:
%s
  services:
%s
  load: {profile: constant, rate: 1, duration: 1s, timeout: 1s}
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`, pools, services)
	sc, err := scenario.Parse("sched.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	tl := runScenario(t, sc, seed)
	out := map[string]map[string]int{}
	for _, p := range tl.Pods {
		if p.Node == "" || p.Deleted >= 0 {
			continue
		}
		if out[p.Service] == nil {
			out[p.Service] = map[string]int{}
		}
		out[p.Service][p.Node]++
	}
	var failed []string
	for _, e := range tl.Events {
		if e.Kind == "FailedScheduling" {
			failed = append(failed, e.Message)
		}
	}
	return out, failed, tl
}

// perZone sums a node -> count map by zone (node names are <pool>-<i>
// and the pools here are named after their zones).
func perZone(m map[string]int) map[string]int {
	z := map[string]int{}
	for n, c := range m {
		z[n[:strings.LastIndex(n, "-")]] += c
	}
	return z
}

const threeZonesUneven = `      - {name: zone-a, count: 3, cpu: "16", memory: 32Gi, labels: {topology.kubernetes.io/zone: zone-a}}
      - {name: zone-b, count: 1, cpu: "16", memory: 32Gi, labels: {topology.kubernetes.io/zone: zone-b}}
      - {name: zone-c, count: 1, cpu: "16", memory: 32Gi, labels: {topology.kubernetes.io/zone: zone-c}}`

// TestTopologySpreadDoNotSchedule: zone-a has three nodes, zones b and c
// one each, all empty and alike. Without constraints, per node scoring
// favours zone-a (it has 3 of the 5 nodes). With maxSkew 1 on the zone
// as DoNotSchedule, each placement may leave the zones at most 1 apart,
// so 6 replicas end 2/2/2, whatever the seed.
func TestTopologySpreadDoNotSchedule(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		got, failed, _ := placed(t, threeZonesUneven, `    - name: api
      role: gateway
      replicas: 6
      resources: {requests: {cpu: 100m, memory: 64Mi}}
      work: {cpu: 1ms}
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: api}}}`, seed)
		z := perZone(got["api"])
		if z["zone-a"] != 2 || z["zone-b"] != 2 || z["zone-c"] != 2 || len(failed) != 0 {
			t.Fatalf("seed %d: per zone %v (want 2 each), failures %v", seed, z, failed)
		}
	}
}

// TestMinDomains: two zones exist but minDomains is 3, so the scheduler
// takes the global minimum as 0 (minMatchNum): a zone may hold at most
// maxSkew = 1 matching pod. Of 4 replicas, 2 are placed (one per zone)
// and 2 stay pending, reported as a spread failure on both nodes.
func TestMinDomains(t *testing.T) {
	got, failed, _ := placed(t, `      - {name: zone-a, count: 1, cpu: "8", memory: 16Gi, labels: {topology.kubernetes.io/zone: zone-a}}
      - {name: zone-b, count: 1, cpu: "8", memory: 16Gi, labels: {topology.kubernetes.io/zone: zone-b}}`, `    - name: api
      role: gateway
      replicas: 4
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      topologySpreadConstraints:
        - {maxSkew: 1, minDomains: 3, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: api}}}`, 1)
	z := perZone(got["api"])
	if z["zone-a"] != 1 || z["zone-b"] != 1 {
		t.Fatalf("per zone %v, want 1 and 1", z)
	}
	want := "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints."
	if len(failed) < 2 || failed[0] != want {
		t.Fatalf("failures %q, want at least two of %q", failed, want)
	}
}

// TestRequiredAntiAffinity: three nodes; pods that must not share a host
// with another of their kind fill them one each, and the fourth replica
// stays pending with the scheduler's reason on all three nodes.
func TestRequiredAntiAffinity(t *testing.T) {
	got, failed, _ := placed(t, `      - {name: n, count: 3, cpu: "8", memory: 16Gi}`, `    - name: api
      role: gateway
      replicas: 4
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: api}}}`, 1)
	if len(got["api"]) != 3 {
		t.Fatalf("placement %v, want one pod on each of 3 nodes", got["api"])
	}
	for n, c := range got["api"] {
		if c != 1 {
			t.Fatalf("%s has %d pods", n, c)
		}
	}
	want := "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
	if len(failed) == 0 || failed[0] != want {
		t.Fatalf("failures %q, want %q", failed, want)
	}
}

// TestPodAffinityAndSymmetry: cache must run on the node of a db pod
// (required affinity); db is one pod on one of four nodes, so all three
// cache pods land there. The first pod of a self-affine group may go
// anywhere (the scheduler's exception), and the rest follow it. And web,
// which refuses (required anti-affinity) to share a node with db, ends on
// the three other nodes though least-allocated scoring alone would not
// care.
func TestPodAffinityAndSymmetry(t *testing.T) {
	got, failed, _ := placed(t, `      - {name: n, count: 4, cpu: "8", memory: 16Gi}`, `    - name: db
      role: payment
      replicas: 1
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
    - name: cache
      role: user
      replicas: 3
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: db}}}
    - name: flock
      role: order
      replicas: 3
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: flock}}}
    - name: web
      role: gateway
      replicas: 6
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: db}}}`, 3)
	if len(failed) != 0 {
		t.Fatalf("failures: %q", failed)
	}
	var dbNode string
	for n := range got["db"] {
		dbNode = n
	}
	if got["cache"][dbNode] != 3 {
		t.Fatalf("cache %v, want all 3 on db's node %s", got["cache"], dbNode)
	}
	if len(got["flock"]) != 1 {
		t.Fatalf("flock %v, want its 3 pods on one node", got["flock"])
	}
	if got["web"][dbNode] != 0 || len(got["web"]) != 3 {
		t.Fatalf("web %v: want the 3 nodes other than %s", got["web"], dbNode)
	}
}

// TestTolerations: the db pool is tainted dedicated=db:NoSchedule and has
// 4x the CPU, so least-allocated scoring would prefer it. A service
// without the toleration never lands there; one with it does. The
// PreferNoSchedule pool is avoided by a service that does not tolerate
// it: TaintToleration (weight 3) gives an untainted node 300 points more,
// more than LeastAllocated's 100 at most.
func TestTolerations(t *testing.T) {
	got, failed, _ := placed(t, `      - {name: plain, count: 1, cpu: "4", memory: 8Gi}
      - {name: db, count: 1, cpu: "16", memory: 32Gi, taints: [{key: dedicated, value: db, effect: NoSchedule}]}
      - {name: soft, count: 1, cpu: "16", memory: 32Gi, taints: [{key: spot, effect: PreferNoSchedule}]}`, `    - name: web
      role: gateway
      replicas: 4
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
    - name: db
      role: payment
      replicas: 2
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]
      nodeSelector: {mcpsim.dev/pool: db}`, 1)
	if len(failed) != 0 {
		t.Fatalf("failures: %q", failed)
	}
	if got["web"]["plain-0"] != 4 {
		t.Fatalf("web %v, want all 4 on plain-0 (db-0 untolerated, soft-0 scored down)", got["web"])
	}
	if got["db"]["db-0"] != 2 {
		t.Fatalf("db %v, want both on db-0", got["db"])
	}
}

// TestSystemDefaultSpread: with no constraints of its own, a pod gets the
// scheduler's default soft constraints (hostname maxSkew 3, zone maxSkew
// 5). On two 8-core nodes already equally loaded, 10 replicas alternate:
// every placement makes its node the fuller one, so least-allocated and
// the spread score both send the next pod to the other: 5 and 5.
func TestSystemDefaultSpread(t *testing.T) {
	got, _, _ := placed(t, `      - {name: n, count: 2, cpu: "8", memory: 16Gi}`, `    - name: api
      role: gateway
      replicas: 10
      resources: {requests: {cpu: 100m, memory: 64Mi}}
      work: {cpu: 1ms}`, 1)
	if got["api"]["n-0"] != 5 || got["api"]["n-1"] != 5 {
		t.Fatalf("placement %v, want 5 and 5", got["api"])
	}

	// A 16-core and a 4-core node (16 GiB each), pods of 100m and 64 MiB.
	// Pod 1: spread ties (no pods yet: 100 each); LeastAllocated prefers
	// big (cpu 99, memory 99 -> 99, against small's 97 and 99 -> 98) and
	// so does BalancedAllocation (99 against 98): big.
	// Pod 2: the hostname constraint's raw score is count*ln(2+2) +
	// (maxSkew-1) = round(1.39+2) = 3 on big, 2 on small; normalised
	// 100*(max+min-s)/max: big 66, small 100, weighted x2: small leads by
	// 68. LeastAllocated: big cpu 98 (15800/16000), memory 99 -> 98; small
	// 97, 99 -> 98; Balanced 99 against 98. Small wins by 67: one pod
	// each. Scoring by resources alone would put both on big.
	got, _, _ = placed(t, `      - {name: big, count: 1, cpu: "16", memory: 16Gi}
      - {name: small, count: 1, cpu: "4", memory: 16Gi}`, `    - name: api
      role: gateway
      replicas: 2
      resources: {requests: {cpu: 100m, memory: 64Mi}}
      work: {cpu: 1ms}`, 1)
	if got["api"]["big-0"] != 1 || got["api"]["small-0"] != 1 {
		t.Fatalf("placement %v, want one pod on each node", got["api"])
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	// schedule_one.go: below 100 nodes, all; else (50 - n/125)% of them,
	// at least 5% and at least 100.
	for _, c := range []struct{ nodes, want int }{
		{5, 5}, {99, 99}, {100, 100}, {200, 100}, // 48% of 200 = 96 -> 100
		{1000, 420}, // 50 - 8 = 42%
		{5000, 500}, // 50 - 40 = 10%
		{6250, 312}, // 50 - 50 = 0 -> 5%: 312.5 -> 312
	} {
		if got := numFeasibleNodesToFind(c.nodes); got != c.want {
			t.Errorf("%d nodes: %d, want %d", c.nodes, got, c.want)
		}
	}
}

// TestUnreachableTolerationSeconds: a pod that tolerates
// node.kubernetes.io/unreachable:NoExecute for 30s is evicted 30s after
// its node goes NotReady, not after the default 300s. The node stops at
// 10s; NotReady comes 50s after the last heartbeat (0-10s before the
// stop) at the controller's next 5s look: between 50s and 65s. Eviction
// is then 80s-95s, and its replacement runs on the other node.
func TestUnreachableTolerationSeconds(t *testing.T) {
	src := `apiVersion: mcpsim.dev/v1alpha2
kind: Scenario
metadata: {name: evict}
spec:
  duration: 3m
  cluster:
    nodePools:
      - {name: a, count: 1, cpu: "4", memory: 8Gi}
      - {name: b, count: 1, cpu: "4", memory: 8Gi}
  services:
    - name: api
      role: gateway
      replicas: 2
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      tolerations:
        - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
  load: {profile: constant, rate: 1, duration: 1s, timeout: 1s}
  faults:
    - at: 10s
      apiVersion: mcpsim.dev/v1alpha2
      kind: NodeOutage
      metadata: {name: a-down}
      spec: {selector: {mcpsim.dev/pool: a}}
  assertions:
    - {name: any, type: errorRate, maxRatio: 1}
`
	sc, err := scenario.Parse("evict.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tl := runScenario(t, sc, 1)
	var evicted, replaced int
	for _, p := range tl.Pods {
		if p.Node == "a-0" && p.Deleted >= 0 {
			evicted++
			if p.Deleted < 80*time.Second || p.Deleted > 95*time.Second || p.Cause != timeline.CauseFault {
				t.Fatalf("evicted at %s (%s), want 80s-95s", p.Deleted, p.Cause)
			}
		}
		if p.Created > 10*time.Second && p.Node == "b-0" {
			replaced++
		}
	}
	if evicted != 1 || replaced != 1 {
		t.Fatalf("evicted %d, replaced on b-0 %d; want 1 and 1 (pods %+v)", evicted, replaced, tl.Pods)
	}
}

// TestExistingPodsAntiAffinity: loner's pod refuses (required
// anti-affinity) to share a host with web pods; web itself has no rule.
// The scheduler also honours the anti-affinity of pods already placed
// (InterPodAffinity's existing-pods check), so web's 4 pods avoid
// loner's node though spreading and least-allocated scoring would put one
// there (it is the emptiest of the three).
func TestExistingPodsAntiAffinity(t *testing.T) {
	got, failed, _ := placed(t, `      - {name: n, count: 3, cpu: "8", memory: 16Gi}`, `    - name: loner
      role: payment
      replicas: 1
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: web}}}
    - name: web
      role: gateway
      replicas: 4
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}`, 1)
	if len(failed) != 0 || len(got["loner"]) != 1 {
		t.Fatalf("loner %v, failures %q", got["loner"], failed)
	}
	for n := range got["loner"] {
		if got["web"][n] != 0 {
			t.Fatalf("web %v shares %s with loner", got["web"], n)
		}
	}
	if len(got["web"]) != 2 {
		t.Fatalf("web %v: want its 4 pods on the 2 other nodes", got["web"])
	}
}

// TestPendingRetriedWhenAPodIsPlaced: cache (created first) must run next
// to a db pod, and there is none yet: not self-affine (cache does not
// match app: db), its pods wait. When db's pod is placed the scheduler
// tries them again and both land on db's node; nothing stays pending.
func TestPendingRetriedWhenAPodIsPlaced(t *testing.T) {
	got, failed, tl := placed(t, `      - {name: n, count: 3, cpu: "8", memory: 16Gi}`, `    - name: cache
      role: user
      replicas: 2
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}
      affinity:
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: db}}}
    - name: db
      role: payment
      replicas: 1
      resources: {requests: {cpu: 100m}}
      work: {cpu: 1ms}`, 1)
	if len(failed) == 0 {
		t.Fatal("cache's pods did not wait for db's")
	}
	var dbNode string
	for n := range got["db"] {
		dbNode = n
	}
	if got["cache"][dbNode] != 2 {
		t.Fatalf("cache %v, want both on db's node %s", got["cache"], dbNode)
	}
	if s := tl.Service("cache").Samples; s[len(s)-1].Pending != 0 {
		t.Fatalf("cache pods still pending: %+v", s[len(s)-1])
	}
}
