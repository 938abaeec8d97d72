// Package loadgen turns load profiles into Vegeta pacers and drives them:
// in virtual time for the sim backend (Arrivals), with vegeta.Attacker for
// real clusters.
package loadgen

import (
	"fmt"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Pacer builds the Vegeta pacer of a defaulted load: the profile's shape,
// with Poisson arrivals (seeded by seed) when the load asks for them.
func Pacer(l *scenario.Load, seed uint64) (vegeta.Pacer, error) {
	shape, err := shapePacer(l)
	if err != nil || l.Arrivals != scenario.ArrivalsPoisson {
		return shape, err
	}
	var end time.Duration
	if l.Duration != nil {
		end = l.Duration.Duration
	}
	return NewPoissonPacer(shape, MaxRate(l), end, seed), nil
}

// MaxRate bounds a profile's rate (for thinning, and to size a real
// attacker's workers).
func MaxRate(l *scenario.Load) float64 {
	switch l.Profile {
	case scenario.ProfileRamp:
		return float64(max(l.From, l.To))
	case scenario.ProfileSteps:
		m := 0
		for _, s := range l.Steps {
			m = max(m, s.Rate)
		}
		return float64(m)
	case scenario.ProfileSine:
		return float64(l.Mean + l.Amplitude)
	}
	return float64(l.Rate)
}

// shapePacer is the evenly spaced Vegeta pacer of a profile.
func shapePacer(l *scenario.Load) (vegeta.Pacer, error) {
	switch l.Profile {
	case scenario.ProfileConstant, scenario.ProfilePoisson:
		return vegeta.ConstantPacer{Freq: l.Rate, Per: time.Second}, nil
	case scenario.ProfileRamp:
		if l.Duration == nil || l.Duration.Duration <= 0 {
			return nil, fmt.Errorf("ramp profile needs a load duration")
		}
		return RampPacer{From: float64(l.From), Slope: float64(l.To-l.From) / l.Duration.Seconds()}, nil
	case scenario.ProfileSteps:
		return NewStepsPacer(l.Steps), nil
	case scenario.ProfileSine:
		return vegeta.SinePacer{
			Period:  l.Period.Duration,
			Mean:    vegeta.ConstantPacer{Freq: l.Mean, Per: time.Second},
			Amp:     vegeta.ConstantPacer{Freq: l.Amplitude, Per: time.Second},
			StartAt: vegeta.MeanUp,
		}, nil
	}
	return nil, fmt.Errorf("unknown load profile %q", l.Profile)
}

// StepsPacer is consecutive constant-rate segments, each a
// vegeta.ConstantPacer. A zero-rate step is a pause. After the last step it
// stops the attack.
type StepsPacer struct {
	steps []segment
}

type segment struct {
	start, end time.Duration
	hitsBefore uint64 // hits due before this segment starts
	total      uint64 // hits this segment sends
	pacer      vegeta.ConstantPacer
}

var _ vegeta.Pacer = (*StepsPacer)(nil)

// NewStepsPacer builds a StepsPacer.
func NewStepsPacer(steps []scenario.Step) *StepsPacer {
	p := &StepsPacer{}
	var at time.Duration
	var hits uint64
	for _, s := range steps {
		seg := segment{start: at, end: at + s.Duration.Duration, hitsBefore: hits, pacer: vegeta.ConstantPacer{Freq: s.Rate, Per: time.Second}}
		seg.total = uint64(math.Round(float64(s.Rate) * s.Duration.Seconds()))
		p.steps = append(p.steps, seg)
		hits += seg.total
		at = seg.end
	}
	return p
}

// String describes the steps, e.g. Steps{20/s for 2m0s, 100/s for 8m0s}.
func (p *StepsPacer) String() string {
	s := "Steps{"
	for i, seg := range p.steps {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d/s for %s", seg.pacer.Freq, seg.end-seg.start)
	}
	return s + "}"
}

func (p *StepsPacer) segmentAt(elapsed time.Duration) (int, bool) {
	for i, seg := range p.steps {
		if elapsed < seg.end {
			return i, true
		}
	}
	return 0, false
}

// Pace implements vegeta.Pacer. The segment is chosen by the hits still
// owed, so that a hit due exactly at a segment boundary is not lost, and a
// pacer running behind catches up inside its segment as Vegeta's does.
func (p *StepsPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	for _, seg := range p.steps {
		if hits >= seg.hitsBefore+seg.total {
			continue
		}
		if elapsed < seg.start {
			return seg.start - elapsed, false
		}
		return seg.pacer.Pace(elapsed-seg.start, hits-seg.hitsBefore)
	}
	return 0, true
}

// Rate implements vegeta.Pacer.
func (p *StepsPacer) Rate(elapsed time.Duration) float64 {
	i, ok := p.segmentAt(elapsed)
	if !ok {
		return 0
	}
	return p.steps[i].pacer.Rate(0)
}

// RampPacer sends hits at a rate rising linearly from From (per second)
// by Slope per second, the n-th hit at the instant the rate's integral
// reaches n (Vegeta's ConstantPacer's convention: the first hit after one
// interval). It stands in for Vegeta's LinearPacer, whose Pace waits
// 1/rate(now) per hit: a ramp from 0 starts at a rate of nothing and
// waited hours for its second hit (and a zero start rate means "as fast
// as possible" to it), and from a low rate its waits lag the ramp.
type RampPacer struct {
	From, Slope float64
}

var _ vegeta.Pacer = RampPacer{}

// Pace implements vegeta.Pacer.
func (p RampPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	at, ok := p.hitAt(float64(hits + 1))
	if !ok {
		return 0, true
	}
	if wait := at - elapsed; wait > 0 {
		return wait, false
	}
	return 0, false
}

// hitAt solves From*t + Slope*t²/2 = k (k > 0) for the first t >= 0; ok
// is false when the rate never brings the integral to k (a falling ramp
// past zero).
func (p RampPacer) hitAt(k float64) (time.Duration, bool) {
	var t float64
	switch {
	case p.Slope == 0:
		if p.From <= 0 {
			return 0, false
		}
		t = k / p.From
	default:
		disc := p.From*p.From + 2*p.Slope*k
		if disc < 0 {
			return 0, false
		}
		// The root written to avoid cancellation when Slope is small.
		t = 2 * k / (p.From + math.Sqrt(disc))
		if t < 0 || math.IsInf(t, 0) || math.IsNaN(t) {
			return 0, false
		}
	}
	if t > float64(math.MaxInt64)/1e9 {
		return 0, false
	}
	return time.Duration(math.Round(t * 1e9)), true
}

// Rate implements vegeta.Pacer.
func (p RampPacer) Rate(elapsed time.Duration) float64 {
	return max(p.From+p.Slope*elapsed.Seconds(), 0)
}
