// Package pcg draws the numbers math/rand/v2's Rand draws from a PCG
// source, bit for bit, without its interface.
//
// rand.Rand reaches its source through the rand.Source interface: every
// draw is an indirect call that cannot inline, and the simulator draws
// two or three numbers for every request it serves (a pod, a service
// time, the next arrival). Rand here holds the *rand.PCG itself. Its
// methods are math/rand/v2's (Go 1.26), copied, so that the same seed
// gives the same numbers, and the same reports, as before;
// TestSameAsMathRand holds them to that.
package pcg

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// Rand draws from one PCG source. Use New.
type Rand struct {
	// src is held by value: a draw reads the state where the Rand is,
	// not through one more pointer.
	src rand.PCG
	std *rand.Rand // the same source behind math/rand/v2's API
}

// New returns a Rand on rand.NewPCG(seed1, seed2).
func New(seed1, seed2 uint64) *Rand {
	r := &Rand{src: *rand.NewPCG(seed1, seed2)}
	r.std = rand.New(&r.src)
	return r
}

// Std is a *rand.Rand on the same source, for APIs that take one: its
// draws and r's are one sequence.
func (r *Rand) Std() *rand.Rand { return r.std }

// Uint64 is rand.Rand.Uint64.
func (r *Rand) Uint64() uint64 { return r.src.Uint64() }

// Float64 is rand.Rand.Float64.
func (r *Rand) Float64() float64 {
	return float64(r.src.Uint64()<<11>>11) / (1 << 53)
}

// IntN is rand.Rand.IntN.
func (r *Rand) IntN(n int) int {
	if n <= 0 {
		panic("invalid argument to IntN")
	}
	return int(r.uint64n(uint64(n)))
}

// Int64N is rand.Rand.Int64N.
func (r *Rand) Int64N(n int64) int64 {
	if n <= 0 {
		panic("invalid argument to Int64N")
	}
	return int64(r.uint64n(uint64(n)))
}

// uint64n is rand.Rand.uint64n on a 64-bit machine (Lemire's method,
// which math/rand/v2 explains). On a 32-bit one math/rand/v2 draws an n
// that fits 32 bits differently, which TestSameAsMathRand would catch.
func (r *Rand) uint64n(n uint64) uint64 {
	if n&(n-1) == 0 {
		return r.src.Uint64() & (n - 1)
	}
	hi, lo := bits.Mul64(r.src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), n)
		}
	}
	return hi
}

// re is where the exponential ziggurat's tail starts.
const re = 7.69711747013104972

// ExpFloat64 is rand.Rand.ExpFloat64: Marsaglia and Tsang's ziggurat on
// math/rand/v2's tables.
func (r *Rand) ExpFloat64() float64 {
	for {
		u := r.src.Uint64()
		j := uint32(u)
		i := uint8(u >> 32)
		x := float64(j) * float64(we[i])
		if j < ke[i] {
			return x
		}
		if i == 0 {
			return re - math.Log(r.Float64())
		}
		if fe[i]+float32(r.Float64())*(fe[i-1]-fe[i]) < float32(math.Exp(-x)) {
			return x
		}
	}
}
