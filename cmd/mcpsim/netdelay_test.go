package main

import (
	"strings"
	"testing"
)

func TestNetdelayFlagValidation(t *testing.T) {
	ok := []string{"netdelay", "--queue", "3", "--latency", "50ms", "--max-runtime", "1m"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no queue", []string{"netdelay", "--max-runtime", "1m"}, "--queue is required"},
		{"no max runtime", []string{"netdelay", "--queue", "3"}, "--max-runtime must be above 0"},
		{"zero max runtime", append(ok, "--max-runtime", "0s"), "--max-runtime must be above 0"},
		{"negative latency", append(ok, "--latency", "-1ms"), "--latency -1ms and --jitter 0s must not be negative"},
		{"negative jitter", append(ok, "--jitter", "-5ms"), "must not be negative"},
		{"correlation above 100", append(ok, "--correlation", "150"), "--correlation 150: want a percentage from 0 to 100"},
		{"negative loss", append(ok, "--loss", "-1"), "--loss -1: want a percentage"},
		{"NaN loss correlation", append(ok, "--loss-correlation", "NaN"), "--loss-correlation NaN"},
		{"zero max length", append(ok, "--max-len", "0"), "--max-len must be above 0"},
		{"queue out of range", append(ok, "--queue", "70000"), "invalid argument \"70000\" for \"--queue\""},
		{"not a duration", append(ok, "--latency", "50"), "invalid argument \"50\" for \"--latency\""},
		{"unknown flag", append(ok, "--delay", "1s"), "unknown flag: --delay"},
		{"an argument", append(ok, "eth0"), "unknown command \"eth0\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to say %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing: it carries only the stats", stdout)
			}
		})
	}
}

func TestNetdelayIsHidden(t *testing.T) {
	_, stdout, _ := run(t, "--help")
	if strings.Contains(stdout, "netdelay") {
		t.Errorf("mcpsim --help lists netdelay:\n%s", stdout)
	}
	code, stdout, _ := run(t, "netdelay", "--help")
	for _, flag := range []string{"--queue", "--latency", "--jitter", "--correlation", "--loss", "--loss-correlation", "--max-len", "--max-runtime", "--seed"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("netdelay --help (exit %d) does not list %s", code, flag)
		}
	}
}
