package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mcpsim/mcpsim/pkg/assertions"
	"github.com/mcpsim/mcpsim/pkg/scenario"
	"github.com/mcpsim/mcpsim/pkg/timeline"
)

// longRun is a synthetic 24-hour run of two services: a sample and a
// request every second each, a spike of latency in one second, 100,000
// events and 20,000 breaker transitions.
func longRun(t *testing.T) *Report {
	t.Helper()
	const day = 24 * time.Hour
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration, tl.Entry = day, "gateway"
	for _, name := range []string{"gateway", "payment"} {
		s := tl.AddService(name, name)
		for sec := time.Duration(0); sec < day; sec += time.Second {
			lat := 20 * time.Millisecond
			if sec == 12*time.Hour {
				lat = 1900 * time.Millisecond // the spike must survive down-sampling
			}
			tl.AddRequest(s, sec, lat, 200, "")
			s.Samples = append(s.Samples, timeline.Sample{T: sec, Desired: int32(2 + sec/time.Hour%5), Ready: 2, Pods: 2, CPUUtilization: int32(sec / time.Minute % 100), CPUMillicores: 100})
		}
	}
	for i := 0; i < 100000; i++ {
		tl.AddEvent(time.Duration(i)*day/100000, []string{"PodCreated", "PodReady", "Rescale"}[i%3], fmt.Sprintf("pod-%d", i), "something happened")
	}
	for i := 0; i < 20000; i++ {
		tl.Breakers = append(tl.Breakers, timeline.BreakerTransition{T: time.Duration(i) * day / 20000, Service: "gateway", Pod: "gateway-1", Downstream: "payment", From: "closed", To: "open"})
	}
	q := 0.99
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "day"}, Spec: scenario.Spec{
		Services: []scenario.Service{{Name: "gateway"}},
		Assertions: []scenario.Assertion{
			{Name: "p99", Type: "latency", Service: "gateway", Quantile: &q, Max: &metav1.Duration{Duration: 100 * time.Millisecond}},
		}}}
	return Build(sc, tl, assertions.Evaluate(sc, tl), Meta{Source: "day.yaml", Backend: "sim", Seed: 1})
}

var pathRE = regexp.MustCompile(`<path d="([^"]*)"`)

// TestHTMLIsBoundedForLongRuns: a 24-hour run's page stays under 1 MiB,
// no chart draws more than maxChartPoints points, the tables show at most
// maxTableRows rows and say how many are left out, and the latency spike
// is still drawn.
func TestHTMLIsBoundedForLongRuns(t *testing.T) {
	r := longRun(t)
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if len(page) > 1<<20 {
		t.Fatalf("page of a 24 h run: %d bytes, over 1 MiB", len(page))
	}
	s := string(page)
	figures := strings.Split(s, `<figure class="chart">`)[1:]
	if len(figures) < 6 {
		t.Fatalf("%d charts", len(figures))
	}
	for _, f := range figures {
		n := 0
		for _, m := range pathRE.FindAllStringSubmatch(f, -1) {
			n += strings.Count(m[1], "M") + strings.Count(m[1], "L") + strings.Count(m[1], "H")
		}
		if n > maxChartPoints {
			t.Errorf("a chart draws %d points, over %d", n, maxChartPoints)
		}
	}
	// 100,000 events: the first and last 200 rows, 99,600 left out.
	if rows := strings.Count(s, `<td data-label="event">`); rows != maxTableRows {
		t.Errorf("%d event rows, want %d", rows, maxTableRows)
	}
	for _, want := range []string{"… 99600 more events in report.json …", "100000 events: 33334 PodCreated, 33333 PodReady, 33333 Rescale.", "… 19600 more transitions in report.json …"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The spike (1900 ms) is the latency chart's maximum: its y axis
	// reaches niceCeil(1900) = 2000.
	lat := figures[1]
	if !strings.Contains(lat, "Latency of successful requests to gateway") || !strings.Contains(lat, `text-anchor="end">2000</text>`) {
		t.Error("the latency spike was lost in down-sampling")
	}
}

func TestDownsampleKeepsExtremesAndBound(t *testing.T) {
	var pts []point
	for i := 0; i < 10000; i++ {
		pts = append(pts, point{float64(i), float64(i % 7)})
	}
	pts[5001].y = 100
	pts[7003].y = -5
	out := downsample(pts, 1000)
	if len(out) > 1000 {
		t.Fatalf("%d points", len(out))
	}
	hi, lo := false, false
	for i, p := range out {
		hi = hi || p.y == 100
		lo = lo || p.y == -5
		if i > 0 && p.x <= out[i-1].x {
			t.Fatal("order lost")
		}
	}
	if !hi || !lo {
		t.Fatal("a peak or a trough was dropped")
	}
	if got := downsample(pts[:10], 1000); len(got) != 10 {
		t.Fatal("a short series was changed")
	}
}

// TestChartsShowWhatTheVerdictRestsOn: the pod-kill-recovery shape: per
// second p99 above the limit in some seconds, the window's p99 below it.
// The latency chart draws the window shaded, the limit dashed and the
// measured p99 as a solid pass line across the window; the utilization
// chart draws the HPA target; the error chart exists with its limit.
func TestChartsShowWhatTheVerdictRestsOn(t *testing.T) {
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration, tl.Entry = 100*time.Second, "gw"
	gw := tl.AddService("gw", "gateway")
	for i := 0; i < 1000; i++ {
		lat := 50 * time.Millisecond
		if i%100 == 0 {
			lat = 300 * time.Millisecond // one slow request in each second: that second's p99
		}
		tl.AddRequest(gw, time.Duration(i)*100*time.Millisecond, lat, 200, "")
	}
	for s := 0; s < 100; s++ {
		gw.Samples = append(gw.Samples, timeline.Sample{T: time.Duration(s) * time.Second, Desired: 3, Ready: 3, Pods: 3, CPUUtilization: 40, CPUMillicores: 300})
	}
	tl.Faults = []timeline.Fault{{Name: "kill-one", Kind: "PodChaos", Action: "pod-kill", At: 30 * time.Second}}
	q, ratio, target, minR := 0.99, 0.01, int32(60), int32(2)
	sc := &scenario.Scenario{Metadata: scenario.Metadata{Name: "shape"}, Spec: scenario.Spec{
		Services: []scenario.Service{{Name: "gw", HPA: hpaSpec(minR, 10, target)}},
		Assertions: []scenario.Assertion{
			{Name: "p99", Type: "latency", Service: "gw", Quantile: &q, Max: &metav1.Duration{Duration: 200 * time.Millisecond}},
			{Name: "errors", Type: "errorRate", Service: "gw", MaxRatio: &ratio},
		}}}
	r := Build(sc, tl, assertions.Evaluate(sc, tl), Meta{Backend: "sim"})
	// 1000 requests, 10 of them 300 ms: nearest rank ceil(0.99 × 1000) =
	// 990th is 50 ms, under the 200 ms limit; each second's p99 (rank
	// ceil(0.99 × 10) = 10th of 10) is 300 ms, above it.
	if !r.Passed || *r.Assertions[0].Value != 0.05 || *r.Services[0].Series[0].P99 != 0.3 {
		t.Fatalf("fixture: %+v %+v", r.Assertions[0], r.Services[0].Series[0])
	}
	page, _ := r.HTML()
	s := string(page)
	figures := strings.Split(s, `<figure class="chart">`)[1:]
	var latency, rates, util string
	for _, f := range figures {
		switch {
		case strings.Contains(f, "Latency of"):
			latency = f
		case strings.Contains(f, "Failed and degraded"):
			rates = f
		case strings.Contains(f, "CPU utilization"):
			util = f
		}
	}
	for name, c := range map[string][]string{
		"latency": {latency, `class="band-ok"`, `class="thr"`, `class="meas-ok"`, "limit 200 ms", "p99 of the window 50 ms", "⚡ kill-one"},
		"rates":   {rates, `class="thr"`, "limit 1%", `class="meas-ok"`, "failed over the window 0%"},
		"util":    {util, `class="tgt"`, "HPA target 60%"},
	} {
		if c[0] == "" {
			t.Errorf("no %s chart", name)
			continue
		}
		for _, want := range c[1:] {
			if !strings.Contains(c[0], want) {
				t.Errorf("%s chart lacks %q", name, want)
			}
		}
	}
	if strings.Contains(latency, "meas-bad") || strings.Contains(latency, "band-bad") {
		t.Error("a passing latency assertion is drawn as failed")
	}
}

func TestPageIsResponsiveAndPrintable(t *testing.T) {
	page, _ := sample().HTML()
	s := string(page)
	for _, want := range []string{`name="viewport"`, "@media (max-width:640px)", "@media print", ".events{max-height:none;overflow:visible}", "thead{display:table-header-group}", `td[data-label]::before`} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func hpaSpec(min, max, target int32) *autoscalingv2.HorizontalPodAutoscalerSpec {
	return &autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: max, Metrics: []autoscalingv2.MetricSpec{{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
			Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}},
	}}}
}

// TestFaultIntervals: a fault that lasts is shaded over its interval on
// every chart and written with its end; an instant one (a pod-kill) has
// end null and only its line.
func TestFaultIntervals(t *testing.T) {
	tl := timeline.New(time.Unix(0, 0))
	tl.Duration, tl.Entry = 60*time.Second, "gw"
	gw := tl.AddService("gw", "gateway")
	tl.AddRequest(gw, time.Second, time.Millisecond, 200, "")
	gw.Samples = []timeline.Sample{{T: 0, Desired: 1, Ready: 1, CPUUtilization: -1, CPUMillicores: -1}}
	end := 40 * time.Second
	tl.Faults = []timeline.Fault{
		{Name: "kill", Kind: "PodChaos", Action: "pod-kill", At: 10 * time.Second},
		{Name: "slow", Kind: "NetworkChaos", Action: "delay", At: 20 * time.Second, End: &end},
	}
	r := Build(&scenario.Scenario{Metadata: scenario.Metadata{Name: "f"}}, tl, nil, Meta{Backend: "sim"})
	if r.Faults[0].End != nil || r.Faults[1].End == nil || *r.Faults[1].End != 40 {
		t.Fatalf("faults: %+v", r.Faults)
	}
	jsonOf(t, r)
	page, _ := r.HTML()
	charts := strings.Count(string(page), `<figure class="chart">`)
	// One interval per chart: the delay's, from x(20) to x(40) of the
	// 60 s axis: 56 + 20/60 × 808 = 325.3, width 20/60 × 808 = 269.3.
	if n := strings.Count(string(page), `<rect class="fi" x="325.3" y="14.0" width="269.3"`); n != charts || charts == 0 {
		t.Fatalf("%d fault intervals on %d charts", n, charts)
	}
	if !strings.Contains(string(page), "0:20.000 – 0:40.000") {
		t.Fatal("the faults table lacks the interval")
	}
}
