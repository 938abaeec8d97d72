package timeline

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// QuantileOf returns the exact q-quantile of latencies by the
// nearest-rank method: the smallest L such that at least q of them are
// ≤ L. Exact, because SLO verdicts must not inherit the error of Vegeta's
// t-digest (about +5% at p99 over 1,000 samples, +91% at p90 over 10). It
// sorts lat in place: the tests' oracle for QuantileSelect and
// QuantilesSelect, which the code uses.
func QuantileOf(lat []time.Duration, q float64) time.Duration {
	slices.Sort(lat)
	return lat[rankOf(q, len(lat))]
}

// rankOf is the 0-based position of the nearest-rank q-quantile among n
// values in ascending order (n > 0).
func rankOf(q float64, n int) int {
	rank := int(math.Ceil(q * float64(n)))
	return min(max(rank, 1), n) - 1
}

// QuantileSelect is QuantileOf without the full sort: it finds the
// nearest-rank q-quantile by selection, in linear time, and reorders lat.
// A verdict needs one quantile of millions of latencies; sorting them all
// for it costs ten times more.
func QuantileSelect(lat []time.Duration, q float64) time.Duration {
	return selectRank(lat, rankOf(q, len(lat)))
}

// QuantilesSelect is QuantileSelect of each of qs into out (as long as
// qs), with one count of the values for all of them (selectRank): the
// report's p50 and p99 of every second of a run.
func QuantilesSelect(lat, out []time.Duration, qs ...float64) {
	if len(lat) <= histSelectMin {
		selectSmall(lat, out, qs)
		return
	}
	lo, hi := bounds(lat)
	QuantilesSelectWithin(lat, lo, hi, out, qs...)
}

// QuantilesSelectWithin is QuantilesSelect of values whose least is lo
// and greatest hi, for a caller that saw each value as it collected them
// (the report's summary): it saves QuantilesSelect's pass that finds
// them, a third of the work for a second's values. lo and hi must be
// exactly the least and the greatest of lat, or the quantiles are wrong.
func QuantilesSelectWithin(lat []time.Duration, lo, hi time.Duration, out []time.Duration, qs ...float64) {
	if len(lat) <= histSelectMin {
		selectSmall(lat, out, qs)
		return
	}
	var h histogram
	if len(lat) >= wideMin {
		var wide [wideBins]int32
		h = countWithin(lat, lo, hi, wide[:])
	} else {
		var narrow [256]int32
		h = countWithin(lat, lo, hi, narrow[:])
	}
	if h.single || len(qs) > maxGathered {
		for i, q := range qs {
			out[i] = h.selectIn(lat, rankOf(q, len(lat)))
		}
		return
	}
	h.selectAll(lat, out, qs)
}

// selectSmall is QuantilesSelect of at most histSelectMin values.
func selectSmall(lat, out []time.Duration, qs []float64) {
	// Selection leaves the values split around the one it found, so
	// each quantile after the first is selected among the values from
	// the one before on (qs ascending, as callers pass them).
	from := 0
	for i, q := range qs {
		k := rankOf(q, len(lat))
		if k < from {
			from = 0
		}
		out[i] = selectK(lat[from:], k-from)
		from = k
	}
}

// maxGathered is the most quantiles selectAll gathers the bins of in one
// pass.
const maxGathered = 4

// selectAll is selectIn of each of qs into out, with one pass over lat
// for all of them instead of one each: the values of the bins that hold
// the wanted ranks (few: bins are narrow) are gathered, each bin once,
// into a scratch array, and each quantile is selected among its bin's.
// The bins are found in the counts, and the selected values are the same
// k-th smallest; lat is left as it is.
func (h *histogram) selectAll(lat, out []time.Duration, qs []float64) {
	var (
		ranks [maxGathered]int // each quantile's rank within its bin
		owner [maxGathered]int // the quantile whose gathered bin holds it (itself, or an earlier one with the same bin)
		start [maxGathered]int // where a gathered bin's values go in buf
		fill  [maxGathered]int // how many are there
	)
	// gather: by bin, 1 + the quantile gathering it, 0 for none (an
	// array of either size, so that a second's 256 bins do not pay for
	// clearing a run's 4,096)
	var gather []int8
	if len(h.counts) <= 256 {
		var g [256]int8
		gather = g[:len(h.counts)]
	} else {
		var g [wideBins]int8
		gather = g[:len(h.counts)]
	}
	total := 0
	for i, q := range qs {
		k := rankOf(q, len(lat))
		b, below := 0, 0
		for below+int(h.counts[b]) <= k {
			below += int(h.counts[b])
			b++
		}
		ranks[i] = k - below
		if g := gather[b]; g != 0 {
			owner[i] = int(g) - 1
			continue
		}
		owner[i], start[i] = i, total
		gather[b] = int8(i + 1)
		total += int(h.counts[b])
	}
	var stack [512]time.Duration // a second's bins fit: no allocation per second
	buf := stack[:0]
	if total > len(stack) {
		buf = make([]time.Duration, total)
	} else {
		buf = stack[:total]
	}
	for _, v := range lat {
		if g := gather[h.bin(v)]; g != 0 {
			o := g - 1
			buf[start[o]+fill[o]] = v
			fill[o]++
		}
	}
	for i := range qs {
		o := owner[i]
		out[i] = selectRank(buf[start[o]:start[o]+fill[o]], ranks[i])
	}
}

// SelectMax is the most values a caller copies to select quantiles in
// (8 bytes each, 32 MB); beyond it, Quantiles finds them in passes over
// the values, in memory that does not grow with them.
const SelectMax = 1 << 22

// successPassesAbove is SelectMax; tests lower it to reach the passes
// with few requests.
var successPassesAbove = SelectMax

// SuccessQuantiles returns the exact quantiles qs of the latencies of
// reqs' successful requests (the latency objectives' population; a
// refused connection is fast) and how many succeeded: by selection over a
// copy of them (one pass over the records) when reqs holds at most
// SelectMax, else in Quantiles' passes over the records, in memory that
// does not grow with them. out is nil when none succeeded.
func SuccessQuantiles(reqs []Request, qs ...float64) (out []time.Duration, n int) {
	if len(reqs) > successPassesAbove {
		out, _ = Quantiles(func(yield func(time.Duration)) {
			n = 0
			for _, r := range reqs {
				if r.OK() {
					n++
					yield(r.Latency())
				}
			}
		}, qs...)
		return out, n
	}
	lat := make([]time.Duration, 0, len(reqs))
	// The bounds of the copy, found as it is made: selection then
	// need not pass over it to find them (QuantilesSelectWithin).
	lo, hi := time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
	for _, r := range reqs {
		if r.OK() {
			l := r.Latency()
			lo, hi = min(lo, l), max(hi, l)
			lat = append(lat, l)
		}
	}
	if len(lat) == 0 {
		return nil, 0
	}
	out = make([]time.Duration, len(qs))
	QuantilesSelectWithin(lat, lo, hi, out, qs...)
	return out, len(lat)
}

// histSelectMin is the most values selectRank hands to selectK; above it,
// counting them into bins first is cheaper.
const histSelectMin = 48

// selectRank returns the k-th smallest of lat (0-based) and reorders lat.
// Quickselect's partitions compare each value with a pivot it cannot
// predict, a mispredicted branch for about every other value, several
// times over: on the report's per-second buckets (hundreds of latencies)
// that was 12 ns a value. Instead the values are counted into 256 equal
// bins over [min, max] (no branch), the bin holding rank k is moved to the
// front (a branch taken for few values), and the same is done within it,
// whose span is 256 times narrower, until it is one value or small enough
// for selectK. The result is the same k-th smallest value.
func selectRank(lat []time.Duration, k int) time.Duration {
	if len(lat) <= histSelectMin {
		return selectK(lat, k)
	}
	var counts [256]int32
	h := count(lat, counts[:])
	return h.selectIn(lat, k)
}

// wideMin is the fewest values QuantilesSelect counts into wideBins bins
// rather than 256. A run's latencies crowd into a few of 256 bins
// spanning up to its slowest (a 2s timeout puts a 20ms median in the
// second bin, with a fifth of the values): the pass that gathers the
// wanted bins then copies hundreds of thousands of values, and selecting
// among them costs three more passes; and counting the same bin over and
// over makes each increment wait for the one before. 4,096 bins gather a
// few thousand. Below wideMin, clearing and scanning them would cost
// more than they save.
const (
	wideMin  = 1 << 15
	wideBins = 4096
)

// histogram counts values into len(counts) (a power of two) equal bins
// over [lo, lo + len(counts)<<shift).
type histogram struct {
	lo     uint64 // the least value (as uint64: differences then never overflow)
	shift  uint
	mask   uint64 // len(counts) - 1
	single bool   // every value is lo
	counts []int32
}

// bin is v's bin.
func (h *histogram) bin(v time.Duration) uint64 { return (uint64(v) - h.lo) >> h.shift & h.mask }

// count returns the histogram of lat (not empty) in counts (zero, a
// power of two long). (It returns the histogram rather than filling one
// in so that counts, the caller's array, can stay on its stack.)
func count(lat []time.Duration, counts []int32) histogram {
	lo, hi := bounds(lat)
	return countWithin(lat, lo, hi, counts)
}

// bounds returns the least and the greatest of lat (not empty).
func bounds(lat []time.Duration) (lo, hi time.Duration) {
	lo, hi = lat[0], lat[0]
	for _, v := range lat[1:] {
		lo = min(lo, v)
		hi = max(hi, v)
	}
	return lo, hi
}

// countWithin is count of lat whose least is lo and greatest hi.
func countWithin(lat []time.Duration, lo, hi time.Duration, counts []int32) histogram {
	span := uint64(hi) - uint64(lo)
	h := histogram{lo: uint64(lo), single: span == 0, mask: uint64(len(counts) - 1), counts: counts}
	h.shift = uint(max(bits.Len64(span)-bits.Len64(h.mask), 0))
	for _, v := range lat {
		counts[h.bin(v)]++
	}
	return h
}

// selectIn returns the k-th smallest of lat, which h counted; it reorders
// lat, keeping h's counts true of it.
func (h *histogram) selectIn(lat []time.Duration, k int) time.Duration {
	if h.single {
		return time.Duration(h.lo)
	}
	b, below := 0, 0
	for below+int(h.counts[b]) <= k {
		below += int(h.counts[b])
		b++
	}
	j := 0
	for i, v := range lat {
		if h.bin(v) == uint64(b) {
			lat[i], lat[j] = lat[j], v
			j++
		}
	}
	return selectRank(lat[:j], k-below)
}

// selectK returns the k-th smallest of lat (0-based), reordering lat so
// that the values before position k are no greater and those after no
// less.
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
// without holding them all: a run of 36 M requests would otherwise copy
// 288 MB of latencies to select in. It is radix selection in a few passes
// over the data. The first pass counts the values in logarithmic bins
// (Ranks); the bin that holds a wanted rank is gathered in the next pass
// and selected in when it holds at most quantilesGatherAt values, and
// otherwise narrowed by passes that count its values into 4,096 equal
// bins, until the bin is a single value or few enough to gather. A run's
// latencies spread over many logarithmic bins, so that is most often two
// passes. Memory is O(bins + quantilesGatherAt) however many values there
// are. each must yield the same values every time it is called, in any
// order; ok is false when it yields none.
func Quantiles(each func(yield func(time.Duration)), qs ...float64) (out []time.Duration, ok bool) {
	var r Ranks
	each(r.Add)
	return r.Quantiles(each, qs...)
}

// Ranks is the first pass of Quantiles, for a caller that passes over the
// values anyway (the report's summary of a service): Add each value, then
// Quantiles makes the passes that remain. The zero Ranks has no values.
type Ranks struct {
	n      int
	counts []int // by logBin
}

// Add counts one value.
func (r *Ranks) Add(v time.Duration) {
	if r.counts == nil {
		r.counts = make([]int, logBins)
	}
	r.n++
	r.counts[logBin(v)]++
}

// Quantiles is Quantiles of the values added, which each must yield.
func (r *Ranks) Quantiles(each func(yield func(time.Duration)), qs ...float64) (out []time.Duration, ok bool) {
	n, counts := r.n, r.counts
	if n == 0 {
		return nil, false
	}
	const nbins = 4096
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
		k := rankOf(q, n)
		// The logarithmic bin that holds rank k, and the values under it.
		b, below := 0, 0
		for below+counts[b] <= k {
			below += counts[b]
			b++
		}
		lo, hi := logBinRange(b)
		ss[i] = search{k: k, lo: lo, hi: hi, gather: counts[b] <= quantilesGatherAt}
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
				s.v, s.done = selectRank(s.picked, r), true
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
			s.gather = s.bins[b] <= quantilesGatherAt
			s.bins = nil
		}
	}
	out = make([]time.Duration, len(ss))
	for i := range ss {
		out[i] = ss[i].v
	}
	return out, true
}

// quantilesGatherAt is the most values Quantiles gathers to select in
// (512 KB); a variable so that tests can make every path run.
var quantilesGatherAt = 1 << 16

// Logarithmic bins of durations, for Quantiles' first pass: values under
// 2^logSub have a bin each; above, each power-of-two range [2^e, 2^(e+1))
// is split into 2^logSub equal bins, so a bin spans at most 1/256 of its
// values (HdrHistogram's layout). Bin 0 holds every negative value. The
// order of bins is the order of their values, which is what lets a rank
// be located by counts.
const (
	logSub  = 8
	logBins = 1 + (64-logSub)<<logSub
)

// logBin is v's logarithmic bin.
func logBin(v time.Duration) int {
	if v < 0 {
		return 0
	}
	u := uint64(v)
	if u < 1<<logSub {
		return 1 + int(u)
	}
	// u's leading logSub+1 bits, top, are in [2^logSub, 2^(logSub+1)); the
	// shift e that leaves them numbers the power-of-two range.
	e := bits.Len64(u) - logSub - 1
	top := int(u >> e)
	return 1 + (e+1)<<logSub + top - 1<<logSub
}

// logBinRange is the smallest and largest value of bin b.
func logBinRange(b int) (lo, hi time.Duration) {
	switch {
	case b == 0:
		return math.MinInt64, -1
	case b <= 1<<logSub:
		return time.Duration(b - 1), time.Duration(b - 1)
	}
	r := b - 1 - 1<<logSub
	e, top := r>>logSub, 1<<logSub+r&(1<<logSub-1)
	lo = time.Duration(uint64(top) << e)
	return lo, lo + time.Duration(uint64(1)<<e-1)
}
