package netdelay

import (
	"container/heap"
	"time"
)

// Verdicts (include/uapi/linux/netfilter.h).
const (
	verdictDrop   uint32 = 0 // NF_DROP
	verdictAccept uint32 = 1 // NF_ACCEPT
)

// heldPacket is a packet the kernel holds for us, known by its id.
type heldPacket struct {
	id      uint32
	verdict uint32
	due     time.Time
	// arrival breaks ties in due: the packets of one receive batch share
	// their arrival time, and with a fixed delay they must leave in the
	// order they came, or a fixed delay would reorder TCP segments.
	arrival uint64
	// early marks a packet that came while Run was stopping: accepted at
	// once, not delayed.
	early bool
}

type packetHeap []heldPacket

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].arrival < h[j].arrival
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(heldPacket)) }
func (h *packetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// delayer is the delayer's state without its socket: the packets held,
// in due order, and the counts. Time comes in as arguments, so tests
// drive it with made-up clocks.
type delayer struct {
	sched       *schedule
	held        packetHeap
	stats       Stats
	latenessSum time.Duration
	arrivals    uint64
	stopping    bool // accept everything now: Run is returning
}

func newDelayer(c Config) *delayer {
	return &delayer{sched: newSchedule(c)}
}

// admit takes a packet the kernel queued at now.
func (d *delayer) admit(id uint32, now time.Time) {
	d.stats.Seen++
	p := heldPacket{id: id, verdict: verdictAccept, due: now, arrival: d.arrivals, early: d.stopping}
	d.arrivals++
	if !d.stopping {
		delay, drop := d.sched.next()
		if drop {
			p.verdict = verdictDrop // now: netem drops on enqueue
		} else {
			p.due = now.Add(delay)
		}
	}
	heap.Push(&d.held, p)
	d.stats.MaxHeld = max(d.stats.MaxHeld, len(d.held))
}

// nextDue is when the earliest held packet is due; ok is false when none
// is held.
func (d *delayer) nextDue() (due time.Time, ok bool) {
	if len(d.held) == 0 {
		return time.Time{}, false
	}
	return d.held[0].due, true
}

// release gives verdict(id, verdict) for up to limit packets due at now
// (every held packet once stopping), earliest first, and returns how many
// it released.
func (d *delayer) release(now time.Time, limit int, verdict func(id, verdict uint32)) int {
	n := 0
	for n < limit && len(d.held) > 0 && (d.stopping || !d.held[0].due.After(now)) {
		p := heap.Pop(&d.held).(heldPacket)
		verdict(p.id, p.verdict)
		n++
		switch {
		case p.verdict == verdictDrop:
			d.stats.Dropped++
		case p.early || p.due.After(now):
			d.stats.Flushed++
		default:
			d.stats.Delayed++
			late := now.Sub(p.due)
			d.latenessSum += late
			d.stats.MaxLateness = max(d.stats.MaxLateness, late)
		}
	}
	return n
}

// stop makes release accept every held packet and admit accept every new
// one at once.
func (d *delayer) stop() { d.stopping = true }

// snapshot returns the stats so far.
func (d *delayer) snapshot() Stats {
	s := d.stats
	if s.Delayed > 0 {
		s.MeanLateness = d.latenessSum / time.Duration(s.Delayed)
	}
	return s
}
