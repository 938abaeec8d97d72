// Package report builds a run's report from its timeline and verdicts and
// writes it as JSON (a versioned, published schema), JUnit XML and a
// self-contained HTML page.
//
// The report owns its types: nothing of the timeline's or the assertions'
// internal structs is written, so those can change without breaking a
// consumer of report.json. The units are one convention throughout: every
// time (offsets from the scenario start, `t`, `at`, `evidenceAt`, window
// bounds) and every duration (latencies, the run's length) is a JSON number
// of seconds; ratios are fractions in [0, 1]; data that does not exist
// (no successful request in a second, no HPA computation yet, nothing
// measured) is null, never a sentinel.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// SchemaVersion identifies the JSON report format (schema/report.schema.json).
// Bump it on any incompatible change.
const SchemaVersion = "mcpsim.dev/report/v2"

// Verdicts of a report and of its assertions.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	// VerdictError is an assertion that could not be judged (its service
	// recorded nothing, its fault was never injected): it fails the run.
	VerdictError = "error"
)

// Report is one scenario run.
type Report struct {
	SchemaVersion string `json:"schemaVersion"`
	// MCPSimVersion is the version of the mcpsim that ran the scenario.
	MCPSimVersion string       `json:"mcpsimVersion"`
	Scenario      ScenarioInfo `json:"scenario"`
	Backend       string       `json:"backend"`
	// KubernetesVersion is the API server's version (its gitVersion) on
	// a real cluster; absent on the sim.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// CPUQuota is the model the sim enforced CPU limits with ("Fluid", or
	// "Periodic 100ms": the kernel's per-period quota); empty on a real
	// cluster, whose kernel enforces them.
	CPUQuota string `json:"cpuQuota,omitempty"`
	Seed     uint64 `json:"seed"`
	// Verdict is "pass" when every assertion passed, else "fail"; Passed
	// is the same as a boolean.
	Verdict  string  `json:"verdict"`
	Passed   bool    `json:"passed"`
	Duration float64 `json:"duration"`
	// Entry names the service the load targets; Load sums up its
	// requests as the load generator saw them (services[0] in full).
	Entry      string      `json:"entry"`
	Load       LoadSummary `json:"load"`
	Assertions []Assertion `json:"assertions"`
	// Services has every service's figures, the entry service first.
	Services []ServiceReport     `json:"services"`
	Breakers []BreakerTransition `json:"breakers"`
	Events   []Event             `json:"events"`
	Faults   []Fault             `json:"faults"`
	// Baseline is the same run without the scenario's self-heal policies
	// (sim only, same seed), for comparison; nil when there is none.
	Baseline *Baseline `json:"baseline,omitempty"`
}

// Baseline sums up a comparison run: what it left out, its load, its
// assertions' verdicts (they do not count towards the report's) and each
// service's ready replicas at the end.
type Baseline struct {
	Without    string           `json:"without"`
	Load       LoadSummary      `json:"load"`
	Assertions []Assertion      `json:"assertions"`
	ReadyAtEnd map[string]int32 `json:"readyAtEnd"`
}

// NewBaseline sums up a comparison run's report.
func NewBaseline(without string, r *Report) *Baseline {
	b := &Baseline{Without: without, Load: r.Load, Assertions: r.Assertions, ReadyAtEnd: map[string]int32{}}
	for _, s := range r.Services {
		if n := len(s.Samples); n > 0 {
			b.ReadyAtEnd[s.Name] = s.Samples[n-1].Ready
		}
	}
	return b
}

// ScenarioInfo names the scenario.
type ScenarioInfo struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Source      string            `json:"source"`
}

// Assertion is one assertion's verdict, what it measured and the part of
// the run its verdict rests on.
type Assertion struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Service string `json:"service"`
	Verdict string `json:"verdict"`
	Passed  bool   `json:"passed"`
	// Measured and Threshold are human-readable; Value and Limit are the
	// same numbers in Unit: "s" (seconds) or "ratio". Value is null when
	// nothing was measured (never reached, no requests).
	Measured  string   `json:"measured"`
	Threshold string   `json:"threshold"`
	Value     *float64 `json:"value"`
	Limit     float64  `json:"limit"`
	Unit      string   `json:"unit"`
	// EvidenceAt is the run time of the observation the verdict rests on.
	EvidenceAt *float64 `json:"evidenceAt"`
	// Window is the span the verdict covers: the requests sent in
	// [from, to) for latency and the rates; [anchor, anchor + within] for
	// the time-to kinds (for breakerCloses, from the downstream's
	// recovery). Null when the anchor never happened.
	Window *Span `json:"window"`
	// Quantile is the latency assertion's quantile (null otherwise).
	Quantile *float64 `json:"quantile"`
	// Replicas is the replica count replicasReach and readyRecovers
	// wait for (null otherwise).
	Replicas   *ReplicaTarget `json:"replicas"`
	Downstream string         `json:"downstream"`
	Detail     string         `json:"detail"`
}

// Span is [From, To] in seconds of run time.
type Span struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// ReplicaTarget is a replica count condition: Of ("ready" or "desired")
// at least AtLeast or at most AtMost.
type ReplicaTarget struct {
	Of      string `json:"of"`
	AtLeast *int32 `json:"atLeast"`
	AtMost  *int32 `json:"atMost"`
}

// ServiceReport is one service's requests (as its callers saw them) and
// observations.
type ServiceReport struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Entry bool   `json:"entry"`
	// HPA is the service's autoscaler as the scenario set it (null when
	// the service has none).
	HPA  *HPAInfo    `json:"hpa"`
	Load LoadSummary `json:"load"`
	// Recommendation is the CPU request the observed usage supports (null
	// without CPU data).
	Recommendation *Recommendation `json:"recommendation"`
	// CPUThrottling is how often the CPU quota throttled the service's
	// pods, when the backend modelled it per period (the sim under the
	// Periodic model); absent otherwise.
	CPUThrottling *Throttling `json:"cpuThrottling,omitempty"`
	Series        []Second    `json:"series"`
	Samples       []Sample    `json:"samples"`
}

// Throttling is a cgroup's cpu.stat counters summed over a service's
// pods: the quota periods that elapsed while they ran, those in which the
// quota ran out, and their ratio.
type Throttling struct {
	Periods   int64   `json:"periods"`
	Throttled int64   `json:"throttled"`
	Ratio     float64 `json:"ratio"`
}

// HPAInfo is a service's HPA: its replica bounds and its CPU utilization
// target (percent of the CPU request; null when it has no such metric).
type HPAInfo struct {
	MinReplicas          int32  `json:"minReplicas"`
	MaxReplicas          int32  `json:"maxReplicas"`
	TargetCPUUtilization *int32 `json:"targetCPUUtilization"`
}

// LoadSummary sums up every request of the run: exact quantiles (nearest
// rank) over successful requests, null when none succeeded.
type LoadSummary struct {
	Requests  int `json:"requests"`
	Successes int `json:"successes"`
	// Degraded counts successes answered in part by a fallback.
	Degraded int `json:"degraded"`
	// Failed is Requests - Successes; Errors splits it by error message.
	Failed  int            `json:"failed"`
	Errors  map[string]int `json:"errors"`
	MeanRPS float64        `json:"meanRPS"`
	Mean    *float64       `json:"mean"`
	P50     *float64       `json:"p50"`
	P90     *float64       `json:"p90"`
	P99     *float64       `json:"p99"`
	Max     *float64       `json:"max"`
}

// Second is one second of load, by send time: the requests sent in
// [T, T+1). P50 and P99 are over its successful requests (null if none).
type Second struct {
	T        int      `json:"t"`
	Requests int      `json:"requests"`
	Errors   int      `json:"errors"`
	Degraded int      `json:"degraded"`
	P50      *float64 `json:"p50"`
	P99      *float64 `json:"p99"`
}

// Sample is a periodic observation of one service.
type Sample struct {
	T float64 `json:"t"`
	// Desired is the Deployment's spec.replicas (the HPA's decision).
	Desired int32 `json:"desired"`
	// Pods counts pods that are not terminating; Ready those whose Ready
	// condition is true; Endpoints those the load balancer routes to;
	// Pending those not yet scheduled.
	Pods      int32 `json:"pods"`
	Ready     int32 `json:"ready"`
	Endpoints int32 `json:"endpoints"`
	Pending   int32 `json:"pending"`
	// CPUUtilization is the HPA's last computed utilization (percent of
	// request), null before its first computation or without an HPA.
	CPUUtilization *int32 `json:"cpuUtilization"`
	// CPUMillicores is the CPU the pods used over the last sampling
	// interval, null where it is not known.
	CPUMillicores *int32 `json:"cpuMillicores"`
}

// Event is something that happened: a pod started or died, a rescale, a
// fault.
type Event struct {
	T       float64 `json:"t"`
	Kind    string  `json:"kind"`
	Object  string  `json:"object"`
	Message string  `json:"message"`
}

// Fault is one injected fault and the objects it hit.
type Fault struct {
	Name   string  `json:"name"`
	Kind   string  `json:"kind"`
	Action string  `json:"action"`
	At     float64 `json:"at"`
	// End is when the fault's object was deleted (its duration over, or
	// the run's end); null for a fault that has no duration (a pod-kill).
	End     *float64 `json:"end"`
	Targets []string `json:"targets"`
	// Error says why the injection failed ("" if it did not).
	Error string `json:"error"`
}

// BreakerTransition is one circuit breaker's change of state (one breaker
// per calling pod and downstream).
type BreakerTransition struct {
	T          float64 `json:"t"`
	Service    string  `json:"service"`
	Pod        string  `json:"pod"`
	Downstream string  `json:"downstream"`
	From       string  `json:"from"`
	To         string  `json:"to"`
}

// Meta is what a report says about the run besides the timeline.
type Meta struct {
	// Source is the scenario's file (or built-in) name.
	Source  string
	Backend string
	Seed    uint64
	// Version is mcpsim's version ("" is written as "dev").
	Version string
}

func secs(d time.Duration) float64 { return d.Seconds() }

func secsPtr(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

func known(v int32) *int32 {
	if v < 0 {
		return nil
	}
	return &v
}

// Build assembles a report. The timeline's requests must be sorted.
func Build(sc *scenario.Scenario, tl *timeline.Timeline, results []assertions.Result, meta Meta) *Report {
	if meta.Version == "" {
		meta.Version = "dev"
	}
	labels := sc.Metadata.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	r := &Report{
		SchemaVersion:     SchemaVersion,
		MCPSimVersion:     meta.Version,
		Scenario:          ScenarioInfo{Name: sc.Metadata.Name, Description: sc.Metadata.Description, Labels: labels, Source: meta.Source},
		Backend:           meta.Backend,
		KubernetesVersion: tl.KubernetesVersion,
		CPUQuota:          tl.CPUQuota,
		Seed:              meta.Seed,
		Verdict:           VerdictPass,
		Passed:            true,
		Duration:          secs(tl.Duration),
		Entry:             tl.Entry,
		Assertions:        []Assertion{},
		Services:          []ServiceReport{},
		Breakers:          []BreakerTransition{},
		Events:            []Event{},
		Faults:            []Fault{},
	}
	for i, res := range results {
		var spec *scenario.Assertion
		if i < len(sc.Spec.Assertions) && sc.Spec.Assertions[i].Name == res.Name {
			spec = &sc.Spec.Assertions[i]
		}
		a := assertion(res, spec, tl)
		r.Passed = r.Passed && a.Passed
		r.Assertions = append(r.Assertions, a)
	}
	if !r.Passed {
		r.Verdict = VerdictFail
	}
	entry := tl.EntryService()
	var scratch []time.Duration // summarize's, reused from service to service
	if entry != nil {
		r.Services = append(r.Services, serviceReport(sc, tl, entry, true, &scratch))
	}
	for _, s := range tl.Services {
		if s != entry {
			r.Services = append(r.Services, serviceReport(sc, tl, s, false, &scratch))
		}
	}
	if entry != nil {
		r.Load = r.Services[0].Load
	} else {
		r.Load.Errors = map[string]int{}
	}
	for _, b := range tl.Breakers {
		r.Breakers = append(r.Breakers, BreakerTransition{T: secs(b.T), Service: b.Service, Pod: b.Pod, Downstream: b.Downstream, From: b.From, To: b.To})
	}
	for _, e := range tl.Events {
		r.Events = append(r.Events, Event{T: secs(e.T), Kind: e.Kind, Object: e.Object, Message: e.Message})
	}
	for _, f := range tl.Faults {
		targets := f.Targets
		if targets == nil {
			targets = []string{}
		}
		var end *float64
		if f.End != nil {
			end = secsPtr(*f.End)
		}
		r.Faults = append(r.Faults, Fault{Name: f.Name, Kind: f.Kind, Action: f.Action, At: secs(f.At), End: end, Targets: targets, Error: f.Error})
	}
	return r
}

// assertion converts a verdict. The assertions package writes -1 (and, for
// "nothing to measure", 0 with no evidence) where nothing was measured:
// every measured value is a time or a ratio, never negative, and every
// failed measurement has its evidence; so a negative value, or a failure
// without evidence, is null here.
func assertion(res assertions.Result, spec *scenario.Assertion, tl *timeline.Timeline) Assertion {
	a := Assertion{
		Name: res.Name, Type: res.Type, Service: res.Service, Passed: res.Passed,
		Measured: res.Measured, Threshold: res.Threshold, Limit: res.Limit, Unit: res.Unit, Detail: res.Detail,
	}
	switch {
	case res.Passed:
		a.Verdict = VerdictPass
	case res.Measured == "n/a" || res.Unit == "":
		a.Verdict = VerdictError
	default:
		a.Verdict = VerdictFail
	}
	if a.Verdict != VerdictError && res.Value >= 0 && (res.Passed || res.EvidenceAt != nil) {
		v := res.Value
		a.Value = &v
	}
	if res.EvidenceAt != nil {
		a.EvidenceAt = secsPtr(*res.EvidenceAt)
	}
	if spec == nil {
		return a
	}
	a.Downstream = spec.Downstream
	if spec.Quantile != nil {
		q := *spec.Quantile
		a.Quantile = &q
	}
	if spec.Type == scenario.AssertReplicasReach || spec.Type == scenario.AssertReadyRecovers {
		of := spec.Of
		if of == "" {
			of = "ready"
		}
		a.Replicas = &ReplicaTarget{Of: of, AtLeast: spec.AtLeast, AtMost: spec.AtMost}
		if spec.AtMost != nil {
			a.Replicas.AtLeast = nil
		}
	}
	a.Window = window(spec, &a, tl)
	return a
}

// window is the span an assertion's verdict covers (see Assertion.Window).
func window(spec *scenario.Assertion, a *Assertion, tl *timeline.Timeline) *Span {
	end := secs(tl.Duration)
	switch spec.Type {
	case scenario.AssertLatency, scenario.AssertErrorRate, scenario.AssertDegradedRate, scenario.AssertAvailability:
		s := Span{From: 0, To: end}
		if spec.Window != nil {
			s.From = secs(spec.Window.From.Duration)
			if spec.Window.To != nil {
				s.To = secs(spec.Window.To.Duration)
			}
		}
		return &s
	case scenario.AssertBreakerCloses:
		// Value is the time from the downstream's recovery to the
		// closing seen at EvidenceAt: the recovery is their difference.
		if a.Value != nil && a.EvidenceAt != nil && spec.Within != nil {
			from := *a.EvidenceAt - *a.Value
			return &Span{From: from, To: from + secs(spec.Within.Duration)}
		}
		return nil
	}
	if spec.After == nil || spec.Within == nil {
		return nil
	}
	var t0 time.Duration
	switch {
	case spec.After.Time != nil:
		t0 = spec.After.Time.Duration
	default:
		f, ok := tl.FaultAt(spec.After.Fault)
		if !ok || f.Error != "" {
			return nil
		}
		t0 = f.At
	}
	return &Span{From: secs(t0), To: secs(t0 + spec.Within.Duration)}
}

func serviceReport(sc *scenario.Scenario, tl *timeline.Timeline, s *timeline.Service, entry bool, scratch *[]time.Duration) ServiceReport {
	load, series := summarize(tl, s, scratch)
	samples := make([]Sample, len(s.Samples))
	for i, x := range s.Samples {
		samples[i] = Sample{T: secs(x.T), Desired: x.Desired, Pods: x.Pods, Ready: x.Ready, Endpoints: x.Endpoints, Pending: x.Pending,
			CPUUtilization: known(x.CPUUtilization), CPUMillicores: known(x.CPUMillicores)}
	}
	sr := ServiceReport{Name: s.Name, Role: s.Role, Entry: entry, Load: load, Series: series, Samples: samples, Recommendation: recommend(sc, s)}
	if c := s.CFS; c != nil {
		sr.CPUThrottling = &Throttling{Periods: c.Periods, Throttled: c.Throttled}
		if c.Periods > 0 {
			sr.CPUThrottling.Ratio = float64(c.Throttled) / float64(c.Periods)
		}
	}
	for i := range sc.Spec.Services {
		if svc := &sc.Spec.Services[i]; svc.Name == s.Name && svc.HPA != nil {
			sr.HPA = hpaInfo(svc.HPA)
		}
	}
	return sr
}

func hpaInfo(h *autoscalingv2.HorizontalPodAutoscalerSpec) *HPAInfo {
	info := &HPAInfo{MinReplicas: 1, MaxReplicas: h.MaxReplicas}
	if h.MinReplicas != nil {
		info.MinReplicas = *h.MinReplicas
	}
	for _, m := range h.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil {
			t := *m.Resource.Target.AverageUtilization
			info.TargetCPUUtilization = &t
			break
		}
	}
	return info
}

// summarize sums up a service's requests; scratch is memory for the
// latencies it keeps, grown as needed and handed back for the next
// service.
func summarize(tl *timeline.Timeline, svc *timeline.Service, scratch *[]time.Duration) (LoadSummary, []Second) {
	s := LoadSummary{Requests: len(svc.Requests), Errors: map[string]int{}}
	var sum time.Duration
	// lat holds the successes' latencies: all of them when keep, else
	// those of the current second. Each second's are the end of lat from
	// start on.
	// Kept up to timeline.SelectMax requests; beyond, the whole run's
	// quantiles are found in passes over the records (timeline.Ranks).
	keep := len(svc.Requests) <= timeline.SelectMax
	var ranks timeline.Ranks // when !keep, for exact quantiles
	lat := (*scratch)[:0]
	if keep && cap(lat) < len(svc.Requests) {
		lat = make([]time.Duration, 0, len(svc.Requests))
	}
	defer func() { *scratch = lat[:0] }()
	start := 0
	series := []Second{}
	cur := Second{T: -1}
	// The least and greatest latency of the current second's bucket and
	// of the whole run (of lat), tracked as they are appended so that
	// selection need not pass over the values to find them
	// (timeline.QuantilesSelectWithin).
	const none = time.Duration(math.MaxInt64)
	curLo, curHi := none, -none
	runLo, runHi := none, -none
	flush := func() {
		if cur.T >= 0 {
			if bucket := lat[start:]; len(bucket) > 0 {
				// Selection, not a sort (a run has a bucket per second);
				// it reorders the bucket, which changes no quantile of
				// the whole run.
				var q [2]time.Duration
				timeline.QuantilesSelectWithin(bucket, curLo, curHi, q[:], 0.5, 0.99)
				cur.P50, cur.P99 = secsPtr(q[0]), secsPtr(q[1])
				runLo, runHi = min(runLo, curLo), max(runHi, curHi)
			}
			series = append(series, cur)
		}
	}
	for _, req := range svc.Requests {
		sec := int(req.Sent() / time.Second)
		if sec != cur.T {
			flush()
			for t := cur.T + 1; cur.T >= 0 && t < sec; t++ {
				series = append(series, Second{T: t})
			}
			cur = Second{T: sec}
			curLo, curHi = none, -none
			if !keep {
				lat = lat[:0]
			}
			start = len(lat)
		}
		cur.Requests++
		if req.OK() {
			s.Successes++
			if req.Degraded() {
				s.Degraded++
				cur.Degraded++
			}
			l := req.Latency()
			sum += l
			curLo, curHi = min(curLo, l), max(curHi, l)
			if !keep {
				ranks.Add(l)
			}
			lat = append(lat, l)
			continue
		}
		cur.Errors++
		msg := tl.ErrorKinds[req.Err()]
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", req.Code())
		}
		s.Errors[msg]++
	}
	flush()
	s.Failed = s.Requests - s.Successes
	if tl.Duration > 0 {
		s.MeanRPS = float64(s.Requests) / tl.Duration.Seconds()
	}
	if s.Successes > 0 {
		s.Mean = secsPtr(sum / time.Duration(s.Successes))
		s.Max = secsPtr(max(runHi, 0)) // at least 0, as a running maximum from 0 gave it
		var q []time.Duration
		if keep {
			q = make([]time.Duration, 3)
			timeline.QuantilesSelectWithin(lat, runLo, runHi, q, 0.5, 0.9, 0.99)
		} else {
			// Exact quantiles in a few passes over the records, without a
			// copy of every latency (timeline.Quantiles); the loop above
			// was the first.
			q, _ = ranks.Quantiles(func(yield func(time.Duration)) {
				for _, req := range svc.Requests {
					if req.OK() {
						yield(req.Latency())
					}
				}
			}, 0.5, 0.9, 0.99)
		}
		s.P50, s.P90, s.P99 = secsPtr(q[0]), secsPtr(q[1]), secsPtr(q[2])
	}
	return s, series
}

// JSON encodes the report; the same report gives the same bytes.
func (r *Report) JSON() ([]byte, error) {
	var b bytes.Buffer
	if err := r.writeJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeJSON writes JSON's bytes to w.
func (r *Report) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeIndentJSON(w, append(b, '\n'))
}

// indentChunk is how much indented JSON writeIndentJSON collects before
// it writes it on: few writes of a long run's report (3 MB indented)
// without a buffer as long as it.
const indentChunk = 256 << 10

// indentRun is a newline and the indentation of the first 16 levels,
// which writeIndentJSON copies a prefix of.
const indentRun = "\n" + "                                "

// writeIndentJSON writes to w what json.Indent(dst, src, "", "  ")
// appends to dst, for src as json.Marshal writes it (valid, and no space
// outside strings; a trailing newline is kept), which is all it has to
// handle: the same bytes, without the general scanner, which made
// indenting a long run's report (3 MB, most of it the per-second
// figures) take four times as long as marshalling it. It writes in
// pieces of about indentChunk, so the indented copy is never held whole.
// TestIndentJSONIsIndent compares the two.
func writeIndentJSON(w io.Writer, src []byte) error {
	dst := make([]byte, 0, min(2*len(src), indentChunk+len(indentRun)))
	depth := 0
	// needIndent: an object or array was opened and its first element
	// not seen yet; an empty one stays {} or [].
	needIndent := false
	newline := func() {
		if n := 1 + 2*depth; n <= len(indentRun) {
			dst = append(dst, indentRun[:n]...)
			return
		}
		dst = append(dst, '\n')
		for i := 0; i < depth; i++ {
			dst = append(dst, "  "...)
		}
	}
	for i := 0; i < len(src); i++ {
		if len(dst) >= indentChunk {
			if _, err := w.Write(dst); err != nil {
				return err
			}
			dst = dst[:0]
		}
		c := src[i]
		if needIndent && c != '}' && c != ']' {
			needIndent = false
			depth++
			newline()
		}
		switch c {
		case '"':
			// A string, copied through its closing quote (a backslash
			// escapes the byte after it).
			j := i + 1
			for ; src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			needIndent = true
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			if needIndent {
				needIndent = false
			} else {
				depth--
				newline()
			}
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	_, err := w.Write(dst)
	return err
}

// Decode reads a report.json of this schema version, checked against
// Schema. A report of another schema version is an error that names both.
func Decode(data []byte) (*Report, error) {
	var head struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a report: %w", err)
	}
	if head.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("report schema %q, this mcpsim reads %q", head.SchemaVersion, SchemaVersion)
	}
	if err := Validate(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a %s report: %w", SchemaVersion, err)
	}
	return &r, nil
}

// ReadFile reads a report.json, or the report.json of a report directory.
func ReadFile(path string) (*Report, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		path = filepath.Join(path, JSONFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Service returns the named service's report (nil if none).
func (r *Report) Service(name string) *ServiceReport {
	for i := range r.Services {
		if r.Services[i].Name == name {
			return &r.Services[i]
		}
	}
	return nil
}

// Files written by WriteDir, and by WriteSuite into a suite's directory.
const (
	JSONFile  = "report.json"
	JUnitFile = "junit.xml"
	HTMLFile  = "report.html"
	IndexFile = "index.html"
)

// WriteDir writes report.json, junit.xml and report.html into dir. Each
// file is written to a temporary name and renamed, so an interrupted run
// never leaves a half-written report behind.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating report directory: %w", err)
	}
	junit, err := r.JUnit()
	if err != nil {
		return err
	}
	page, err := r.HTML()
	if err != nil {
		return err
	}
	// report.json is indented on its way to the file (writeJSON), not
	// into a copy as long as it.
	if err := writeAtomicFunc(filepath.Join(dir, JSONFile), r.writeJSON); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JUnitFile, junit}, {HTMLFile, page}} {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// WriteHTML writes the report's page to path, atomically.
func (r *Report) WriteHTML(path string) error {
	page, err := r.HTML()
	if err != nil {
		return err
	}
	return writeAtomic(path, page)
}

func writeAtomic(path string, data []byte) error {
	return writeAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc writes a file through a temporary name in the same
// directory, readable by all (reports are CI artifacts), so that no reader
// ever sees it half written.
func writeAtomicFunc(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	werr := write(tmp)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}
