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
	p, err := Pacer(&l)
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
