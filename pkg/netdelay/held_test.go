package netdelay

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

type verdictRec struct{ id, verdict uint32 }

func releaseAll(d *delayer, now time.Time) []verdictRec {
	var got []verdictRec
	d.release(now, 1<<30, func(id, v uint32) { got = append(got, verdictRec{id, v}) })
	return got
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestDelayerFixedDelayKeepsOrder(t *testing.T) {
	d := newDelayer(Config{Latency: ms(10)})
	// One receive batch: three packets with the same arrival time, so the
	// same due time; they must leave in arrival order.
	for _, id := range []uint32{7, 3, 5} {
		d.admit(id, t0)
	}
	d.admit(9, t0.Add(ms(1)))
	if got := releaseAll(d, t0.Add(ms(9))); len(got) != 0 {
		t.Fatalf("released %v before their due time", got)
	}
	if due, ok := d.nextDue(); !ok || !due.Equal(t0.Add(ms(10))) {
		t.Fatalf("next due %v %v, want t0+10ms", due, ok)
	}
	got := releaseAll(d, t0.Add(ms(10)))
	want := []verdictRec{{7, verdictAccept}, {3, verdictAccept}, {5, verdictAccept}}
	if !slices.Equal(got, want) {
		t.Fatalf("released %v, want %v", got, want)
	}
	// Packet 9 was due at t0+11ms and goes at t0+14ms: 3 ms late.
	if got := releaseAll(d, t0.Add(ms(14))); !slices.Equal(got, []verdictRec{{9, verdictAccept}}) {
		t.Fatalf("released %v, want packet 9", got)
	}
	s := d.snapshot()
	// Lateness: 0, 0, 0 and 3 ms: mean 0.75 ms, max 3 ms.
	if s.Seen != 4 || s.Delayed != 4 || s.MaxHeld != 4 || s.MeanLateness != 750*time.Microsecond || s.MaxLateness != ms(3) {
		t.Errorf("stats %+v", s)
	}
	if _, ok := d.nextDue(); ok {
		t.Error("a packet is still held")
	}
}

func TestDelayerJitterReleasesInDueOrder(t *testing.T) {
	d := newDelayer(Config{Latency: ms(100), Jitter: ms(50), Seed: 2})
	for id := range uint32(200) {
		d.admit(id, t0.Add(time.Duration(id)*time.Microsecond))
	}
	var got []verdictRec
	var last time.Time
	for now := t0; now.Before(t0.Add(ms(200))); now = now.Add(100 * time.Microsecond) {
		due, ok := d.nextDue()
		if !ok {
			break
		}
		if due.Before(last) {
			t.Fatalf("due times went back: %v after %v", due, last)
		}
		last = due
		got = append(got, releaseAll(d, now)...)
	}
	if len(got) != 200 {
		t.Fatalf("released %d of 200", len(got))
	}
	reordered := 0
	for i := 1; i < len(got); i++ {
		if got[i].id < got[i-1].id {
			reordered++
		}
	}
	// Jitter 50 ms over arrivals 1 µs apart reorders nearly everything,
	// as netem's tfifo does.
	if reordered == 0 {
		t.Error("jitter reordered nothing")
	}
	if s := d.snapshot(); s.MaxLateness > 100*time.Microsecond {
		t.Errorf("lateness %v beyond the 100µs release step", s.MaxLateness)
	}
}

func TestDelayerDropsAtOnce(t *testing.T) {
	d := newDelayer(Config{Latency: time.Hour, Loss: 1})
	d.admit(1, t0)
	if got := releaseAll(d, t0); !slices.Equal(got, []verdictRec{{1, verdictDrop}}) {
		t.Fatalf("released %v, want an immediate NF_DROP of 1", got)
	}
	if s := d.snapshot(); s.Dropped != 1 || s.Delayed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestDelayerReleaseLimit(t *testing.T) {
	d := newDelayer(Config{})
	for id := range uint32(5) {
		d.admit(id, t0)
	}
	var got []verdictRec
	if n := d.release(t0, 2, func(id, v uint32) { got = append(got, verdictRec{id, v}) }); n != 2 || len(got) != 2 {
		t.Fatalf("released %d (%v), want 2", n, got)
	}
	if n := d.release(t0, 10, func(uint32, uint32) {}); n != 3 {
		t.Fatalf("released %d, want the other 3", n)
	}
}

func TestDelayerStopFlushesEverything(t *testing.T) {
	d := newDelayer(Config{Latency: time.Hour, Loss: 0.5, Seed: 9})
	for id := range uint32(100) {
		d.admit(id, t0)
	}
	dropped := len(releaseAll(d, t0)) // the drops go at once
	d.stop()
	d.admit(1000, t0) // arrived while stopping: accepted, not delayed or dropped
	got := releaseAll(d, t0.Add(time.Second))
	for _, r := range got {
		if r.verdict != verdictAccept {
			t.Fatalf("stopping gave %v", r)
		}
	}
	s := d.snapshot()
	if int(s.Dropped) != dropped || s.Flushed != uint64(len(got)) || s.Delayed != 0 || s.Seen != 101 {
		t.Errorf("stats %+v, dropped %d at once, flushed %d", s, dropped, len(got))
	}
	if s.Seen != s.Delayed+s.Dropped+s.Flushed {
		t.Errorf("seen %d != delayed+dropped+flushed", s.Seen)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Latency: ms(50), Jitter: ms(10), Correlation: 0.25, Loss: 0.1, LossCorrelation: 1, MaxLen: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"negative latency", func(c *Config) { c.Latency = -1 }, "latency -1ns is negative"},
		{"negative jitter", func(c *Config) { c.Jitter = -ms(1) }, "jitter -1ms is negative"},
		{"correlation above 1", func(c *Config) { c.Correlation = 25 }, "correlation 25 is not a fraction between 0 and 1"},
		{"negative loss", func(c *Config) { c.Loss = -0.1 }, "loss -0.1 is not a fraction"},
		{"NaN loss correlation", func(c *Config) { c.LossCorrelation = math.NaN() }, "loss correlation NaN"},
		{"zero max length", func(c *Config) { c.MaxLen = 0 }, "max length is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestStatsJSON(t *testing.T) {
	s := Stats{Seen: 10, Delayed: 6, Dropped: 3, Flushed: 1, MaxHeld: 4, MeanLateness: 50 * time.Microsecond, MaxLateness: 2 * time.Millisecond, VerdictErrors: 0}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seen":10,"delayed":6,"dropped":3,"flushed":1,"maxHeld":4,"verdictErrors":0,"meanLatenessSeconds":0.00005,"maxLatenessSeconds":0.002}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
}
