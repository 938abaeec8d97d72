// Package cluster holds the Backend interface that every cluster backend
// implements: sim (the default, a deterministic simulated cluster in
// virtual time), and later kind and kube. A backend only produces
// observations into a timeline; it never judges them.
package cluster

import (
	"context"
	"errors"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// Backend runs one scenario's plan on a cluster and records what happened.
// Run owns the whole life of the run on its cluster: set-up, load, faults
// and clean-up (faults are removed whatever happens, including ctx
// cancellation).
type Backend interface {
	Name() string
	// Check says whether the backend can run the scenario; an error wraps
	// ErrUnsupported and says why.
	Check(sc *scenario.Scenario) error
	Run(ctx context.Context, plan *Plan) (*timeline.Timeline, error)
}

// Plan is what the runner asks a backend to do.
type Plan struct {
	Scenario *scenario.Scenario
	// Seed feeds every random choice of the sim backend.
	Seed uint64
	// Schedule is the run's timed actions (Schedule(Scenario)).
	Schedule []Action
	// Pacer paces the load from LoadStart for LoadDuration.
	Pacer        vegeta.Pacer
	LoadStart    time.Duration
	LoadDuration time.Duration
	// Progress, if set, is called every ProgressEvery of backend time.
	Progress      func(Status)
	ProgressEvery time.Duration
}

// Status is a progress snapshot.
type Status struct {
	T         time.Duration
	Duration  time.Duration
	Desired   int32
	Ready     int32
	RPS       float64
	P99       time.Duration
	ErrorRate float64
	Faults    []string
}

// ErrInfrastructure marks failures of the cluster or its tooling (exit
// code 3), as opposed to a scenario's assertions failing.
var ErrInfrastructure = errors.New("infrastructure error")
