package session

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

func TestSyncConverges(t *testing.T) {
	tests := []struct {
		name    string
		nodes   int
		each    int
		latency time.Duration
	}{
		{"two peers", 2, 200, 0},
		{"three peers", 3, 200, 0},
		{"three peers with latency", 3, 200, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pooledRecords(t, tt.nodes*tt.each)
			nodes := make([]*node, tt.nodes)
			for i := range nodes {
				nodes[i] = newNode(t, fmt.Sprintf("n%d", i), quickConfig())
				seed(t, nodes[i], pool[i*tt.each:(i+1)*tt.each])
			}
			for i := range nodes {
				for j := i + 1; j < len(nodes); j++ {
					connect(t, nodes[i], nodes[j], tt.latency)
				}
			}
			waitConverged(t, tt.nodes*tt.each, nodes...)
			for _, n := range nodes {
				for _, info := range n.m.Sessions() {
					if info.Strikes != 0 {
						t.Errorf("%s struck honest peer %s %d times", n.name, info.PeerID, info.Strikes)
					}
				}
			}
		})
	}
}

func TestSyncLaterRecordPropagates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := bubbleRecords(t, 100)
		a := newNode(t, "a", quickConfig())
		b := newNode(t, "b", quickConfig())
		c := newNode(t, "c", quickConfig())
		seed(t, a, pool[:50])
		seed(t, b, pool[50:])
		connect(t, a, b, 0)
		connect(t, b, c, 0) // a line: records reach c through b
		waitConverged(t, 100, a, b, c)

		key, _ := record.GenerateKey()
		// Fast path: stored locally, then pushed.
		e1, err := record.New(record.Draft{Text: "fresh"}, key, testRoom, record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		seed(t, a, []*record.Event{e1})
		a.m.Push(e1)
		waitConverged(t, 101, a, b, c)

		// Root announcement only.
		e2, err := record.New(record.Draft{Text: "fresher"}, key, testRoom, record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		seed(t, c, []*record.Event{e2})
		c.m.LocalChanged()
		waitConverged(t, 102, a, b, c)
		if a.replica.Event(e2.ID) == nil || c.replica.Event(e1.ID) == nil {
			t.Fatal("new records missing")
		}
	})
}

// TestSyncLarge: n common records, d/2 only on each side. It logs the traffic.
func TestSyncLarge(t *testing.T) {
	const n, d = 2000, 100
	pool := pooledRecords(t, n+d)
	for _, gran := range []merkle.Granularity{merkle.GranularityNone, merkle.GranularityDay} {
		t.Run(gran.String(), func(t *testing.T) {
			cfg := quickConfig()
			cfg.Granularity = gran
			a := newNode(t, "a", cfg)
			b := newNode(t, "b", cfg)
			seed(t, a, pool[:n+d/2])
			seed(t, b, pool[:n])
			seed(t, b, pool[n+d/2:])
			start := time.Now()
			ab, ba := connect(t, a, b, 0)
			waitConverged(t, n+d, a, b)
			elapsed := time.Since(start)
			ia, _ := a.m.Session("b")
			ib, _ := b.m.Session("a")
			initiator := ia
			if ib.Initiator {
				initiator = ib
			}
			waitFor(t, "both sessions idle", func() bool {
				ia, _ = a.m.Session("b")
				ib, _ = b.m.Session("a")
				return ia.State == StateIdle && ib.State == StateIdle
			})
			initiator = ia
			if ib.Initiator {
				initiator = ib
			}
			t.Logf("n=%d d=%d granularity=%s: a→b %d bytes in %d messages, b→a %d bytes in %d messages, %d reconciliations, %d rounds, %v (handshake included)",
				n, d, gran, ab.bytesSent.Load(), ab.msgsSent.Load(), ba.bytesSent.Load(), ba.msgsSent.Load(),
				initiator.Reconciliations, initiator.Rounds, elapsed.Round(time.Millisecond))
			t.Logf("  a→b by action: %s", ab.trafficByAction())
			t.Logf("  b→a by action: %s", ba.trafficByAction())
			waitFor(t, "missing ranges to clear", func() bool {
				ia, _ := a.m.Session("b")
				ib, _ := b.m.Session("a")
				return len(ia.MissingRanges) == 0 && len(ib.MissingRanges) == 0
			})
			if ia.RecordsStored+ib.RecordsStored != d {
				t.Errorf("stored %d+%d records, want %d in total", ia.RecordsStored, ib.RecordsStored, d)
			}
			if ia.RecordsIn+ib.RecordsIn != d {
				t.Errorf("received %d+%d records, want exactly %d (no duplicates)", ia.RecordsIn, ib.RecordsIn, d)
			}
			if initiator.LastSyncDuration <= 0 {
				t.Error("last sync duration not reported")
			}
		})
	}
}

func TestSyncSurvivesPeerClosingMidSync(t *testing.T) {
	pool := pooledRecords(t, 600)
	cfg := quickConfig()
	cfg.MaxBatchRecords = 10 // many small batches, so that the close lands mid-sync
	cfg.MaxWantIDs = 10
	cfg.MaxInFlightWants = 1
	a := newNode(t, "a", cfg)
	b := newNode(t, "b", cfg)
	c := newNode(t, "c", cfg)
	seed(t, a, pool)
	seed(t, c, pool)
	connect(t, b, a, 2*time.Millisecond)
	connect(t, b, c, 2*time.Millisecond)
	waitFor(t, "b to start receiving", func() bool {
		_, count := b.replica.Root()
		return count > 0
	})
	a.m.Close()
	if _, count := b.replica.Root(); count == len(pool) {
		t.Log("b finished before a closed; the close did not land mid-sync")
	}
	waitConverged(t, len(pool), b, c)
}

// TestSyncUnresponsivePeerDoesNotStall: a peer that reconciles but never
// answers wants. Its ids time out and are fetched from an honest peer.
func TestSyncUnresponsivePeerDoesNotStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := bubbleRecords(t, 120)
		cfg := quickConfig()
		cfg.WantTimeout = 300 * time.Millisecond
		cfg.WantRetries = 1
		b := newNode(t, "b", cfg)
		c := newNode(t, "c", quickConfig())
		seed(t, c, pool)

		// The silent peer holds the same set as c, answers reconciliation, and
		// ignores wants. b initiates.
		silentPeer(t, b, "silent", pool)
		waitFor(t, "b to ask the silent peer", func() bool {
			info, _ := b.m.Session("silent")
			return info.WantsInFlight > 0
		})
		connect(t, b, c, 0)
		waitConverged(t, len(pool), b, c)
		waitFor(t, "b's session with the silent peer to give up its wants", func() bool {
			info, _ := b.m.Session("silent")
			return info.WantsInFlight == 0 && info.Pending == 0
		})
	})
}

// TestSyncReplacementAndDeletion: two versions of one record and a deletion
// converge on the newest version and the tombstone.
func TestSyncReplacementAndDeletion(t *testing.T) {
	key, _ := record.GenerateKey()
	now := time.Now().Truncate(time.Second)
	uuid, _ := record.NewUUID()
	v1, err := record.New(record.Draft{UUID: uuid, Text: "version 1", CreatedAt: now.Add(-time.Minute)}, key, testRoom, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := record.New(record.Draft{UUID: uuid, Text: "version 2", CreatedAt: now}, key, testRoom, record.Limits{})
	gone, _ := record.New(record.Draft{Text: "to be deleted", CreatedAt: now.Add(-2 * time.Minute)}, key, testRoom, record.Limits{})
	goneRecord, _ := record.Parse(gone)
	del, err := record.NewDeletion(key, testRoom, goneRecord.UUID, now)
	if err != nil {
		t.Fatal(err)
	}
	a := newNode(t, "a", quickConfig())
	b := newNode(t, "b", quickConfig())
	seed(t, a, []*record.Event{v1, gone})
	seed(t, b, []*record.Event{v2, del})
	connect(t, a, b, 0)
	waitConverged(t, 2, a, b)
	for _, n := range []*node{a, b} {
		if n.replica.Event(v2.ID) == nil || n.replica.Event(del.ID) == nil {
			t.Fatalf("%s lacks the new version or the deletion", n.name)
		}
		if n.replica.Event(v1.ID) != nil || n.replica.Event(gone.ID) != nil {
			t.Fatalf("%s still holds a replaced or deleted record", n.name)
		}
	}
	// The settled sets stay settled: no endless re-sync over refused versions.
	waitFor(t, "idle sessions", func() bool {
		ia, _ := a.m.Session("b")
		ib, _ := b.m.Session("a")
		return ia.State == StateIdle && ib.State == StateIdle
	})
}

// silentPeer connects a raw peer holding events to n: it authenticates,
// announces its root, answers reconciliation as the responder (its nonce is all
// ones, so n initiates) and ignores every want.
func silentPeer(t *testing.T, n *node, id string, events []*record.Event) *pipeLink {
	t.Helper()
	r := newRawPeer(t, testRoom)
	for i := range r.nonce {
		r.nonce[i] = 0xff
	}
	tree := merkle.NewTree()
	for _, e := range events {
		if _, err := tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID}); err != nil {
			t.Fatal(err)
		}
	}
	link, err := r.dial(t, n, id)
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	send(t, link, ActionRoot, encodeRoot(rootMsg{Root: tree.Root(), Count: tree.Len()}))
	responder, err := merkle.NewResponder(tree, merkle.Options{FrameSizeLimit: DefaultFrameSizeLimit})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range r.in {
			if ev.detach != nil {
				return
			}
			if ev.action != ActionNeg {
				continue
			}
			msg, err := decodeNeg(ev.payload, DefaultFrameSizeLimit)
			if err != nil {
				continue
			}
			out, err := responder.Respond(msg.Msg)
			if err != nil {
				continue
			}
			_ = link.Send(context.Background(), ActionNegReply, encodeNeg(negMsg{SID: msg.SID, Msg: out}))
		}
	}()
	return link
}

// TestMissingRangesFollowGranularity: while records are outstanding, the
// session reports the day buckets they lie in.
func TestMissingRangesFollowGranularity(t *testing.T) {
	const day = 86400
	d0 := uint64(time.Now().Unix())/day - 10
	key, _ := record.GenerateKey()
	at := func(d uint64, hour int) *record.Event {
		e, err := record.New(record.Draft{Text: fmt.Sprint("day ", d, " hour ", hour), CreatedAt: time.Unix(int64(d*day)+int64(hour)*3600, 0)}, key, testRoom, record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	var shared []*record.Event
	for d := d0 - 1; d <= d0+4; d++ {
		shared = append(shared, at(d, 1))
	}
	extra := []*record.Event{at(d0, 3), at(d0+2, 3)}

	cfg := quickConfig()
	cfg.Granularity = merkle.GranularityDay
	cfg.WantTimeout = time.Minute // keep the wants outstanding
	n := newNode(t, "n", cfg)
	seed(t, n, shared)
	silentPeer(t, n, "silent", append(append([]*record.Event(nil), shared...), extra...))
	var info SessionInfo
	waitFor(t, "missing ranges", func() bool {
		info, _ = n.m.Session("silent")
		return info.WantsInFlight == len(extra) && len(info.MissingRanges) > 0
	})
	want := []merkle.TimeRange{{Start: d0 * day, End: (d0 + 1) * day}, {Start: (d0 + 2) * day, End: (d0 + 3) * day}}
	if fmt.Sprint(info.MissingRanges) != fmt.Sprint(want) {
		t.Fatalf("missing ranges %v, want %v", info.MissingRanges, want)
	}
	if info.State != StateSyncing {
		t.Fatalf("state %s, want syncing", info.State)
	}
}

// TestSyncWithoutNotification: a record stored without LocalChanged (the
// original's stale-root bug) still spreads, through the idle root announcement.
func TestSyncWithoutNotification(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := bubbleRecords(t, 21)
		cfg := quickConfig()
		cfg.IdleRootInterval = 200 * time.Millisecond
		a := newNode(t, "a", cfg)
		b := newNode(t, "b", cfg)
		seed(t, a, pool[:10])
		seed(t, b, pool[10:20])
		connect(t, a, b, 0)
		waitConverged(t, 20, a, b)
		seed(t, a, pool[20:])
		waitConverged(t, 21, a, b)
	})
}

// TestRootAnnouncementsAreDebounced: a burst of local changes costs one root.
func TestRootAnnouncementsAreDebounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.IdleRootInterval = time.Hour
		cfg.RootDebounce = 200 * time.Millisecond
		a := newNode(t, "a", cfg)
		b := newNode(t, "b", cfg)
		ab, _ := connect(t, a, b, 0)
		waitState(t, a, "b", StateIdle)
		before := ab.sent(ActionRoot)
		start := time.Now()
		for range 50 {
			a.m.LocalChanged()
		}
		waitFor(t, "the debounced root", func() bool { return ab.sent(ActionRoot) > before })
		// On the bubble's clock: the root went out once the debounce
		// interval had passed, not before it.
		if waited := time.Since(start); waited < cfg.RootDebounce || waited > 2*cfg.RootDebounce {
			t.Errorf("the root went out %v after the burst, want RootDebounce %v", waited, cfg.RootDebounce)
		}
		synctest.Wait()
		if got := ab.sent(ActionRoot) - before; got != 1 {
			t.Fatalf("%d roots for one burst of changes", got)
		}
	})
}
