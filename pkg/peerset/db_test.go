package peerset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

func openTest(t *testing.T, cfg Config) *DB {
	t.Helper()
	if cfg.Room == "" {
		cfg.Room = "lobby"
	}
	db, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPutGetQueryDelete(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Config{})
	r, err := db.Put(ctx, record.Draft{Text: "hello", Link: "https://example.org/a", Geo: &record.Geo{Lat: 1, Lon: 2}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, r.UUID)
	if err != nil || got.Text != "hello" || got.Author != db.Key() {
		t.Fatalf("Get: %+v %v", got, err)
	}
	// A new version replaces the old one, even within the same second.
	v2, err := db.Put(ctx, record.Draft{UUID: r.UUID, Text: "hello again"})
	if err != nil {
		t.Fatal(err)
	}
	if !v2.CreatedAt.After(r.CreatedAt) {
		t.Fatalf("new version not newer: %v vs %v", v2.CreatedAt, r.CreatedAt)
	}
	got, _ = db.Get(ctx, r.UUID)
	if got.Text != "hello again" {
		t.Fatalf("Get after update = %q", got.Text)
	}
	list, err := db.Query(ctx, Query{})
	if err != nil || len(list) != 1 || list[0].Text != "hello again" {
		t.Fatalf("Query = %d records, %v", len(list), err)
	}
	if s := db.Stats(); s.Records != 1 || s.Deletions != 0 {
		t.Fatalf("Stats = %+v", s)
	}
	if err := db.Delete(ctx, r.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, r.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	if list, _ := db.Query(ctx, Query{}); len(list) != 0 {
		t.Fatalf("Query after delete = %d records", len(list))
	}
	if s := db.Stats(); s.Records != 0 || s.Deletions != 1 {
		t.Fatalf("Stats after delete = %+v", s)
	}
	if err := db.Delete(ctx, r.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestPutRejectionNamesTheRule(t *testing.T) {
	db := openTest(t, Config{})
	tests := []struct {
		draft record.Draft
		rule  string
	}{
		{record.Draft{Text: "you are an asshole"}, "bad-words"},
		{record.Draft{Text: "see example.com/x for more"}, "no-link-in-text"},
		{record.Draft{Text: "ok", Link: "http://example.org"}, "link-policy"},
	}
	for _, tt := range tests {
		_, err := db.Put(context.Background(), tt.draft)
		rej, ok := moderation.AsRejection(err)
		if !ok || rej.Rule != tt.rule {
			t.Errorf("Put(%+v) = %v, want a rejection by %q", tt.draft, err, tt.rule)
		}
	}
	if _, err := db.Put(context.Background(), record.Draft{Text: "pi is 3.14, e.g. in maths"}); err != nil {
		t.Fatalf("innocent text refused: %v", err)
	}
}

// Events from peers go through the same path: integrity failures are not
// harmless (they earn strikes), stale versions are.
func TestIngestFromPeer(t *testing.T) {
	ctx := context.Background()
	a := openTest(t, Config{})
	b := openTest(t, Config{})
	r1, _ := a.Put(ctx, record.Draft{Text: "v1"})
	r2, _ := a.Put(ctx, record.Draft{UUID: r1.UUID, Text: "v2"})
	forged := *r2.Event
	forged.Content = "forged"
	other := openTest(t, Config{Room: "elsewhere"})
	foreign, _ := other.Put(ctx, record.Draft{Text: "from another room"})

	rejected := make(chan Rejection, 10)
	defer b.OnReject(func(r Rejection) { rejected <- r })()
	out := b.Ingest(ctx, Origin{PeerID: "peer-a"}, []*record.Event{&forged, r2.Event, r1.Event, foreign.Event})
	if out[0].Stored || out[0].Harmless() || !errors.Is(out[0].Err, record.ErrIDMismatch) {
		t.Fatalf("forged: %+v", out[0])
	}
	if !out[1].Stored || out[1].Err != nil {
		t.Fatalf("v2: %+v", out[1])
	}
	if out[2].Stored || !out[2].Harmless() {
		t.Fatalf("stale v1 should be refused harmlessly: %+v", out[2])
	}
	if out[3].Stored || out[3].Harmless() || !errors.Is(out[3].Err, record.ErrWrongRoom) {
		t.Fatalf("foreign: %+v", out[3])
	}
	if a.Root() != b.Root() {
		t.Fatal("roots differ after b received a's live set")
	}
	// The forged and the foreign event are reported (without the event: an
	// event that fails integrity is not what it claims), the stale one is not.
	for range 2 {
		select {
		case r := <-rejected:
			if r.Event != nil || !r.Unverified || r.Rule != "integrity" || r.Origin.PeerID != "peer-a" {
				t.Fatalf("rejection %+v", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("rejection not reported")
		}
	}
	select {
	case r := <-rejected:
		t.Fatalf("unexpected rejection: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	if s := b.Stats(); s.Records != 1 || len(b.Buckets(merkle.GranularityDay)) != 1 {
		t.Fatalf("stats %+v, buckets %v", s, b.Buckets(merkle.GranularityDay))
	}
}

func TestSubscribe(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Config{})
	var mu sync.Mutex
	var got []Change
	done := make(chan struct{}, 10)
	unsubscribe := db.Subscribe(func(c Change) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
		done <- struct{}{}
	})
	r, _ := db.Put(ctx, record.Draft{Text: "one"})
	_, _ = db.Put(ctx, record.Draft{UUID: r.UUID, Text: "two"})
	for range 3 { // add one, then remove one + add two
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("no change delivered")
		}
	}
	unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0].Removed || got[0].Event.Content != "one" || !got[1].Removed || got[2].Event.Content != "two" || !got[2].Origin.Local() {
		t.Fatalf("changes: %+v", got)
	}
}

func TestGCRemovesExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	db := openTest(t, Config{Clock: clock, GCInterval: -1})
	if _, err := db.Put(ctx, record.Draft{Text: "old news"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(91 * 24 * time.Hour)
	if _, err := db.Put(ctx, record.Draft{Text: "fresh"}); err != nil {
		t.Fatal(err)
	}
	n, err := db.GC(ctx)
	if err != nil || n != 1 {
		t.Fatalf("GC = %d, %v", n, err)
	}
	list, _ := db.Query(ctx, Query{})
	if len(list) != 1 || list[0].Text != "fresh" {
		t.Fatalf("after GC: %d records", len(list))
	}
}

// Unsubscribing after Close (a deferred unsubscribe) must not panic.
func TestUnsubscribeAfterClose(t *testing.T) {
	db, err := Open(context.Background(), Config{Room: "x"})
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe := db.Subscribe(func(Change) {})
	db.Close()
	unsubscribe()
	unsubscribe()
}

func TestKeyPassphrase(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	open := func(pass string) (*DB, error) {
		return Open(ctx, Config{Room: "keys", Store: noClose{st}, KeyPassphrase: pass})
	}
	db, err := open("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	key := db.Key()
	db.Close()
	if _, err := st.GetMeta(ctx, metaKeySecret); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the key is kept in the clear: %v", err)
	}
	for _, pass := range []string{"", "wrong"} {
		if _, err := open(pass); !errors.Is(err, ErrKeyPassphrase) {
			t.Fatalf("passphrase %q: %v", pass, err)
		}
	}
	db, err = open("correct horse")
	if err != nil || db.Key() != key {
		t.Fatalf("reopen: %v", err)
	}
	db.Close()
}

// noClose keeps a store open across DB.Close, to reopen it in a test.
type noClose struct{ store.Store }

func (noClose) Close() error { return nil }

// Loading in the background ends in exactly the state a foreground open
// reaches, healing a store that holds superseded versions and deletions.
func TestLoadInBackground(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	sk, _ := record.GenerateKey()
	room := record.RoomID(DefaultAppID, "bg")
	at := time.Now().Add(-time.Hour)
	v1, _ := record.New(record.Draft{Text: "v1", CreatedAt: at}, sk, room, record.Limits{})
	v2, _ := record.New(record.Draft{UUID: v1.TagValue(record.TagUUID), Text: "v2", CreatedAt: at.Add(time.Minute)}, sk, room, record.Limits{})
	gone, _ := record.New(record.Draft{Text: "deleted", CreatedAt: at}, sk, room, record.Limits{})
	del, _ := record.NewDeletion(sk, room, gone.TagValue(record.TagUUID), at.Add(time.Minute))
	events := []*record.Event{v1, v2, gone, del}
	for i := range 50 {
		e, _ := record.New(record.Draft{Text: fmt.Sprintf("plain %d", i), CreatedAt: at}, sk, room, record.Limits{})
		events = append(events, e)
	}
	stores := []store.Store{store.NewMemory(), store.NewMemory()}
	for _, st := range stores {
		if err := st.Put(ctx, events...); err != nil {
			t.Fatal(err)
		}
	}
	fg, err := Open(ctx, Config{Room: "bg", Store: stores[0], Key: sk, Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	defer fg.Close()
	bg, err := Open(ctx, Config{Room: "bg", Store: stores[1], Key: sk, Moderation: &open, LoadInBackground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close()
	// A write waits for the index, then lands.
	if _, err := bg.Put(ctx, record.Draft{Text: "written while loading"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fg.Put(ctx, record.Draft{Text: "written while loading", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if s := bg.Stats(); s.Loading || s.Records != 52 || s.Deletions != 1 {
		t.Fatalf("background stats %+v", s)
	}
	if s := fg.Stats(); s.Records != 52 || s.Deletions != 1 {
		t.Fatalf("foreground stats %+v", s)
	}
	got, err := bg.Get(ctx, v1.TagValue(record.TagUUID))
	if err != nil || got.Text != "v2" {
		t.Fatalf("Get after background load: %+v %v", got, err)
	}
	if _, err := bg.Get(ctx, gone.TagValue(record.TagUUID)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	// Both healed their stores: v1 and the deleted record are gone.
	for i, st := range stores {
		if n, _ := st.Count(ctx); n != 53 {
			t.Errorf("store %d holds %d events, want 53", i, n)
		}
	}
}

// A peer that sends records this node already holds costs no signature
// checks: they are refused as duplicates first (and repeats within a batch
// are checked once); a forgery claiming a held record's id is a duplicate
// too, a harmless one, and never stored.
func TestHeldEventsCostNoSignatureChecks(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	a := openTest(t, Config{Moderation: &open})
	b := openTest(t, Config{Moderation: &open})
	var events []*record.Event
	for i := range 40 {
		r, err := a.Put(ctx, record.Draft{Text: fmt.Sprintf("held %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, r.Event)
	}
	for _, o := range b.Ingest(ctx, Origin{PeerID: "a"}, events) {
		if !o.Stored {
			t.Fatalf("first ingest: %+v", o)
		}
	}
	before := b.sigsChecked.Load()
	bad := *events[3]
	bad.Sig[10] ^= 1
	again := append(slices.Clone(events), &bad)
	for i, o := range b.Ingest(ctx, Origin{PeerID: "a"}, again) {
		if o.Stored || !o.Harmless() {
			t.Fatalf("held event %d sent again: %+v", i, o)
		}
	}
	if n := b.sigsChecked.Load() - before; n != 0 {
		t.Fatalf("%d signatures checked for 41 held events, want 0", n)
	}
	// New events, each sent three times in one batch: checked once each.
	var fresh []*record.Event
	for i := range 10 {
		r, err := a.Put(ctx, record.Draft{Text: fmt.Sprintf("new %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		c1, c2 := *r.Event, *r.Event
		fresh = append(fresh, r.Event, &c1, &c2)
	}
	before = b.sigsChecked.Load()
	stored := 0
	for _, o := range b.Ingest(ctx, Origin{PeerID: "a"}, fresh) {
		if o.Stored {
			stored++
		}
	}
	if n := b.sigsChecked.Load() - before; n != 10 || stored != 10 {
		t.Fatalf("10 new events sent three times: %d signatures checked, %d stored; want 10 and 10", n, stored)
	}
	if a.Root() != b.Root() {
		t.Fatal("roots differ")
	}
}
