package reference

import (
	"context"
	"crypto/sha256"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// burnSlice is the CPU a request burns before it lets the next runnable
// goroutine have the processor: the quantum of the service's processor
// sharing. The sim shares a pod's CPU among its requests continuously, so
// a probe (about 50us of CPU) behind N requests takes (N+1) x 50us of the
// pod's CPU; round robin in slices of 50us gives the same. Go's own
// scheduler would let a burning goroutine run 10ms before it preempts it,
// and in a 125m CFS quota 10ms of CPU is 80ms of wall time per request
// ahead: a probe behind 15 requests would already miss a 1s timeout.
const burnSlice = 50 * time.Microsecond

// hashesPerCheck is how many SHA-256 blocks are hashed between two reads
// of the thread's CPU clock (a system call): a few microseconds of work.
const hashesPerCheck = 8

// burn spends d of CPU time (not wall time), as the simulator's
// processor-sharing model charges a request: on a busy pod the request
// takes longer in wall time, exactly as in the sim. It stops early,
// returning ctx's error, when ctx is done (the client went away), and
// says how much CPU it spent.
//
// Each slice runs locked to its thread, so that the thread's CPU clock
// counts this request alone: a goroutine preempted inside a slice (a CFS
// quota throttles the thread, Go's sysmon sees it run for 10ms and
// preempts it) keeps its thread, and no other goroutine's CPU enters the
// difference. Between slices the goroutine is unlocked and yields: a
// goroutine locked for its whole request (as this was once) ties up one
// OS thread per request in flight, thousands in an overload, and every
// switch between them is a thread hand-off.
func burn(ctx context.Context, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, ctx.Err()
	}
	var spent time.Duration
	var sum [32]byte
	for {
		slice := min(burnSlice, d-spent)
		runtime.LockOSThread()
		start, err := threadCPU()
		if err != nil {
			runtime.UnlockOSThread()
			w, err := burnWall(ctx, d-spent)
			return spent + w, err
		}
		now := start
		for now-start < slice {
			for i := 0; i < hashesPerCheck; i++ {
				sum = sha256.Sum256(sum[:])
			}
			if now, err = threadCPU(); err != nil {
				now = start + slice
			}
		}
		runtime.UnlockOSThread()
		spent += now - start
		if spent >= d {
			return spent, nil
		}
		if err := ctx.Err(); err != nil {
			return spent, err
		}
		runtime.Gosched()
	}
}

func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// burnWall is the fallback where the thread CPU clock is missing: wall
// time, in the same slices.
func burnWall(ctx context.Context, d time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	var sum [32]byte
	for time.Now().Before(deadline) {
		for i := 0; i < hashesPerCheck; i++ {
			sum = sha256.Sum256(sum[:])
		}
		if err := ctx.Err(); err != nil {
			return time.Since(start), err
		}
		runtime.Gosched()
	}
	return time.Since(start), nil
}
