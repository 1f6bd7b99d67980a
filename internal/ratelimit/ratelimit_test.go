package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	b := New(10, 3)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if !b.Allow(now) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if b.Allow(now) {
		t.Fatal("message past the burst allowed")
	}
	if !b.Allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("refilled token refused")
	}
	if b.Allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("second message in the same tenth of a second allowed")
	}
	for i := range 3 {
		if !b.Allow(now.Add(time.Hour)) {
			t.Fatalf("burst after a rest: message %d refused", i)
		}
	}
}
