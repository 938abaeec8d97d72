package sim

import (
	"math"
	"time"

	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// CPU limits under the Periodic quota model (scenario.CPUQuota): the
// kernel's CFS bandwidth control as the kubelet sets it up for a container
// with a CPU limit, cpu.max = limit × period per period.
//
//   - A pod runs as fast as its runnable tasks, its node and its runtime
//     allow until it has used its quota in the current period; then it is
//     throttled: none of its tasks runs until the period ends.
//   - Its runtime: the reference service is a Go program, and since Go
//     1.25 GOMAXPROCS is the cgroup's CPU limit rounded up, at least 2
//     (runtime.adjustCgroupGOMAXPROCS), so its requests run on at most
//     that many cores at once. A pod limited to 500m serves a lone
//     request at a full core, two at two cores on a node with two.
//   - Periods follow each other back to back from the pod's binding to
//     its node: the cgroup's period timer runs while the cgroup is busy,
//     and its phase is nobody's choice, so any fixed one will do.
//
// Throttling is the pod's limit falling to 0 for the rest of the period:
// the node's CPU sharing (cpu.go) then gives it nothing and its
// neighbours what it leaves. That costs two events per throttled period,
// at the exhaustion and at the period's end (nextEventQuota, quotaTick);
// a pod that never uses up its quota costs none, since a period's end
// changes nothing for it and is accounted when next it runs (account).
//
// The averages are those of the Fluid model: a pod never uses more than
// limit × period per period. What changes is the instant: a request at
// low load finishes sooner, and a busy pod's requests stall for the
// throttled rest of the period.

// cfsQuota is one pod's quota state.
type cfsQuota struct {
	period time.Duration
	quota  float64 // core-seconds per period: the limit × the period
	burst  float64 // the pod's cores when not throttled
	start  time.Duration
	used   float64 // core-seconds used in the period from start
	// throttled until the period ending at until
	throttled bool
	until     time.Duration
	// stats are the service's counters (cpu.stat's nr_periods and
	// nr_throttled), shared by its pods.
	stats *timeline.CFSStats
}

// startQuota puts pod p, bound to its node now, under its quota.
func (w *world) startQuota(p *pod) {
	limit := p.svc.podLimit
	goMaxProcs := math.Max(2, math.Ceil(limit))
	if p.svc.rec.CFS == nil {
		p.svc.rec.CFS = &timeline.CFSStats{}
	}
	q := &cfsQuota{
		stats:  p.svc.rec.CFS,
		period: w.cfsPeriod,
		quota:  limit * w.cfsPeriod.Seconds(),
		burst:  math.Min(p.node.cores, goMaxProcs),
		start:  w.now,
	}
	p.limit = q.burst
	p.srv.q = q
}

// account counts c cores used from from to to, a stretch over which the
// server's rate did not change.
func (q *cfsQuota) account(from, to time.Duration, c float64) {
	k := (to - q.start) / q.period
	if k == 0 {
		q.used += c * seconds(to-max(from, q.start))
		return
	}
	// A new period began on the way (or several): what ran before it is
	// the old one's business. It counts as a period the pod ran in if it
	// used any CPU (the kernel counts the periods of a busy cgroup; the
	// idle ones after it, none).
	if q.used > 0 || (c > 0 && from < q.start+q.period) {
		q.stats.Periods++
	}
	q.start += k * q.period
	q.used = c * seconds(to-q.start)
}

// usage is the cores the server uses now, its stressors' included.
func (s *server) usage() float64 {
	if s.stress != nil {
		r, stress := s.stressShares()
		return r*float64(s.live) + stress
	}
	return s.r * float64(s.live)
}

// throttleTolerance absorbs float rounding in the used quota when the
// exhaustion falls due.
const throttleTolerance = 1e-9

// nextEventQuota is the server's next completion or the quota's next
// change, whichever is first: the end of a throttled period, or when the
// quota runs out at the present rate (in this period or, if the rate
// outruns the quota, in the next one).
func (s *server) nextEventQuota() (time.Duration, bool) {
	q := s.q
	if q.throttled {
		return q.until, true
	}
	next, has := s.nextCompletion()
	c := s.usage()
	if c <= 0 {
		return next, has
	}
	end := q.start + q.period
	var out time.Duration
	if left := (q.quota - q.used) / c; left <= (end - s.last).Seconds() {
		out = s.last + ceilSeconds(left)
	} else if c*q.period.Seconds() > q.quota*(1+throttleTolerance) {
		out = end + ceilSeconds(q.quota/c)
	} else {
		return next, has
	}
	if has && next <= out {
		return next, true
	}
	return out, true
}

// quotaTick throttles pod p when its quota ran out, and lets it run again
// when its throttled period is over (after advance).
func (w *world) quotaTick(p *pod) {
	q := p.srv.q
	switch {
	case q.throttled && w.now >= q.until:
		q.throttled = false
		p.limit = q.burst
		w.setCapacity(p, q.burst)
	case !q.throttled && q.used >= q.quota*(1-throttleTolerance):
		q.throttled, q.until = true, q.start+q.period
		q.stats.Throttled++
		p.limit = 0
		w.setCapacity(p, 0)
	}
}
