package reference

import (
	"testing"
	"time"
)

// fakeProcess stands for the process's CPU clock: every request costs
// what the service burned plus perRequest of its own.
type fakeProcess struct {
	o          *overhead
	cpu        time.Duration
	perRequest time.Duration
}

// serve draws n requests of work d (mean `mean`) through the overhead
// charge, burns what is left and bills the process for both.
func (p *fakeProcess) serve(n int, d, mean time.Duration) (left time.Duration) {
	for range n {
		left = p.o.charge(d, mean)
		p.o.burned.Add(int64(left))
		p.cpu += left + p.perRequest
	}
	return left
}

// TestOverheadCharge: the service's own CPU per request is measured from
// the process clock less what it burned, over the last 10 one-second
// samples, and taken off each request's work in proportion, so that the
// process spends the work's mean per request.
func TestOverheadCharge(t *testing.T) {
	o := newOverhead()
	p := &fakeProcess{o: o, perRequest: 300 * time.Microsecond}
	o.procCPU = func() (time.Duration, error) { return p.cpu, nil }
	mean := 2500 * time.Microsecond

	// Nothing known yet: the work is burned whole.
	o.update()
	if got := p.serve(49, mean, mean); got != mean {
		t.Fatalf("before any estimate: %v left of %v", got, mean)
	}
	// 49 requests in the window are too few to say anything.
	o.update()
	if o.perReq.Load() != 0 {
		t.Fatalf("estimate from 49 requests: %v", time.Duration(o.perReq.Load()))
	}
	// 100 more: the overhead is (process − burned) / requests = 300us.
	p.serve(100, mean, mean)
	o.update()
	if got := time.Duration(o.perReq.Load()); got != 300*time.Microsecond {
		t.Fatalf("estimate %v, want 300us", got)
	}
	// A request drawn at the mean burns 2.5 − 0.3 = 2.2ms; one drawn at
	// twice the mean 4.4ms: the scale is (2.5 − 0.3) / 2.5 = 0.88 for all,
	// which keeps an exponential exponential with mean 2.2ms, and the
	// process spends 2.2 + 0.3 = 2.5ms a request on average.
	// (Drawn from a copy of the estimate: draws are requests, and these
	// would count in o's window.)
	q := newOverhead()
	q.perReq.Store(o.perReq.Load())
	if got := q.charge(mean, mean); got != 2200*time.Microsecond {
		t.Errorf("at the mean: %v left, want 2.2ms", got)
	}
	if got := q.charge(2*mean, mean); got != 4400*time.Microsecond {
		t.Errorf("at twice the mean: %v left, want 4.4ms", got)
	}
	// An overhead at or beyond the mean leaves nothing to burn.
	if got := q.charge(mean, 250*time.Microsecond); got != 0 {
		t.Errorf("overhead above the mean: %v left, want 0", got)
	}

	// The overhead falls to 100us: after a window of 10 samples that
	// hold only the new requests the estimate is 100us.
	p.perRequest = 100 * time.Microsecond
	for range overheadWindow {
		p.serve(100, mean, mean)
		o.update()
	}
	if got := time.Duration(o.perReq.Load()); got != 100*time.Microsecond {
		t.Fatalf("estimate after the change %v, want 100us", got)
	}
	// The process clock reads less than was burned (its clock coarser
	// than the thread's): the overhead is 0, never negative.
	p.perRequest = -50 * time.Microsecond
	for range overheadWindow {
		p.serve(100, mean, mean)
		o.update()
	}
	if got := o.perReq.Load(); got != 0 {
		t.Fatalf("negative overhead kept as %v", time.Duration(got))
	}
}

// TestParseOverhead reads the gauge as a service's /metrics page has it.
func TestParseOverhead(t *testing.T) {
	page := func(v string) []byte {
		return []byte("# HELP " + OverheadMetric + " x\n# TYPE " + OverheadMetric + " gauge\n" +
			OverheadMetric + "{role=\"gateway\",service=\"gateway\"} " + v + "\n# TYPE mcp_requests_in_flight gauge\nmcp_requests_in_flight 3\n")
	}
	for _, c := range []struct {
		page   []byte
		want   time.Duration
		ok, ie bool
	}{
		{page: page("0.00093"), want: 930 * time.Microsecond, ok: true},
		{page: page("0"), ok: false},                            // not measured yet
		{page: []byte("mcp_requests_in_flight 3\n"), ok: false}, // no gauge
		{page: page("-1"), ie: true},
		{page: page("NaN"), ie: true},
		{page: []byte("not a metrics page {"), ie: true},
	} {
		d, ok, err := ParseOverhead(c.page)
		if (err != nil) != c.ie || ok != c.ok || d != c.want {
			t.Errorf("%q: %v %v %v; want %v %v, error %v", c.page, d, ok, err, c.want, c.ok, c.ie)
		}
	}
}
