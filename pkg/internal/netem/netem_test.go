package netem

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestJitterSpansTheInterval: u = 0 is the bottom of [μ − σ, μ + σ),
// u = 1/2 its middle μ, and u just under 1 its top; a delay that would
// be negative is 0.
func TestJitterSpansTheInterval(t *testing.T) {
	for _, c := range []struct {
		latency, jitter time.Duration
		u               float64
		want            time.Duration
	}{
		{100 * time.Millisecond, 10 * time.Millisecond, 0, 90 * time.Millisecond},
		{100 * time.Millisecond, 10 * time.Millisecond, 0.5, 100 * time.Millisecond},
		{100 * time.Millisecond, 10 * time.Millisecond, 0.75, 105 * time.Millisecond},
		{5 * time.Millisecond, 10 * time.Millisecond, 0, 0},
		{5 * time.Millisecond, 10 * time.Millisecond, 0.2, 0}, // 5 + (0.4 − 1)·10 = −1 ms
	} {
		if got := Jitter(c.latency, c.jitter, c.u); got != c.want {
			t.Errorf("Jitter(%v, %v, %v) = %v, want %v", c.latency, c.jitter, c.u, got, c.want)
		}
	}
	if got := Jitter(100*time.Millisecond, 10*time.Millisecond, math.Nextafter(1, 0)); got < 109*time.Millisecond || got >= 110*time.Millisecond {
		t.Errorf("u just under 1: %v, want just under 110ms", got)
	}
}

// TestLostDropsBelowTheProbability: u < p drops, so p = 0 never drops and
// p = 1 always does.
func TestLostDropsBelowTheProbability(t *testing.T) {
	if Lost(0, 0) || !Lost(math.Nextafter(1, 0), 1) || Lost(0.3, 0.3) || !Lost(0.29, 0.3) {
		t.Fatal("Lost must drop exactly when u < p")
	}
}

// TestCorrelateKeepsTheMeanAndCorrelates: with ρ = 0 a number is the
// fresh draw, with ρ = 1 the previous one. For ρ = 0.5 over uniform
// draws the sequence x' = (1 − ρ)u + ρx has mean 1/2, variance
// (1/12)·(1 − ρ)²/(1 − ρ²) = (1/12)·(1 − ρ)/(1 + ρ) = 1/36 and lag-one
// correlation ρ. Over 200,000 draws the standard errors are about
// 0.0007 (mean), 0.0002 (variance) and 0.004 (correlation, inflated by
// the dependence); the bounds are five of them.
func TestCorrelateKeepsTheMeanAndCorrelates(t *testing.T) {
	if Correlate(0.3, 0.9, 0) != 0.3 || Correlate(0.3, 0.9, 1) != 0.9 {
		t.Fatal("ρ = 0 must give the draw and ρ = 1 the previous number")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n, rho = 200000, 0.5
	x := rng.Float64()
	var sum, sumSq, sumLag float64
	prev := 0.0
	for i := 0; i < n; i++ {
		x = Correlate(rng.Float64(), x, rho)
		sum += x
		sumSq += x * x
		if i > 0 {
			sumLag += x * prev
		}
		prev = x
	}
	mean := sum / n
	variance := sumSq/n - mean*mean
	corr := (sumLag/(n-1) - mean*mean) / variance
	if math.Abs(mean-0.5) > 0.0035 || math.Abs(variance-1.0/36) > 0.001 || math.Abs(corr-rho) > 0.02 {
		t.Fatalf("mean %.4f (want 0.5), variance %.5f (want %.5f), correlation %.3f (want %v)", mean, variance, 1.0/36, corr, rho)
	}
}
