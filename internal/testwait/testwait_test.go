package testwait

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records a failure instead of ending the goroutine.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Fatal(args ...any) { f.failed = args[0].(string) }

func TestFor(t *testing.T) {
	var calls atomic.Int32
	tests := []struct {
		name    string
		cond    func() bool
		state   func() string
		timeout time.Duration
		wantErr string // "" when the wait succeeds
	}{
		{"already true", func() bool { return true }, nil, time.Second, ""},
		{"true on the third poll", func() bool { return calls.Add(1) >= 3 }, nil, time.Second, ""},
		{"never", func() bool { return false }, nil, 20 * time.Millisecond, "timed out after 20ms waiting for the thing"},
		{"never, with state", func() bool { return false }, func() string { return "2 of 3 peers" }, 10 * time.Millisecond, "timed out after 10ms waiting for the thing: 2 of 3 peers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			start := time.Now()
			ForState(f, "the thing", tc.timeout, tc.cond, tc.state)
			if f.failed != tc.wantErr {
				t.Errorf("failure %q, want %q", f.failed, tc.wantErr)
			}
			if tc.wantErr != "" && time.Since(start) < tc.timeout {
				t.Errorf("gave up after %v, before the %v timeout", time.Since(start), tc.timeout)
			}
		})
	}
}

func TestPoll(t *testing.T) {
	if Poll(5*time.Millisecond, func() bool { return false }) {
		t.Error("Poll of a condition that never holds returned true")
	}
	n := 0
	if !Poll(time.Second, func() bool { n++; return n == 5 }) || n != 5 {
		t.Errorf("Poll stopped after %d calls, want 5", n)
	}
}
