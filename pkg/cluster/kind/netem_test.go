package kind

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetemMissing reads a kernel's configuration as a host would have
// it: not set (missing, with where it says so), built in, a module that
// is installed or not, loaded, or nothing known (not refused).
func TestNetemMissing(t *testing.T) {
	const rel = "6.1.0-test"
	write := func(t *testing.T, root, path, content string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasSuffix(path, ".gz") {
			var b bytes.Buffer
			gz := gzip.NewWriter(&b)
			gz.Write(data)
			gz.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"not set", map[string]string{"proc/config.gz": "CONFIG_NET_SCH_HTB=y\n# CONFIG_NET_SCH_NETEM is not set\n"}, "no netem queueing discipline (CONFIG_NET_SCH_NETEM is not set in /proc/config.gz)"},
		{"built in", map[string]string{"proc/config.gz": "CONFIG_NET_SCH_NETEM=y\n"}, ""},
		{"module installed", map[string]string{"boot/config-" + rel: "CONFIG_NET_SCH_NETEM=m\n", "lib/modules/" + rel + "/kernel/net/sched/sch_netem.ko.xz": "x"}, ""},
		{"module missing", map[string]string{"boot/config-" + rel: "CONFIG_NET_SCH_NETEM=m\n"}, "no sch_netem module is installed"},
		{"module loaded", map[string]string{"proc/config.gz": "# CONFIG_NET_SCH_NETEM is not set\n", "sys/module/sch_netem/refcnt": "0"}, ""},
		{"nothing known", map[string]string{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, content := range c.files {
				write(t, root, p, content)
			}
			got := netemMissing(rel, root)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
