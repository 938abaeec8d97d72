package faults

import (
	"math/rand/v2"
	"testing"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
)

func TestSelectByModeCounts(t *testing.T) {
	cases := []struct {
		mode  chaosv1alpha1.SelectorMode
		value string
		count int
		want  int
	}{
		{chaosv1alpha1.OneMode, "", 5, 1},
		{chaosv1alpha1.AllMode, "", 5, 5},
		{chaosv1alpha1.FixedMode, "2", 5, 2},
		{chaosv1alpha1.FixedMode, "9", 5, 5},         // capped at the candidates
		{chaosv1alpha1.FixedPercentMode, "50", 5, 2}, // floor(2.5)
		{chaosv1alpha1.FixedPercentMode, "10", 5, 0}, // floor(0.5): Chaos Mesh selects nothing
		{chaosv1alpha1.FixedPercentMode, "100", 3, 3},
	}
	for _, c := range cases {
		rng := rand.New(rand.NewPCG(1, 2))
		got, err := SelectByMode(rng, c.mode, c.value, c.count)
		if err != nil {
			t.Fatalf("%s %s of %d: %v", c.mode, c.value, c.count, err)
		}
		if len(got) != c.want {
			t.Errorf("%s %s of %d: selected %d, want %d", c.mode, c.value, c.count, len(got), c.want)
		}
		seen := map[int]bool{}
		for _, i := range got {
			if i < 0 || i >= c.count || seen[i] {
				t.Errorf("%s: bad or repeated index %d in %v", c.mode, i, got)
			}
			seen[i] = true
		}
	}
}

func TestRandomMaxPercentCoversRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	seen := map[int]bool{}
	for i := 0; i < 2000; i++ {
		got, err := SelectByMode(rng, chaosv1alpha1.RandomMaxPercentMode, "50", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 5 {
			t.Fatalf("selected %d of 10 with max 50%%", len(got))
		}
		seen[len(got)] = true
	}
	for n := 0; n <= 5; n++ {
		if !seen[n] {
			t.Errorf("never selected %d pods: the percentage should range over [0, 50]", n)
		}
	}
}

func TestSelectByModeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		mode  chaosv1alpha1.SelectorMode
		value string
		count int
	}{
		{chaosv1alpha1.OneMode, "", 0},
		{chaosv1alpha1.FixedMode, "x", 3},
		{chaosv1alpha1.FixedMode, "0", 3},
		{chaosv1alpha1.FixedPercentMode, "101", 3},
		{"sometimes", "", 3},
	} {
		if _, err := SelectByMode(rng, c.mode, c.value, c.count); err == nil {
			t.Errorf("%s %q of %d: no error", c.mode, c.value, c.count)
		}
	}
}

func TestSelectByModeIsDeterministic(t *testing.T) {
	a, _ := SelectByMode(rand.New(rand.NewPCG(3, 4)), chaosv1alpha1.FixedMode, "3", 10)
	b, _ := SelectByMode(rand.New(rand.NewPCG(3, 4)), chaosv1alpha1.FixedMode, "3", 10)
	if len(a) != 3 || len(b) != 3 || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] {
		t.Fatalf("same seed, different picks: %v vs %v", a, b)
	}
}
