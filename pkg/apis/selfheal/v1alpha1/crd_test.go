package v1alpha1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/mcpsim/mcpsim/pkg/selfheal"
)

// The committed CRD is what controller-gen makes of the types now. The
// generator runs from the module cache (go run …@v0.18.0, as go generate
// does), so this needs no network once the module is cached.
func TestCRDIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", "sigs.k8s.io/controller-tools/cmd/controller-gen@v0.18.0",
		"crd:crdVersions=v1", "paths=.", "output:crd:artifacts:config="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "mcpsim.dev_selfhealpolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, crdYAML) {
		t.Fatal("crd/mcpsim.dev_selfhealpolicies.yaml is stale: run `go generate ./pkg/apis/...` (or `make generate`) and commit it")
	}
}

func TestCRDDecodes(t *testing.T) {
	crd, err := CRD()
	if err != nil {
		t.Fatal(err)
	}
	if crd.Name != "selfhealpolicies.mcpsim.dev" || crd.Spec.Group != GroupVersion.Group || len(crd.Spec.Versions) != 1 ||
		crd.Spec.Versions[0].Name != GroupVersion.Version || crd.Spec.Versions[0].Subresources == nil || crd.Spec.Versions[0].Subresources.Status == nil {
		t.Fatalf("unexpected CRD: %s %+v", crd.Name, crd.Spec.Versions)
	}
}

func TestEnginePolicyDefaults(t *testing.T) {
	spec := SelfHealPolicySpec{Subscriptions: []Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Restart}}}
	got := spec.EnginePolicy("p", "payment")
	want := selfheal.Policy{Name: "p", Target: "payment",
		HealthCheck:   selfheal.HealthCheck{Path: "/healthz", Interval: 5 * time.Second, Timeout: time.Second, FailureThreshold: 3},
		Subscriptions: []selfheal.Subscription{{Event: selfheal.InstanceDown, Action: selfheal.Restart, Timeout: 5 * time.Second, Retries: 3}},
		RateLimit:     selfheal.RateLimit{MaxConcurrent: 1, MinAvailable: 1}}
	if !equalPolicy(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if spec.HealthCheck != nil || spec.Subscriptions[0].Retries != nil {
		t.Fatal("EnginePolicy changed its receiver")
	}
	// Explicit zeroes stay zero (retries 0, minAvailable 0).
	spec.Subscriptions[0].Retries = ptr.To[int32](0)
	spec.RateLimit = &RateLimit{MinAvailable: ptr.To[int32](0)}
	got = spec.EnginePolicy("p", "payment")
	if got.Subscriptions[0].Retries != 0 || got.RateLimit.MinAvailable != 0 || got.RateLimit.MaxConcurrent != 1 {
		t.Fatalf("explicit zeroes: %+v", got)
	}
}

func equalPolicy(a, b selfheal.Policy) bool {
	if a.Name != b.Name || a.Target != b.Target || a.HealthCheck != b.HealthCheck || a.RateLimit != b.RateLimit || len(a.Subscriptions) != len(b.Subscriptions) {
		return false
	}
	for i := range a.Subscriptions {
		if a.Subscriptions[i] != b.Subscriptions[i] {
			return false
		}
	}
	return true
}
