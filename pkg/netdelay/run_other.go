//go:build !linux

package netdelay

import (
	"context"
	"errors"
	"fmt"
)

// Run needs Linux's nfnetlink_queue; elsewhere it only validates c and
// says so.
func Run(ctx context.Context, c Config) (Stats, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, fmt.Errorf("netdelay: %w", err)
	}
	return Stats{}, fmt.Errorf("netdelay: %w: NFQUEUE is Linux-only", errors.ErrUnsupported)
}
