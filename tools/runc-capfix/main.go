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

// filterSpec drops from an OCI spec's process capabilities (or, for the
// process file of `runc exec`, from the process's own) every name not in
// allowed. It reports whether anything changed.
func filterSpec(spec map[string]any, allowed map[string]bool) bool {
	proc, ok := spec["process"].(map[string]any)
	if !ok {
		proc = spec // a process.json of runc exec
	}
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

// specFile finds the file holding the capabilities runc will apply: the
// bundle's config.json for create and run (--bundle/-b, or the working
// directory), the --process/-p file for exec.
func specFile(args []string) (string, bool) {
	cmd := ""
	for i, a := range args {
		switch {
		case cmd == "" && (a == "create" || a == "run" || a == "exec"):
			cmd = a
		case cmd == "exec" && (a == "--process" || a == "-p") && i+1 < len(args):
			return args[i+1], true
		case cmd == "exec" && strings.HasPrefix(a, "--process="):
			return strings.TrimPrefix(a, "--process="), true
		case cmd != "" && cmd != "exec" && (a == "--bundle" || a == "-b") && i+1 < len(args):
			return filepath.Join(args[i+1], "config.json"), true
		case cmd != "" && cmd != "exec" && strings.HasPrefix(a, "--bundle="):
			return filepath.Join(strings.TrimPrefix(a, "--bundle="), "config.json"), true
		}
	}
	if cmd == "create" || cmd == "run" {
		wd, err := os.Getwd()
		return filepath.Join(wd, "config.json"), err == nil
	}
	return "", false
}

func fix(path string) error {
	mask, err := readBounding()
	if err != nil {
		return err
	}
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
	if path, ok := specFile(os.Args[1:]); ok {
		if err := fix(path); err != nil {
			fmt.Fprintln(os.Stderr, "runc-capfix:", err)
		}
	}
	if err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ()); err != nil {
		fmt.Fprintln(os.Stderr, "runc-capfix:", err)
		os.Exit(1)
	}
}
