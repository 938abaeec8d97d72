package harness

import (
	"fmt"

	"github.com/onsi/gomega/types"

	"github.com/mcpsim/mcpsim/pkg/report"
)

// Pass succeeds for a report whose every assertion passed; its failure
// message lists the failed assertions with what was measured.
func Pass() types.GomegaMatcher { return passMatcher{} }

type passMatcher struct{}

func (passMatcher) Match(actual any) (bool, error) {
	r, err := asReport(actual)
	if err != nil {
		return false, err
	}
	return r.Passed, nil
}

func (passMatcher) FailureMessage(actual any) string {
	r, _ := asReport(actual)
	return fmt.Sprintf("expected scenario %s to pass on %s, but:\n%s", r.Scenario.Name, r.Backend, Failures(r))
}

func (passMatcher) NegatedFailureMessage(actual any) string {
	r, _ := asReport(actual)
	return fmt.Sprintf("expected scenario %s to fail on %s, but every assertion passed", r.Scenario.Name, r.Backend)
}

// HaveAssertion succeeds when the report has the named assertion with the
// given verdict.
func HaveAssertion(name string, passed bool) types.GomegaMatcher {
	return assertionMatcher{name: name, passed: passed}
}

type assertionMatcher struct {
	name   string
	passed bool
}

func (m assertionMatcher) find(actual any) (*report.Report, int, error) {
	r, err := asReport(actual)
	if err != nil {
		return nil, -1, err
	}
	for i, a := range r.Assertions {
		if a.Name == m.name {
			return r, i, nil
		}
	}
	return r, -1, nil
}

func (m assertionMatcher) Match(actual any) (bool, error) {
	r, i, err := m.find(actual)
	if err != nil || i < 0 {
		return false, err
	}
	return r.Assertions[i].Passed == m.passed, nil
}

func (m assertionMatcher) FailureMessage(actual any) string {
	r, i, _ := m.find(actual)
	if i < 0 {
		return fmt.Sprintf("scenario %s has no assertion named %q", r.Scenario.Name, m.name)
	}
	a := r.Assertions[i]
	return fmt.Sprintf("expected assertion %q to have passed=%v; measured %s (threshold: %s) %s", m.name, m.passed, a.Measured, a.Threshold, a.Detail)
}

func (m assertionMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("expected assertion %q not to have passed=%v", m.name, m.passed)
}

func asReport(actual any) (*report.Report, error) {
	r, ok := actual.(*report.Report)
	if !ok || r == nil {
		return nil, fmt.Errorf("expected a *report.Report, got %T", actual)
	}
	return r, nil
}
