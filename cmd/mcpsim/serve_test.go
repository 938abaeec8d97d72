package main

import (
	"strings"
	"testing"
	"time"
)

func TestServeSelfHealNeedsANamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "")
	code, _, stderr := run(t, "serve", "--role", "selfheal")
	if code != exitUsage || !strings.Contains(stderr, "--namespace") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// Without a cluster configuration the operator fails as infrastructure.
func TestServeSelfHealWithoutACluster(t *testing.T) {
	t.Setenv("KUBECONFIG", t.TempDir()+"/missing")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("HOME", t.TempDir())
	code, _, stderr := run(t, "serve", "--role", "selfheal", "--namespace", "demo", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	if code != exitInfra {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestDrawStartDelay: uniform in [min, max] from the draw given; nothing
// without flags; negative, inverted or over an hour is a usage error.
func TestDrawStartDelay(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	if d, err := drawStartDelay(2*time.Second, 5*time.Second, lowest); err != nil || d != 2*time.Second {
		t.Fatalf("lowest draw: %v %v", d, err)
	}
	if d, err := drawStartDelay(2*time.Second, 5*time.Second, highest); err != nil || d != 5*time.Second {
		t.Fatalf("highest draw: %v %v", d, err)
	}
	if d, err := drawStartDelay(0, 0, highest); err != nil || d != 0 {
		t.Fatalf("no delay: %v %v", d, err)
	}
	for _, c := range [][2]time.Duration{{-time.Second, time.Second}, {3 * time.Second, 2 * time.Second}, {0, 2 * time.Hour}} {
		if _, err := drawStartDelay(c[0], c[1], lowest); err == nil {
			t.Errorf("min %v max %v accepted", c[0], c[1])
		}
	}
}
