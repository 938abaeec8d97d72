//go:build chromium

// The pages of the built-in scenarios in a real browser (make test-html):
// Debian's chromium, installed by hack/chromium.sh when missing.

package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpsim/mcpsim/pkg/report"
	"github.com/mcpsim/mcpsim/scenarios"
)

func chromium(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("..", "..", "hack", "chromium.sh")).Output()
	if err != nil {
		t.Fatalf("hack/chromium.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// probeResult is what the probe page finds in the report's frame.
type probeResult struct {
	Width       int      `json:"width"`
	ScrollWidth int      `json:"scrollWidth"`
	Overflowing []string `json:"overflowing"`
	Resources   int      `json:"resources"`
}

// The report is shown in a frame of the wanted width (a headless window
// is at least 500 px wide, a frame can be narrower) and measured once
// everything is loaded: the frame's width, its document's scroll width,
// the elements (outside the SVG charts, which scale) whose right edge lies
// beyond it, and the resources the page loaded (it must load none).
const probePage = `<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" style="border:0;width:%dpx;height:900px" srcdoc="%s"></iframe>
<script>
addEventListener('load', () => {
  const f = document.getElementById('f'), d = f.contentDocument, w = f.contentWindow;
  const over = [];
  for (const e of d.querySelectorAll('body *')) {
    if (e.closest('svg')) continue;
    const r = e.getBoundingClientRect();
    if (r.right > w.innerWidth + 0.5) over.push(e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ends at ' + Math.round(r.right) + 'px: ' + e.textContent.slice(0, 40));
  }
  document.body.setAttribute('data-probe', JSON.stringify({width: w.innerWidth, scrollWidth: d.documentElement.scrollWidth,
    overflowing: over.slice(0, 10), resources: w.performance.getEntriesByType('resource').length}));
});
</script></body></html>`

var probeAttr = regexp.MustCompile(`data-probe="([^"]*)"`)

func probe(t *testing.T, bin string, page []byte, width int) (probeResult, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "probe.html")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(probePage, width, html.EscapeString(string(page)))), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		fmt.Sprintf("--window-size=%d,1000", width+100), "--dump-dom", "file://"+file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	m := probeAttr.FindSubmatch(out)
	if m == nil {
		t.Fatalf("the probe did not run:\n%s", stderr.String())
	}
	var res probeResult
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &res); err != nil {
		t.Fatal(err)
	}
	return res, stderr.String()
}

// TestPagesRenderInChromium renders each built-in's page (from its golden
// report) and the suite index at 1280 and 420 px: no horizontal overflow,
// no console message, nothing loaded.
func TestPagesRenderInChromium(t *testing.T) {
	bin := chromium(t)
	pages := map[string][]byte{}
	var reps []*report.Report
	for _, name := range scenarios.Names() {
		r, err := report.ReadFile(filepath.Join("testdata", "golden", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		page, err := r.HTML()
		if err != nil {
			t.Fatal(err)
		}
		pages[name], reps = page, append(reps, r)
	}
	index, err := report.SuiteHTML(reps)
	if err != nil {
		t.Fatal(err)
	}
	pages["index"] = index
	for name, page := range pages {
		for _, width := range []int{1280, 420} {
			t.Run(fmt.Sprintf("%s/%d", name, width), func(t *testing.T) {
				res, log := probe(t, bin, page, width)
				if res.Width != width {
					t.Fatalf("the frame is %d px wide, want %d", res.Width, width)
				}
				if res.ScrollWidth > width || len(res.Overflowing) > 0 {
					t.Errorf("horizontal overflow: the page is %d px wide in %d px; overflowing: %v", res.ScrollWidth, width, res.Overflowing)
				}
				if res.Resources != 0 {
					t.Errorf("the page loaded %d resources; it must load none", res.Resources)
				}
				for _, line := range strings.Split(log, "\n") {
					if strings.Contains(line, "CONSOLE") {
						t.Errorf("console: %s", line)
					}
				}
			})
		}
	}
}
