package scenario

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpsim/mcpsim/scenarios"
)

// FuzzParse checks that no input makes the decoder panic and that every
// rejection is a positioned Errors value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	for _, name := range scenarios.Names() {
		_, data, _ := scenarios.Get(name)
		f.Add(data)
	}
	f.Add([]byte(topology))
	f.Add([]byte(strings.Replace(topology, "    nodePools:\n", "    cpuQuota: {model: Periodic, period: 50ms}\n    nodePools:\n", 1)))
	f.Add([]byte("a: &x {b: 1}\nspec: {<<: *x, c: {<<: [*x, *x]}}"))
	f.Add([]byte("a: &x {<<: *x}"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nspec: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"))
	f.Add([]byte("spec: {duration: 1e400}"))
	f.Add([]byte("spec:\n  faults:\n    - kind: PodChaos\n      at: -1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err == nil {
			if sc == nil {
				t.Fatal("no error and no scenario")
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not a positioned Errors: %T %v", err, err)
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" {
				t.Fatalf("error without the file name: %v", e)
			}
		}
	})
}
