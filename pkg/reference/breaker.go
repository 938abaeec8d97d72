package reference

import (
	"sync"
	"time"
)

// Clock is the time source of the policy logic, injected so that the
// simulator and tests can drive it.
type Clock interface{ Now() time.Time }

// BreakerState is a circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	Closed BreakerState = iota
	Open
	HalfOpen
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// Breaker is the gateway's circuit breaker for one downstream: after
// FailureThreshold consecutive failures it opens and fails fast for
// Cooldown; then it lets one trial request through (half-open), closing on
// success and opening again on failure.
type Breaker struct {
	FailureThreshold int
	Cooldown         time.Duration
	clock            Clock

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	trial    bool // a half-open trial is in flight
}

// NewBreaker returns a closed breaker.
func NewBreaker(threshold int, cooldown time.Duration, clock Clock) *Breaker {
	return &Breaker{FailureThreshold: threshold, Cooldown: cooldown, clock: clock}
}

// Allow reports whether a request may go to the downstream now.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Open:
		if b.clock.Now().Sub(b.openedAt) < b.Cooldown {
			return false
		}
		b.state, b.trial = HalfOpen, true
		return true
	case HalfOpen:
		if b.trial {
			return false
		}
		b.trial = true
		return true
	}
	return true
}

// Record reports the outcome of an allowed request.
func (b *Breaker) Record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.state, b.failures, b.trial = Closed, 0, false
		return
	}
	b.failures++
	if b.state == HalfOpen || b.failures >= b.FailureThreshold {
		b.state, b.openedAt, b.trial = Open, b.clock.Now(), false
	}
}

// State is the breaker's current state.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
