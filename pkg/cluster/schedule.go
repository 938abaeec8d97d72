package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mcpsim/mcpsim/pkg/scenario"
)

// ActionKind is what a scheduled action does.
type ActionKind int

// Action kinds, in the order they run at equal times.
const (
	FaultEnd ActionKind = iota
	LoadStop
	FaultStart
	LoadStart
	End
)

func (k ActionKind) String() string {
	switch k {
	case FaultEnd:
		return "fault end"
	case LoadStop:
		return "load stop"
	case FaultStart:
		return "fault start"
	case LoadStart:
		return "load start"
	case End:
		return "end"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is one timed step of a run, at an offset from the scenario's
// time 0 (the moment the rollout is complete).
type Action struct {
	At    time.Duration
	Kind  ActionKind
	Fault *scenario.Fault // FaultStart and FaultEnd
}

// Schedule compiles a scenario into its timed actions: the load's start
// and stop, each fault's start and, when its duration ends before the run
// does, its end, and the end of the run. The runner computes it once; every
// backend executes the same schedule on its own clock.
func Schedule(sc *scenario.Scenario) []Action {
	end := sc.Spec.Duration.Duration
	var out []Action
	l := sc.Spec.Load
	out = append(out, Action{At: l.Start.Duration, Kind: LoadStart})
	stop := end
	if l.Duration != nil {
		stop = min(end, l.Start.Duration+l.Duration.Duration)
	}
	out = append(out, Action{At: stop, Kind: LoadStop})
	for i := range sc.Spec.Faults {
		f := &sc.Spec.Faults[i]
		out = append(out, Action{At: f.At.Duration, Kind: FaultStart, Fault: f})
		// A fault without a duration, or one longer than the run, lasts to
		// the end: it has no end of its own (backends remove what is left
		// when the run ends).
		if d, ok := f.Duration(); ok && f.At.Duration+d < end {
			out = append(out, Action{At: f.At.Duration + d, Kind: FaultEnd, Fault: f})
		}
	}
	out = append(out, Action{At: end, Kind: End})
	slices.SortStableFunc(out, func(a, b Action) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	return out
}

// ErrUnsupported marks a scenario a backend cannot run (exit code 2): it
// is found by Check, before anything starts.
var ErrUnsupported = errors.New("not supported by this backend")

// Unsupported returns an ErrUnsupported error saying why.
func Unsupported(backend, format string, args ...any) error {
	return fmt.Errorf("%w: backend %s: %s", ErrUnsupported, backend, fmt.Sprintf(format, args...))
}

// UnsupportedError is an ErrUnsupported about one field of the scenario,
// so that it can be shown at the field's place in the file.
type UnsupportedError struct {
	Backend string
	// Path is the field's path as validation names it, e.g.
	// spec.faults[0].spec.action.
	Path   string
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%v: backend %s: %s: %s", ErrUnsupported, e.Backend, e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrUnsupported) hold.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// UnsupportedAt returns an UnsupportedError about the field at path.
func UnsupportedAt(backend, path, format string, args ...any) error {
	return &UnsupportedError{Backend: backend, Path: path, Reason: fmt.Sprintf(format, args...)}
}

// UnsupportedField turns a field error (as a backend's checks write them
// with k8s.io/apimachinery's field package) into an UnsupportedError;
// any other error becomes a plain Unsupported.
func UnsupportedField(backend string, err error) error {
	var fe *field.Error
	if errors.As(err, &fe) {
		return &UnsupportedError{Backend: backend, Path: fe.Field, Reason: fe.ErrorBody()}
	}
	return Unsupported(backend, "%v", err)
}
