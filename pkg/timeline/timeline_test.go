package timeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"
)

func TestQuantileNearestRank(t *testing.T) {
	var reqs []Request
	for i := 1; i <= 100; i++ {
		reqs = append(reqs, NewRequest(0, time.Duration(i)*time.Millisecond, 200, 0, false))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 100 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		got, n := SuccessQuantiles(reqs, c.q)
		if n != len(reqs) || got[0] != c.want {
			t.Errorf("q%.3f = %v, want %v", c.q, got, c.want)
		}
	}
	if _, n := SuccessQuantiles(nil, 0.5); n != 0 {
		t.Error("quantile of nothing")
	}
}

func TestWindowAndErrors(t *testing.T) {
	tl := New(time.Unix(0, 0))
	s := tl.AddService("gw", "gateway")
	tl.Entry = "gw"
	tl.AddRequest(s, 3*time.Second, time.Millisecond, 200, "")
	tl.AddRequest(s, 1*time.Second, time.Millisecond, 0, "timeout")
	tl.AddRequest(s, 2*time.Second, time.Millisecond, 0, "timeout")
	tl.AddRequest(s, 2*time.Second, time.Millisecond, 0, "connection refused")
	tl.SortRequests()
	if tl.EntryService() != s || tl.Service("nope") != nil {
		t.Fatal("service lookup")
	}
	w := s.Window(2*time.Second, 3*time.Second)
	if len(w) != 2 {
		t.Fatalf("window [2s,3s) has %d requests, want 2", len(w))
	}
	if len(tl.ErrorKinds) != 3 {
		t.Fatalf("error kinds %v: want interned, 2 distinct + none", tl.ErrorKinds)
	}
	if s.Requests[0].OK() || !s.Requests[3].OK() {
		t.Fatalf("OK() wrong: %+v", s.Requests)
	}
	r := tl.Result(s, 0, "a")
	if r.Error != "timeout" || !r.Timestamp.Equal(time.Unix(1, 0)) {
		t.Fatalf("Result(0) = %+v", r)
	}
}

// TestQuantileSelectAgreesWithSorting: on random, sorted, reversed and
// constant inputs, selection gives exactly the nearest-rank quantile of a
// full sort.
func TestQuantileSelectAgreesWithSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := map[string][]time.Duration{}
	for _, n := range []int{1, 2, 3, 10, 1000, 100001} {
		r := make([]time.Duration, n)
		for i := range r {
			r[i] = time.Duration(rng.IntN(1000)) // many ties
		}
		inputs[fmt.Sprintf("random-%d", n)] = r
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i)
		}
		inputs[fmt.Sprintf("sorted-%d", n)] = s
		rev := make([]time.Duration, n)
		for i := range rev {
			rev[i] = time.Duration(n - i)
		}
		inputs[fmt.Sprintf("reversed-%d", n)] = rev
		inputs[fmt.Sprintf("constant-%d", n)] = make([]time.Duration, n)
		// Latencies over many orders of magnitude, a few huge and a few
		// negative: the bins of selection by counting are narrowed many
		// times.
		sp := make([]time.Duration, n)
		for i := range sp {
			sp[i] = time.Duration(rng.ExpFloat64() * 2e7)
			switch rng.IntN(50) {
			case 0:
				sp[i] = time.Duration(rng.Int64())
			case 1:
				sp[i] = -time.Duration(rng.Int64())
			}
		}
		inputs[fmt.Sprintf("spread-%d", n)] = sp
	}
	qs := []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1}
	for name, in := range inputs {
		together := make([]time.Duration, len(qs))
		QuantilesSelect(slices.Clone(in), together, qs...)
		// In another order, as with a quantile in an earlier bin than
		// the one before.
		mixed, mixedQs := make([]time.Duration, 3), []float64{0.9, 0.5, 0.99}
		QuantilesSelect(slices.Clone(in), mixed, mixedQs...)
		// With the bounds given, as the report's summary passes them.
		within := make([]time.Duration, len(qs))
		QuantilesSelectWithin(slices.Clone(in), slices.Min(in), slices.Max(in), within, qs...)
		for i, q := range mixedQs {
			if want := QuantileOf(slices.Clone(in), q); mixed[i] != want {
				t.Errorf("%s q=%v (in the order %v): selected %v, sort %v", name, q, mixedQs, mixed[i], want)
			}
		}
		for i, q := range qs {
			want := QuantileOf(slices.Clone(in), q)
			if got := QuantileSelect(slices.Clone(in), q); got != want {
				t.Errorf("%s q=%v: select %v, sort %v", name, q, got, want)
			}
			if together[i] != want {
				t.Errorf("%s q=%v: selected with the others %v, sort %v", name, q, together[i], want)
			}
			if within[i] != want {
				t.Errorf("%s q=%v: selected within the bounds %v, sort %v", name, q, within[i], want)
			}
		}
	}
}

// TestQuantilesMatchSelection: the multi-pass Quantiles gives exactly
// what selection over all the values gives, on spreads that exercise its
// paths: many distinct values (several narrowing passes), all equal (a
// single value), two clusters far apart, negative values, and few values
// (gathered at once).
func TestQuantilesMatchSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sets := map[string][]time.Duration{}
	var wide, same, clusters, few, negative []time.Duration
	for i := 0; i < 300000; i++ {
		wide = append(wide, time.Duration(rng.ExpFloat64()*float64(20*time.Millisecond)))
		same = append(same, 7*time.Millisecond)
		c := time.Duration(rng.IntN(1000))
		if i%3 == 0 {
			c += 30 * time.Second
		}
		clusters = append(clusters, c)
		negative = append(negative, time.Duration(rng.Int64N(2000))-1000, math.MinInt64, math.MaxInt64)
	}
	for i := 0; i < 7; i++ {
		few = append(few, time.Duration(rng.IntN(100)))
	}
	sets["wide"], sets["same"], sets["clusters"], sets["few"], sets["negative"] = wide, same, clusters, few, negative
	qs := []float64{0.001, 0.5, 0.9, 0.99, 0.999, 1}
	// The narrowing passes only (nothing gathered), then gathering.
	defer func(v int) { quantilesGatherAt = v }(quantilesGatherAt)
	for _, gatherAt := range []int{-1, 1 << 16} {
		quantilesGatherAt = gatherAt
		checkQuantiles(t, sets, qs)
	}
	if _, ok := Quantiles(func(func(time.Duration)) {}, 0.5); ok {
		t.Fatal("quantiles of nothing")
	}
}

// TestLogBins: every value lies in its bin's range, and bins are in the
// order of their values, the two properties Quantiles' first pass needs.
func TestLogBins(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []time.Duration{math.MinInt64, -1, 0, 1, 255, 256, 257, 511, 512, 1<<20 - 1, 1 << 20, math.MaxInt64}
	for i := 0; i < 100000; i++ {
		vals = append(vals, time.Duration(rng.Int64()>>rng.IntN(64)), -time.Duration(rng.Int64N(1000)))
	}
	for _, v := range vals {
		b := logBin(v)
		if lo, hi := logBinRange(b); v < lo || v > hi {
			t.Fatalf("%d in bin %d of range [%d, %d]", v, b, lo, hi)
		}
	}
	for b := 1; b < logBins; b++ {
		_, prevHi := logBinRange(b - 1)
		lo, hi := logBinRange(b)
		if lo != prevHi+1 || hi < lo || logBin(lo) != b || logBin(hi) != b {
			t.Fatalf("bin %d: [%d, %d] after a bin ending at %d", b, lo, hi, prevHi)
		}
	}
	if _, hi := logBinRange(logBins - 1); hi != math.MaxInt64 {
		t.Fatalf("the last bin ends at %d", hi)
	}
}

func checkQuantiles(t *testing.T, sets map[string][]time.Duration, qs []float64) {
	t.Helper()
	for name, vals := range sets {
		got, ok := Quantiles(func(yield func(time.Duration)) {
			for _, v := range vals {
				yield(v)
			}
		}, qs...)
		if !ok {
			t.Fatalf("%s: no values", name)
		}
		for i, q := range qs {
			want := QuantileSelect(slices.Clone(vals), q)
			if got[i] != want {
				t.Errorf("gather threshold %d, %s q%v: %v, selection gives %v", quantilesGatherAt, name, q, got[i], want)
			}
		}
	}
}

// BenchmarkQuantilesSelectSecond is the report's p50 and p99 of one
// second's latencies (500 of them, exponential around 20ms), a different
// second each time (the same one again and again would let the branch
// predictor learn it).
func BenchmarkQuantilesSelectSecond(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]time.Duration, 500*1024)
	for i := range in {
		in[i] = time.Duration(rng.ExpFloat64() * 2e7)
	}
	lat := make([]time.Duration, 500)
	var out [2]time.Duration
	i := 0
	for b.Loop() {
		copy(lat, in[i*500:])
		i = (i + 1) % 1024
		QuantilesSelect(lat, out[:], 0.5, 0.99)
	}
}

// BenchmarkQuantilesSelectRun is the report's p50, p90 and p99 of a
// service's whole run: 900,000 latencies, exponential around 20ms, one
// in a thousand a 2s timeout.
func BenchmarkQuantilesSelectRun(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]time.Duration, 900_000)
	for i := range in {
		in[i] = time.Duration(rng.ExpFloat64() * 2e7)
		if rng.IntN(1000) == 0 {
			in[i] = 2 * time.Second
		}
	}
	lat := make([]time.Duration, len(in))
	var out [3]time.Duration
	for b.Loop() {
		copy(lat, in)
		QuantilesSelect(lat, out[:], 0.5, 0.9, 0.99)
	}
}

// TestSuccessQuantiles: the copy-and-select path (at most SelectMax
// requests) and the passes beyond it give the nearest-rank quantiles of
// the successful requests' latencies, 1..1000 ms here among failures of
// 1 ms that do not count: p50 the 500th, p99 the 990th; nothing
// successful gives no quantile on either path.
func TestSuccessQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var reqs []Request
	for i := 1; i <= 1000; i++ {
		reqs = append(reqs, NewRequest(0, time.Duration(i)*time.Millisecond, 200, 0, false), NewRequest(0, time.Millisecond, 0, 1, false))
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	defer func(n int) { successPassesAbove = n }(successPassesAbove)
	for _, above := range []int{SelectMax, 100} {
		successPassesAbove = above
		got, n := SuccessQuantiles(reqs, 0.5, 0.99)
		if n != 1000 || got[0] != 500*time.Millisecond || got[1] != 990*time.Millisecond {
			t.Errorf("passes above %d: %v of %d, want [500ms 990ms] of 1000", above, got, n)
		}
		if got, n := SuccessQuantiles(reqs[:0], 0.5); n != 0 || got != nil {
			t.Errorf("passes above %d: %v of %d from nothing", above, got, n)
		}
	}
}

// TestErrorKindsBeyondSixteenBits: Request.Err has 16 bits, so of more
// distinct messages than that the last ones share one catch-all kind
// instead of wrapping round to 0 ("no error") and to other kinds.
func TestErrorKindsBeyondSixteenBits(t *testing.T) {
	tl := New(time.Time{})
	var last uint16
	for i := 1; i <= math.MaxUint16+10; i++ {
		k := tl.ErrorKind(fmt.Sprintf("error %d", i))
		if k == 0 {
			t.Fatalf("message %d interned as 0, no error", i)
		}
		last = k
	}
	if last != math.MaxUint16 || tl.ErrorKinds[last] != OtherErrors {
		t.Fatalf("the last message's kind is %d %q, want %d %q", last, tl.ErrorKinds[last], math.MaxUint16, OtherErrors)
	}
	if n := len(tl.ErrorKinds); n != math.MaxUint16+1 {
		t.Fatalf("%d kinds, want %d", n, math.MaxUint16+1)
	}
	// A message seen before the limit keeps its own kind.
	if k := tl.ErrorKind("error 7"); k != 7 || tl.ErrorKinds[7] != "error 7" {
		t.Fatalf("error 7 is kind %d", k)
	}
}

// TestRequestFields: a Request gives back what it was made of, negative
// and extreme times, every error kind and the status codes HTTP has
// included, and holds what is out of its range at the bounds.
func TestRequestFields(t *testing.T) {
	for _, c := range []struct {
		sent, latency time.Duration
		code, err     uint16
		degraded      bool
	}{
		{0, 0, 0, 0, false},
		{time.Second, 20 * time.Millisecond, 200, 0, true},
		{24 * time.Hour, 2 * time.Second, 0, 65535, false},
		{-time.Minute, -1, 599, 3, true},
		{requestTimeMax, -requestTimeMax, requestCodeMax, 1, false},
	} {
		r := NewRequest(c.sent, c.latency, c.code, c.err, c.degraded)
		if r.Sent() != c.sent || r.Latency() != c.latency || r.Code() != c.code || r.Err() != c.err || r.Degraded() != c.degraded {
			t.Errorf("NewRequest(%v, %v, %d, %d, %v) gives %v, %v, %d, %d, %v", c.sent, c.latency, c.code, c.err, c.degraded,
				r.Sent(), r.Latency(), r.Code(), r.Err(), r.Degraded())
		}
		// Marked degraded afterwards, it is the request made degraded.
		if d := r.AsDegraded(); d != NewRequest(c.sent, c.latency, c.code, c.err, true) {
			t.Errorf("NewRequest(%v, %v, %d, %d, %v).AsDegraded() is not the degraded request", c.sent, c.latency, c.code, c.err, c.degraded)
		}
	}
	r := NewRequest(requestTimeMax+1, math.MinInt64, math.MaxUint16, 0, false)
	if r.Sent() != requestTimeMax || r.Latency() != -requestTimeMax || r.Code() != requestCodeMax {
		t.Errorf("out of range: %v, %v, %d; want the bounds", r.Sent(), r.Latency(), r.Code())
	}
	if unsafe.Sizeof(r) != 16 {
		t.Errorf("a Request is %d bytes", unsafe.Sizeof(r))
	}
}
