package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeFiles(files map[string]string) func(string) error {
	return func(dir string) error {
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteSetReplacesTheWholeSet(t *testing.T) {
	out := t.TempDir()
	ctx := context.Background()
	if err := WriteSet(ctx, out, "s", writeFiles(map[string]string{"report.json": "1", "results.bin": "old"})); err != nil {
		t.Fatal(err)
	}
	if err := WriteSet(ctx, out, "s", writeFiles(map[string]string{"report.json": "2"})); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(out, "s")); strings.Join(got, ",") != "report.json" {
		t.Fatalf("files after the second run: %v (a stale results.bin must go)", got)
	}
	if got := listDir(t, out); strings.Join(got, ",") != "s" {
		t.Fatalf("left behind in the output directory: %v", got)
	}
	if info, _ := os.Stat(filepath.Join(out, "s")); info.Mode().Perm() != 0o755 {
		t.Fatalf("report directory mode %v, want 0755", info.Mode().Perm())
	}
}

func TestWriteSetCancelledChangesNothing(t *testing.T) {
	out := t.TempDir()
	if err := WriteSet(context.Background(), out, "s", writeFiles(map[string]string{"report.json": "old"})); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := WriteSet(ctx, out, "s", func(dir string) error {
		cancel() // Ctrl-C while the files are being written
		return writeFiles(map[string]string{"report.json": "new"})(dir)
	})
	if err == nil {
		t.Fatal("a cancelled write reported success")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "s", "report.json")); string(b) != "old" {
		t.Fatalf("report.json is %q after a cancelled run, want the old one", b)
	}
	if got := listDir(t, out); strings.Join(got, ",") != "s" {
		t.Fatalf("left behind: %v", got)
	}
}

// TestConcurrentRunsNeverMixSets: 16 runs write three files each into the
// same directory at once; the result is one run's three files.
func TestConcurrentRunsNeverMixSets(t *testing.T) {
	out := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprint(i)
			errs <- WriteSet(context.Background(), out, "s", writeFiles(map[string]string{"report.json": v, "junit.xml": v, "report.html": v}))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, f := range []string{"report.json", "junit.xml", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, "s", f))
		if err != nil {
			t.Fatal(err)
		}
		seen[string(b)] = true
	}
	if len(seen) != 1 {
		t.Fatalf("the set mixes runs: %v", seen)
	}
	if got := listDir(t, out); strings.Join(got, ",") != "s" {
		t.Fatalf("left behind: %v", got)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "a", "b")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	if err := CheckWritable(file); err == nil {
		t.Fatal("a file accepted as --out")
	}
	if got := listDir(t, filepath.Join(dir, "a", "b")); len(got) != 0 {
		t.Fatalf("the probe left %v", got)
	}
}
