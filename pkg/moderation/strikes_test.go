package moderation

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestLedger(cfg LedgerConfig) (*Ledger, *fakeClock) {
	clock := &fakeClock{now: testNow}
	cfg.Clock = clock.Now
	return NewLedger(cfg), clock
}

func TestLedgerDefaults(t *testing.T) {
	c := NewLedger(LedgerConfig{}).Config()
	if c.Threshold != 5 || c.Window != 10*time.Minute || c.BanDuration != 15*time.Minute || c.MaxSubjects != 10000 || c.Clock == nil {
		t.Errorf("defaults %+v", c)
	}
}

func TestLedgerThresholdAndBan(t *testing.T) {
	l, clock := newTestLedger(LedgerConfig{})
	peer := PeerSubject("p1")
	for i := 1; i <= 4; i++ {
		if l.Strike(peer, fmt.Sprintf("bad record %d", i)) {
			t.Fatalf("banned after %d strikes", i)
		}
		clock.Advance(time.Second)
	}
	if got := l.Strikes(peer); len(got) != 4 || got[0].Reason != "bad record 1" || !got[0].At.Equal(testNow) {
		t.Fatalf("Strikes = %+v", got)
	}
	if banned, _ := l.Banned(peer); banned {
		t.Fatal("banned before the threshold")
	}
	if !l.Strike(peer, "flood") {
		t.Fatal("not banned at the fifth strike")
	}
	banned, until := l.Banned(peer)
	wantUntil := testNow.Add(4*time.Second + 15*time.Minute)
	if !banned || !until.Equal(wantUntil) {
		t.Fatalf("Banned = %v, %v; want true, %v", banned, until, wantUntil)
	}
	st := l.Status(peer)
	if st.Bans != 1 || st.BanReason != "flood" || len(st.Strikes) != 0 || !st.BannedUntil.Equal(wantUntil) {
		t.Errorf("Status = %+v", st)
	}
	if banned, _ := l.Banned(PeerSubject("p2")); banned {
		t.Error("an unknown subject is banned")
	}

	// Strikes during a ban keep it banned and count for afterwards.
	clock.Advance(6 * time.Minute)
	if !l.Strike(peer, "while banned") {
		t.Error("Strike during a ban returned false")
	}
	clock.Advance(9 * time.Minute)
	if banned, _ := l.Banned(peer); banned {
		t.Fatal("still banned after the ban duration")
	}
	if st := l.Status(peer); !st.BannedUntil.IsZero() || len(st.Strikes) != 1 {
		t.Errorf("after the ban: %+v", st)
	}
}

func TestLedgerWindow(t *testing.T) {
	l, clock := newTestLedger(LedgerConfig{Threshold: 3, Window: time.Minute, BanDuration: time.Hour})
	key := "key:abc"
	l.Strike(key, "a")
	clock.Advance(40 * time.Second)
	l.Strike(key, "b")
	clock.Advance(30 * time.Second) // "a" is now 70 s old
	if l.Strike(key, "c") {
		t.Fatal("a strike outside the window counted")
	}
	if got := l.Strikes(key); len(got) != 2 || got[0].Reason != "b" {
		t.Fatalf("Strikes = %+v, want b and c", got)
	}
	clock.Advance(10 * time.Second)
	if !l.Strike(key, "d") {
		t.Fatal("three strikes within the window did not ban")
	}
	if _, until := l.Banned(key); !until.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("ban until %v", until)
	}
	clock.Advance(2 * time.Minute)
	if banned, _ := l.Banned(key); !banned {
		t.Error("ban ended early")
	}
	l.Forgive(key)
	if banned, _ := l.Banned(key); banned || len(l.Strikes(key)) != 0 || l.Len() != 0 {
		t.Error("Forgive did not clear the subject")
	}
}

func TestLedgerBoundedMemory(t *testing.T) {
	l, clock := newTestLedger(LedgerConfig{Threshold: 2, MaxSubjects: 3})
	l.Strike("banned", "x")
	l.Strike("banned", "y") // banned, and the least recently struck
	clock.Advance(time.Second)
	l.Strike("a", "x")
	l.Strike("b", "x")
	l.Strike("c", "x") // full: evicts "a", the oldest subject that is not banned
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	if banned, _ := l.Banned("banned"); !banned {
		t.Error("a banned subject was evicted before others")
	}
	if len(l.Strikes("a")) != 0 || len(l.Strikes("b")) != 1 {
		t.Error("the wrong subject was evicted")
	}
	// All banned: the least recently struck goes.
	l2, _ := newTestLedger(LedgerConfig{Threshold: 1, MaxSubjects: 2})
	l2.Strike("first", "x")
	l2.Strike("second", "x")
	l2.Strike("third", "x")
	if banned, _ := l2.Banned("first"); banned || l2.Len() != 2 {
		t.Error("eviction among banned subjects did not drop the oldest")
	}
	// Strikes per subject stay bounded.
	l3, _ := newTestLedger(LedgerConfig{Threshold: 3})
	for range 100 {
		l3.Strike("s", "x")
	}
	if n := len(l3.Strikes("s")); n > 3 {
		t.Errorf("%d strikes kept, want at most the threshold", n)
	}
}

func TestLedgerConcurrent(t *testing.T) {
	l, _ := newTestLedger(LedgerConfig{Threshold: 1000, MaxSubjects: 50})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := fmt.Sprintf("peer-%d", (i*7+w)%80)
				l.Strike(s, "x")
				l.Banned(s)
				l.Status(s)
			}
		})
	}
	wg.Wait()
	if l.Len() > 50 {
		t.Errorf("%d subjects tracked, cap 50", l.Len())
	}
}

func TestSubjects(t *testing.T) {
	a := newAuthor(t)
	if PeerSubject("x") == KeySubject(a.pk()) || KeySubject(a.pk()) != "key:"+a.pk().Hex() || PeerSubject("x") != "peer:x" {
		t.Error("subject names")
	}
}
