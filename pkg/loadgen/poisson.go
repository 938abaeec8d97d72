package loadgen

import (
	"fmt"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/internal/pcg"
)

// PoissonPacer sends hits as a (non-homogeneous) Poisson process whose
// rate follows another pacer's Rate: open-loop traffic with exponential
// gaps, as independent users produce, rather than evenly spaced hits.
// It draws candidate times at the bound Max and keeps each with
// probability Rate(t)/Max (Lewis and Shedler's thinning), which is exact
// for any rate shape below Max. Randomness comes from the seeded source,
// so the same seed gives the same send times, in the sim and for
// vegeta.Attacker alike.
type PoissonPacer struct {
	// Shape gives the rate at each moment.
	Shape vegeta.Pacer
	// Max bounds Shape's rate (hits per second).
	Max float64
	// End stops the attack: no hit is sent at or after it.
	End time.Duration

	rng    *pcg.Rand // math/rand/v2's numbers without its interface
	next   time.Duration
	issued uint64
	armed  bool
	done   bool
}

var _ vegeta.Pacer = (*PoissonPacer)(nil)

// NewPoissonPacer returns a Poisson pacer following shape, seeded.
func NewPoissonPacer(shape vegeta.Pacer, max float64, end time.Duration, seed uint64) *PoissonPacer {
	return &PoissonPacer{Shape: shape, Max: max, End: end, rng: pcg.New(seed, 0x0a11_5eed_9055_0001)}
}

// maxRejections bounds the thinning loop for one hit; past it the shape's
// rate is taken to be zero for good and the attack stops.
const maxRejections = 1 << 20

// Pace implements vegeta.Pacer.
func (p *PoissonPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	t, stop := p.nextHit(hits)
	if stop {
		return 0, true
	}
	return t - elapsed, false
}

// nextHit is the time of hit number hits+1 (drawn once, when hits
// changes), or stop when there is none.
func (p *PoissonPacer) nextHit(hits uint64) (time.Duration, bool) {
	if p.done || p.Max <= 0 {
		return 0, true
	}
	if hits != p.issued {
		p.issued, p.armed = hits, false
	}
	if !p.armed {
		t := p.next
		for i := 0; ; i++ {
			t += time.Duration(p.rng.ExpFloat64() / p.Max * 1e9)
			if t >= p.End || i == maxRejections {
				p.done = true
				return 0, true
			}
			if p.rng.Float64()*p.Max < p.Shape.Rate(t) {
				break
			}
		}
		p.next, p.armed = t, true
	}
	return p.next, false
}

// Rate implements vegeta.Pacer: the shape's rate.
func (p *PoissonPacer) Rate(elapsed time.Duration) float64 { return p.Shape.Rate(elapsed) }

// String describes the pacer.
func (p *PoissonPacer) String() string {
	return fmt.Sprintf("Poisson{%v}", p.Shape)
}
