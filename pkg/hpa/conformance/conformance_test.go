package conformance

import (
	"os"
	"strings"
	"testing"
)

// TestReferenceCases runs every case of the reference file taken from
// Kubernetes v1.34.4's own HPA unit tests.
func TestReferenceCases(t *testing.T) {
	f, err := os.Open("testdata/hpa-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases, err := Load("testdata/hpa-cases.json", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 137 {
		t.Fatalf("loaded %d cases, want at least 137", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			o := Run(c)
			if !o.Passed {
				t.Errorf("%s (%s): expected %s, got %s", c.Name, c.Kind, o.Expected, o.Got)
			}
		})
	}
}

func TestLoadRejectsMalformedFiles(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      "{nope",
		"not an array":  `{"name":"x"}`,
		"missing kind":  `[{"name":"a","input":{},"expect":{}}]`,
		"missing input": `[{"name":"a","kind":"reconcile","expect":{"desiredReplicas":1}}]`,
		"unknown field": `[{"name":"a","kind":"reconcile","input":{},"expect":{},"bogus":1}]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load("cases.json", strings.NewReader(body))
			if err == nil || !strings.Contains(err.Error(), "cases.json") {
				t.Fatalf("Load = %v, want an error naming the file", err)
			}
		})
	}
}

func TestRunDetectsWrongExpectation(t *testing.T) {
	c := Case{Name: "clamp", Kind: "clampNoBehavior",
		Input:  []byte(`{"currentReplicas":2,"desiredReplicas":100,"minReplicas":1,"maxReplicas":50,"scaleUpLimitFactor":2,"scaleUpLimitMinimum":4}`),
		Expect: []byte(`{"desiredReplicas":50,"reason":"TooManyReplicas"}`)}
	o := Run(c)
	if o.Passed {
		t.Fatalf("a wrong expectation passed")
	}
	if !strings.Contains(o.Got, "desiredReplicas=4") || !strings.Contains(o.Got, "ScaleUpLimit") {
		t.Fatalf("got %q, want the actual clamp (4, ScaleUpLimit)", o.Got)
	}
}
