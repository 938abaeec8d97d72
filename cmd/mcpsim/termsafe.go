package main

import (
	"fmt"
	"strings"
	"unicode"
)

// termSafe makes text that came from a scenario file (names, descriptions,
// and messages that quote them) harmless on a terminal: control
// characters, ANSI escape sequences among them, are shown as \xNN or \uNNNN
// instead of being interpreted. Line breaks and tabs stay.
func termSafe(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !isControl(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// isControl: C0 and C1 controls, DEL, and the bidirectional overrides that
// can make text display in another order than it reads.
func isControl(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
