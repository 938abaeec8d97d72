package loadgen

import (
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
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

// TestRampFromZero: a ramp from 0 to 100/s over 60s sends its n-th hit
// when the rate's integral, (100/60)·t²/2, reaches n (as Vegeta's
// constant pacer sends its n-th at n/rate): the first at sqrt(1.2) =
// 1.095s, 3000 in all, the last at exactly 60s. By 10s the integral is
// 83.3: 83 hits; in [50s, 60s) it grows from 2083.3 to 3000: hits 2084
// to 2999, 916; in [1s, 2s) from 0.83 to 3.33: hits 1 to 3. Vegeta's LinearPacer sent one hit in six minutes here
// (it waited 1/rate(now) for the next, and the rate starts at 0).
func TestRampFromZero(t *testing.T) {
	dur := d("60s")
	n, per := count(t, scenario.Load{Profile: "ramp", From: 0, To: 100, Duration: &dur}, 60*time.Second)
	if n != 3000 {
		t.Fatalf("ramp 0→100/s over 60s sent %d, want 3000", n)
	}
	first10, last10 := 0, 0
	for s := 0; s < 10; s++ {
		first10 += per[s]
		last10 += per[50+s]
	}
	if first10 != 83 || last10 != 916 || per[0] != 0 || per[1] != 3 || per[60] != 1 {
		t.Fatalf("first 10s %d (want 83), last 10s %d (want 916), seconds 0, 1, 60: %d %d %d (want 0 3 1)", first10, last10, per[0], per[1], per[60])
	}
	// Falling to zero: the mirror image, 3000 in all, the last second
	// holding the fewest.
	n, per = count(t, scenario.Load{Profile: "ramp", From: 100, To: 0, Duration: &dur}, 60*time.Second)
	if n != 3000 || per[0] < 99 || per[59] > 2 {
		t.Fatalf("ramp 100→0/s sent %d (want 3000), first second %d (want ~100), last %d (want ~1)", n, per[0], per[59])
	}
}

func TestRampPacerHitTimes(t *testing.T) {
	// From 10/s rising 1/s per second: hit n at t = 2n/(10 + sqrt(100 +
	// 2n)). n = 1: 2/(10 + sqrt(102)) = 2/20.0995049 = 99.504938ms;
	// n = 2400: 4800/(10 + sqrt(4900)) = 4800/80 = 60s exactly.
	p := RampPacer{From: 10, Slope: 1}
	if at, ok := p.hitAt(1); !ok || (at-99504938*time.Nanosecond).Abs() > time.Microsecond {
		t.Fatalf("hit 1 at %v, want 99.504938ms", at)
	}
	if at, ok := p.hitAt(2400); !ok || at != 60*time.Second {
		t.Fatalf("hit 2400 at %v, want 60s", at)
	}
	// Pace: after 0 hits at time 0, wait for hit 1.
	if wait, stop := p.Pace(0, 0); stop || (wait-99504938*time.Nanosecond).Abs() > time.Microsecond {
		t.Fatalf("first wait %v", wait)
	}
	// A falling ramp that reaches 0 at 10s has sent its last hit then:
	// the integral is 10·10 - 10²/2 = 50.
	fall := RampPacer{From: 10, Slope: -1}
	if at, ok := fall.hitAt(50); !ok || at != 10*time.Second {
		t.Fatalf("hit 50 at %v, want 10s", at)
	}
	if _, ok := fall.hitAt(51); ok {
		t.Fatal("a ramp falling to 0 after 50 hits promised a 51st")
	}
	if _, stop := fall.Pace(0, 50); !stop {
		t.Fatal("Pace did not stop the attack after the last hit")
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

// hidePacer hides a pacer's type, so that Arrivals takes its general
// path (Pace until it says send).
type hidePacer struct{ vegeta.Pacer }

// TestPoissonShortcutSendsAsPace: Arrivals asks a Poisson pacer for its
// next hit's time directly; that must give the very times the general
// path gets from Pace (a wait, then a send), to the nanosecond, for a
// steps profile (two rates, so thinning rejects candidates) and until the
// load's end, including a start offset and an end inside the pacer's
// own.
func TestPoissonShortcutSendsAsPace(t *testing.T) {
	l := scenario.Load{Profile: scenario.ProfileSteps, Arrivals: scenario.ArrivalsPoisson, Steps: []scenario.Step{{Rate: 50, Duration: d("20s")}, {Rate: 200, Duration: d("20s")}}}
	l.Duration = &metav1.Duration{Duration: 40 * time.Second}
	for _, dur := range []time.Duration{40 * time.Second, 25 * time.Second} {
		direct, err := Pacer(&l, 9)
		if err != nil {
			t.Fatal(err)
		}
		paced, err := Pacer(&l, 9)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := direct.(*PoissonPacer); !ok {
			t.Fatalf("a poisson load's pacer is a %T", direct)
		}
		a, b := NewArrivals(direct, 3*time.Second, dur), NewArrivals(hidePacer{paced}, 3*time.Second, dur)
		n := 0
		for {
			at, ok := a.Next()
			bt, bok := b.Next()
			if at != bt || ok != bok {
				t.Fatalf("duration %v, hit %d: shortcut %v %v, Pace %v %v", dur, n, at, ok, bt, bok)
			}
			if !ok {
				break
			}
			n++
		}
		// 50/s for 20 s, then 200/s for the rest: 5,000 over 40 s and
		// 2,000 over 25 s, give or take (5σ: √5000 ≈ 71, √2000 ≈ 45).
		want := 1000.0 + 200*(dur-20*time.Second).Seconds()
		if math.Abs(float64(n)-want) > 5*math.Sqrt(want) {
			t.Fatalf("duration %v: %d hits, want about %.0f", dur, n, want)
		}
	}
}
