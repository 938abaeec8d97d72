// Package timeline is the one record of a run: every request's outcome,
// periodic cluster observations, events and faults. Backends write it;
// assertions and reports only read it.
package timeline

import (
	"cmp"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one request's outcome, kept compact (24 bytes) because a
// 30-minute run at 500 RPS holds 900,000 of them.
type Request struct {
	// Sent is the offset from the start of the run.
	Sent    time.Duration
	Latency time.Duration
	Code    uint16
	// Err indexes Timeline.ErrorKinds; 0 means no error.
	Err uint16
}

// OK reports whether the request succeeded as Vegeta counts success
// (status 200–399 and no error).
func (r Request) OK() bool { return r.Err == 0 && r.Code >= 200 && r.Code < 400 }

// Sample is a periodic observation of the workload.
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
	Name    string        `json:"name"`
	Kind    string        `json:"kind"`
	Action  string        `json:"action"`
	At      time.Duration `json:"at"`
	Targets []string      `json:"targets"`
	Error   string        `json:"error,omitempty"`
}

// Timeline is the record of one run.
type Timeline struct {
	// Start is the run's start on the backend's clock (a fixed epoch on
	// the sim backend).
	Start      time.Time
	Duration   time.Duration
	Requests   []Request
	Samples    []Sample
	Events     []Event
	Faults     []Fault
	ErrorKinds []string
	errIndex   map[string]uint16
}

// New returns an empty timeline starting at start.
func New(start time.Time) *Timeline {
	return &Timeline{Start: start, ErrorKinds: []string{""}, errIndex: map[string]uint16{"": 0}}
}

// errorKind interns an error message.
func (t *Timeline) errorKind(msg string) uint16 {
	if i, ok := t.errIndex[msg]; ok {
		return i
	}
	i := uint16(len(t.ErrorKinds))
	t.ErrorKinds = append(t.ErrorKinds, msg)
	t.errIndex[msg] = i
	return i
}

// AddRequest records a request given by offset, latency, status code and
// error message ("" for none). It is the allocation-free path the sim uses.
func (t *Timeline) AddRequest(sent, latency time.Duration, code uint16, err string) {
	var e uint16
	if err != "" {
		e = t.errorKind(err)
	}
	t.Requests = append(t.Requests, Request{Sent: sent, Latency: latency, Code: code, Err: e})
}

// AddEvent records an event.
func (t *Timeline) AddEvent(at time.Duration, kind, object, msg string) {
	t.Events = append(t.Events, Event{T: at, Kind: kind, Object: object, Message: msg})
}

// Result converts a recorded request back into a Vegeta result, for
// writing results files the vegeta CLI can read.
func (t *Timeline) Result(i int, attack string) vegeta.Result {
	r := t.Requests[i]
	return vegeta.Result{
		Attack:    attack,
		Seq:       uint64(i),
		Code:      r.Code,
		Timestamp: t.Start.Add(r.Sent),
		Latency:   r.Latency,
		Error:     t.ErrorKinds[r.Err],
		Method:    "GET",
	}
}

// SortRequests orders requests by send time; backends record them as they
// complete.
func (t *Timeline) SortRequests() {
	slices.SortStableFunc(t.Requests, func(a, b Request) int { return cmp.Compare(a.Sent, b.Sent) })
}

// Window returns the requests sent in [from, to). Requests must be sorted.
func (t *Timeline) Window(from, to time.Duration) []Request {
	lo, _ := slices.BinarySearchFunc(t.Requests, from, func(r Request, d time.Duration) int { return cmp.Compare(r.Sent, d) })
	hi, _ := slices.BinarySearchFunc(t.Requests, to, func(r Request, d time.Duration) int { return cmp.Compare(r.Sent, d) })
	return t.Requests[lo:hi]
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
