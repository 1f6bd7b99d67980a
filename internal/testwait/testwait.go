// Package testwait is the one polling helper of the Go tests: wait until a
// condition holds, with a deadline, and fail the test naming what was awaited
// (and, with [ForState], the state last seen). Tests wait for what they expect
// instead of sleeping a fixed time.
package testwait

import (
	"testing"
	"time"
)

// For polls cond until it returns true and fails the test with "timed out
// after <timeout> waiting for <what>" if it has not by then. It polls often at
// first (1 ms) and backs off to every 50 ms, so quick conditions end quickly
// and slow ones do not spin.
func For(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	ForState(t, what, timeout, cond, nil)
}

// ForState is For with a description of the state, called once on failure
// and appended to the message (e.g. the records and roots each peer holds).
func ForState(t testing.TB, what string, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	if !Poll(timeout, cond) {
		msg := "timed out after " + timeout.String() + " waiting for " + what
		if state != nil {
			msg += ": " + state()
		}
		t.Fatal(msg)
	}
}

// Poll polls cond as For does and reports whether it held before the
// timeout, for callers that handle a timeout themselves.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, 50*time.Millisecond)
	}
	return true
}
