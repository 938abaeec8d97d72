package timeline

import (
	"math"
	"slices"
	"time"
)

// Quantile returns the exact q-quantile of the requests' latencies using
// the nearest-rank method: the smallest latency L such that at least q of
// the requests took ≤ L. Exact, because SLO verdicts must not inherit the
// error of Vegeta's t-digest (about +5% at p99 over 1,000 samples, +91%
// at p90 over 10). ok is false for no
// requests.
func Quantile(reqs []Request, q float64) (time.Duration, bool) {
	if len(reqs) == 0 {
		return 0, false
	}
	lat := make([]time.Duration, len(reqs))
	for i, r := range reqs {
		lat[i] = r.Latency
	}
	return QuantileOf(lat, q), true
}

// QuantileOf is Quantile over latencies; it sorts lat in place.
func QuantileOf(lat []time.Duration, q float64) time.Duration {
	slices.Sort(lat)
	return QuantileSorted(lat, q)
}

// QuantileSorted is the nearest-rank q-quantile of latencies already in
// ascending order (not empty).
func QuantileSorted(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// QuantileSelect is QuantileOf without the full sort: it finds the
// nearest-rank q-quantile by selection (Hoare's quickselect with a
// median-of-three pivot), in linear time on average, and reorders lat. A
// verdict needs one quantile of millions of latencies; sorting them all
// for it costs ten times more. Falls back to sorting if the partitions
// degenerate.
func QuantileSelect(lat []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(lat))))
	return selectK(lat, min(max(rank, 1), len(lat))-1)
}

// selectK returns the k-th smallest of lat (0-based), reordering lat.
func selectK(lat []time.Duration, k int) time.Duration {
	lo, hi := 0, len(lat)-1
	for rounds := 0; lo < hi; rounds++ {
		if rounds > 64 {
			slices.Sort(lat[lo : hi+1])
			return lat[k]
		}
		// Median of three as the pivot.
		mid := lo + (hi-lo)/2
		if lat[mid] < lat[lo] {
			lat[mid], lat[lo] = lat[lo], lat[mid]
		}
		if lat[hi] < lat[lo] {
			lat[hi], lat[lo] = lat[lo], lat[hi]
		}
		if lat[hi] < lat[mid] {
			lat[hi], lat[mid] = lat[mid], lat[hi]
		}
		pivot := lat[mid]
		i, j := lo, hi
		for i <= j {
			for lat[i] < pivot {
				i++
			}
			for lat[j] > pivot {
				j--
			}
			if i <= j {
				lat[i], lat[j] = lat[j], lat[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return lat[k] // between j and i: equal to the pivot
		}
	}
	return lat[k]
}

// Quantiles returns the exact nearest-rank quantiles qs (each in (0, 1],
// the same values QuantileSelect gives) of the latencies each yields,
// without holding them all: a few passes over the data, each counting
// the values in the range that still holds a wanted rank into 4,096 bins
// and keeping the bin that holds it, until the bin is a single value or
// few enough values to gather and select in (radix selection). Memory is
// O(bins + 65,536) however many values there are: a run of 36 M requests
// would otherwise copy 288 MB of latencies to select in. each must yield
// the same values every time it is called, in any order; ok is false when
// it yields none. atMost bounds how many it yields: up to 4 M, Quantiles
// copies them in one pass and selects instead.
// quantilesCopyAt: up to this many values (32 MB) Quantiles copies them
// and selects in one pass, faster than several passes over the records.
var quantilesCopyAt = 1 << 22

func Quantiles(atMost int, each func(yield func(time.Duration)), qs ...float64) (out []time.Duration, ok bool) {
	if atMost <= quantilesCopyAt {
		all := make([]time.Duration, 0, atMost)
		each(func(v time.Duration) { all = append(all, v) })
		if len(all) == 0 {
			return nil, false
		}
		out = make([]time.Duration, len(qs))
		for i, q := range qs {
			out[i] = QuantileSelect(all, q)
		}
		return out, true
	}
	n, lo, hi := 0, time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
	each(func(v time.Duration) {
		n++
		lo, hi = min(lo, v), max(hi, v)
	})
	if n == 0 {
		return nil, false
	}
	const nbins = 4096
	const gatherAt = 1 << 16
	type search struct {
		k      int           // the wanted rank among all values, 0-based
		lo, hi time.Duration // the values it can be, inclusive
		gather bool          // the next pass collects [lo, hi]
		step   uint64
		bins   []int
		picked []time.Duration
		below  int // values under lo in the current pass
		done   bool
		v      time.Duration
	}
	ss := make([]search, len(qs))
	for i, q := range qs {
		rank := int(math.Ceil(q * float64(n)))
		ss[i] = search{k: min(max(rank, 1), n) - 1, lo: lo, hi: hi}
	}
	for {
		active := false
		for i := range ss {
			s := &ss[i]
			if s.done {
				continue
			}
			if s.lo == s.hi {
				s.v, s.done = s.lo, true
				continue
			}
			active = true
			s.below = 0
			if s.gather {
				s.picked = s.picked[:0]
			} else {
				s.step = (uint64(s.hi-s.lo) + nbins) / nbins // ceil((hi-lo+1)/nbins)
				s.bins = make([]int, nbins)
			}
		}
		if !active {
			break
		}
		each(func(v time.Duration) {
			for i := range ss {
				s := &ss[i]
				switch {
				case s.done:
				case v < s.lo:
					s.below++
				case v > s.hi:
				case s.gather:
					s.picked = append(s.picked, v)
				default:
					s.bins[uint64(v-s.lo)/s.step]++
				}
			}
		})
		for i := range ss {
			s := &ss[i]
			if s.done {
				continue
			}
			r := s.k - s.below
			if s.gather {
				s.v, s.done = selectK(s.picked, r), true
				continue
			}
			b := 0
			for r >= s.bins[b] {
				r -= s.bins[b]
				b++
			}
			newLo := s.lo + time.Duration(uint64(b)*s.step)
			if uint64(s.hi-newLo) > s.step-1 {
				s.hi = newLo + time.Duration(s.step-1)
			}
			s.lo = newLo
			s.gather = s.bins[b] <= gatherAt
			s.bins = nil
		}
	}
	out = make([]time.Duration, len(ss))
	for i := range ss {
		out[i] = ss[i].v
	}
	return out, true
}
