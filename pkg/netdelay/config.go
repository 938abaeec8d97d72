// Package netdelay delays and drops packets in userspace, the way
// netem's delay and loss do, for hosts whose kernel has no sch_netem (Chaos
// Mesh's NetworkChaos delay needs it).
//
// An iptables rule hands packets to an NFQUEUE; Run binds that queue over
// nfnetlink_queue, asks only for each packet's metadata, holds the packet's
// id for latency ± jitter and then gives its verdict. The packet itself
// stays in the kernel the whole time: the delayer never copies payload.
//
// Run binds the queue in the network namespace of the calling thread, so it
// is run inside the namespace whose traffic it delays (in a kind node
// container, with docker exec). Use iptables' --queue-bypass with it: while
// no delayer is bound, packets pass undelayed instead of being dropped.
package netdelay

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Config says which queue to serve and how to treat its packets. The
// fractions are netem's percentages divided by 100.
type Config struct {
	// Queue is the NFQUEUE number (iptables' --queue-num).
	Queue uint16
	// Latency is the delay every packet gets; Jitter widens it to a
	// uniform draw from [Latency-Jitter, Latency+Jitter), as netem's
	// default (table-less) distribution does.
	Latency, Jitter time.Duration
	// Correlation (0..1) is netem's delay correlation: each uniform draw
	// is (1-Correlation)·u + Correlation·(the previous draw).
	Correlation float64
	// Loss (0..1) is the fraction of packets dropped; LossCorrelation
	// (0..1) correlates successive loss draws the same way.
	Loss, LossCorrelation float64
	// MaxLen is the kernel's queue length limit (NFQA_CFG_QUEUE_MAXLEN).
	// Past it the kernel accepts packets undelayed (fail-open) rather than
	// dropping them, so it must cover packets-per-second × (Latency+Jitter).
	MaxLen uint32
	// Seed seeds the PCG generator the delays and losses are drawn from:
	// the same seed gives the same sequence of delays and drops.
	Seed uint64
}

// DefaultMaxLen holds 65536 packets: 100 ms of delay at 650k packets/s,
// which a pod on a kind node does not reach. A held packet costs the
// kernel its skb, not a copy.
const DefaultMaxLen = 65536

// Validate reports every field that is out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %v is negative", c.Latency))
	}
	if c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("jitter %v is negative", c.Jitter))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"correlation", c.Correlation}, {"loss", c.Loss}, {"loss correlation", c.LossCorrelation}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			errs = append(errs, fmt.Errorf("%s %v is not a fraction between 0 and 1", f.name, f.v))
		}
	}
	if c.MaxLen == 0 {
		errs = append(errs, errors.New("max length is 0: the kernel would pass every packet undelayed; use at least packets-per-second × (latency+jitter)"))
	}
	return errors.Join(errs...)
}

// Stats says what Run did. Once Run has returned,
// Seen = Delayed + Dropped + Flushed.
type Stats struct {
	// Seen counts the packets the kernel queued to the delayer.
	Seen uint64 `json:"seen"`
	// Delayed counts the packets accepted at (or after) their due time.
	Delayed uint64 `json:"delayed"`
	// Dropped counts the packets dropped to emulate loss.
	Dropped uint64 `json:"dropped"`
	// Flushed counts the packets accepted early because Run was stopping.
	Flushed uint64 `json:"flushed"`
	// MaxHeld is the most packets held at once.
	MaxHeld int `json:"maxHeld"`
	// MeanLateness and MaxLateness say how long after its due time a
	// Delayed packet was accepted: timer and scheduling error. JSON has
	// them as meanLatenessSeconds and maxLatenessSeconds, in the unit the
	// rest of mcpsim's JSON uses.
	MeanLateness time.Duration `json:"-"`
	MaxLateness  time.Duration `json:"-"`
	// VerdictErrors counts verdicts the kernel refused (it answers a
	// verdict only when it fails, e.g. for a packet id it does not hold).
	VerdictErrors uint64 `json:"verdictErrors"`
}

// MarshalJSON writes the stats as one object, the lateness in seconds.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats // without this method
	return json.Marshal(struct {
		plain
		MeanLateness float64 `json:"meanLatenessSeconds"`
		MaxLateness  float64 `json:"maxLatenessSeconds"`
	}{plain(s), s.MeanLateness.Seconds(), s.MaxLateness.Seconds()})
}
