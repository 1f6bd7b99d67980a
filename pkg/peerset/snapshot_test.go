package peerset

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// snapBacking is storage shared by several connections (tabs): events, a
// generation replaced by every change, and the snapshot with the generation
// it was saved at. snapConn is one connection, implementing store.Snapshots
// the way pkg/store/idb does.
type snapBacking struct {
	mu      sync.Mutex
	mem     *store.Memory
	gen     int
	snap    []byte
	snapGen int
	saves   int
	// savedBytes: the size of each snapshot saved, in order.
	savedBytes []int
	// With journal, the backing keeps the changes since the snapshot, as
	// pkg/store/idb does since schema 5, and LoadSnapshot returns them.
	journal bool
	changes []store.Change
	refuse  bool // SaveSnapshot saves nothing (as if another tab wrote)
	fail    bool // SaveSnapshot fails (as a full disk would)
	// attempts counts SaveSnapshot calls, saved or not.
	attempts int
}

var _ store.Snapshots = (*snapConn)(nil)

type snapConn struct {
	store.Store
	b       *snapBacking
	known   int
	foreign bool
}

func newSnapBacking() *snapBacking { return &snapBacking{mem: store.NewMemory()} }

func (b *snapBacking) conn() *snapConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &snapConn{Store: b.mem, b: b, known: b.gen}
}

func (c *snapConn) bump() {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.gen != c.known {
		c.foreign = true
	}
	c.b.gen++
	c.known = c.b.gen
}

func (c *snapConn) Put(ctx context.Context, events ...*record.Event) error {
	if err := c.Store.Put(ctx, events...); err != nil {
		return err
	}
	c.bump()
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	for _, e := range events {
		s, ok := store.SummaryOf(e)
		if !ok {
			s = record.Summary{ID: e.ID, CreatedAt: e.CreatedAt, Kind: e.Kind}
		}
		c.b.changes = append(c.b.changes, store.Change{Summary: s, HasSummary: ok})
	}
	return nil
}

func (c *snapConn) Delete(ctx context.Context, ids ...[32]byte) error {
	if err := c.Store.Delete(ctx, ids...); err != nil {
		return err
	}
	c.bump()
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	for _, id := range ids {
		c.b.changes = append(c.b.changes, store.Change{Removed: true, Summary: record.Summary{ID: id}})
	}
	return nil
}

func (c *snapConn) Close() error { return nil } // the backing outlives a DB

func (c *snapConn) SaveSnapshot(_ context.Context, data []byte) (bool, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.attempts++
	if c.b.fail {
		return false, errors.New("the disk is full")
	}
	if c.foreign || c.b.gen != c.known {
		return false, nil
	}
	if c.b.refuse {
		return false, nil
	}
	c.b.snap, c.b.snapGen = append([]byte(nil), data...), c.b.gen
	c.b.changes = nil
	c.b.saves++
	c.b.savedBytes = append(c.b.savedBytes, len(data))
	return true, nil
}

func (c *snapConn) LoadSnapshot(context.Context) (store.Snapshot, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.snap == nil || (!c.b.journal && c.b.snapGen != c.b.gen) {
		return store.Snapshot{}, fmt.Errorf("no current snapshot: %w", store.ErrNotFound)
	}
	snap := store.Snapshot{Data: append([]byte(nil), c.b.snap...)}
	if c.b.journal {
		snap.Changes = slices.Clone(c.b.changes)
	}
	return snap, nil
}

// current reports whether a snapshot of the latest generation is saved.
func (b *snapBacking) current() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snap != nil && b.snapGen == b.gen
}

func (b *snapBacking) waitCurrent(t *testing.T) {
	t.Helper()
	testwait.For(t, "a current snapshot to be saved", 30*time.Second, b.current)
}

var testKey = func() *record.SecretKey {
	sk, err := record.GenerateKey()
	if err != nil {
		panic(err)
	}
	return sk
}()

func openSnap(t *testing.T, b *snapBacking, background bool) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{Room: "lobby", Store: b.conn(), Key: testKey, IndexSnapshot: true, LoadInBackground: background,
		Moderation: openModeration()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fillSnap writes records, a new version and a deletion.
func fillSnap(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	var first *record.Record
	for i := range n {
		r, err := db.Put(ctx, record.Draft{Text: fmt.Sprintf("record %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		}
		if i == 1 {
			if err := db.Delete(ctx, r.UUID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Put(ctx, record.Draft{UUID: first.UUID, Text: "record 0, again"}); err != nil {
		t.Fatal(err)
	}
}

// reference is what a DB opened without a snapshot holds: its root and
// counts, from the same events.
func reference(t *testing.T, b *snapBacking) (root string, stats Stats) {
	t.Helper()
	db, err := Open(context.Background(), Config{Room: "lobby", Store: b.conn(), Key: testKey, Moderation: openModeration()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Root().String(), db.Stats()
}

func checkSame(t *testing.T, db *DB, b *snapBacking) {
	t.Helper()
	root, st := reference(t, b)
	if err := db.waitLoaded(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := db.Stats()
	if db.Root().String() != root || got.Records != st.Records || got.Deletions != st.Deletions {
		t.Fatalf("reopened: root %s, %d records, %d deletions; rebuilt from the store: root %s, %d, %d",
			db.Root(), got.Records, got.Deletions, root, st.Records, st.Deletions)
	}
}

func TestIndexSnapshotReopen(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(fmt.Sprintf("LoadInBackground=%v", background), func(t *testing.T) {
			b := newSnapBacking()
			db := openSnap(t, b, background)
			fillSnap(t, db, 20)
			b.waitCurrent(t)
			before := db.Root()
			db.Close()

			db2 := openSnap(t, b, background)
			if !db2.fromSnapshot {
				t.Fatal("a current snapshot was not used")
			}
			if db2.Root() != before {
				t.Fatalf("root after reopening %s, before %s", db2.Root(), before)
			}
			checkSame(t, db2, b)
			// Writes go on, and make the snapshot stale until saved again.
			if _, err := db2.Put(context.Background(), record.Draft{Text: "after the reopen"}); err != nil {
				t.Fatal(err)
			}
			if b.current() {
				t.Fatal("the snapshot stayed current after a write")
			}
			b.waitCurrent(t)
			db2.Close()
			db3 := openSnap(t, b, background)
			if !db3.fromSnapshot {
				t.Fatal("the snapshot saved after the write was not used")
			}
			checkSame(t, db3, b)
		})
	}
}

// TestIndexSnapshotStale: events changed after the snapshot (by this DB
// before it was saved again, or by another connection) make it stale; the
// index is rebuilt from the store, and holds those changes.
func TestIndexSnapshotStale(t *testing.T) {
	other, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(t *testing.T, b *snapBacking, db *DB)
	}{
		{"written by this DB, closed before the next save", func(t *testing.T, b *snapBacking, db *DB) {
			if _, err := db.Put(context.Background(), record.Draft{Text: "not in the snapshot"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"written by another tab", func(t *testing.T, b *snapBacking, db *DB) {
			e := signedBy(t, other, db.RoomID(), record.Draft{Text: "from the other tab", CreatedAt: time.Now()})
			if err := b.conn().Put(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted by another tab", func(t *testing.T, b *snapBacking, db *DB) {
			rs, err := db.Query(context.Background(), Query{Limit: 1})
			if err != nil || len(rs) != 1 {
				t.Fatalf("Query: %v", err)
			}
			if err := b.conn().Delete(context.Background(), rs[0].Event.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newSnapBacking()
			db := openSnap(t, b, true)
			fillSnap(t, db, 10)
			b.waitCurrent(t)
			tc.change(t, b, db)
			before := db.Root()
			db.Close()
			db2 := openSnap(t, b, true)
			if db2.fromSnapshot {
				t.Fatal("a stale snapshot was used")
			}
			checkSame(t, db2, b)
			if tc.name == "written by this DB, closed before the next save" && db2.Root() != before {
				t.Fatalf("root %s, before %s", db2.Root(), before)
			}
			b.waitCurrent(t) // rebuilt, then saved again
		})
	}
}

// TestIndexSnapshotForeignWrites: once another connection changed the
// store, this DB's index is not the stored set: it saves no snapshot.
func TestIndexSnapshotForeignWrites(t *testing.T) {
	b := newSnapBacking()
	db := openSnap(t, b, true)
	fillSnap(t, db, 5)
	b.waitCurrent(t)
	other := openSnap(t, b, true) // another tab on the same storage
	if _, err := other.Put(context.Background(), record.Draft{Text: "the other tab's"}); err != nil {
		t.Fatal(err)
	}
	b.waitCurrent(t) // the other tab's view was current when it wrote
	b.mu.Lock()
	saves := b.saves
	b.mu.Unlock()
	if _, err := db.Put(context.Background(), record.Draft{Text: "this tab's"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * snapshotQuiet)
	b.mu.Lock()
	after := b.saves
	b.mu.Unlock()
	if after != saves {
		t.Fatalf("a DB that missed another connection's writes saved a snapshot (%d saves, then %d)", saves, after)
	}
	db.Close()
	other.Close()
	db2 := openSnap(t, b, true)
	if db2.fromSnapshot {
		t.Fatal("a stale snapshot was used")
	}
	checkSame(t, db2, b)
	if st := db2.Stats(); st.Records != 5-1+2 {
		t.Fatalf("%d records, want %d", st.Records, 5-1+2)
	}
}

// TestIndexSnapshotCorrupt: a snapshot that is current but damaged is
// ignored and the index rebuilt.
func TestIndexSnapshotCorrupt(t *testing.T) {
	cases := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"a flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-snapshotEntry] }},
		{"empty", func([]byte) []byte { return []byte{} }},
		{"another magic", func(b []byte) []byte { b[0] = 'x'; return b }},
		{"an entry missing, checksum recomputed", func(b []byte) []byte {
			body := b[:len(b)-sha256.Size-snapshotEntry]
			sum := sha256.Sum256(body)
			return append(body, sum[:]...)
		}},
		{"a bad summary, checksum recomputed", func(b []byte) []byte {
			body := b[:len(b)-sha256.Size]
			body[len(snapshotMagic)+4+40] = 0xff // the first entry's kind
			sum := sha256.Sum256(body)
			return append(body, sum[:]...)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newSnapBacking()
			db := openSnap(t, b, true)
			fillSnap(t, db, 10)
			b.waitCurrent(t)
			before := db.Root()
			db.Close()
			b.mu.Lock()
			b.snap = tc.damage(b.snap)
			b.mu.Unlock()
			db2 := openSnap(t, b, true)
			if db2.fromSnapshot {
				t.Fatal("a damaged snapshot was used")
			}
			if err := db2.waitLoaded(context.Background()); err != nil {
				t.Fatal(err)
			}
			if db2.Root() != before {
				t.Fatalf("root %s, before %s", db2.Root(), before)
			}
			checkSame(t, db2, b)
		})
	}
}

func TestSnapshotEncoding(t *testing.T) {
	if _, err := decodeSnapshot(encodeSnapshot(nil)); err != nil {
		t.Fatalf("empty snapshot: %v", err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, snapshotMagic[:]} {
		if _, err := decodeSnapshot(bad); !errors.Is(err, errSnapshotCorrupt) {
			t.Errorf("decodeSnapshot(%x) = %v, want errSnapshotCorrupt", bad, err)
		}
	}
}

// openModeration is the open preset: no per-author quota, so that the
// tests' many records by one key all stay.
func openModeration() *moderation.Config {
	c := moderation.PresetOpen()
	return &c
}

// cancelAfterPut is a connection whose caller's context ends right after a
// Put succeeded (a peer's sync torn down mid-ingest): the Delete of the
// superseded copies that follows fails.
type cancelAfterPut struct {
	*snapConn
	cancel atomic.Pointer[context.CancelFunc]
}

func (c *cancelAfterPut) Put(ctx context.Context, events ...*record.Event) error {
	if err := c.snapConn.Put(ctx, events...); err != nil {
		return err
	}
	if f := c.cancel.Swap(nil); f != nil {
		(*f)()
	}
	return nil
}

// TestNoSnapshotOverLeftovers: a superseded copy a failed Delete left in
// the store is removed by the next open's rebuild; a snapshot saved
// afterwards would have kept it from that open for good (found in review:
// Query returned both versions after every reopen).
func TestNoSnapshotOverLeftovers(t *testing.T) {
	other, _ := record.GenerateKey()
	b := newSnapBacking()
	conn := &cancelAfterPut{snapConn: b.conn()}
	db, err := Open(context.Background(), Config{Room: "lobby", Store: conn, Key: testKey, IndexSnapshot: true, Moderation: openModeration()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	peer := Origin{PeerID: "peer"}
	v1 := signedBy(t, other, db.RoomID(), record.Draft{Text: "v1", CreatedAt: now.Add(-time.Minute)})
	if out := db.Ingest(context.Background(), peer, []*record.Event{v1}); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	b.waitCurrent(t)
	r1, _ := record.Parse(v1)
	ctx, cancel := context.WithCancel(context.Background())
	conn.cancel.Store(&cancel)
	if out := db.Ingest(ctx, peer, []*record.Event{signedBy(t, other, db.RoomID(), record.Draft{UUID: r1.UUID, Text: "v2", CreatedAt: now})}); !out[0].Stored {
		t.Fatal(out[0].Err)
	}
	if n := countUUID(t, db, r1.UUID); n != 2 {
		t.Fatalf("the store holds %d versions of the record, want 2 (the Delete of v1 was to fail)", n)
	}
	time.Sleep(3 * snapshotQuiet) // what a save would need
	if b.current() {
		t.Error("a snapshot was saved over the leftover")
	}
	db.Close()
	db2 := openSnap(t, b, false)
	if db2.fromSnapshot {
		t.Error("opened from a snapshot")
	}
	if n := countUUID(t, db2, r1.UUID); n != 1 {
		t.Errorf("after a reopen Query returns %d versions of one record, want 1", n)
	}
}

func countUUID(t *testing.T, db *DB, uuid string) int {
	t.Helper()
	rs, err := db.Query(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.UUID == uuid {
			n++
		}
	}
	return n
}

// slowSummaries is a store whose Summaries takes longer than snapshotQuiet
// (a large room in a browser).
type slowSummaries struct{ *snapConn }

func (s slowSummaries) Summaries(ctx context.Context, fn func(record.Summary, bool) error) error {
	time.Sleep(3 * snapshotQuiet / 2)
	return s.snapConn.Summaries(ctx, fn)
}

// TestSlowRebuildSavesASnapshot: an index rebuilt in the background over
// more than a quiet second is saved once it is done, with nothing changing
// afterwards (found in review: never saved, so every open rebuilt).
func TestSlowRebuildSavesASnapshot(t *testing.T) {
	b := newSnapBacking()
	db := openSnap(t, b, true)
	fillSnap(t, db, 10)
	b.waitCurrent(t)
	db.Close()
	// Another tab's write makes the snapshot stale.
	other, _ := record.GenerateKey()
	if err := b.conn().Put(context.Background(), signedBy(t, other, db.RoomID(), record.Draft{Text: "other tab", CreatedAt: time.Now()})); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(context.Background(), Config{Room: "lobby", Store: slowSummaries{b.conn()}, Key: testKey, IndexSnapshot: true, LoadInBackground: true, Moderation: openModeration()})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if db2.fromSnapshot {
		t.Fatal("a stale snapshot was used")
	}
	b.waitCurrent(t)
}

// TestSnapshotGap: saves of a big snapshot are spaced out.
func TestSnapshotGap(t *testing.T) {
	for _, tc := range []struct {
		bytes int
		want  time.Duration
	}{
		{0, snapshotQuiet},
		{100 << 10, snapshotQuiet},
		{5400 << 10, 10 * time.Second},
	} {
		if got := snapshotGap(tc.bytes); got != tc.want {
			t.Errorf("snapshotGap(%d) = %v, want %v", tc.bytes, got, tc.want)
		}
	}
}

// signedBy is d as an event of room signed by sk: another tab's or peer's.
func signedBy(t *testing.T, sk *record.SecretKey, room string, d record.Draft) *record.Event {
	t.Helper()
	e, err := record.NewUnsigned(d, sk.Public(), room, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(sk); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestIndexSnapshotJournal: with a store that journals the changes made
// since its snapshot (pkg/store/idb since schema 5), a reopen after writes
// that no snapshot followed still opens from the snapshot, and holds those
// writes (new records, new versions, deletions): the same root and counts
// as an index rebuilt from the store. The next snapshot starts the journal
// over.
func TestIndexSnapshotJournal(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(fmt.Sprintf("LoadInBackground=%v", background), func(t *testing.T) {
			ctx := context.Background()
			b := newSnapBacking()
			b.journal = true
			db := openSnap(t, b, background)
			fillSnap(t, db, 12)
			b.waitCurrent(t)
			b.mu.Lock()
			b.refuse = true // no snapshot from here on: every change stays in the journal
			b.mu.Unlock()
			fillSnap(t, db, 8) // new records, a new version, a deletion
			if _, err := db.Put(ctx, record.Draft{Text: "the last one"}); err != nil {
				t.Fatal(err)
			}
			before, stats := db.Root(), db.Stats()
			db.Close()
			b.mu.Lock()
			pending := len(b.changes)
			b.refuse = false
			b.mu.Unlock()
			if pending == 0 {
				t.Fatal("no change journaled after the snapshot: the test checks nothing")
			}

			db2 := openSnap(t, b, background)
			if !db2.fromSnapshot || db2.Stats().IndexFrom != "snapshot" {
				t.Fatalf("the snapshot and its journal were not used (IndexFrom %q)", db2.Stats().IndexFrom)
			}
			if db2.Root() != before {
				t.Fatalf("root after reopening %s, before %s", db2.Root(), before)
			}
			if s := db2.Stats(); s.Records != stats.Records || s.Deletions != stats.Deletions {
				t.Fatalf("stats after reopening %+v, before %+v", s, stats)
			}
			checkSame(t, db2, b)
			// The journal was applied: a new snapshot follows, and empties it.
			testwait.For(t, "a snapshot that takes the journal in", 30*time.Second, func() bool {
				b.mu.Lock()
				defer b.mu.Unlock()
				return len(b.changes) == 0 && b.snapGen == b.gen
			})
		})
	}
}

// TestApplyChanges: a snapshot's summaries and the changes since give the
// summaries of what is stored now.
func TestApplyChanges(t *testing.T) {
	sum := func(n byte, at int64) record.Summary {
		return record.Summary{ID: [32]byte{n}, CreatedAt: at, Kind: record.KindRecord}
	}
	add := func(s record.Summary) store.Change { return store.Change{Summary: s, HasSummary: true} }
	bareAdd := func(n byte) store.Change { return store.Change{Summary: record.Summary{ID: [32]byte{n}}} }
	del := func(n byte) store.Change {
		return store.Change{Removed: true, Summary: record.Summary{ID: [32]byte{n}}}
	}
	ids := func(ss []record.Summary) string {
		var out []string
		for _, s := range ss {
			out = append(out, fmt.Sprint(s.ID[0]))
		}
		return fmt.Sprint(out)
	}
	base := []record.Summary{sum(1, 10), sum(2, 20), sum(3, 30)}
	tests := []struct {
		name    string
		changes []store.Change
		kept    string
		bare    int
	}{
		{"none", nil, "[1 2 3]", 0},
		{"an add, in time order", []store.Change{add(sum(4, 15))}, "[1 4 2 3]", 0},
		{"an add of an id stored (the first copy stays)", []store.Change{add(sum(2, 99))}, "[1 2 3]", 0},
		{"a removal", []store.Change{del(2)}, "[1 3]", 0},
		{"a removal of an unknown id", []store.Change{del(9)}, "[1 2 3]", 0},
		{"removed, then added again", []store.Change{del(2), add(sum(2, 20))}, "[1 2 3]", 0},
		{"added, then removed", []store.Change{add(sum(5, 50)), del(5)}, "[1 2 3]", 0},
		{"an event without a summary", []store.Change{bareAdd(6)}, "[1 2 3]", 1},
		{"an event without a summary, then removed", []store.Change{bareAdd(6), del(6)}, "[1 2 3]", 0},
		{"the same add twice", []store.Change{add(sum(7, 5)), add(sum(7, 5))}, "[7 1 2 3]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, bare := applyChanges(slices.Clone(base), tt.changes)
			if ids(kept) != tt.kept || len(bare) != tt.bare {
				t.Fatalf("kept %s, %d bare; want %s, %d", ids(kept), len(bare), tt.kept, tt.bare)
			}
		})
	}
}

// TestSnapshotSavedDuringALongSync: changes that never leave a quiet
// second (a first sync of a big room) still get snapshots, the first after
// snapshotEveryChanges, then each once the room has grown by half
// (snapshotForceShare): a journaling store (pkg/store/idb) would otherwise
// pass its journal's bound and drop the snapshot, and a reload right after
// the sync would rebuild the whole index.
func TestSnapshotSavedDuringALongSync(t *testing.T) {
	old := snapshotEveryChanges
	snapshotEveryChanges = 40
	t.Cleanup(func() { snapshotEveryChanges = old })
	b := newSnapBacking()
	b.journal = true
	db := openSnap(t, b, false)
	other, _ := record.GenerateKey()
	saves := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.saves
	}
	// Batches of 10 records every 20 ms, never a quiet second, until a
	// snapshot is saved (or 20 times the threshold).
	ctx := context.Background()
	batches := 0
	ingest := func() {
		batch := make([]*record.Event, 10)
		for j := range batch {
			batch[j] = signedBy(t, other, db.RoomID(), record.Draft{Text: fmt.Sprintf("synced %d.%d", batches, j), CreatedAt: time.Now()})
		}
		for _, o := range db.Ingest(ctx, Origin{PeerID: "peer"}, batch) {
			if !o.Stored {
				t.Fatalf("batch %d: %v", batches, o.Err)
			}
		}
		batches++
		time.Sleep(20 * time.Millisecond)
	}
	for saves() == 0 {
		if batches == 80 {
			t.Fatalf("no snapshot saved after %d changes without a quiet spell; want one every %d", 10*batches, snapshotEveryChanges)
		}
		ingest()
	}
	// Then the saves grow apart as the room grows: the next one once it has
	// grown by about half (snapshotForceShare), not every snapshotEveryChanges
	// changes, so that a long sync writes a few times the final snapshot in
	// all rather than a number of snapshots that grows with the room.
	for range 50 {
		ingest()
	}
	b.mu.Lock()
	sizes := append([]int(nil), b.savedBytes...)
	b.mu.Unlock()
	if len(sizes) < 3 {
		t.Fatalf("%d snapshots saved during %d batches of 10 changes without a quiet spell (sizes %v); want a few", len(sizes), batches, sizes)
	}
	entries := func(bytes int) int { return (bytes - len(encodeSnapshot(nil))) / snapshotEntry }
	total := 0
	var nearby []string // saves less than a third apart
	for i, n := range sizes {
		total += entries(n)
		if i > 0 && entries(n) < entries(sizes[i-1])*4/3 {
			nearby = append(nearby, fmt.Sprintf("%d after %d", entries(n), entries(sizes[i-1])))
		}
	}
	// One pair may be close: a pause of over a second on a loaded machine
	// lets a quiet-spell save land just after a forced one.
	if len(nearby) > 1 {
		t.Errorf("snapshots of %v records saved soon after the one before: saves every few changes, not once the room grew by half", nearby)
	}
	db.mu.RLock()
	final := db.index.Len()
	db.mu.RUnlock()
	if total > 4*final {
		t.Errorf("the forced snapshots held %d records in all for a room of %d (sizes %v); want at most three to four times the room", total, final, sizes)
	}
	t.Logf("%d changes, %d snapshots of %v records", 10*batches, len(sizes), func() []int {
		out := make([]int, len(sizes))
		for i, n := range sizes {
			out[i] = entries(n)
		}
		return out
	}())
}

// TestSnapshotSaveRefusedOrFailed: a save the store refuses (another
// connection changed it, so it refuses every later one) is not built
// again; a save that fails leaves its changes counted, so the next forced
// save comes as soon as this one did.
func TestSnapshotSaveRefusedOrFailed(t *testing.T) {
	old := snapshotEveryChanges
	snapshotEveryChanges = 20
	t.Cleanup(func() { snapshotEveryChanges = old })
	other, _ := record.GenerateKey()
	for _, tc := range []struct {
		name         string
		refuse, fail bool
	}{{"refused", true, false}, {"failed", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newSnapBacking()
			b.journal = true
			db := openSnap(t, b, false)
			attempts := func() int {
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.attempts
			}
			b.mu.Lock()
			b.refuse, b.fail = tc.refuse, tc.fail
			b.mu.Unlock()
			ctx := context.Background()
			for i := range 30 { // 300 changes, never a quiet second
				batch := make([]*record.Event, 10)
				for j := range batch {
					batch[j] = signedBy(t, other, db.RoomID(), record.Draft{Text: fmt.Sprintf("%s %d.%d", tc.name, i, j), CreatedAt: time.Now()})
				}
				for _, o := range db.Ingest(ctx, Origin{PeerID: "peer"}, batch) {
					if !o.Stored {
						t.Fatal(o.Err)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			n := attempts()
			switch {
			case tc.refuse && n != 1:
				t.Errorf("%d saves attempted after the store refused the first; want that one only", n)
			case tc.fail && n < 8:
				// With the changes of each failed save counted again, one is
				// due at every check past 20; without, only every 20 new
				// changes could it be: at most 300/20 = 15 over the run,
				// and far fewer once the share (a third of the room) counts.
				t.Errorf("%d saves attempted during 300 changes while every save failed; want one retried at once each time", n)
			}
			t.Logf("%d save attempts", n)
		})
	}
}
