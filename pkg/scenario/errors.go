package scenario

import (
	"fmt"
	"strings"
)

// FieldError is one problem of a scenario file, with its position.
type FieldError struct {
	File   string
	Line   int
	Column int
	// Path is the field path, e.g. spec.faults[0].spec.mode.
	Path    string
	Message string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in one file. A scenario is rejected as a
// whole: all of its errors are reported at once.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
