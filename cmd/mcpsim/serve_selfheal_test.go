package main

import (
	"strings"
	"testing"
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
