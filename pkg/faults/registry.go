package faults

import (
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// Faults are intervals: a fault starts at its `at`, and its end (its
// spec.duration, or the end of the run) undoes what it did, as Chaos Mesh
// recovers a chaos object when it is deleted. Each backend has one
// injector per kind, registered under the kind's name (Fault.Kind), so
// that a kind is added in one place per backend and the backends agree on
// which kinds exist.

// Recovery undoes what an injection did; the fault's end calls it. nil
// when there is nothing to undo (a killed pod stays killed).
type Recovery func()

// Injector applies a fault of its kind to a backend's cluster C. It
// resolves the fault's targets now (selector and mode), and returns them
// with act, which applies the fault to them and returns its Recovery. The
// two steps are apart so that the backend records the injection, with
// its targets, before the effects the action causes.
type Injector[C any] func(c C, f *scenario.Fault) (targets []string, act func() Recovery, err error)

// Kind is what a backend knows of one fault kind.
type Kind[C any] struct {
	// Check says whether the backend models everything the fault asks
	// for; its error names the field, below p (the fault's path).
	Check func(f *scenario.Fault, p *field.Path) error
	// Inject applies the fault.
	Inject Injector[C]
}

// Registry holds a backend's fault kinds by name.
type Registry[C any] map[string]Kind[C]

// Lookup returns the kind of f, or an error naming the kinds the backend
// has.
func (r Registry[C]) Lookup(f *scenario.Fault) (Kind[C], error) {
	if k, ok := r[f.Kind()]; ok {
		return k, nil
	}
	return Kind[C]{}, fmt.Errorf("fault kind %q is not modelled (these are: %v)", f.Kind(), slices.Sorted(maps.Keys(r)))
}
