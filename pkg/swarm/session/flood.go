package session

import (
	"math"
	"time"
)

// tokenBucket allows rate units per second on average and burst at once. It
// is not safe for concurrent use: its owner guards it.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) refill(now time.Time) {
	if !b.last.IsZero() {
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		}
	}
	b.last = now
}

// allow takes one token at now, reporting whether there was one.
func (b *tokenBucket) allow(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ready reports whether some budget is left at now (the bucket may be in
// debt after charge).
func (b *tokenBucket) ready(now time.Time) bool {
	b.refill(now)
	return b.tokens > 0
}

// charge takes n units at now; the bucket may go into debt, which later
// refills pay back.
func (b *tokenBucket) charge(now time.Time, n float64) {
	b.refill(now)
	b.tokens -= n
}

// readyAt returns when ready will next be true (now if it is).
func (b *tokenBucket) readyAt(now time.Time) time.Time {
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
