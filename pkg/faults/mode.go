// Package faults resolves Chaos Mesh fault specs: which targets a selector
// and mode pick, and when. Randomness comes from the caller's seeded PRNG
// so that the sim stays deterministic.
package faults

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
)

// SelectByMode picks indexes out of count candidates as Chaos Mesh's
// FilterObjectsByMode does (pkg/selector/generic/mode.go): one, all, fixed
// (capped at count), fixed-percent (floor of count×percent/100) and
// random-max-percent (a percentage drawn uniformly from [0, max], then
// floored the same way). The result is in ascending order.
func SelectByMode(rng *rand.Rand, mode chaosv1alpha1.SelectorMode, value string, count int) ([]int, error) {
	if count == 0 {
		return nil, errors.New("cannot generate objects from empty list")
	}
	switch mode {
	case chaosv1alpha1.OneMode:
		return []int{rng.IntN(count)}, nil
	case chaosv1alpha1.AllMode:
		return randomIndexes(rng, count, count), nil
	case chaosv1alpha1.FixedMode:
		num, err := strconv.Atoi(value)
		if err != nil {
			return nil, fmt.Errorf("mode fixed: value %q is not a whole number", value)
		}
		num = min(num, count)
		if num <= 0 {
			return nil, errors.New("cannot select any object as value below or equal 0")
		}
		return randomIndexes(rng, count, num), nil
	case chaosv1alpha1.FixedPercentMode, chaosv1alpha1.RandomMaxPercentMode:
		pct, err := strconv.Atoi(value)
		if err != nil {
			return nil, fmt.Errorf("mode %s: value %q is not a whole number", mode, value)
		}
		if pct <= 0 || pct > 100 {
			return nil, fmt.Errorf("mode %s: percentage %d is invalid, must be in (0,100]", mode, pct)
		}
		if mode == chaosv1alpha1.RandomMaxPercentMode {
			pct = rng.IntN(pct + 1)
		}
		num := int(math.Floor(float64(count) * float64(pct) / 100))
		return randomIndexes(rng, count, num), nil
	}
	return nil, fmt.Errorf("mode %s not supported", mode)
}

// randomIndexes draws num distinct indexes of [0, count) (all of them when
// num ≥ count), returned sorted.
func randomIndexes(rng *rand.Rand, count, num int) []int {
	if num >= count {
		out := make([]int, count)
		for i := range out {
			out[i] = i
		}
		return out
	}
	// A partial Fisher-Yates shuffle: num draws, no rejection loop.
	perm := make([]int, count)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < num; i++ {
		j := i + rng.IntN(count-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	out := perm[:num]
	slices.Sort(out)
	return out
}
