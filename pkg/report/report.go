// Package report builds a run's report from its timeline and verdicts and
// writes it as JSON (versioned schema), JUnit XML and a self-contained HTML
// page.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// SchemaVersion identifies the JSON report format. Bump it on any
// incompatible change.
const SchemaVersion = "mcpsim.dev/report/v1"

// Report is one scenario run.
type Report struct {
	SchemaVersion string              `json:"schemaVersion"`
	Scenario      ScenarioInfo        `json:"scenario"`
	Backend       string              `json:"backend"`
	Seed          uint64              `json:"seed"`
	Passed        bool                `json:"passed"`
	Duration      Seconds             `json:"durationSeconds"`
	Assertions    []assertions.Result `json:"assertions"`
	// Load, Series and Samples are the entry service's (the load
	// target's), as the load generator saw it.
	Load    LoadSummary       `json:"load"`
	Series  []Second          `json:"series"`
	Samples []timeline.Sample `json:"samples"`
	// Services has every service's figures, the entry service first.
	Services []ServiceReport              `json:"services"`
	Breakers []timeline.BreakerTransition `json:"breakers"`
	Events   []timeline.Event             `json:"events"`
	Faults   []timeline.Fault             `json:"faults"`
}

// ServiceReport is one service's requests (as its callers saw them) and
// observations.
type ServiceReport struct {
	Name    string            `json:"name"`
	Role    string            `json:"role"`
	Entry   bool              `json:"entry"`
	Load    LoadSummary       `json:"load"`
	Series  []Second          `json:"series"`
	Samples []timeline.Sample `json:"samples"`
}

// Seconds is a duration written as seconds.
type Seconds float64

// ScenarioInfo names the scenario.
type ScenarioInfo struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Source      string            `json:"source"`
}

// LoadSummary sums up every request of the run (exact quantiles over
// successful requests).
type LoadSummary struct {
	Requests  int `json:"requests"`
	Successes int `json:"successes"`
	// Degraded counts successes answered in part by a fallback.
	Degraded int            `json:"degraded"`
	Errors   map[string]int `json:"errors"`
	MeanRPS  float64        `json:"meanRPS"`
	Mean     time.Duration  `json:"mean"`
	P50      time.Duration  `json:"p50"`
	P90      time.Duration  `json:"p90"`
	P99      time.Duration  `json:"p99"`
	Max      time.Duration  `json:"max"`
}

// Second is one second of load, by send time.
type Second struct {
	T        int           `json:"t"`
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	P50      time.Duration `json:"p50"`
	P99      time.Duration `json:"p99"`
}

// Build assembles a report. The timeline's requests must be sorted.
func Build(sc *scenario.Scenario, source, backend string, seed uint64, tl *timeline.Timeline, results []assertions.Result) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Scenario:      ScenarioInfo{Name: sc.Metadata.Name, Description: sc.Metadata.Description, Labels: sc.Metadata.Labels, Source: source},
		Backend:       backend,
		Seed:          seed,
		Passed:        true,
		Duration:      Seconds(tl.Duration.Seconds()),
		Assertions:    results,
		Breakers:      tl.Breakers,
		Events:        tl.Events,
		Faults:        tl.Faults,
	}
	for _, a := range results {
		r.Passed = r.Passed && a.Passed
	}
	entry := tl.EntryService()
	if entry != nil {
		r.Services = append(r.Services, serviceReport(tl, entry, true))
	}
	for _, s := range tl.Services {
		if s != entry {
			r.Services = append(r.Services, serviceReport(tl, s, false))
		}
	}
	if r.Breakers == nil {
		r.Breakers = []timeline.BreakerTransition{}
	}
	if len(r.Services) > 0 && r.Services[0].Entry {
		r.Load, r.Series, r.Samples = r.Services[0].Load, r.Services[0].Series, r.Services[0].Samples
	} else {
		r.Load.Errors = map[string]int{}
	}
	return r
}

func serviceReport(tl *timeline.Timeline, s *timeline.Service, entry bool) ServiceReport {
	load, series := summarize(tl, s)
	return ServiceReport{Name: s.Name, Role: s.Role, Entry: entry, Load: load, Series: series, Samples: s.Samples}
}

func summarize(tl *timeline.Timeline, svc *timeline.Service) (LoadSummary, []Second) {
	s := LoadSummary{Requests: len(svc.Requests), Errors: map[string]int{}}
	all := make([]time.Duration, 0, len(svc.Requests))
	var sum time.Duration
	var series []Second
	var bucket []time.Duration
	cur := Second{T: -1}
	flush := func() {
		if cur.T >= 0 {
			if len(bucket) > 0 {
				slices.Sort(bucket)
				cur.P50 = timeline.QuantileSorted(bucket, 0.5)
				cur.P99 = timeline.QuantileSorted(bucket, 0.99)
			}
			series = append(series, cur)
		}
	}
	for _, req := range svc.Requests {
		sec := int(req.Sent / time.Second)
		if sec != cur.T {
			flush()
			for t := cur.T + 1; cur.T >= 0 && t < sec; t++ {
				series = append(series, Second{T: t})
			}
			cur, bucket = Second{T: sec}, bucket[:0]
		}
		cur.Requests++
		if req.OK() {
			s.Successes++
			if req.Degraded {
				s.Degraded++
			}
			sum += req.Latency
			all = append(all, req.Latency)
			bucket = append(bucket, req.Latency)
			continue
		}
		cur.Errors++
		msg := tl.ErrorKinds[req.Err]
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", req.Code)
		}
		s.Errors[msg]++
	}
	flush()
	if tl.Duration > 0 {
		s.MeanRPS = float64(s.Requests) / tl.Duration.Seconds()
	}
	if len(all) > 0 {
		s.Mean = sum / time.Duration(len(all))
		slices.Sort(all)
		s.P50 = timeline.QuantileSorted(all, 0.5)
		s.P90 = timeline.QuantileSorted(all, 0.9)
		s.P99 = timeline.QuantileSorted(all, 0.99)
		s.Max = all[len(all)-1]
	}
	return s, series
}

// JSON encodes the report; the same report gives the same bytes.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Files written by WriteDir.
const (
	JSONFile  = "report.json"
	JUnitFile = "junit.xml"
	HTMLFile  = "report.html"
)

// WriteDir writes report.json, junit.xml and report.html into dir. Each
// file is written to a temporary name and renamed, so an interrupted run
// never leaves a half-written report behind.
func (r *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating report directory: %w", err)
	}
	js, err := r.JSON()
	if err != nil {
		return err
	}
	junit, err := JUnit([]*Report{r})
	if err != nil {
		return err
	}
	page, err := r.HTML()
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{JSONFile: js, JUnitFile: junit, HTMLFile: page} {
		if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	return writeAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomicFunc writes a file through a temporary name in the same
// directory, readable by all (reports are CI artifacts), so that no reader
// ever sees it half written.
func writeAtomicFunc(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	werr := write(tmp)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, werr)
	}
	return nil
}
