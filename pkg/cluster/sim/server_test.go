package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSecondsIsDurationSeconds: the server's accounting must not change by
// one bit for the shortcut (reports are byte-identical run to run and
// version to version).
func TestSecondsIsDurationSeconds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := []time.Duration{0, 1, time.Second - 1, time.Second, time.Second + 1, -1, math.MaxInt64, math.MinInt64}
	for range 100000 {
		ds = append(ds, time.Duration(rng.Int64N(int64(2*time.Second))), time.Duration(rng.Int64N(int64(time.Millisecond))))
	}
	for _, d := range ds {
		if got, want := seconds(d), d.Seconds(); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("seconds(%d) = %v, Duration.Seconds = %v", d, got, want)
		}
	}
}
