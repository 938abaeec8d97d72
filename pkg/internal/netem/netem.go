// Package netem is the arithmetic of Linux's netem qdisc
// (net/sched/sch_netem.c) for the two places that reproduce it: the sim's
// NetworkChaos (pkg/cluster/sim) and the delayer that stands in for netem
// on hosts without it (pkg/netdelay). One copy, so that a delay means the
// same on both backends.
package netem

import "time"

// Correlate is get_crandom: the next random number of a qdisc from a
// fresh uniform draw u and the previous result last, with correlation
// rho (a fraction). The kernel computes it in 32-bit fixed point as
// (u·(2³² − ρ) + last·ρ) / 2³²; here in floating point,
//
//	next = (1 − ρ)·u + ρ·last.
//
// The sequence keeps u's mean (1/2) but not its spread: its variance is
// (1 − ρ)/(1 + ρ) times u's, and successive numbers have correlation ρ.
// Its start, last, is itself a uniform draw (init_crandom).
func Correlate(u, last, rho float64) float64 { return (1-rho)*u + rho*last }

// Jitter is the delay of one packet for latency ± jitter given the
// qdisc's random number u in [0, 1): without a distribution table (Chaos
// Mesh's chaos daemon never passes one) tabledist returns
// ((rnd mod 2σ) + μ) − σ, a delay uniform over [μ − σ, μ + σ). A
// negative one means now, as a time to send in the past does in netem's
// tfifo.
func Jitter(latency, jitter time.Duration, u float64) time.Duration {
	return max(latency+time.Duration((2*u-1)*float64(jitter)), 0)
}

// Lost reports whether netem's loss drops the packet whose random number
// is u, for loss probability p: loss_event drops when the number falls
// below the probability, so u in [0, 1) drops exactly a p fraction and
// never at p = 0.
func Lost(u, p float64) bool { return u < p }
