// Package ratelimit is the token bucket that bounds what peers and relays
// may send: a rate per second on average and a burst at once.
package ratelimit

import (
	"math"
	"time"
)

// Bucket allows rate units per second on average and burst at once. It is
// not safe for concurrent use: its owner guards it.
type Bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// New returns a full bucket.
func New(rate float64, burst int) Bucket {
	return Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *Bucket) refill(now time.Time) {
	if !b.last.IsZero() {
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		}
	}
	b.last = now
}

// Allow takes one token at now, reporting whether there was one.
func (b *Bucket) Allow(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Ready reports whether some budget is left at now (the bucket may be in
// debt after Charge).
func (b *Bucket) Ready(now time.Time) bool {
	b.refill(now)
	return b.tokens > 0
}

// Charge takes n units at now; the bucket may go into debt, which later
// refills pay back.
func (b *Bucket) Charge(now time.Time, n float64) {
	b.refill(now)
	b.tokens -= n
}

// ReadyAt returns when Ready will next be true (now if it is).
func (b *Bucket) ReadyAt(now time.Time) time.Time {
	b.refill(now)
	if b.tokens > 0 {
		return now
	}
	if b.rate <= 0 {
		return now.Add(time.Hour)
	}
	wait := (-b.tokens + 1e-9) / b.rate
	return now.Add(time.Duration(math.Ceil(wait * float64(time.Second))))
}

// Tokens returns the units left at now (negative in debt).
func (b *Bucket) Tokens(now time.Time) float64 {
	b.refill(now)
	return b.tokens
}
