// Command runc-capfix wraps runc for machines whose capability bounding set
// lacks some capabilities (here CAP_SYS_RESOURCE). Docker 20.10 (Debian
// bookworm's docker.io) asks for every capability for --privileged
// containers and runc then fails with "unable to apply caps"; newer Docker
// releases filter by the bounding set themselves. The wrapper removes, from
// the bundle's config.json, the capabilities the bounding set does not
// hold, then executes the real runc with the same arguments.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capNames are the Linux capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// bounding returns the names of the capabilities in a CapBnd mask.
func bounding(mask uint64) map[string]bool {
	out := map[string]bool{}
	for i, name := range capNames {
		if mask&(1<<uint(i)) != 0 {
			out[name] = true
		}
	}
	return out
}

func readBounding() (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapBnd in /proc/self/status")
}

// filterSpec drops from an OCI spec's process capabilities every name not
// in allowed. It reports whether anything changed.
func filterSpec(spec map[string]any, allowed map[string]bool) bool {
	proc, _ := spec["process"].(map[string]any)
	caps, _ := proc["capabilities"].(map[string]any)
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, _ := c.(string); allowed[name] {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(list) {
			caps[set], changed = kept, true
		}
	}
	return changed
}

// bundleDir finds the --bundle/-b argument of a create or run command.
func bundleDir(args []string) (string, bool) {
	cmd := false
	for i, a := range args {
		switch {
		case a == "create" || a == "run":
			cmd = true
		case cmd && (a == "--bundle" || a == "-b") && i+1 < len(args):
			return args[i+1], true
		case cmd && strings.HasPrefix(a, "--bundle="):
			return strings.TrimPrefix(a, "--bundle="), true
		}
	}
	if cmd {
		wd, err := os.Getwd()
		return wd, err == nil
	}
	return "", false
}

func fix(bundle string) error {
	mask, err := readBounding()
	if err != nil {
		return err
	}
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return err
	}
	if !filterSpec(spec, bounding(mask)) {
		return nil
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

func main() {
	real := os.Getenv("MCPSIM_REAL_RUNC")
	if real == "" {
		for _, p := range []string{"/usr/sbin/runc", "/usr/bin/runc"} {
			if _, err := os.Stat(p); err == nil {
				real = p
				break
			}
		}
	}
	if real == "" {
		fmt.Fprintln(os.Stderr, "runc-capfix: no runc found (set MCPSIM_REAL_RUNC)")
		os.Exit(1)
	}
	if bundle, ok := bundleDir(os.Args[1:]); ok {
		if err := fix(bundle); err != nil {
			fmt.Fprintln(os.Stderr, "runc-capfix:", err)
		}
	}
	if err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "runc-capfix:", err)
		os.Exit(1)
	}
}
