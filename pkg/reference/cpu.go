package reference

import (
	"context"
	"crypto/sha256"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// BurnCPU spends d of CPU time (not wall time) on the calling thread, as
// the simulator's processor-sharing model charges a request: on a busy pod
// the request takes longer in wall time, exactly as in the sim. It stops
// early, returning ctx's error, when ctx is done (the client went away).
func BurnCPU(ctx context.Context, d time.Duration) error {
	_, err := burn(ctx, d)
	return err
}

// burn is BurnCPU that also says how much CPU it spent.
func burn(ctx context.Context, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, ctx.Err()
	}
	// Thread CPU time is only meaningful while the goroutine stays on one
	// thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, err := threadCPU()
	if err != nil {
		return burnWall(ctx, d)
	}
	var sum [32]byte
	for {
		for i := 0; i < 64; i++ {
			sum = sha256.Sum256(sum[:])
		}
		now, err := threadCPU()
		if err != nil {
			return d, nil
		}
		if err := ctx.Err(); err != nil {
			return now - start, err
		}
		if now-start >= d {
			return now - start, nil
		}
	}
}

func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// burnWall is the fallback where the thread CPU clock is missing.
func burnWall(ctx context.Context, d time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	var sum [32]byte
	for time.Now().Before(deadline) {
		for i := 0; i < 64; i++ {
			sum = sha256.Sum256(sum[:])
		}
		if err := ctx.Err(); err != nil {
			return time.Since(start), err
		}
	}
	return time.Since(start), nil
}
