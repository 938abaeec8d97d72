package netdelay

import (
	"math/rand/v2"
	"time"
)

// correlated draws netem's correlated uniform numbers. netem
// (net/sched/sch_netem.c, get_crandom) computes, in 32-bit fixed point,
//
//	next = (1-rho)·u + rho·last
//
// with u a fresh uniform draw and last the previous result, starting from
// a random last (init_crandom). The sequence keeps the mean of u (1/2) but
// not its spread: its variance is (1-rho)/(1+rho) times u's, and
// successive draws have correlation rho. That is what `tc ... netem delay
// 100ms 10ms 25%` (and Chaos Mesh's correlation) does, so it is what we do.
type correlated struct {
	rho, last float64
}

func newCorrelated(rho float64, rng *rand.Rand) correlated {
	return correlated{rho: rho, last: rng.Float64()}
}

func (c *correlated) next(rng *rand.Rand) float64 {
	u := rng.Float64()
	if c.rho == 0 {
		return u
	}
	c.last = (1-c.rho)*u + c.rho*c.last
	return c.last
}

// schedule decides each packet's fate in arrival order: dropped, or held
// for how long. It is the pure half of the delayer; the same Config (and
// so the same seed) gives the same sequence.
type schedule struct {
	rng             *rand.Rand
	latency, jitter time.Duration
	loss            float64
	delayCor        correlated
	lossCor         correlated
}

// seedStream is PCG's second seed word: the stream. Fixed, so that Seed
// alone picks the sequence.
const seedStream = 0x6e657464656c6179 // "netdelay"

func newSchedule(c Config) *schedule {
	rng := rand.New(rand.NewPCG(c.Seed, seedStream))
	s := &schedule{rng: rng, latency: c.Latency, jitter: c.Jitter, loss: c.Loss}
	s.delayCor = newCorrelated(c.Correlation, rng)
	s.lossCor = newCorrelated(c.LossCorrelation, rng)
	return s
}

// next returns the next packet's fate. As in netem's enqueue, loss is
// decided first and a dropped packet draws no delay.
func (s *schedule) next() (delay time.Duration, drop bool) {
	// netem drops when loss >= the draw (loss_event); with a draw in
	// [0,1), u < loss drops exactly a loss fraction and never drops at 0.
	if s.loss > 0 && s.lossCor.next(s.rng) < s.loss {
		return 0, true
	}
	if s.jitter == 0 {
		return s.latency, false
	}
	// netem's table-less tabledist: ((rnd % 2σ) + μ) - σ, uniform over
	// [μ-σ, μ+σ). A negative delay means "now", as a time_to_send in the
	// past does in netem's tfifo.
	u := s.delayCor.next(s.rng)
	d := s.latency + time.Duration((2*u-1)*float64(s.jitter))
	return max(d, 0), false
}
