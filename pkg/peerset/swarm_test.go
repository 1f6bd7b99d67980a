//go:build !js

package peerset

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// netPeer is a DB joined to a loopback swarm.
type netPeer struct {
	*DB
	name string
}

func testJoinOptions(trackerURL string) JoinOptions {
	return JoinOptions{
		Trackers:           []string{trackerURL},
		ICEServers:         []webrtc.ICEServer{},
		LoopbackCandidates: true,
		Swarm: &swarm.Config{
			AnnounceSteady:      time.Second, // the local tracker is ours: announce often
			TrackerReconnectMin: 100 * time.Millisecond,
			TrackerReconnectMax: time.Second,
		},
		Session: session.Config{IdleRootInterval: 2 * time.Second, RootDebounce: 50 * time.Millisecond},
	}
}

func openNetPeer(t *testing.T, name string, st store.Store, room string) *netPeer {
	t.Helper()
	open := moderation.PresetOpen()
	if st == nil {
		st = store.NewMemory()
	}
	db, err := Open(context.Background(), Config{Room: room, Store: st, Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &netPeer{DB: db, name: name}
}

func fill(t *testing.T, p *netPeer, n int) {
	t.Helper()
	for i := range n {
		if _, err := p.Put(context.Background(), record.Draft{Text: fmt.Sprintf("%s record %d", p.name, i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitConverged waits until every peer holds want records and one root.
func waitConverged(t *testing.T, timeout time.Duration, want int, peers ...*netPeer) {
	t.Helper()
	testwait.ForState(t, fmt.Sprintf("%d records and one root at every peer", want), timeout, func() bool {
		root := peers[0].Root()
		for _, p := range peers {
			if p.Stats().Records != want || p.Root() != root {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for _, p := range peers {
			fmt.Fprintf(&b, "\n%s: %+v sessions=%d", p.name, p.Stats(), len(p.Sessions()))
		}
		return b.String()
	})
}

// Acceptance 1: three native peers, 200 records each made before joining,
// converge to 600 records and one root; a record put afterwards reaches the
// other two.
func TestThreePeersConverge(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	var peers []*netPeer
	for _, name := range []string{"a", "b", "c"} {
		p := openNetPeer(t, name, nil, "three")
		fill(t, p, 200)
		peers = append(peers, p)
	}
	start := time.Now()
	for _, p := range peers {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 90*time.Second, 600, peers...)
	t.Logf("600 records converged in %v", time.Since(start).Round(time.Millisecond))
	// SyncProgress reports the catch-up as done, with both others, once
	// records stop arriving (each peer stored 400 from them).
	for _, p := range peers {
		var sp SyncProgress
		testwait.ForState(t, p.name+"'s catch-up to be done", 30*time.Second, func() bool {
			sp = p.SyncProgress()
			return sp.Done && sp.Peers == 2 && sp.Progress == 1 && sp.Pending == 0
		}, func() string { return fmt.Sprintf("%+v", sp) })
		if sp.RecordsIn == 0 || sp.RecordsIn > 400 {
			t.Errorf("%s: %d records stored from peers, want 1 to 400 (some may arrive over a session that closed since)", p.name, sp.RecordsIn)
		}
	}
	// Every peer measured a round-trip time to the others (a ping on connect).
	for _, p := range peers {
		for _, s := range p.Sessions() {
			testwait.For(t, p.name+"'s RTT to "+s.PeerID, 10*time.Second, func() bool { return p.PeerRTT(s.PeerID) > 0 })
		}
	}

	r, err := peers[0].Put(ctx, record.Draft{Text: "late news"})
	if err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 30*time.Second, 601, peers...)
	for _, p := range peers[1:] {
		got, err := p.Get(ctx, r.UUID)
		if err != nil || got.Text != "late news" {
			t.Fatalf("%s: %v %+v", p.name, err, got)
		}
	}
}

// Acceptance 5 (part): a peer restarted on its bbolt store resyncs only
// the difference.
func TestRestartOnBoltResyncsOnlyTheDifference(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	a := openNetPeer(t, "a", nil, "restart")
	fill(t, a, 300)
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := openNetPeer(t, "b", st, "restart")
	for _, p := range []*netPeer{a, b} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 300, a, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	fill(t, a, 25) // written while b is away

	st, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b = openNetPeer(t, "b", st, "restart")
	if b.Stats().Records != 300 {
		t.Fatalf("b reopened with %d records, want its 300", b.Stats().Records)
	}
	if err := b.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 60*time.Second, 325, a, b)
	var in int
	for _, s := range b.Sessions() {
		in += s.RecordsIn
	}
	if in < 25 || in > 50 {
		t.Fatalf("b received %d records after its restart, want about the 25 it missed", in)
	}
}

// Acceptance 5 (part): the tracker killed and restarted → peers reconnect
// and a new peer still joins and converges.
func TestTrackerRestartNewPeerStillJoins(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "tracker-restart")
	b := openNetPeer(t, "b", nil, "tracker-restart")
	fill(t, a, 50)
	fill(t, b, 50)
	for _, p := range []*netPeer{a, b} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 100, a, b)
	trk.Restart()
	c := openNetPeer(t, "c", nil, "tracker-restart")
	fill(t, c, 50)
	if err := c.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 60*time.Second, 150, a, b, c)
	// c may have reached b through a while b's reconnect still waits out its
	// backoff: the trackers must come back, not necessarily before the sync.
	for _, p := range []*netPeer{a, b} {
		testwait.For(t, p.name+"'s tracker open again after the restart", 30*time.Second, func() bool {
			for _, tr := range p.Trackers() {
				if tr.State != swarm.TrackerOpen {
					return false
				}
			}
			return len(p.Trackers()) > 0
		})
	}
}

// Acceptance 5 (part): a peer killed mid-sync → the others carry on.
func TestPeerKilledMidSync(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "mid-sync")
	b := openNetPeer(t, "b", nil, "mid-sync")
	victim := openNetPeer(t, "victim", nil, "mid-sync")
	fill(t, a, 100)
	fill(t, b, 100)
	fill(t, victim, 400)
	// The victim leaves as soon as part of its records reached a or b.
	sent := make(chan struct{})
	var once sync.Once
	for _, p := range []*netPeer{a, b} {
		unsubscribe := p.Subscribe(func(c Change) {
			if c.Event.PubKey == victim.Key() {
				once.Do(func() { close(sent) })
			}
		})
		defer unsubscribe()
	}
	for _, p := range []*netPeer{a, b, victim} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-sent:
	case <-time.After(60 * time.Second):
		t.Fatal("the victim never sent a record")
	}
	t.Logf("victim closed when a held %d and b %d of the 600 records", a.Stats().Records, b.Stats().Records)
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	// a and b end with one set: their own 200 records plus whatever part of
	// the victim's 400 reached either of them.
	testwait.ForState(t, "a and b to converge after the victim left", 60*time.Second, func() bool {
		return a.Root() == b.Root() && a.Stats().Records >= 200
	}, func() string { return fmt.Sprintf("%+v / %+v", a.Stats(), b.Stats()) })
	// And they keep syncing new records.
	if _, err := a.Put(ctx, record.Draft{Text: "after the crash"}); err != nil {
		t.Fatal(err)
	}
	want := a.Stats().Records
	waitConverged(t, 30*time.Second, want, a, b)
}
