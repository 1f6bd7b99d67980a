//go:build !js

package swarm

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/wire"
)

// floodRoom is a started room with a password whose tracker cannot be
// reached: the offers of a test are fed to it as if a tracker forwarded
// them.
func floodRoom(t testing.TB) (*Room, *trackerClient) {
	t.Helper()
	r, err := NewRoom(Config{
		AppID:      "flood-test",
		Room:       "flood",
		Password:   "right",
		Trackers:   []string{"ws://127.0.0.1:1/announce"},
		ICEServers: nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, r.trackers[0]
}

// wrongPasswordOffer is a well-formed offer sealed with another password.
func wrongPasswordOffer(t testing.TB) string {
	t.Helper()
	sealed, err := wire.SealSDP(wire.SDPKey("wrong", "flood-test", "flood"), pionLikeOffer)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// floodID is the i-th of a flood's distinct 20-character ids.
func floodID(prefix byte, i int) string { return fmt.Sprintf("%c%019d", prefix, i) }

// maxSignalGoroutines bounds the goroutines a flood may add.
const maxSignalGoroutines = 16

func seenSignalCount(r *Room) int { return r.seen.len() }

// waitSignalsIdle waits until the room handled or dropped n signals.
func waitSignalsIdle(t *testing.T, r *Room, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for r.signalsHandled.Load()+r.signalsDropped.Load() < uint64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d signals handled, %d dropped", r.signalsHandled.Load(), n, r.signalsDropped.Load())
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d signals handled, %d dropped as the queue was full", r.signalsHandled.Load(), r.signalsDropped.Load())
}

func floodOffer(r *Room, sealed string, i int) *wire.ForwardedOffer {
	return &wire.ForwardedOffer{
		Action:   wire.TrackerActionAnnounce,
		Offer:    wire.SessionDescription{Type: wire.SDPTypeOffer, SDP: sealed},
		OfferID:  floodID('o', i),
		PeerID:   floodID('p', i),
		InfoHash: r.infoHash,
	}
}

// TestOfferFloodWithWrongPasswordIsLinear is the offer flood of the
// security review (H3): anyone who knows the app id and room name (enough
// for the info_hash) can have a tracker forward offers with fresh offer ids
// at line rate, without knowing the password. Handling one must cost the
// same whatever came before (10× more offers may cost at most 20× the
// CPU time of the handling thread: a complexity check, not a speed limit), the dedupe memory must stay
// within its cap, and the goroutines handling them must stay bounded.
func TestOfferFloodWithWrongPasswordIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 offers")
	}
	sealed := wrongPasswordOffer(t)
	checkLinear := func(what, sealed string) {
		t.Helper()
		wallSmall, small := handleFlood(t, sealed, 10_000)
		wallLarge, large := handleFlood(t, sealed, 100_000)
		ratio := float64(large) / float64(max(small, time.Microsecond))
		t.Logf("%s: 10,000 offers: %v of CPU (%v of wall time, %.0f/s); 100,000 offers: %v of CPU (%v, %.0f/s); ratio %.1f",
			what, small, wallSmall, 10_000/wallSmall.Seconds(), large, wallLarge, 100_000/wallLarge.Seconds(), ratio)
		if ratio > 20 {
			t.Errorf("%s: 10× more offers cost %.1f× the CPU time: not linear", what, ratio)
		}
	}
	checkLinear("sealed with another password", sealed)

	// Offers that open (in a room without a password anyone can seal them)
	// go through the dedupe, which stays within its cap, and are refused at
	// their fingerprint, still at constant cost.
	right, err := wire.SealSDP(wire.SDPKey("right", "flood-test", "flood"), strings.ReplaceAll(pionLikeOffer, "a=fingerprint:", "a=x-fp:"))
	if err != nil {
		t.Fatal(err)
	}
	checkLinear("sealed with the password, no fingerprint", right)

	// Through the tracker connection's dispatch, as fast as it can read:
	// the goroutines that handle offers stay bounded.
	r, tc := floodRoom(t)
	base := runtime.NumGoroutine()
	peak := base
	const n = 100_000
	for i := range n {
		data, err := wire.EncodeTrackerMessage(floodOffer(r, sealed, i))
		if err != nil {
			t.Fatal(err)
		}
		tc.dispatch(data)
		if i%64 == 0 {
			peak = max(peak, runtime.NumGoroutine())
		}
	}
	waitSignalsIdle(t, r, n)
	t.Logf("goroutines: %d before, peak %d", base, peak)
	if peak-base > maxSignalGoroutines {
		t.Errorf("%d goroutines above the %d at the start, cap %d", peak-base, base, maxSignalGoroutines)
	}
}

// handleFlood feeds n offers with distinct ids and the given sealed SDP to
// a fresh room's offer handler and returns the wall time taken and the cost
// to compare: the CPU time of the handling thread where it can be read
// (other processes' load barely moves it), else the wall time. Every offer
// must be refused (OnJoinError), and the dedupe must stay within its cap.
func handleFlood(t testing.TB, sealed string, n int) (wall, cost time.Duration) {
	t.Helper()
	r, tc := floodRoom(t)
	var mu sync.Mutex
	errs := 0
	r.OnJoinError(func(string, error) { mu.Lock(); errs++; mu.Unlock() })
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	start := time.Now()
	for i := range n {
		r.handleOffer(trackerRoute{tc}, floodOffer(r, sealed, i))
	}
	wall = time.Since(start)
	cost = wall
	if cpu1, ok := threadCPU(); ok && cpuOK {
		cost = cpu1 - cpu0
	}
	if seen := seenSignalCount(r); seen > maxSeenSignals {
		t.Errorf("%d offers: the dedupe holds %d entries, cap %d", n, seen, maxSeenSignals)
	}
	mu.Lock()
	defer mu.Unlock()
	if errs != n {
		t.Errorf("%d offers: %d join errors reported", n, errs)
	}
	return wall, cost
}

// BenchmarkOfferFloodWrongPassword reports how many forwarded offers sealed
// with another password a room handles per second, in floods of 10,000 and
// 100,000 offers.
func BenchmarkOfferFloodWrongPassword(b *testing.B) {
	sealed := wrongPasswordOffer(b)
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("offers=%d", n), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				wall, _ := handleFlood(b, sealed, n)
				total += wall
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "offers/s")
		})
	}
}
