package reference

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestBurnSpendsTheCPUItIsAsked: burn counts the CPU time of its own
// slices; it returns once it has spent what was asked, overshooting by
// at most a few hashes (the clock is read every hashesPerCheck of them,
// a few microseconds), and the process has spent at least that much.
func TestBurnSpendsTheCPUItIsAsked(t *testing.T) {
	const d = 30 * time.Millisecond
	before, err := processCPU()
	if err != nil {
		t.Fatal(err)
	}
	spent, err := burn(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if spent < d || spent > d+time.Millisecond {
		t.Fatalf("burn(%s) spent %s", d, spent)
	}
	after, err := processCPU()
	if err != nil {
		t.Fatal(err)
	}
	if used := after - before; used < d {
		t.Fatalf("burn(%s) says %s, the process used %s", d, spent, used)
	}
}

// TestBurnYieldsBetweenSlices: on one processor, a goroutine that yields
// in a loop runs between every two of burn's slices (burnSlice, 50us of
// CPU): 20ms of burning lets it run about 20ms / 50us = 400 times. Burned
// whole, as Go schedules a goroutine that never yields, it would run only
// when the runtime preempts the burner, every 10ms: a couple of times. A
// probe behind the requests of an overloaded pod is that goroutine.
func TestBurnYieldsBetweenSlices(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var turns atomic.Int64
	var done atomic.Bool
	started := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		close(started)
		for !done.Load() {
			turns.Add(1)
			runtime.Gosched()
		}
	}()
	<-started
	turns.Store(0)
	if _, err := burn(context.Background(), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	n := turns.Load()
	done.Store(true)
	<-finished
	if n < 100 {
		t.Fatalf("the other goroutine ran %d times during 20ms of burning, want about 400 (one turn per 50us slice)", n)
	}
}
