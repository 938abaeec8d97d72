package reference

import (
	"errors"
	"sync"
	"time"
)

// Clock is the time source of the policy logic, injected so that the
// simulator and tests can drive it.
type Clock interface{ Now() time.Time }

// WallClock is the real time, for the reference services.
type WallClock struct{}

// Now implements Clock.
func (WallClock) Now() time.Time { return time.Now() }

// BreakerState is a circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	Closed BreakerState = iota
	Open
	HalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerPolicy is a circuit breaker's configuration, with the meaning of
// sony/gobreaker's Settings.
type BreakerPolicy struct {
	// ConsecutiveFailures: the breaker opens when the consecutive failures
	// in the closed state exceed it (gobreaker's default ReadyToTrip:
	// ConsecutiveFailures > 5).
	ConsecutiveFailures uint32
	// OpenFor is how long the breaker stays open before it lets trial
	// requests through (gobreaker's Timeout).
	OpenFor time.Duration
	// HalfOpenRequests is how many requests the half-open breaker lets
	// through, and how many consecutive successes close it (gobreaker's
	// MaxRequests).
	HalfOpenRequests uint32
}

// DefaultBreakerPolicy is gobreaker's default trip rule with the seed
// policy's 10 s open interval and one half-open trial.
var DefaultBreakerPolicy = BreakerPolicy{ConsecutiveFailures: 5, OpenFor: 10 * time.Second, HalfOpenRequests: 1}

// Errors of Allow, as gobreaker names them.
var (
	ErrOpenState       = errors.New("circuit breaker is open")
	ErrTooManyRequests = errors.New("too many requests (circuit breaker is half-open)")
)

// Outcome is what a request that the breaker let through came to.
type Outcome int

// Outcomes.
const (
	Success Outcome = iota
	Failure
	// Excluded is neither success nor failure: the caller's own client
	// went away (gobreaker's IsExcluded, e.g. for context.Canceled).
	Excluded
)

// Ticket identifies the breaker generation a request was allowed in;
// results of an earlier generation are ignored, as in gobreaker.
type Ticket uint64

// BreakerMachine is a circuit breaker with sony/gobreaker's state
// machine: closed, it counts consecutive failures and opens when they
// exceed the policy's threshold; open, it rejects every request for
// OpenFor; then half-open, it lets HalfOpenRequests requests through,
// closing after as many consecutive successes and opening again on any
// failure. Each state change starts a new generation, and outcomes of
// requests allowed in an older generation are ignored.
//
// It is not safe for concurrent use: Breaker is the same machine behind
// a mutex, for the reference service's concurrent handlers. The
// simulator runs on one goroutine and makes millions of calls a run, so
// it uses the machine directly.
//
// Why not gobreaker itself: gobreaker v2 reads time.Now() inside its state
// machine and has no way to inject a clock, and the simulator must run the
// same breaker in virtual time. This type keeps gobreaker's semantics
// (tested against a table of its documented behaviour) on a Clock.
type BreakerMachine struct {
	policy   BreakerPolicy
	clock    Clock
	onChange func(from, to BreakerState, at time.Time)

	state      BreakerState
	generation uint64
	expiry     time.Time
	requests   uint32 // let through in this generation (half-open bound)
	excluded   uint32
	successes  uint32 // consecutive
	failures   uint32 // consecutive
}

// NewBreakerMachine returns a closed breaker machine. onChange, if set, is
// called on every state change; it must not call back.
func NewBreakerMachine(p BreakerPolicy, clock Clock, onChange func(from, to BreakerState, at time.Time)) BreakerMachine {
	if p.HalfOpenRequests == 0 {
		p.HalfOpenRequests = 1
	}
	if p.OpenFor <= 0 {
		p.OpenFor = DefaultBreakerPolicy.OpenFor
	}
	return BreakerMachine{policy: p, clock: clock, onChange: onChange}
}

// Allow asks to send one request. It returns ErrOpenState or
// ErrTooManyRequests when the request must not be sent.
func (b *BreakerMachine) Allow() (Ticket, error) {
	b.refresh()
	switch {
	case b.state == Open:
		return Ticket(b.generation), ErrOpenState
	case b.state == HalfOpen && b.requests-min(b.excluded, b.requests) >= b.policy.HalfOpenRequests:
		return Ticket(b.generation), ErrTooManyRequests
	}
	b.requests++
	return Ticket(b.generation), nil
}

// Done reports the outcome of a request Allow let through.
func (b *BreakerMachine) Done(t Ticket, o Outcome) {
	b.refresh()
	if uint64(t) != b.generation {
		return
	}
	switch o {
	case Excluded:
		b.excluded++
	case Success:
		b.successes++
		b.failures = 0
		if b.state == HalfOpen && b.successes >= b.policy.HalfOpenRequests {
			b.setState(Closed, b.clock.Now())
		}
	case Failure:
		b.failures++
		b.successes = 0
		if b.state == HalfOpen || (b.state == Closed && b.failures > b.policy.ConsecutiveFailures) {
			b.setState(Open, b.clock.Now())
		}
	}
}

// State is the breaker's state now.
func (b *BreakerMachine) State() BreakerState {
	b.refresh()
	return b.state
}

// refresh moves an open breaker whose interval has passed to half-open
// (gobreaker: expiry.Before(now), so exactly OpenFor later it is still
// open). Only an open breaker reads the clock: a closed or half-open one
// changes state only on an outcome, and the clock is the cost of the
// common case otherwise. The check is all that inlines into Allow and
// Done, which the simulator calls for every call it makes: a call to
// refresh itself cost 2% of a run that never opened a breaker.
func (b *BreakerMachine) refresh() {
	if b.state == Open {
		b.refreshOpen()
	}
}

func (b *BreakerMachine) refreshOpen() {
	if now := b.clock.Now(); b.expiry.Before(now) {
		b.setState(HalfOpen, now)
	}
}

func (b *BreakerMachine) setState(s BreakerState, now time.Time) {
	if s == b.state {
		return
	}
	from := b.state
	b.state = s
	b.generation++
	b.requests, b.excluded, b.successes, b.failures = 0, 0, 0, 0
	if s == Open {
		b.expiry = now.Add(b.policy.OpenFor)
	}
	if b.onChange != nil {
		b.onChange(from, s, now)
	}
}

// Breaker is a BreakerMachine safe for concurrent use.
type Breaker struct {
	mu sync.Mutex
	m  BreakerMachine
}

// NewBreaker returns a closed breaker. onChange, if set, is called on
// every state change (under the breaker's lock: it must not call back).
func NewBreaker(p BreakerPolicy, clock Clock, onChange func(from, to BreakerState, at time.Time)) *Breaker {
	return &Breaker{m: NewBreakerMachine(p, clock, onChange)}
}

// Allow asks to send one request. It returns ErrOpenState or
// ErrTooManyRequests when the request must not be sent.
func (b *Breaker) Allow() (Ticket, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m.Allow()
}

// Done reports the outcome of a request Allow let through.
func (b *Breaker) Done(t Ticket, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m.Done(t, o)
}

// State is the breaker's state now.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m.State()
}
