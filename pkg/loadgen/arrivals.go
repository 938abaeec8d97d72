package loadgen

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Arrivals turns a pacer into request send times in virtual time, the way
// vegeta.Attacker paces hits in wall time: ask the pacer how long to wait
// given the elapsed time and hits so far, wait, then send.
type Arrivals struct {
	pacer    vegeta.Pacer
	start    time.Duration
	duration time.Duration
	elapsed  time.Duration
	hits     uint64
	done     bool
}

// NewArrivals paces hits from start for duration.
func NewArrivals(p vegeta.Pacer, start, duration time.Duration) *Arrivals {
	return &Arrivals{pacer: p, start: start, duration: duration}
}

// maxWaitsPerHit bounds the pacer calls for one hit: a pacer that keeps
// asking to wait zero without ever releasing a hit cannot hang the sim.
const maxWaitsPerHit = 64

// Next returns the send time of the next hit, or false when the load is
// over.
func (a *Arrivals) Next() (time.Duration, bool) {
	if a.done {
		return 0, false
	}
	if p, ok := a.pacer.(*PoissonPacer); ok {
		return a.nextPoisson(p)
	}
	for i := 0; i < maxWaitsPerHit; i++ {
		wait, stop := a.pacer.Pace(a.elapsed, a.hits)
		if stop {
			a.done = true
			return 0, false
		}
		if wait <= 0 {
			// Like vegeta.Attacker, a hit due exactly at the end is sent.
			if a.elapsed > a.duration {
				a.done = true
				return 0, false
			}
			a.hits++
			return a.start + a.elapsed, true
		}
		a.elapsed += wait
		if a.elapsed > a.duration {
			a.done = true
			return 0, false
		}
	}
	// The pacer kept waiting without releasing: send now.
	a.hits++
	return a.start + a.elapsed, true
}

// nextPoisson is Next for a Poisson pacer, which knows its next hit's
// time outright: the two Pace calls of the general loop (one that waits
// until that time, one that sends then) in one direct call, with the
// same outcome. A simulated request's arrival costs this once, and the
// interface calls were a twentieth of a run with calls between services.
func (a *Arrivals) nextPoisson(p *PoissonPacer) (time.Duration, bool) {
	t, stop := p.nextHit(a.hits)
	if stop {
		a.done = true
		return 0, false
	}
	// t is not before elapsed: the pacer's times only grow.
	if t > a.elapsed {
		a.elapsed = t
	}
	if a.elapsed > a.duration {
		a.done = true
		return 0, false
	}
	a.hits++
	return a.start + a.elapsed, true
}
