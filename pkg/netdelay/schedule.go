package netdelay

import (
	"math/rand/v2"
	"time"

	"github.com/mcpsim/mcpsim/pkg/internal/netem"
)

// correlated draws netem's correlated uniform numbers (netem.Correlate),
// starting from a random last, as init_crandom does.
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
	c.last = netem.Correlate(u, c.last, c.rho)
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
	if s.loss > 0 && netem.Lost(s.lossCor.next(s.rng), s.loss) {
		return 0, true
	}
	if s.jitter == 0 {
		return s.latency, false
	}
	return netem.Jitter(s.latency, s.jitter, s.delayCor.next(s.rng)), false
}
