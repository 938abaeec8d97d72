package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcpsim/mcpsim/pkg/cluster"
)

func TestLiveLineFitsTheTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, tty: true, width: 40, every: time.Second}
	p.update("a-scenario-with-a-long-name", cluster.Status{T: 5 * time.Second, Duration: 10 * time.Minute, Ready: 3, Desired: 5, RPS: 100, Faults: []string{"kill-one"}})
	out := b.String()
	line := strings.TrimPrefix(out, "\r\033[K")
	if line == out || utf8.RuneCountInString(line) >= 40 {
		t.Fatalf("live line %q (%d columns) does not fit 40", line, utf8.RuneCountInString(line))
	}
}

func TestQuietAndPlainProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true)
	p.update("s", cluster.Status{T: 30 * time.Second, Duration: time.Minute})
	if b.Len() != 0 {
		t.Fatalf("--quiet printed %q", b.String())
	}
	p = newProgress(&b, false) // not a terminal: plain lines, no escapes
	p.update("s", cluster.Status{T: 30 * time.Second, Duration: time.Minute})
	if strings.ContainsRune(b.String(), 0x1b) || !strings.HasSuffix(b.String(), "\n") {
		t.Fatalf("plain progress %q", b.String())
	}
}
