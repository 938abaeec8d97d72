package sim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// The scheduler places a pod as kube-scheduler v1.34's default profile
// does (pkg/scheduler/apis/config/v1/default_plugins.go), with the plugins'
// own arithmetic (pkg/scheduler/framework/plugins/...):
//
//	Filter: TaintToleration, NodeAffinity (nodeSelector and required node
//	        affinity), NodeResourcesFit, PodTopologySpread (DoNotSchedule
//	        constraints), InterPodAffinity (required affinity and
//	        anti-affinity, the existing pods' anti-affinity included).
//	Score (weight): TaintToleration (3), NodeAffinity (2),
//	        NodeResourcesFit LeastAllocated (1), PodTopologySpread (2,
//	        ScheduleAnyway constraints, or the system default constraints
//	        hostname/3 and zone/5 when the pod has none),
//	        InterPodAffinity (2), NodeResourcesBalancedAllocation (1).
//
// ImageLocality (1) is left out: every node has the reference image, so it
// adds the same to every node. Plugins for volumes, ports and DRA have
// nothing to act on. Each plugin's score is normalised to 0–100 as its
// NormalizeScore does, weighted and summed; the highest total wins and
// ties are broken at random from the run's PRNG (selectHost samples the
// tied nodes uniformly). In clusters of 100 nodes and more the scheduler
// stops after finding numFeasibleNodesToFind feasible nodes, searching
// from where the previous cycle stopped, in the node tree's order (zones
// interleaved), as schedulePod does.
//
// Label selectors, tolerations and node affinity are the apimachinery
// and component-helpers code the scheduler itself uses. Every pod of a
// service has the service's labels, so what a selector matches is worked
// out once per pair of services, and the pods are counted per service and
// topology domain as they come and go.

// Default-profile score weights.
const (
	weightTaintToleration  = 3
	weightNodeAffinity     = 2
	weightFit              = 1
	weightTopologySpread   = 2
	weightInterPodAffinity = 2
	weightBalanced         = 1
	// hardPodAffinityWeight is InterPodAffinityArgs' default: an existing
	// pod's required affinity to the incoming one scores like a preferred
	// term of this weight.
	hardPodAffinityWeight = 1
	maxNodeScore          = 100
)

// Non-zero request defaults for scoring (pkg/scheduler/util:
// DefaultMilliCPURequest, DefaultMemoryRequest): a container without a
// request counts as 100m and 200 MiB when spreading by LeastAllocated.
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 * 1024 * 1024
)

// numFeasibleNodesToFind's constants (pkg/scheduler/schedule_one.go).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// systemDefaultConstraints are PodTopologySpread's defaults for pods of a
// Service/ReplicaSet that set no constraints (podtopologyspread/plugin.go).
var systemDefaultConstraints = []corev1.TopologySpreadConstraint{
	{TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 3},
	{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 5},
}

// podNamespace is the namespace every simulated pod lives in.
const podNamespace = "default"

// noLogger discards component-helpers' log lines (they log only unknown
// toleration operators, which validation refuses).
var noLogger = logr.Discard()

// scheduler is the scheduler's state: topology domains, pod counts and the
// rotating start of the node search.
type scheduler struct {
	keys  []string         // topology keys in use; 0 is the hostname
	keyIx map[string]int   // key -> index in keys
	doms  []map[string]int // per key: label value -> domain index
	// counts[k][s][d]: pods of service s in domain d of key k. spread
	// counts skip terminating pods (as PodTopologySpread does); bound
	// counts every pod on a node until it is gone (InterPodAffinity).
	spread, bound [][][]int32
	order         []*node // the node tree's order: zones interleaved
	next          int     // where the next search starts
	// podDependent: some pod's feasibility depends on other pods
	// (DoNotSchedule spread, required pod affinity or anti-affinity), so
	// pending pods are retried whenever a pod is bound.
	podDependent bool
	retrying     bool // in retryPending
	// scratch, reused across cycles
	feasible []*node
	scores   [6][]int64
	fscore   []float64
	flags    []bool
	domCount [][]int32
}

// placement is a service's pods' placement rules, resolved once.
type placement struct {
	tolerations []corev1.Toleration
	required    nodeaffinity.RequiredNodeAffinity // nodeSelector + required node affinity
	hasRequired bool
	preferred   *nodeaffinity.PreferredSchedulingTerms
	// prefersNoSchedule: tolerations that apply to PreferNoSchedule taints
	prefersNoSchedule []corev1.Toleration
	hard, soft        []spreadConstraint
	// softDefaulted: soft are the system defaults (PreScore then does not
	// require every node to have all keys)
	softDefaulted bool
	affinity      []affinityTerm // required; each matches services
	affinityAll   []bool         // services matching every required affinity term
	selfAffine    bool           // the pod matches all its own affinity terms
	anti          []affinityTerm // required anti-affinity
	// existing pods' required anti-affinity against this service
	antiOf []affinityTerm
	// preferredTerms: this pod's preferred affinity (+weight) and
	// anti-affinity (-weight) terms
	preferredTerms []affinityTerm
	// scoreTerms: the preferred terms and the existing pods' terms that
	// match this pod (symmetry, as InterPodAffinity does)
	scoreTerms []affinityTerm
	// unreachable is how long the pods tolerate node.kubernetes.io/
	// unreachable:NoExecute before the taint manager evicts them; <0:
	// forever.
	unreachable time.Duration
	// nonzero requests for LeastAllocated
	nzCPU, nzMem int64
	bestEffort   bool
}

type spreadConstraint struct {
	key           int
	maxSkew       int32
	minDomains    int32
	matches       []bool // per service
	honorAffinity bool
	honorTaints   bool
}

// affinityTerm is a pod (anti-)affinity term resolved against the
// services: matches[s] says whether pods of s match its selector and
// namespaces. For score terms, weight is signed, and of names whose pods
// are counted (for the symmetric terms, the one service that has it).
type affinityTerm struct {
	key     int
	matches []bool
	weight  int64
}

func (w *world) newScheduler() {
	sc := &scheduler{keyIx: map[string]int{}}
	w.sched = sc
	sc.key(corev1.LabelHostname)
	sc.key(corev1.LabelTopologyZone)
	for _, s := range w.services {
		w.resolvePlacement(s)
	}
	for i, n := range w.nodes {
		n.idx = i
	}
	// Domains of every key; the hostname's domains are the nodes.
	sc.doms = make([]map[string]int, len(sc.keys))
	for k, key := range sc.keys {
		sc.doms[k] = map[string]int{}
		for _, n := range w.nodes {
			n.dom = append(n.dom, -1)
			if v, ok := n.labels[key]; ok {
				d, seen := sc.doms[k][v]
				if !seen {
					d = len(sc.doms[k])
					sc.doms[k][v] = d
				}
				n.dom[k] = int32(d)
			}
		}
	}
	alloc := func() [][][]int32 {
		c := make([][][]int32, len(sc.keys))
		for k := range c {
			c[k] = make([][]int32, len(w.services))
			for s := range c[k] {
				c[k][s] = make([]int32, len(sc.doms[k]))
			}
		}
		return c
	}
	sc.spread, sc.bound = alloc(), alloc()
	sc.domCount = make([][]int32, len(sc.keys))
	for k := range sc.keys {
		sc.domCount[k] = make([]int32, len(sc.doms[k]))
	}
	sc.order = nodeTreeOrder(w.nodes)
}

func (sc *scheduler) key(k string) int {
	if i, ok := sc.keyIx[k]; ok {
		return i
	}
	sc.keyIx[k] = len(sc.keys)
	sc.keys = append(sc.keys, k)
	return len(sc.keys) - 1
}

// nodeTreeOrder lists the nodes as the scheduler's node tree does: one
// node of each zone in turn (zones in order of first appearance), so that
// a partial search still sees every zone.
func nodeTreeOrder(nodes []*node) []*node {
	var zones []string
	byZone := map[string][]*node{}
	for _, n := range nodes {
		z := zoneKey(n)
		if _, ok := byZone[z]; !ok {
			zones = append(zones, z)
		}
		byZone[z] = append(byZone[z], n)
	}
	out := make([]*node, 0, len(nodes))
	for i := 0; len(out) < len(nodes); i++ {
		for _, z := range zones {
			if i < len(byZone[z]) {
				out = append(out, byZone[z][i])
			}
		}
	}
	return out
}

// resolvePlacement compiles s's placement rules against every service.
func (w *world) resolvePlacement(s *service) {
	sc := w.sched
	spec := &w.podSpecs[s.idx].Spec
	pl := &placement{tolerations: spec.Tolerations, unreachable: unreachableToleration}
	s.place = pl
	pl.required = nodeaffinity.NewRequiredNodeAffinity(spec.NodeSelector, spec.Affinity)
	pl.hasRequired = len(spec.NodeSelector) > 0 || (spec.Affinity != nil && spec.Affinity.NodeAffinity != nil &&
		spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil)
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		// Validation parsed these terms already.
		pl.preferred, _ = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	for _, t := range spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			pl.prefersNoSchedule = append(pl.prefersNoSchedule, t)
		}
	}
	// The taint manager evicts after the shortest tolerationSeconds of
	// the pod's tolerations of the taint; the DefaultTolerationSeconds
	// admission plug-in adds 300s only when the pod has none.
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	tolerated := false
	for _, t := range spec.Tolerations {
		if !t.ToleratesTaint(noLogger, &unreachable, false) {
			continue
		}
		d := time.Duration(-1)
		if t.TolerationSeconds != nil {
			d = max(time.Duration(*t.TolerationSeconds)*time.Second, 0)
		}
		if !tolerated || (d >= 0 && (pl.unreachable < 0 || d < pl.unreachable)) {
			pl.unreachable = d
		}
		tolerated = true
	}
	pl.nzCPU, pl.nzMem = s.podCPU, s.podMem
	if pl.nzCPU == 0 {
		pl.nzCPU = defaultMilliCPURequest
	}
	if pl.nzMem == 0 {
		pl.nzMem = defaultMemoryRequest
	}
	pl.bestEffort = s.podCPU == 0 && s.podMem == 0

	for _, c := range spec.TopologySpreadConstraints {
		k := sc.key(c.TopologyKey)
		sel := w.selectorWithKeys(c.LabelSelector, c.MatchLabelKeys, s)
		con := spreadConstraint{key: k, maxSkew: c.MaxSkew, matches: w.matchServices(sel, nil, nil), honorAffinity: true}
		if c.MinDomains != nil {
			con.minDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil && *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyIgnore {
			con.honorAffinity = false
		}
		con.honorTaints = c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			pl.hard = append(pl.hard, con)
			sc.podDependent = true
		} else {
			pl.soft = append(pl.soft, con)
		}
	}
	if len(spec.TopologySpreadConstraints) == 0 {
		// The default selector is the Service's and the ReplicaSet's:
		// the pods of this service.
		pl.softDefaulted = true
		only := make([]bool, len(w.services))
		only[s.idx] = true
		for _, c := range systemDefaultConstraints {
			pl.soft = append(pl.soft, spreadConstraint{key: sc.key(c.TopologyKey), maxSkew: c.MaxSkew, matches: only, honorAffinity: true})
		}
	}
	a := spec.Affinity
	if a != nil && a.PodAffinity != nil {
		terms := a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		pl.affinityAll = make([]bool, len(w.services))
		for i := range pl.affinityAll {
			pl.affinityAll[i] = len(terms) > 0
		}
		pl.selfAffine = true
		for i := range terms {
			t := w.affinityTerm(&terms[i], s, 0)
			pl.affinity = append(pl.affinity, t)
			for j := range pl.affinityAll {
				pl.affinityAll[j] = pl.affinityAll[j] && t.matches[j]
			}
			pl.selfAffine = pl.selfAffine && t.matches[s.idx]
			sc.podDependent = true
		}
		for i := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			t := &a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
			pl.preferredTerms = append(pl.preferredTerms, w.affinityTerm(&t.PodAffinityTerm, s, int64(t.Weight)))
		}
	}
	if a != nil && a.PodAntiAffinity != nil {
		for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			pl.anti = append(pl.anti, w.affinityTerm(&a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], s, 0))
			sc.podDependent = true
		}
		for i := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			t := &a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i]
			pl.preferredTerms = append(pl.preferredTerms, w.affinityTerm(&t.PodAffinityTerm, s, -int64(t.Weight)))
		}
	}
	pl.scoreTerms = slices.Clone(pl.preferredTerms) // resolveSymmetry adds the others'
}

// resolveSymmetry adds, to every service, the other services' terms that
// match its pods: their required anti-affinity (a filter) and their
// preferred terms and required affinity (scores, the latter with
// hardPodAffinityWeight), counted over the pods of the service that has
// the term.
func (w *world) resolveSymmetry() {
	for _, e := range w.services {
		pe := e.place
		// Re-aim a term of e: it counts where pods of e are.
		aim := func(t affinityTerm, weight int64) affinityTerm {
			m := make([]bool, len(w.services))
			m[e.idx] = true
			return affinityTerm{key: t.key, matches: m, weight: weight}
		}
		for _, s := range w.services {
			for _, t := range pe.anti {
				if t.matches[s.idx] {
					s.place.antiOf = append(s.place.antiOf, aim(t, 0))
				}
			}
			for _, t := range pe.preferredTerms {
				if t.matches[s.idx] {
					s.place.scoreTerms = append(s.place.scoreTerms, aim(t, t.weight))
				}
			}
			for _, t := range pe.affinity {
				if t.matches[s.idx] {
					s.place.scoreTerms = append(s.place.scoreTerms, aim(t, hardPodAffinityWeight))
				}
			}
		}
	}
}

// affinityTerm resolves a pod affinity term of service owner's pods.
func (w *world) affinityTerm(t *corev1.PodAffinityTerm, owner *service, weight int64) affinityTerm {
	sel := w.selectorWithKeys(t.LabelSelector, t.MatchLabelKeys, owner)
	if len(t.MismatchLabelKeys) > 0 {
		for _, k := range t.MismatchLabelKeys {
			if v, ok := owner.labels[k]; ok {
				r, err := labels.NewRequirement(k, selection.NotEquals, []string{v})
				if err == nil {
					sel = sel.Add(*r)
				}
			}
		}
	}
	return affinityTerm{key: w.sched.key(t.TopologyKey), matches: w.matchServices(sel, t.Namespaces, t.NamespaceSelector), weight: weight}
}

// selectorWithKeys is a term's selector with matchLabelKeys merged in as
// the owner's values (as the API server does on pod creation).
// pod-template-hash names the ReplicaSet revision: a service's pods are
// one revision, so the key narrows the selector to the owner's service.
func (w *world) selectorWithKeys(ls *metav1.LabelSelector, keys []string, owner *service) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil || ls == nil {
		// A nil selector matches nothing (the scheduler's convention);
		// validation refused a malformed one.
		return labels.Nothing()
	}
	for _, k := range keys {
		v, ok := owner.labels[k]
		if k == "pod-template-hash" {
			k, v, ok = "app", owner.labels["app"], true
		}
		if !ok {
			continue
		}
		if r, err := labels.NewRequirement(k, selection.Equals, []string{v}); err == nil {
			sel = sel.Add(*r)
		}
	}
	return sel
}

// matchServices says which services' pods a selector matches, given the
// term's namespaces (every pod lives in podNamespace).
func (w *world) matchServices(sel labels.Selector, namespaces []string, nsSel *metav1.LabelSelector) []bool {
	inNamespace := len(namespaces) == 0 && nsSel == nil || slices.Contains(namespaces, podNamespace)
	if nsSel != nil {
		if s, err := metav1.LabelSelectorAsSelector(nsSel); err == nil && s.Matches(labels.Set{corev1.LabelMetadataName: podNamespace}) {
			inNamespace = true
		}
	}
	out := make([]bool, len(w.services))
	for i, s := range w.services {
		out[i] = inNamespace && sel.Matches(labels.Set(s.labels))
	}
	return out
}

// count adds d to p's service's counts in the domains of p's node.
func (sc *scheduler) count(c [][][]int32, p *pod, d int32) {
	for k := range sc.keys {
		if dom := p.node.dom[k]; dom >= 0 {
			c[k][p.svc.idx][dom] += d
		}
	}
}

// podBound, podTerminating and podUnbound keep the counts.
func (w *world) podBound(p *pod) {
	w.sched.count(w.sched.spread, p, 1)
	w.sched.count(w.sched.bound, p, 1)
	p.counted = true
}

func (w *world) podTerminating(p *pod) {
	if p.counted {
		w.sched.count(w.sched.spread, p, -1)
		p.counted = false
	}
}

func (w *world) podUnbound(p *pod) {
	w.podTerminating(p)
	if p.node != nil {
		w.sched.count(w.sched.bound, p, -1)
	}
}

// markDeleting starts p's graceful deletion: the ReplicaSet stops counting
// it and PodTopologySpread bypasses it.
func (w *world) markDeleting(p *pod, cause string) {
	p.deleting = true
	w.podTerminating(p)
	r := &w.tl.Pods[p.rec]
	r.Deleted, r.Cause = w.now, cause
}

// Reasons a node is filtered out, in FailedScheduling's words.
const (
	reasonTaint    = "had untolerated taint"
	reasonAffinity = "didn't match Pod's node affinity/selector"
	reasonCPU      = "Insufficient cpu"
	reasonMemory   = "Insufficient memory"
	reasonSpread   = "didn't match pod topology spread constraints"
	reasonSpreadNo = "didn't match pod topology spread constraints (missing required label)"
	reasonPodAff   = "didn't match pod affinity rules"
	reasonAntiAff  = "didn't match pod anti-affinity rules"
	reasonExisting = "didn't satisfy existing pods anti-affinity rules"
)

// schedule runs one scheduling cycle for p: filter, score, bind.
func (w *world) schedule(p *pod) bool {
	sc, s := w.sched, p.svc
	pl := s.place
	nodeObj := &corev1.Node{}

	// PreFilter: the spread constraints' domain counts and minima.
	hardMin := make([]int32, len(pl.hard))
	for i := range pl.hard {
		hardMin[i] = w.spreadMin(&pl.hard[i], pl, nodeObj)
	}
	affinityExists := false
	for _, t := range pl.affinity {
		if w.termTotal(t.key, pl.affinityAll) > 0 {
			affinityExists = true
		}
	}

	total := len(sc.order)
	want := numFeasibleNodesToFind(total)
	feasible := sc.feasible[:0]
	reasons := map[string]int{}
	examined := 0
	for i := 0; i < total && len(feasible) < want; i++ {
		n := sc.order[(sc.next+i)%total]
		examined++
		if r := w.filter(p, n, hardMin, affinityExists, nodeObj); r != "" {
			reasons[r]++
			continue
		}
		feasible = append(feasible, n)
	}
	sc.next = (sc.next + examined) % max(total, 1)
	sc.feasible = feasible
	if len(feasible) == 0 {
		w.tl.AddEvent(w.now, "FailedScheduling", p.name, failedSchedulingMessage(total, reasons))
		return false
	}
	n := feasible[0]
	if len(feasible) > 1 {
		n = w.pickNode(p, feasible, nodeObj)
	}
	w.bind(p, n)
	return true
}

// numFeasibleNodesToFind is schedule_one.go's adaptive percentage
// (percentageOfNodesToScore unset): 50% minus 1% per 125 nodes, at least
// 5% and at least 100 nodes.
func numFeasibleNodesToFind(all int) int {
	if all < minFeasibleNodesToFind {
		return all
	}
	pct := max(50-all/125, minFeasibleNodesPercentageToFind)
	return max(all*pct/100, minFeasibleNodesToFind)
}

func failedSchedulingMessage(total int, reasons map[string]int) string {
	var parts []string
	for r, c := range reasons {
		parts = append(parts, fmt.Sprintf("%d node(s) %s", c, r))
	}
	sort.Strings(parts)
	msg := fmt.Sprintf("0/%d nodes are available", total)
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	return msg + "."
}

// nodeObject fills a reusable Node with n's labels and taints for the
// component-helpers matchers.
func nodeObject(obj *corev1.Node, n *node) *corev1.Node {
	obj.Name, obj.Labels, obj.Spec.Taints = n.name, n.labels, n.taints
	return obj
}

// filter returns why n cannot take p, or "".
func (w *world) filter(p *pod, n *node, hardMin []int32, affinityExists bool, obj *corev1.Node) string {
	s := p.svc
	pl := s.place
	if len(n.taints) > 0 {
		if _, bad := corev1helpers.FindMatchingUntoleratedTaint(noLogger, n.taints, pl.tolerations, doNotScheduleTaints, false); bad {
			return reasonTaint
		}
	}
	if pl.hasRequired {
		if ok, _ := pl.required.Match(nodeObject(obj, n)); !ok {
			return reasonAffinity
		}
	}
	if n.reqCPU+s.podCPU > n.cpu {
		return reasonCPU
	}
	if n.reqMem+s.podMem > n.mem {
		return reasonMemory
	}
	for i := range pl.hard {
		c := &pl.hard[i]
		d := n.dom[c.key]
		if d < 0 {
			return reasonSpreadNo
		}
		self := int32(0)
		if c.matches[s.idx] {
			self = 1
		}
		if w.sched.domCount[c.key][d]+self-hardMin[i] > c.maxSkew {
			return reasonSpread
		}
	}
	if len(pl.affinity) > 0 {
		ok := true
		for _, t := range pl.affinity {
			d := n.dom[t.key]
			if d < 0 {
				return reasonPodAff
			}
			if w.domainCount(t.key, d, pl.affinityAll) == 0 {
				ok = false
			}
		}
		// The first pod of a group with affinity to itself may go
		// anywhere that has the topology labels.
		if !ok && !(!affinityExists && pl.selfAffine) {
			return reasonPodAff
		}
	}
	for _, t := range pl.anti {
		if d := n.dom[t.key]; d >= 0 && w.domainCount(t.key, d, t.matches) > 0 {
			return reasonAntiAff
		}
	}
	for _, t := range pl.antiOf {
		if d := n.dom[t.key]; d >= 0 && w.domainCount(t.key, d, t.matches) > 0 {
			return reasonExisting
		}
	}
	return ""
}

// doNotScheduleTaints selects the taints the TaintToleration filter
// checks.
func doNotScheduleTaints(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// domainCount counts the bound pods of the matching services in domain d.
func (w *world) domainCount(k int, d int32, matches []bool) int32 {
	return sumMatching(w.sched.bound[k], d, matches)
}

// sumMatching adds up the counts of the matching services in domain d.
func sumMatching(counts [][]int32, d int32, matches []bool) int32 {
	c := int32(0)
	for si, m := range matches {
		if m {
			c += counts[si][d]
		}
	}
	return c
}

// termTotal counts the bound pods of the matching services anywhere.
func (w *world) termTotal(k int, matches []bool) int32 {
	c := int32(0)
	for si, m := range matches {
		if m {
			for _, v := range w.sched.bound[k][si] {
				c += v
			}
		}
	}
	return c
}

// spreadMin fills the scheduler's domCount for constraint c (pods of the
// matching services, not terminating, on nodes that have every hard
// constraint's key and pass the inclusion policies) and returns the
// minimum over the domains, 0 when there are fewer than minDomains
// (filtering.go: calPreFilterState and minMatchNum).
func (w *world) spreadMin(c *spreadConstraint, pl *placement, obj *corev1.Node) int32 {
	counts := w.sched.domCount[c.key]
	clear(counts)
	present := w.sched.present(c.key)
	if len(pl.hard) == 1 && w.includesEveryNode(c, pl) {
		// Every node with the key counts: the per-domain totals kept as
		// pods come and go are the answer, without a pass over the nodes.
		for d := range counts {
			present[d] = true
			counts[d] = w.domainTotal(c.key, int32(d), c.matches)
		}
	} else {
		for _, n := range w.nodes {
			if !w.spreadIncludes(n, pl, pl.hard, c, obj) {
				continue
			}
			d := n.dom[c.key]
			present[d] = true
			counts[d] += w.matchingOnNode(c.matches, n)
		}
	}
	domains, lo := int32(0), int32(math.MaxInt32)
	for d, ok := range present {
		if ok {
			domains++
			lo = min(lo, counts[d])
		}
	}
	if domains == 0 || domains < c.minDomains {
		return 0
	}
	return lo
}

// includesEveryNode: constraint c's inclusion policies exclude no node
// that has its key.
func (w *world) includesEveryNode(c *spreadConstraint, pl *placement) bool {
	return !(c.honorAffinity && pl.hasRequired) && !c.honorTaints
}

// domainTotal counts the not-terminating pods of the matching services in
// domain d of key k.
func (w *world) domainTotal(k int, d int32, matches []bool) int32 {
	return sumMatching(w.sched.spread[k], d, matches)
}

// spreadIncludes: n counts for constraint c when it has every key of the
// constraints and passes c's node inclusion policies.
func (w *world) spreadIncludes(n *node, pl *placement, all []spreadConstraint, c *spreadConstraint, obj *corev1.Node) bool {
	for i := range all {
		if n.dom[all[i].key] < 0 {
			return false
		}
	}
	if n.dom[c.key] < 0 {
		return false
	}
	if c.honorAffinity && pl.hasRequired {
		if ok, _ := pl.required.Match(nodeObject(obj, n)); !ok {
			return false
		}
	}
	if c.honorTaints && len(n.taints) > 0 {
		if _, bad := corev1helpers.FindMatchingUntoleratedTaint(noLogger, n.taints, pl.tolerations, doNotScheduleTaints, false); bad {
			return false
		}
	}
	return true
}

// pickNode scores the feasible nodes and picks the best.
func (w *world) pickNode(p *pod, feasible []*node, obj *corev1.Node) *node {
	sc, s := w.sched, p.svc
	pl := s.place
	total := make([]int64, len(feasible))
	raw := &sc.scores
	for i := range raw {
		raw[i] = slices.Grow(raw[i][:0], len(feasible))[:len(feasible)]
	}
	// TaintToleration: intolerable PreferNoSchedule taints, fewer is
	// better.
	for i, n := range feasible {
		c := int64(0)
		for t := range n.taints {
			taint := &n.taints[t]
			if taint.Effect == corev1.TaintEffectPreferNoSchedule && !corev1helpers.TolerationsTolerateTaint(noLogger, pl.prefersNoSchedule, taint, false) {
				c++
			}
		}
		raw[0][i] = c
	}
	defaultNormalize(raw[0], true)
	// NodeAffinity: the weights of the preferred terms a node matches.
	for i, n := range feasible {
		raw[1][i] = 0
		if pl.preferred != nil {
			raw[1][i] = pl.preferred.Score(nodeObject(obj, n))
		}
	}
	defaultNormalize(raw[1], false)
	// NodeResourcesFit (LeastAllocated, cpu and memory weight 1, with
	// non-zero requests) and BalancedAllocation (actual requests).
	for i, n := range feasible {
		raw[2][i] = (leastRequested(n.nzCPU+pl.nzCPU, n.cpu) + leastRequested(n.nzMem+pl.nzMem, n.mem)) / 2
		raw[5][i] = 0
		if !pl.bestEffort {
			fc := min(float64(n.reqCPU+s.podCPU)/float64(n.cpu), 1)
			fm := min(float64(n.reqMem+s.podMem)/float64(n.mem), 1)
			raw[5][i] = int64((1 - math.Abs(fc-fm)/2) * maxNodeScore)
		}
	}
	w.spreadScores(pl, feasible, raw[3], obj)
	w.interPodScores(pl, feasible, raw[4])
	for i := range feasible {
		total[i] = weightTaintToleration*raw[0][i] + weightNodeAffinity*raw[1][i] + weightFit*raw[2][i] +
			weightTopologySpread*raw[3][i] + weightInterPodAffinity*raw[4][i] + weightBalanced*raw[5][i]
	}
	best, ties := int64(math.MinInt64), 0
	for _, t := range total {
		switch {
		case t > best:
			best, ties = t, 1
		case t == best:
			ties++
		}
	}
	pick := w.rng.IntN(ties)
	for i, t := range total {
		if t == best {
			if pick == 0 {
				return feasible[i]
			}
			pick--
		}
	}
	return feasible[0]
}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}

// defaultNormalize is the scheduler's helper.DefaultNormalizeScore.
func defaultNormalize(scores []int64, reverse bool) {
	hi := int64(0)
	for _, s := range scores {
		hi = max(hi, s)
	}
	if hi == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = maxNodeScore * s / hi
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}

// spreadScores is PodTopologySpread's PreScore, Score and NormalizeScore
// for the soft (or system default) constraints.
func (w *world) spreadScores(pl *placement, feasible []*node, out []int64, obj *corev1.Node) {
	clear(out)
	if len(pl.soft) == 0 {
		return
	}
	sc := w.sched
	// With constraints of its own, a pod ignores feasible nodes that lack
	// one of the keys (they score 0); with the system defaults it does not.
	ignored := func(n *node) bool {
		if pl.softDefaulted {
			return false
		}
		for i := range pl.soft {
			if n.dom[pl.soft[i].key] < 0 {
				return true
			}
		}
		return false
	}
	nIgnored := 0
	for _, n := range feasible {
		if ignored(n) {
			nIgnored++
		}
	}
	sc.fscore = slices.Grow(sc.fscore[:0], len(feasible))[:len(feasible)]
	score := sc.fscore
	clear(score)
	for ci := range pl.soft {
		c := &pl.soft[ci]
		// The domains of the feasible nodes; each counts the matching pods
		// on every node of the domain that passes the inclusion policies.
		counts := sc.domCount[c.key]
		clear(counts)
		inFeasible := sc.present(c.key)
		size := 0
		for _, n := range feasible {
			if d := n.dom[c.key]; d >= 0 && !ignored(n) && !inFeasible[d] {
				inFeasible[d] = true
				size++
			}
		}
		switch {
		case c.key == 0:
			size = len(feasible) - nIgnored
		case (pl.softDefaulted || len(pl.soft) == 1) && w.includesEveryNode(c, pl):
			// No node is ignored or excluded: the kept per-domain totals.
			for d, ok := range inFeasible {
				if ok {
					counts[d] = w.domainTotal(c.key, int32(d), c.matches)
				}
			}
		default:
			for _, n := range w.nodes {
				d := n.dom[c.key]
				if d < 0 || !inFeasible[d] || ignored(n) || !w.spreadIncludes(n, pl, nil, c, obj) {
					continue
				}
				counts[d] += w.matchingOnNode(c.matches, n)
			}
		}
		weight := math.Log(float64(size + 2))
		for i, n := range feasible {
			d := n.dom[c.key]
			if d < 0 || ignored(n) {
				continue
			}
			cnt := counts[d]
			if c.key == 0 {
				cnt = w.matchingOnNode(c.matches, n)
			}
			score[i] += float64(cnt)*weight + float64(c.maxSkew-1)
		}
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for i, n := range feasible {
		out[i] = int64(math.Round(score[i]))
		if !ignored(n) {
			lo, hi = min(lo, out[i]), max(hi, out[i])
		}
	}
	for i, n := range feasible {
		switch {
		case ignored(n):
			out[i] = 0
		case hi == 0:
			out[i] = maxNodeScore
		default:
			out[i] = maxNodeScore * (hi + lo - out[i]) / hi
		}
	}
}

// present returns the scheduler's cleared per-domain flags for key k.
func (sc *scheduler) present(k int) []bool {
	sc.flags = slices.Grow(sc.flags[:0], len(sc.doms[k]))[:len(sc.doms[k])]
	clear(sc.flags)
	return sc.flags
}

// matchingOnNode counts the not-terminating pods of the matching services
// on n.
func (w *world) matchingOnNode(matches []bool, n *node) int32 {
	return sumMatching(w.sched.spread[0], n.dom[0], matches)
}

// interPodScores is InterPodAffinity's scoring: for every term, its weight
// times the matching pods in the node's domain, summed, then scaled to
// 0–100 between the lowest and the highest node.
func (w *world) interPodScores(pl *placement, feasible []*node, out []int64) {
	clear(out)
	if len(pl.scoreTerms) == 0 {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, n := range feasible {
		var s int64
		for _, t := range pl.scoreTerms {
			if d := n.dom[t.key]; d >= 0 {
				s += t.weight * int64(w.domainCount(t.key, d, t.matches))
			}
		}
		out[i] = s
		lo, hi = min(lo, s), max(hi, s)
	}
	for i := range out {
		if hi > lo {
			out[i] = int64(float64(maxNodeScore) * float64(out[i]-lo) / float64(hi-lo))
		} else {
			out[i] = 0
		}
	}
}

// bind assigns p to n.
func (w *world) bind(p *pod, n *node) {
	s := p.svc
	n.reqCPU += s.podCPU
	n.reqMem += s.podMem
	n.nzCPU += s.place.nzCPU
	n.nzMem += s.place.nzMem
	p.node, p.bound = n, w.now
	p.srv.last = w.now
	w.podBound(p)
	r := &w.tl.Pods[p.rec]
	r.Node, r.Bound = n.name, w.now
	w.bindCPU(p)
	w.tl.AddEvent(w.now, "Scheduled", p.name, "assigned to "+n.name)
	w.startContainer(p)
	if w.sched.podDependent {
		// A pod placed can make a pending one placeable (its affinity
		// target now exists, a spread minimum rose): the scheduler
		// requeues on pod events.
		w.retryPending()
	}
}
