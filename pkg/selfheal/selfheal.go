// Package selfheal is the self-heal controller's decision logic, pure and
// on a clock passed in, so that the operator on a real cluster and the
// simulator decide alike. Health checks and runtime signals become events
// (InstanceDown, CircuitBreakerTripped); a policy's subscriptions map an
// event to a repair (restart, isolate, scale) with a timeout and retries;
// a rate limit keeps a fault storm from repairing everything at once.
//
// The engine only decides: the caller executes each Decision and reports
// back with Completed (or lets it expire).
package selfheal

import (
	"fmt"
	"sort"
	"time"
)

// Event types.
const (
	InstanceDown          = "InstanceDown"
	CircuitBreakerTripped = "CircuitBreakerTripped"
)

// Actions.
const (
	// Restart deletes the instance (its ReplicaSet replaces it).
	Restart = "restart"
	// Isolate takes the instance out of its Service's endpoints until its
	// health check passes again.
	Isolate = "isolate"
	// Scale adds a replica to the downstream the breakers trip on.
	Scale = "scale"
	// Rejoin puts an isolated instance back (decided, not subscribed).
	Rejoin = "rejoin"
)

// Policy is a SelfHealPolicy's spec.
type Policy struct {
	Name string
	// Target is the service whose instances are checked and repaired.
	Target        string
	HealthCheck   HealthCheck
	Subscriptions []Subscription
	RateLimit     RateLimit
}

// HealthCheck is an HTTP GET of Path every Interval; a 200 within Timeout
// is healthy; FailureThreshold failures in a row make an InstanceDown.
type HealthCheck struct {
	Path             string
	Interval         time.Duration
	Timeout          time.Duration
	FailureThreshold int
}

// Subscription maps an event to an action; an attempt that does not
// complete within Timeout, or fails, is retried up to Retries times.
type Subscription struct {
	Event   string
	Action  string
	Timeout time.Duration
	Retries int
}

// RateLimit: never more than MaxConcurrent repairs at once, never a
// restart or isolation that leaves fewer than MinAvailable instances
// serving.
type RateLimit struct {
	MaxConcurrent int
	MinAvailable  int
}

// Event is something the engine reacts to.
type Event struct {
	Type string
	// Instance is the pod concerned: the failing one (InstanceDown) or the
	// caller whose breaker tripped (CircuitBreakerTripped).
	Instance string
	// Downstream is the service a breaker tripped on.
	Downstream string
}

func (e Event) String() string {
	if e.Downstream != "" {
		return fmt.Sprintf("%s %s → %s", e.Type, e.Instance, e.Downstream)
	}
	return e.Type + " " + e.Instance
}

// Decision is one attempt of an action to carry out.
type Decision struct {
	ID       int
	Action   string
	Instance string
	// Downstream is the service to scale (Scale).
	Downstream string
	Attempt    int // 1 for the first
	Deadline   time.Time
	Event      Event
}

// Outcome is what became of an event or an action, for the record.
type Outcome struct {
	Event  Event
	Action string
	Result string // "skipped: …", "succeeded", "gave up: …"
}

// View is what the caller knows of the target now.
type View struct {
	// Serving counts the target's instances in its endpoints.
	Serving int
	// TargetOut says the event's instance is not among them (Kubernetes
	// took it out already): restarting or isolating it takes nothing
	// more away from the service.
	TargetOut bool
}

// Engine decides for one policy.
type Engine struct {
	p         Policy
	instances map[string]*instance
	pending   map[int]*attempt
	nextID    int
}

type instance struct {
	failures int
	down     bool
	isolated bool
}

type attempt struct {
	d   Decision
	sub Subscription
}

// New returns an engine for p (Validate p first).
func New(p Policy) *Engine {
	return &Engine{p: p, instances: map[string]*instance{}, pending: map[int]*attempt{}}
}

// Policy is the engine's policy.
func (e *Engine) Policy() Policy { return e.p }

func (e *Engine) inst(name string) *instance {
	in, ok := e.instances[name]
	if !ok {
		in = &instance{}
		e.instances[name] = in
	}
	return in
}

// Health records one health check of an instance. It returns the
// InstanceDown event when the failures reach the threshold (once, until
// the instance is healthy again), and a Rejoin decision when an isolated
// instance passes again.
func (e *Engine) Health(name string, healthy bool, now time.Time) (*Event, *Decision) {
	in := e.inst(name)
	if healthy {
		in.failures, in.down = 0, false
		if in.isolated {
			in.isolated = false
			e.nextID++
			return nil, &Decision{ID: e.nextID, Action: Rejoin, Instance: name, Attempt: 1, Deadline: now}
		}
		return nil, nil
	}
	in.failures++
	if in.down || in.failures < e.p.HealthCheck.FailureThreshold {
		return nil, nil
	}
	in.down = true
	return &Event{Type: InstanceDown, Instance: name}, nil
}

// Forget drops an instance that is gone.
func (e *Engine) Forget(name string) { delete(e.instances, name) }

// Handle decides what an event calls for: an attempt per subscribed
// action the rate limit allows, and the outcomes of those it does not.
func (e *Engine) Handle(ev Event, v View, now time.Time) ([]Decision, []Outcome) {
	var out []Decision
	var skipped []Outcome
	for _, sub := range e.p.Subscriptions {
		if sub.Event != ev.Type {
			continue
		}
		if why := e.refuse(sub.Action, ev, v); why != "" {
			skipped = append(skipped, Outcome{Event: ev, Action: sub.Action, Result: "skipped: " + why})
			continue
		}
		out = append(out, e.start(ev, sub, 1, now))
	}
	if len(out) == 0 && ev.Type == InstanceDown && !e.repairing(ev.Instance) {
		// Nothing could be done now (the rate limit): the instance is
		// still down, and its next failed check raises the event again,
		// as a controller requeues what it could not reconcile.
		e.inst(ev.Instance).down = false
	}
	return out, skipped
}

// repairing says whether an attempt on the instance is in progress.
func (e *Engine) repairing(instance string) bool {
	for _, a := range e.pending {
		if a.d.Instance == instance {
			return true
		}
	}
	return false
}

// refuse says why the rate limit forbids an action now ("" if it allows).
func (e *Engine) refuse(action string, ev Event, v View) string {
	if len(e.pending) >= e.p.RateLimit.MaxConcurrent {
		return fmt.Sprintf("%d repair(s) already in progress (maxConcurrent %d)", len(e.pending), e.p.RateLimit.MaxConcurrent)
	}
	for _, a := range e.pending {
		if a.d.Instance == ev.Instance && a.d.Action == action {
			return "the same repair is in progress"
		}
	}
	if (action == Restart || action == Isolate) && !v.TargetOut && v.Serving-1 < e.p.RateLimit.MinAvailable {
		return fmt.Sprintf("%d instance(s) serving; one fewer would go below minAvailable %d", v.Serving, e.p.RateLimit.MinAvailable)
	}
	return ""
}

func (e *Engine) start(ev Event, sub Subscription, attemptNo int, now time.Time) Decision {
	e.nextID++
	d := Decision{ID: e.nextID, Action: sub.Action, Instance: ev.Instance, Downstream: ev.Downstream, Attempt: attemptNo, Deadline: now.Add(sub.Timeout), Event: ev}
	e.pending[d.ID] = &attempt{d: d, sub: sub}
	if sub.Action == Isolate {
		e.inst(ev.Instance).isolated = true
	}
	return d
}

// Completed reports an attempt's result: success ends it; a failure is
// retried while retries remain.
func (e *Engine) Completed(id int, ok bool, now time.Time) ([]Decision, []Outcome) {
	a, found := e.pending[id]
	if !found {
		return nil, nil // expired already, or a Rejoin
	}
	delete(e.pending, id)
	if ok {
		return nil, []Outcome{{Event: a.d.Event, Action: a.d.Action, Result: "succeeded"}}
	}
	return e.retry(a, "failed", now)
}

// Expire ends the attempts past their deadline, as failures.
func (e *Engine) Expire(now time.Time) ([]Decision, []Outcome) {
	ids := make([]int, 0, len(e.pending))
	for id, a := range e.pending {
		if !now.Before(a.d.Deadline) {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids) // deterministic order
	var ds []Decision
	var os []Outcome
	for _, id := range ids {
		a := e.pending[id]
		delete(e.pending, id)
		d, o := e.retry(a, fmt.Sprintf("timed out after %s", a.sub.Timeout), now)
		ds, os = append(ds, d...), append(os, o...)
	}
	return ds, os
}

func (e *Engine) retry(a *attempt, why string, now time.Time) ([]Decision, []Outcome) {
	if a.d.Attempt > a.sub.Retries {
		return nil, []Outcome{{Event: a.d.Event, Action: a.d.Action, Result: fmt.Sprintf("gave up: attempt %d %s, no retries left", a.d.Attempt, why)}}
	}
	return []Decision{e.start(a.d.Event, a.sub, a.d.Attempt+1, now)}, []Outcome{{Event: a.d.Event, Action: a.d.Action, Result: fmt.Sprintf("attempt %d %s; retrying", a.d.Attempt, why)}}
}

// Pending is the number of repairs in progress.
func (e *Engine) Pending() int { return len(e.pending) }
