package netdelay

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func draws(c Config, n int) (delays []time.Duration, drops []bool) {
	s := newSchedule(c)
	for range n {
		d, drop := s.next()
		delays = append(delays, d)
		drops = append(drops, drop)
	}
	return delays, drops
}

// The sequence is a function of the seed and the formula alone. Drawn by
// hand from the same PCG: the first two draws start the delay and loss
// correlation states (netem's init_crandom), then each packet takes a loss
// draw (Loss > 0) and, if kept, a delay draw, mixed with the last delay
// draw by the correlation.
func TestScheduleSequenceFromSeed(t *testing.T) {
	c := Config{Latency: 100 * time.Millisecond, Jitter: 10 * time.Millisecond, Correlation: 0.25, Loss: 0.2, Seed: 42}
	got, gotDrop := draws(c, 50)

	rng := rand.New(rand.NewPCG(42, seedStream))
	lastDelay, _ := rng.Float64(), rng.Float64()
	for i := range 50 {
		drop := rng.Float64() < 0.2 // no loss correlation: the draw itself
		if gotDrop[i] != drop {
			t.Fatalf("packet %d: drop %v, want %v", i, gotDrop[i], drop)
		}
		if drop {
			continue
		}
		lastDelay = 0.75*rng.Float64() + 0.25*lastDelay
		want := 100*time.Millisecond + time.Duration((2*lastDelay-1)*float64(10*time.Millisecond))
		if got[i] != want {
			t.Fatalf("packet %d: delay %v, want %v", i, got[i], want)
		}
	}

	again, againDrop := draws(c, 50)
	other, _ := draws(Config{Latency: c.Latency, Jitter: c.Jitter, Correlation: c.Correlation, Loss: c.Loss, Seed: 43}, 50)
	same := 0
	for i := range got {
		if again[i] != got[i] || againDrop[i] != gotDrop[i] {
			t.Fatalf("seed 42 gave two sequences: packet %d", i)
		}
		if other[i] == got[i] {
			same++
		}
	}
	if same > 25 {
		t.Errorf("seeds 42 and 43 agree on %d of 50 packets", same)
	}
}

func TestScheduleFixedDelayAndNoLoss(t *testing.T) {
	delays, drops := draws(Config{Latency: 50 * time.Millisecond, Seed: 1}, 1000)
	for i := range delays {
		if delays[i] != 50*time.Millisecond || drops[i] {
			t.Fatalf("packet %d: %v drop %v, want exactly 50ms and kept", i, delays[i], drops[i])
		}
	}
	_, drops = draws(Config{Loss: 1, Seed: 1}, 1000)
	for i, d := range drops {
		if !d {
			t.Fatalf("Loss 1 kept packet %d", i)
		}
	}
}

// A jitter wider than the latency would give negative delays; they mean
// "now", as a send time in the past does in netem.
func TestScheduleClampsAtZero(t *testing.T) {
	delays, _ := draws(Config{Latency: time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 3}, 1000)
	zeros := 0
	for _, d := range delays {
		if d < 0 {
			t.Fatalf("negative delay %v", d)
		}
		if d == 0 {
			zeros++
		}
	}
	// P(L + J(2u-1) <= 0) = P(u <= (1-L/J)/2) = 0.45: about 450 of 1000.
	if zeros < 350 || zeros > 550 {
		t.Errorf("%d of 1000 delays clamped to 0, want about 450", zeros)
	}
}

func meanSD(ds []time.Duration) (mean, sd float64) {
	for _, d := range ds {
		mean += float64(d)
	}
	mean /= float64(len(ds))
	for _, d := range ds {
		sd += (float64(d) - mean) * (float64(d) - mean)
	}
	return mean, math.Sqrt(sd / float64(len(ds)))
}

func lag1(ds []time.Duration) float64 {
	m, sd := meanSD(ds)
	var c float64
	for i := 1; i < len(ds); i++ {
		c += (float64(ds[i]) - m) * (float64(ds[i-1]) - m)
	}
	return c / float64(len(ds)-1) / (sd * sd)
}

func TestScheduleJitterDistribution(t *testing.T) {
	const n = 100000
	L, J := 100*time.Millisecond, 10*time.Millisecond
	for _, tc := range []struct {
		rho float64
		// The delay is L + J(2v-1), v = (1-rho)u + rho·v': its mean is L,
		// its variance 4J²·Var(v), Var(v) = (1-rho)/(1+rho)·(1/12), and
		// successive delays correlate by rho (see correlated).
		wantSD float64
	}{
		{rho: 0, wantSD: 2 * float64(J) / math.Sqrt(12)},           // 5.77 ms
		{rho: 0.5, wantSD: 2 * float64(J) * math.Sqrt(1.0/3/12)},   // 3.33 ms
		{rho: 0.9, wantSD: 2 * float64(J) * math.Sqrt(0.1/1.9/12)}, // 1.32 ms
	} {
		delays, _ := draws(Config{Latency: L, Jitter: J, Correlation: tc.rho, Seed: 7}, n)
		for _, d := range delays {
			if d < L-J || d >= L+J {
				t.Fatalf("rho %v: delay %v outside [L-J, L+J)", tc.rho, d)
			}
		}
		mean, sd := meanSD(delays)
		// The sample mean's sd is wantSD·sqrt((1+rho)/(1-rho)/n), at most
		// 5.77ms·sqrt(19/1e5) = 80µs (rho 0.9); 4 of them: 0.32 ms.
		if math.Abs(mean-float64(L)) > 0.32e6 {
			t.Errorf("rho %v: mean delay %v, want %v ± 0.32ms", tc.rho, time.Duration(mean), L)
		}
		if math.Abs(sd/tc.wantSD-1) > 0.03 {
			t.Errorf("rho %v: sd %v, want %v ± 3%%", tc.rho, time.Duration(sd), time.Duration(tc.wantSD))
		}
		// The lag-1 estimate's sd is about 1/sqrt(n) = 0.003: ±0.02 is
		// over 6 of them.
		if r := lag1(delays); math.Abs(r-tc.rho) > 0.02 {
			t.Errorf("rho %v: lag-1 correlation %.3f", tc.rho, r)
		}
	}
}

func TestScheduleLossFraction(t *testing.T) {
	const n = 100000
	for _, loss := range []float64{0.01, 0.3, 0.5} {
		_, drops := draws(Config{Loss: loss, Latency: time.Millisecond, Seed: 11}, n)
		k := 0
		for _, d := range drops {
			if d {
				k++
			}
		}
		// Binomial: sd of the fraction sqrt(p(1-p)/n) ≤ 0.0016; ±4 sd.
		bound := 4 * math.Sqrt(loss*(1-loss)/n)
		if got := float64(k) / n; math.Abs(got-loss) > bound {
			t.Errorf("loss %v: dropped %.4f, want within ±%.4f", loss, got, bound)
		}
	}
}

// Loss correlation is netem's too, flaws included: the correlated draw
// keeps mean 1/2 but narrows, so with loss below 1/2 fewer packets are
// lost than the loss says, in bursts. That is what `netem loss 30% 50%`
// does, which Chaos Mesh scenarios are written against.
func TestScheduleLossCorrelationMakesBursts(t *testing.T) {
	const n = 100000
	_, drops := draws(Config{Loss: 0.3, LossCorrelation: 0.5, Seed: 5}, n)
	k, pairs := 0, 0
	for i, d := range drops {
		if d {
			k++
			if i > 0 && drops[i-1] {
				pairs++
			}
		}
	}
	p := float64(k) / n
	afterDrop := float64(pairs) / float64(k)
	if p >= 0.3 || p < 0.1 {
		t.Errorf("loss 0.3 correlated 0.5 dropped %.3f, want a fraction below 0.3", p)
	}
	// Independent losses would give P(drop | drop before) = p.
	if afterDrop < p+0.1 {
		t.Errorf("P(drop | previous dropped) = %.3f, not clearly above P(drop) = %.3f", afterDrop, p)
	}
}
