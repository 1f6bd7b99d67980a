//go:build js && wasm && browser

package idb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall/js"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

// snapshotChecks are the helpers of the snapshot tests: changes are written
// "+n" (events[n] added) and "-n" (removed), in order.
type snapshotChecks struct {
	t      *testing.T
	events []*record.Event
}

func (c snapshotChecks) changes(ch []store.Change) string {
	var parts []string
	for _, x := range ch {
		n := -1
		for i, e := range c.events {
			if e.ID == x.Summary.ID {
				n = i
			}
		}
		sign := "+"
		if x.Removed {
			sign = "-"
		} else if !x.HasSummary {
			sign = "+?"
		} else if want, _ := store.SummaryOf(c.events[n]); want != x.Summary {
			sign = "+!" // a summary that differs from the event's
		}
		parts = append(parts, sign+strconv.Itoa(n))
	}
	return strings.Join(parts, " ")
}

func (c snapshotChecks) notFound(what string, s *Store) {
	c.t.Helper()
	if snap, err := s.LoadSnapshot(context.Background()); !errors.Is(err, store.ErrNotFound) {
		c.t.Fatalf("%s: LoadSnapshot = %q (%s), %v; want ErrNotFound", what, snap.Data, c.changes(snap.Changes), err)
	}
}

func (c snapshotChecks) current(what string, s *Store, data, changes string) {
	c.t.Helper()
	snap, err := s.LoadSnapshot(context.Background())
	if err != nil || string(snap.Data) != data || c.changes(snap.Changes) != changes {
		c.t.Fatalf("%s: LoadSnapshot = %q with changes %q, %v; want %q with %q", what, snap.Data, c.changes(snap.Changes), err, data, changes)
	}
}

func (c snapshotChecks) save(what string, s *Store, data string, want bool) {
	c.t.Helper()
	if saved, err := s.SaveSnapshot(context.Background(), []byte(data)); err != nil || saved != want {
		c.t.Fatalf("%s: SaveSnapshot = %v, %v; want %v", what, saved, err, want)
	}
}

// TestSnapshots: a snapshot comes with the journal of the changes made
// since it was saved, through this Store or another connection (a second
// Store on the same database stands in for another tab); saving one clears
// the journal; a Store that missed another connection's change saves none;
// reopening finds the snapshot and its journal.
func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 3, 7)
	events := g.Records(6, 1000, 10)
	c := snapshotChecks{t, events}

	a := openNamed(t, name, Options{})
	c.notFound("a new database", a)
	c.save("a new database", a, "empty", true)
	c.current("a new database", a, "empty", "")
	if err := a.Put(ctx, events[:3]...); err != nil {
		t.Fatal(err)
	}
	c.current("after a Put", a, "empty", "+0 +1 +2")
	c.save("after a Put", a, "three", true)
	c.current("after a save", a, "three", "")
	if err := a.Delete(ctx, events[0].ID); err != nil {
		t.Fatal(err)
	}
	c.current("after a Delete", a, "three", "-0")
	if err := a.Delete(ctx); err != nil { // nothing: no transaction
		t.Fatal(err)
	}
	c.save("after a Delete", a, "two", true)
	// A put of an id already stored (the slow path) is journaled too; the
	// id stored already appears again.
	if err := a.Put(ctx, events[1], events[3]); err != nil {
		t.Fatal(err)
	}
	c.current("after a Put with an id already stored", a, "two", "+1 +3")
	c.save("after a Put with an id already stored", a, "three again", true)
	a.Close()

	// Reopened (a reload): the snapshot, nothing after it.
	a = openNamed(t, name, Options{})
	c.current("reopened", a, "three again", "")
	// Another tab writes: both see its change in the journal; a, which did
	// not see that write, saves no snapshot any more; b can. (A Store's
	// caller loads the snapshot first, as peerset.DB does.)
	b := openNamed(t, name, Options{})
	c.current("another tab", b, "three again", "")
	if err := b.Put(ctx, events[4]); err != nil {
		t.Fatal(err)
	}
	c.current("a, after another tab's Put", a, "three again", "+4")
	c.current("b, after its Put", b, "three again", "+4")
	c.save("a, which missed b's write", a, "a's view", false)
	if err := a.Put(ctx, events[5]); err != nil {
		t.Fatal(err)
	}
	c.current("after both tabs wrote", a, "three again", "+4 +5")
	c.save("a, after its own write that followed b's", a, "a's view", false)
	c.save("b, which missed a's write", b, "b's view", false)
	a.Close()
	b.Close()
	d := openNamed(t, name, Options{})
	defer d.Close()
	c.current("reopened after both tabs wrote", d, "three again", "+4 +5")
	c.save("a fresh connection", d, "d's view", true)
	c.current("a fresh connection", d, "d's view", "")
}

// TestJournalLimit: a Store that would journal more than journalLimit
// changes drops the snapshot and the journal instead (the next open
// rebuilds); a new snapshot starts the journal again. A damaged journal
// row makes the snapshot unusable, never wrong.
func TestJournalLimit(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { journalLimit = n }(journalLimit)
	journalLimit = 3
	g := storetest.NewGenerator(t, 3, 9)
	events := g.Records(6, 1000, 10)
	c := snapshotChecks{t, events}
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	c.notFound("a new database", s)
	c.save("a new database", s, "s", true)
	if err := s.Put(ctx, events[0], events[1]); err != nil {
		t.Fatal(err)
	}
	c.current("two changes", s, "s", "+0 +1")
	if err := s.Put(ctx, events[2], events[3]); err != nil {
		t.Fatal(err)
	}
	c.notFound("past the limit", s)
	if err := s.Put(ctx, events[4]); err != nil {
		t.Fatal(err)
	}
	c.notFound("a change after the journal was dropped: still no snapshot", s)
	c.save("a new snapshot", s, "t", true)
	if err := s.Delete(ctx, events[4].ID); err != nil {
		t.Fatal(err)
	}
	c.current("the journal again", s, "t", "-4")

	// Rows that are not what the transactions wrote: the snapshot is
	// unusable, never wrong.
	rawRows := func(what string, rows func(js.Value)) {
		t.Helper()
		tx, err := s.write(false, storeJournal)
		if err != nil {
			t.Fatal(err)
		}
		rows(tx.store(storeJournal))
		tx.commit()
		if err := tx.wait(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	var stored []string
	rawRows("read the rows", func(j js.Value) {
		req := j.Call("getAll")
		req.Set("onsuccess", js.FuncOf(func(js.Value, []js.Value) any {
			list := req.Get("result")
			for i := range list.Length() {
				stored = append(stored, list.Index(i).String())
			}
			return nil
		}))
	})
	if len(stored) != 1 {
		t.Fatalf("%d journal rows, want 1", len(stored))
	}
	row := stored[0]
	flipped := []byte(row)
	flipped[30] ^= 1 // a hex digit of the body
	for _, tc := range []struct{ what, row string }{
		{"a row that is not one", "a0123,not a row"},
		{"a row with a flipped digit", string(flipped)},
	} {
		rawRows(tc.what, func(j js.Value) { j.Call("clear"); j.Call("add", tc.row) })
		c.notFound(tc.what, s)
	}
	rawRows("a missing row", func(j js.Value) { j.Call("clear") })
	c.notFound("a journal that misses the last change", s)
	rawRows("the row back", func(j js.Value) { j.Call("clear"); j.Call("add", row) })
	c.current("the row back", s, "t", "-4")
}

// TestJournalGrowsWithTheSnapshot: past journalLimit changes the journal
// is kept while its rows take at most twice the snapshot's bytes, so that a
// big room's snapshot survives a long sync; past both it is dropped.
func TestJournalGrowsWithTheSnapshot(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { journalLimit = n }(journalLimit)
	journalLimit = 3
	g := storetest.NewGenerator(t, 3, 17)
	events := g.Records(12, 1000, 10)
	c := snapshotChecks{t, events}
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	c.notFound("a new database", s)
	// The rows of one added event each (their lengths do not depend on
	// the generation).
	rowBytes := 0
	for _, e := range events {
		rowBytes = max(rowBytes, len(addedRow([]*record.Event{e}).seal(newGeneration())))
	}
	for _, e := range events {
		if n := len(addedRow([]*record.Event{e}).seal(newGeneration())); n != rowBytes {
			t.Fatalf("journal rows of %d and %d bytes: the test assumes one size", n, rowBytes)
		}
	}
	const kept = 10 // rows within twice the snapshot's bytes
	big := strings.Repeat("b", (kept*rowBytes+rowBytes/2)/journalSnapshotRatio)
	c.save("a snapshot", s, big, true)
	var want []string
	for i := range kept {
		if err := s.Put(ctx, events[i]); err != nil {
			t.Fatal(err)
		}
		want = append(want, "+"+strconv.Itoa(i))
	}
	c.current(fmt.Sprintf("%d changes (more than journalLimit, %d), within twice the snapshot's bytes", kept, journalLimit), s, big, strings.Join(want, " "))
	reopened := openNamed(t, s.name, Options{})
	c.current("the same from another connection", reopened, big, strings.Join(want, " "))
	reopened.Close()
	if err := s.Put(ctx, events[kept]); err != nil {
		t.Fatal(err)
	}
	c.notFound("one row more than twice the snapshot's bytes", s)
	// A small snapshot: back to journalLimit changes.
	c.save("a small snapshot", s, "s", true)
	if err := s.Put(ctx, events[kept+1]); err != nil {
		t.Fatal(err)
	}
	c.current("one change", s, "s", "+"+strconv.Itoa(kept+1))
}

// TestStoreWithoutSnapshotsJournalsNothing: a connection whose caller never
// loads a snapshot (peerset.DB without IndexSnapshot) writes no journal
// rows; its changes drop the snapshot, so that another tab's snapshot
// cannot miss them.
func TestStoreWithoutSnapshotsJournalsNothing(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 3, 13)
	events := g.Records(3, 1000, 10)
	c := snapshotChecks{t, events}
	a := openNamed(t, name, Options{})
	defer a.Close()
	c.notFound("a new database", a)
	c.save("a new database", a, "a", true)
	if err := a.Put(ctx, events[0]); err != nil {
		t.Fatal(err)
	}
	c.current("a's write", a, "a", "+0")
	plain := openNamed(t, name, Options{})
	defer plain.Close()
	if saved, err := plain.SaveSnapshot(ctx, []byte("plain")); err != nil || saved {
		t.Fatalf("SaveSnapshot before any LoadSnapshot = %v, %v; want false", saved, err)
	}
	if err := plain.Put(ctx, events[1]); err != nil {
		t.Fatal(err)
	}
	c.notFound("after a write by a connection that uses no snapshots", a)
}
