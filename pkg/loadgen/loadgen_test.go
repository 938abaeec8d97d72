package loadgen

import (
	"math"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

func d(s string) metav1.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return metav1.Duration{Duration: v}
}

func count(t *testing.T, l scenario.Load, dur time.Duration) (n int, perSecond map[int]int) {
	t.Helper()
	p, err := Pacer(&l, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := NewArrivals(p, 0, dur)
	perSecond = map[int]int{}
	last := time.Duration(-1)
	for {
		at, ok := a.Next()
		if !ok {
			return n, perSecond
		}
		if at < last {
			t.Fatalf("arrivals went back in time: %v after %v", at, last)
		}
		last = at
		n++
		perSecond[int(at/time.Second)]++
	}
}

func TestConstantProfile(t *testing.T) {
	n, per := count(t, scenario.Load{Profile: "constant", Rate: 50}, 10*time.Second)
	if n != 500 {
		t.Fatalf("constant 50/s for 10s sent %d, want 500", n)
	}
	// Vegeta's constant pacer sends hit k at k/rate: 0.02 s … 10.00 s.
	for s := 1; s < 10; s++ {
		if per[s] != 50 {
			t.Errorf("second %d: %d hits, want 50", s, per[s])
		}
	}
}

func TestStepsProfile(t *testing.T) {
	l := scenario.Load{Profile: "steps", Steps: []scenario.Step{{Rate: 10, Duration: d("5s")}, {Rate: 0, Duration: d("5s")}, {Rate: 100, Duration: d("5s")}}}
	n, per := count(t, l, 20*time.Second)
	if n != 50+500 {
		t.Fatalf("steps sent %d, want 550", n)
	}
	if per[2] != 10 || per[7] != 0 || per[12] != 100 || per[16] != 0 {
		t.Fatalf("per-second rates %v: want 10, then 0, then 100, then stop", per)
	}
}

func TestRampProfile(t *testing.T) {
	dur := d("60s")
	l := scenario.Load{Profile: "ramp", From: 10, To: 70, Duration: &dur}
	n, per := count(t, l, 60*time.Second)
	// ∫ 10 + t over 60 s = 600 + 1800 = 2400
	if math.Abs(float64(n)-2400) > 3 {
		t.Fatalf("ramp sent %d, want about 2400", n)
	}
	if per[0] > 12 || per[59] < 67 {
		t.Fatalf("ramp rates at ends %d and %d: want about 10 and 70", per[0], per[59])
	}
}

func TestSineProfile(t *testing.T) {
	period := d("40s")
	l := scenario.Load{Profile: "sine", Mean: 100, Amplitude: 50, Period: &period}
	n, per := count(t, l, 40*time.Second)
	if math.Abs(float64(n)-4000) > 5 {
		t.Fatalf("sine over one period sent %d, want about mean×period = 4000", n)
	}
	if per[10] < 140 || per[30] > 60 {
		t.Fatalf("sine peak %d (want ~150) trough %d (want ~50)", per[10], per[30])
	}
}

// arrivalTimes runs a defaulted load's pacer for dur.
func arrivalTimes(t *testing.T, l scenario.Load, dur time.Duration, seed uint64) []time.Duration {
	t.Helper()
	l.Duration = &metav1.Duration{Duration: dur}
	p, err := Pacer(&l, seed)
	if err != nil {
		t.Fatal(err)
	}
	a := NewArrivals(p, 0, dur)
	var out []time.Duration
	for {
		at, ok := a.Next()
		if !ok {
			return out
		}
		out = append(out, at)
	}
}

// TestPoissonArrivals: at rate λ = 100/s for 1000s a Poisson process sends
// N ~ Poisson(100,000) requests (σ = √100000 ≈ 316, so ±1,600 is 5σ);
// its gaps are exponential with mean 1/λ = 10ms and a coefficient of
// variation of 1 (evenly spaced arrivals have 0); counts per second have
// variance equal to their mean (index of dispersion 1).
func TestPoissonArrivals(t *testing.T) {
	l := scenario.Load{Profile: scenario.ProfilePoisson, Arrivals: scenario.ArrivalsPoisson, Rate: 100}
	times := arrivalTimes(t, l, 1000*time.Second, 7)
	if n := len(times); math.Abs(float64(n)-100000) > 1600 {
		t.Fatalf("%d arrivals, want 100,000 ± 1,600", n)
	}
	var sum, sumSq float64
	prev := time.Duration(0)
	for _, at := range times {
		g := (at - prev).Seconds()
		sum += g
		sumSq += g * g
		prev = at
	}
	n := float64(len(times))
	mean := sum / n
	cv := math.Sqrt(sumSq/n-mean*mean) / mean
	if math.Abs(mean-0.010) > 0.0002 || math.Abs(cv-1) > 0.02 {
		t.Fatalf("gaps: mean %.5fs (want 0.01), CV %.3f (want 1)", mean, cv)
	}
	perSecond := make([]float64, 1000)
	for _, at := range times {
		perSecond[int(at/time.Second)]++
	}
	var m, v float64
	for _, c := range perSecond {
		m += c
	}
	m /= 1000
	for _, c := range perSecond {
		v += (c - m) * (c - m)
	}
	v /= 999
	// The sample index of dispersion of 1000 Poisson counts has a standard
	// error of about √(2/999) ≈ 0.045.
	if d := v / m; math.Abs(d-1) > 0.2 {
		t.Fatalf("index of dispersion %.3f, want 1", d)
	}
	again := arrivalTimes(t, l, 1000*time.Second, 7)
	other := arrivalTimes(t, l, 1000*time.Second, 8)
	if len(again) != len(times) || again[500] != times[500] {
		t.Fatal("the same seed must give the same arrivals")
	}
	if len(other) == len(times) && other[500] == times[500] {
		t.Fatal("another seed gave the same arrivals")
	}
}

// TestPoissonFollowsTheProfile: steps of 50/s then 200/s for 100s each
// with poisson arrivals: ~5,000 then ~20,000 (σ ≈ 71 and 141; 5σ bounds).
func TestPoissonFollowsTheProfile(t *testing.T) {
	l := scenario.Load{Profile: scenario.ProfileSteps, Arrivals: scenario.ArrivalsPoisson, Steps: []scenario.Step{{Rate: 50, Duration: d("100s")}, {Rate: 200, Duration: d("100s")}}}
	times := arrivalTimes(t, l, 200*time.Second, 3)
	first := 0
	for _, at := range times {
		if at < 100*time.Second {
			first++
		}
	}
	second := len(times) - first
	if math.Abs(float64(first)-5000) > 355 || math.Abs(float64(second)-20000) > 710 {
		t.Fatalf("%d then %d arrivals, want 5,000 then 20,000", first, second)
	}
}
