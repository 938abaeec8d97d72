package cluster

import (
	"time"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// PacketDelay is a NetworkChaos delay and loss as netem reads them, for a
// backend that holds pods' packets itself where the nodes' kernel has no
// netem (kind: kube.NetworkDelayer).
type PacketDelay struct {
	scenario.Netem
	// For is how long the delay lasts at most (the fault's duration, or
	// the rest of the run): a delayer lets go by itself some time after,
	// should mcpsim be gone. Seed seeds its random draws.
	For  time.Duration
	Seed uint64
}

// DelayedPod is a pod whose packets a delay holds: its node and address.
type DelayedPod struct {
	Name, Node, IP string
}
