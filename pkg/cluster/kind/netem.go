package kind

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// NetemMissing says why NetworkChaos delay, loss, duplicate and corrupt
// cannot work on this machine's kind clusters, or "" if they can (or it
// cannot tell). Chaos Mesh builds them on tc's netem queueing
// discipline, and kind's nodes share the host's kernel: a kernel built
// without it (CONFIG_NET_SCH_NETEM unset, as on the machine this was
// written on) makes chaos-daemon fail with "unable to set tcs".
func NetemMissing() string {
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return netemMissing(strings.TrimSpace(string(release)), "/")
}

// netemMissing reads the kernel's configuration under root: a loaded or
// loadable module or a built-in netem is there; "not set" is missing.
func netemMissing(release, root string) string {
	if _, err := os.Stat(filepath.Join(root, "sys/module/sch_netem")); err == nil {
		return ""
	}
	value, source := kernelConfig(release, root, "CONFIG_NET_SCH_NETEM")
	switch value {
	case "y":
		return ""
	case "m":
		mods, _ := filepath.Glob(filepath.Join(root, "lib/modules", release, "kernel/net/sched/sch_netem.ko*"))
		if len(mods) > 0 {
			return ""
		}
		return fmt.Sprintf("this host's kernel (%s) has netem as a module (%s) but no sch_netem module is installed", release, source)
	case "not set":
		return fmt.Sprintf("this host's kernel (%s) has no netem queueing discipline (CONFIG_NET_SCH_NETEM is not set in %s)", release, source)
	}
	return ""
}

// kernelConfig finds a kernel option in /proc/config.gz or
// /boot/config-RELEASE: "y", "m", "not set", or "" when neither says.
func kernelConfig(release, root, option string) (value, source string) {
	for _, src := range []string{"proc/config.gz", "boot/config-" + release} {
		f, err := os.Open(filepath.Join(root, src))
		if err != nil {
			continue
		}
		var r io.Reader = f
		if strings.HasSuffix(src, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			r = gz
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, option+"="):
				f.Close()
				return strings.TrimPrefix(line, option+"="), "/" + src
			case line == "# "+option+" is not set":
				f.Close()
				return "not set", "/" + src
			}
		}
		f.Close()
	}
	return "", ""
}
