//go:build !js

package peerset

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// signedRecords signs n records of room, 4 per author, created 90 s apart
// ending an hour before now, in parallel.
func signedRecords(t testing.TB, n int, room string, now time.Time) []*record.Event {
	t.Helper()
	roomID := record.RoomID(DefaultAppID, room)
	out := make([]*record.Event, n)
	keys := make([]*record.SecretKey, (n+3)/4)
	for i := range keys {
		keys[i], _ = record.GenerateKey()
	}
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				at := now.Add(-time.Hour - time.Duration(n-i)*90*time.Second)
				e, err := record.New(record.Draft{Text: fmt.Sprintf("record %d of a large room", i), CreatedAt: at}, keys[i/4], roomID, record.Limits{})
				if err != nil {
					errs <- err
					return
				}
				out[i] = e
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	return out
}

// TestLargeRoomWithATinyCache holds 100,000 records with a cache of 16 KiB,
// so that nearly every read misses it: the index is all that is in memory,
// and Get, Query, Export, GC and a sync to a fresh peer must read the store
// and still be right.
func TestLargeRoomWithATinyCache(t *testing.T) {
	const n = 100_000
	ctx := context.Background()
	now := time.Now()
	room := "large-room"
	events := signedRecords(t, n, room, now)

	// Straight into the store: the room opens from the stored summaries.
	path := filepath.Join(t.TempDir(), "large.db")
	st, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 5000 {
		if err := st.Put(ctx, events[i:i+5000]...); err != nil {
			t.Fatal(err)
		}
	}
	// 90 days of retention: the oldest ~13,000 (one per 90 s over 104 days)
	// are past it.
	clock := func() time.Time { return now }
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: room, Store: st, Moderation: &open, CacheBytes: 16 << 10, Clock: clock, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Stats().Records; got != n {
		t.Fatalf("opened with %d records, want %d", got, n)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		want := events[rng.IntN(n)]
		r, err := db.Get(ctx, want.TagValue(record.TagUUID))
		if err != nil || r.Event.ID != want.ID {
			t.Fatalf("Get(%s): %v", want.TagValue(record.TagUUID), err)
		}
	}
	newest, err := db.Query(ctx, Query{Limit: 50})
	if err != nil || len(newest) != 50 {
		t.Fatalf("Query newest 50: %d, %v", len(newest), err)
	}
	for i, r := range newest {
		if r.Event.ID != events[n-1-i].ID {
			t.Fatalf("Query result %d is not the %dth newest record", i, i+1)
		}
	}
	exported := 0
	if err := db.ExportEach(ctx, func(*record.Event) error { exported++; return nil }); err != nil || exported != n {
		t.Fatalf("ExportEach: %d events, %v", exported, err)
	}

	var mu sync.Mutex
	notified := 0
	unsubscribe := db.Subscribe(func(c Change) {
		if c.Removed && c.Event != nil && c.Event.Content != "" {
			mu.Lock()
			notified++ // the full event, read back from the store
			mu.Unlock()
		}
	})
	defer unsubscribe()
	gone, err := db.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, e := range events {
		if moderation.Expired(now, e.CreatedAt, moderation.DefaultRetention) {
			expired++
		}
	}
	if expired < 10_000 || gone != expired || db.Stats().Records != n-expired {
		t.Fatalf("GC removed %d (want %d); %d records left", gone, expired, db.Stats().Records)
	}
	if _, err := db.Get(ctx, events[0].TagValue(record.TagUUID)); err == nil {
		t.Fatal("an expired record is still served")
	}
	testwait.For(t, "the removals to be announced with their events", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return notified == expired
	})
	cache := db.store.(*store.Cache).Stats()
	t.Logf("cache after the reads: %+v", cache)
	if cache.Bytes > 16<<10 || cache.Misses < 300 {
		t.Errorf("the cache did not stay tiny or nothing missed it: %+v", cache)
	}

	// A fresh peer syncs the whole room from this one.
	trk := trackertest.Start(t)
	opts := testJoinOptions(trk.URL())
	opts.Session.IngestBurst = n // not what this test is about
	fresh, err := Open(ctx, Config{Room: room, Moderation: &open, Clock: clock, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := db.Join(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Join(ctx, opts); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 5*time.Minute, n-expired, &netPeer{DB: db, name: "seeder"}, &netPeer{DB: fresh, name: "fresh"})
	// An honest bulk sync earns no strike on either side.
	for _, pair := range [][2]*DB{{fresh, db}, {db, fresh}} {
		if s := pair[0].Ledger().Strikes(moderation.KeySubject(pair[1].Key())); len(s) > 0 {
			t.Errorf("an honest peer was struck during a bulk sync: %v", s)
		}
	}
}
