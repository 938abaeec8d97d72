// Package timeline is the one record of a run: every request's outcome
// at every service, periodic observations of each service, events, faults
// and circuit-breaker transitions. Backends write it; assertions and
// reports only read it.
package timeline

import (
	"cmp"
	"math"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one request's outcome, kept compact because a run holds
// every request of every service: 3.6 million for a 30-minute run of the
// four-service topology at 500 RPS, 36 million at 10,000 RPS for an hour.
// It is 16 bytes, two words each holding a time in nanoseconds in its
// upper 48 bits (±39 hours, beyond the longest scenario, 24 hours: see
// NewRequest) and small fields in its lower 16: a third less memory to
// fill, zero and read than a struct of the same fields (24 bytes), which
// is a third of every write of a record and of each pass over them.
type Request struct {
	sentErr uint64 // Sent << 16 | Err
	latCode uint64 // Latency << 16 | Code << 1 | Degraded
}

const (
	// requestTimeMax bounds the times a Request holds (2^47 - 1 ns).
	requestTimeMax = time.Duration(1)<<47 - 1
	// requestCodeMax bounds its status codes (15 bits; HTTP's end at 599).
	requestCodeMax = 1<<15 - 1
)

// NewRequest is a request sent at sent (the offset from the start of the
// run) that took latency and ended with status code and error err (an
// index in Timeline.ErrorKinds, 0 for none); degraded marks a success
// answered in part by a fallback (a downstream call failed or its
// breaker was open). A time beyond ±39 hours or a code above 32767, which
// validated scenarios and HTTP do not give, is held at that bound.
func NewRequest(sent, latency time.Duration, code, err uint16, degraded bool) Request {
	sent = min(max(sent, -requestTimeMax), requestTimeMax)
	latency = min(max(latency, -requestTimeMax), requestTimeMax)
	lc := uint64(latency)<<16 | uint64(min(code, requestCodeMax))<<1
	if degraded {
		lc |= 1
	}
	return Request{sentErr: uint64(sent)<<16 | uint64(err), latCode: lc}
}

// Sent is the offset from the start of the run at which it was sent.
func (r Request) Sent() time.Duration { return time.Duration(int64(r.sentErr) >> 16) }

// Latency is how long it took, as its caller saw it.
func (r Request) Latency() time.Duration { return time.Duration(int64(r.latCode) >> 16) }

// Code is its HTTP status code (0 for none).
func (r Request) Code() uint16 { return uint16(r.latCode) >> 1 }

// Err indexes Timeline.ErrorKinds; 0 means no error.
func (r Request) Err() uint16 { return uint16(r.sentErr) }

// Degraded marks a success answered in part by a fallback.
func (r Request) Degraded() bool { return r.latCode&1 != 0 }

// OK reports whether the request succeeded as Vegeta counts success
// (status 200–399 and no error); a degraded answer is a success.
func (r Request) OK() bool {
	code := r.Code()
	return r.Err() == 0 && code >= 200 && code < 400
}

// AsDegraded is r marked degraded: answered in part by a fallback (only a
// success is: see NewRequest).
func (r Request) AsDegraded() Request {
	r.latCode |= 1
	return r
}

// Sample is a periodic observation of one service.
type Sample struct {
	T time.Duration `json:"t"`
	// Desired is the Deployment's spec.replicas (the HPA's decision).
	Desired int32 `json:"desired"`
	// Pods counts pods that are not terminating.
	Pods int32 `json:"pods"`
	// Ready counts pods whose Ready condition is true.
	Ready int32 `json:"ready"`
	// Endpoints counts the endpoints the load balancer routes to.
	Endpoints int32 `json:"endpoints"`
	// Pending counts pods not yet scheduled.
	Pending int32 `json:"pending"`
	// CPUUtilization is the HPA's last computed utilization (percent of
	// request), -1 before the first computation.
	CPUUtilization int32 `json:"cpuUtilization"`
	// CPUMillicores is the CPU the service's pods used over the last
	// sampling interval (the sim's exact figure; on real clusters
	// metrics-server's, -1 where there is none).
	CPUMillicores int32 `json:"cpuMillicores"`
}

// Event is something that happened: a pod started or died, a rescale, a
// fault.
type Event struct {
	T       time.Duration `json:"t"`
	Kind    string        `json:"kind"`
	Object  string        `json:"object,omitempty"`
	Message string        `json:"message"`
}

// Fault records one injected fault.
type Fault struct {
	Name   string        `json:"name"`
	Kind   string        `json:"kind"`
	Action string        `json:"action"`
	At     time.Duration `json:"at"`
	// End is when the fault's object was deleted (its duration over, or
	// the run's end); nil while it lasts.
	End     *time.Duration `json:"end,omitempty"`
	Targets []string       `json:"targets"`
	Error   string         `json:"error,omitempty"`
}

// BreakerTransition is one circuit breaker's change of state. Every pod of
// a calling service has its own breaker per downstream call.
type BreakerTransition struct {
	T          time.Duration `json:"t"`
	Service    string        `json:"service"`
	Pod        string        `json:"pod"`
	Downstream string        `json:"downstream"`
	From       string        `json:"from"`
	To         string        `json:"to"`
}

// Pod is one pod's life: where it ran and when it was Ready and deleted.
// Placement assertions read these.
type Pod struct {
	Name    string
	Service string
	Created time.Duration
	// Node is where the pod was bound ("" while it was never scheduled),
	// at Bound.
	Node  string
	Bound time.Duration
	// FirstReady is when the pod first became Ready (-1: never).
	FirstReady time.Duration
	// Deleted is when its deletion began (-1: never); Cause says why:
	// CauseScaleDown, CauseFault (a fault or its consequence, such as an
	// eviction from a lost node) or CauseSelfHeal.
	Deleted time.Duration
	Cause   string
}

// Deletion causes of a Pod.
const (
	CauseScaleDown = "scale-down"
	CauseFault     = "fault"
	CauseSelfHeal  = "self-heal"
)

// Repair is one step of a self-heal policy's work on an instance: its
// detection, an action started, or an action's outcome.
type Repair struct {
	T      time.Duration
	Policy string
	Pod    string
	// Stage is RepairDetected, RepairAction or RepairOutcome.
	Stage string
	// Event is what was detected (InstanceDown, CircuitBreakerTripped);
	// Action the repair (restart, isolate, scale, rejoin); Result an
	// outcome's ("succeeded", "skipped: …", "gave up: …", "attempt n
	// failed; retrying").
	Event, Action, Result string
}

// Repair stages.
const (
	RepairDetected = "detected"
	RepairAction   = "action"
	RepairOutcome  = "outcome"
)

// Node is one node and its labels (zones, hostnames).
type Node struct {
	Name   string
	Labels map[string]string
}

// Service is the record of one service.
type Service struct {
	Name string
	Role string
	// Requests are the requests the service received, as its callers saw
	// them (latency includes the network; a caller's timeout ends them).
	// The entry service's requests are the load generator's.
	Requests []Request
	Samples  []Sample
	// CFS is the CPU quota's enforcement over the service's pods, when the
	// backend modelled it per period (nil otherwise).
	CFS *CFSStats
}

// CFSStats are a cgroup's cpu.stat counters, summed over pods: the
// periods that elapsed while it ran (nr_periods) and those in which its
// quota ran out (nr_throttled).
type CFSStats struct {
	Periods, Throttled int64
}

// Window returns the requests sent in [from, to). Requests must be sorted.
func (s *Service) Window(from, to time.Duration) []Request {
	lo, _ := slices.BinarySearchFunc(s.Requests, from, func(r Request, d time.Duration) int { return cmp.Compare(r.Sent(), d) })
	hi, _ := slices.BinarySearchFunc(s.Requests, to, func(r Request, d time.Duration) int { return cmp.Compare(r.Sent(), d) })
	return s.Requests[lo:hi]
}

// Timeline is the record of one run.
type Timeline struct {
	// Start is the run's start on the backend's clock (a fixed epoch on
	// the sim backend).
	Start    time.Time
	Duration time.Duration
	// Entry names the service the load targets.
	Entry string
	// CPUQuota is how the backend enforced CPU limits when it is a model
	// (the sim's: "Fluid", or "Periodic" and the period, as "Periodic
	// 100ms"); empty on a real cluster, whose kernel enforces them.
	CPUQuota string
	// KubernetesVersion is the API server's version (its gitVersion) on a
	// real cluster; empty on the sim.
	KubernetesVersion string
	Services          []*Service
	Events            []Event
	Faults            []Fault
	Breakers          []BreakerTransition
	// Nodes and Pods are the cluster's nodes and every pod of the run,
	// in creation order.
	Nodes []Node
	Pods  []Pod
	// Repairs are the self-heal controller's steps, in time order.
	Repairs    []Repair
	ErrorKinds []string
	errIndex   map[string]uint16
}

// New returns an empty timeline starting at start.
func New(start time.Time) *Timeline {
	return &Timeline{Start: start, ErrorKinds: []string{""}, errIndex: map[string]uint16{"": 0}}
}

// AddService adds a service's record.
func (t *Timeline) AddService(name, role string) *Service {
	s := &Service{Name: name, Role: role}
	t.Services = append(t.Services, s)
	return s
}

// Service returns the named service's record (nil if none).
func (t *Timeline) Service(name string) *Service {
	for _, s := range t.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// EntryService is the record of the load's target (nil if none).
func (t *Timeline) EntryService() *Service { return t.Service(t.Entry) }

// OtherErrors is the kind every error message beyond the first
// math.MaxUint16 − 1 distinct ones is counted as: Request.Err has 16 bits.
const OtherErrors = "other errors (too many distinct messages to tell apart)"

// errorKind interns an error message.
func (t *Timeline) errorKind(msg string) uint16 {
	if i, ok := t.errIndex[msg]; ok {
		return i
	}
	if len(t.ErrorKinds) >= math.MaxUint16 {
		// The last index left is the catch-all's.
		msg = OtherErrors
		if i, ok := t.errIndex[msg]; ok {
			return i
		}
	}
	i := uint16(len(t.ErrorKinds))
	t.ErrorKinds = append(t.ErrorKinds, msg)
	t.errIndex[msg] = i
	return i
}

// ErrorKind interns an error message for Request.Err ("" is 0).
func (t *Timeline) ErrorKind(msg string) uint16 {
	if msg == "" {
		return 0
	}
	return t.errorKind(msg)
}

// AddRequest records a request to s given by offset, latency, status code
// and error message ("" for none).
func (t *Timeline) AddRequest(s *Service, sent, latency time.Duration, code uint16, err string) {
	s.Requests = append(s.Requests, NewRequest(sent, latency, code, t.ErrorKind(err), false))
}

// AddEvent records an event.
func (t *Timeline) AddEvent(at time.Duration, kind, object, msg string) {
	t.Events = append(t.Events, Event{T: at, Kind: kind, Object: object, Message: msg})
}

// Result converts a recorded request of s back into a Vegeta result, for
// writing results files the vegeta CLI can read.
func (t *Timeline) Result(s *Service, i int, attack string) vegeta.Result {
	r := s.Requests[i]
	return vegeta.Result{
		Attack:    attack,
		Seq:       uint64(i),
		Code:      r.Code(),
		Timestamp: t.Start.Add(r.Sent()),
		Latency:   r.Latency(),
		Error:     t.ErrorKinds[r.Err()],
		Method:    "GET",
	}
}

// SortRequests orders every service's requests by send time; backends
// record them as they complete.
func (t *Timeline) SortRequests() {
	for _, s := range t.Services {
		slices.SortStableFunc(s.Requests, func(a, b Request) int { return cmp.Compare(a.Sent(), b.Sent()) })
	}
}

// FaultAt returns the record of the named fault.
func (t *Timeline) FaultAt(name string) (Fault, bool) {
	for _, f := range t.Faults {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}
