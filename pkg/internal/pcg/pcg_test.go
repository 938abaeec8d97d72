package pcg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSameAsMathRand: interleaved draws of every method give, bit for
// bit, what math/rand/v2's Rand gives on the same seed; enough of them
// that ExpFloat64's rare branches (the tail, the wedges) and IntN's
// rejection are taken.
func TestSameAsMathRand(t *testing.T) {
	ns := []int{1, 2, 3, 7, 10, 64, 1000, 1 << 40, 3 << 61}
	for seed := uint64(1); seed <= 3; seed++ {
		r := New(seed, seed^0x9e3779b97f4a7c15)
		std := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		for i := 0; i < 2_000_000; i++ {
			n := ns[i%len(ns)]
			var got, want uint64
			switch i % 5 {
			case 0:
				got, want = math.Float64bits(r.ExpFloat64()), math.Float64bits(std.ExpFloat64())
			case 1:
				got, want = uint64(r.IntN(n)), uint64(std.IntN(n))
			case 2:
				got, want = uint64(r.Int64N(int64(n))), uint64(std.Int64N(int64(n)))
			case 3:
				got, want = math.Float64bits(r.Float64()), math.Float64bits(std.Float64())
			case 4:
				got, want = r.Uint64(), std.Uint64()
			}
			if got != want {
				t.Fatalf("seed %d, draw %d (kind %d, n %d): %#x, math/rand/v2 %#x", seed, i, i%5, n, got, want)
			}
		}
	}
}

// TestStdSharesTheSource: draws through Std and through r are one
// sequence.
func TestStdSharesTheSource(t *testing.T) {
	r := New(7, 8)
	std := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 1000; i++ {
		var got float64
		if i%2 == 0 {
			got = r.ExpFloat64()
		} else {
			got = r.Std().ExpFloat64()
		}
		if want := std.ExpFloat64(); got != want {
			t.Fatalf("draw %d: %v, want %v", i, got, want)
		}
	}
}
