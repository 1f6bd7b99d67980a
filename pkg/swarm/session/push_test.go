package session

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestPushesFitTheReceiversInbox: when the peer that lacks records is the
// responder of the reconciliation, the initiator pushes them (what only it
// has) rather than waiting to be asked. A push must never be larger than
// what the receiver can queue before it handles it: a browser receives a
// whole push at network speed and ingests it far more slowly, and a push
// over its inbox was dropped as a flood (a strike), which stalled the first
// sync of a browser tab from a native peer for over a minute whenever the
// tab drew the responder's role. Here the receiver's inbox holds 8 of its
// records messages, a tenth of what it lacks: it must converge without a
// strike and without the initiator sending anything twice.
func TestPushesFitTheReceiversInbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2000
		pool := bubbleRecords(t, n)
		for attempt := 1; ; attempt++ {
			cfg := quickConfig()
			full := newNode(t, "full", cfg)
			small := cfg
			small.MaxBatchBytes = MinBatchBytes
			small.InboxBytes = 8 * MinBatchBytes
			empty := newNode(t, "empty", small)
			seed(t, full, pool)
			ab, _ := connect(t, full, empty, time.Millisecond)
			waitFor(t, "the handshake", func() bool {
				info, ok := empty.m.Session("full")
				return ok && info.State.Authenticated()
			})
			info, _ := empty.m.Session("full")
			if info.Initiator {
				// The roles follow the handshake nonces: try again until the
				// empty node is the responder, the case this test is about.
				if attempt == 20 {
					t.Fatal("the empty node was the initiator 20 times in a row")
				}
				ab.Close(nil)
				full.m.Close()
				empty.m.Close()
				continue
			}
			waitConverged(t, n, full, empty)
			info, _ = empty.m.Session("full")
			if info.Strikes != 0 {
				t.Fatalf("the receiver struck the pushing peer %d times: its pushes overflowed the inbox", info.Strikes)
			}
			if info.RecordsIn != n {
				t.Errorf("received %d records for %d missing: pushed twice", info.RecordsIn, n)
			}
			t.Logf("converged after %d attempts to draw the roles; %d bytes in %d messages", attempt, ab.bytesSent.Load(), ab.msgsSent.Load())
			return
		}
	})
}
