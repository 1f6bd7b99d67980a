//go:build js && wasm && browser

package idb

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

// TestSnapshots: a snapshot is current until events change, through this
// Store or another connection (a second Store on the same database stands
// in for another tab); a Store that missed another connection's change
// saves none; reopening finds a current snapshot.
func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 3, 7)
	events := g.Records(6, 1000, 10)
	notFound := func(what string, s *Store) {
		t.Helper()
		if data, err := s.LoadSnapshot(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: LoadSnapshot = %q, %v; want ErrNotFound", what, data, err)
		}
	}
	current := func(what string, s *Store, want []byte) {
		t.Helper()
		if data, err := s.LoadSnapshot(ctx); err != nil || !bytes.Equal(data, want) {
			t.Fatalf("%s: LoadSnapshot = %q, %v; want %q", what, data, err, want)
		}
	}
	save := func(what string, s *Store, data []byte, want bool) {
		t.Helper()
		if saved, err := s.SaveSnapshot(ctx, data); err != nil || saved != want {
			t.Fatalf("%s: SaveSnapshot = %v, %v; want %v", what, saved, err, want)
		}
	}

	a := openNamed(t, name, Options{})
	notFound("a new database", a)
	save("a new database", a, []byte("empty"), true)
	current("a new database", a, []byte("empty"))
	if err := a.Put(ctx, events[:3]...); err != nil {
		t.Fatal(err)
	}
	notFound("after a Put", a)
	save("after a Put", a, []byte("three"), true)
	if err := a.Delete(ctx, events[0].ID); err != nil {
		t.Fatal(err)
	}
	notFound("after a Delete", a)
	save("after a Delete", a, []byte("two"), true)
	// A put of an id already stored (the slow path) changes the generation too.
	if err := a.Put(ctx, events[1], events[3]); err != nil {
		t.Fatal(err)
	}
	notFound("after a Put with an id already stored", a)
	save("after a Put with an id already stored", a, []byte("three again"), true)
	a.Close()

	// Reopened (a reload): the snapshot is current.
	a = openNamed(t, name, Options{})
	current("reopened", a, []byte("three again"))
	// Another tab writes: the snapshot is stale for both, and a, which did
	// not see that write, saves none any more; b can.
	b := openNamed(t, name, Options{})
	current("another tab", b, []byte("three again"))
	if err := b.Put(ctx, events[4]); err != nil {
		t.Fatal(err)
	}
	notFound("after another tab's Put", a)
	save("a, which missed b's write", a, []byte("a's view"), false)
	if err := a.Put(ctx, events[5]); err != nil {
		t.Fatal(err)
	}
	save("a, after its own write that followed b's", a, []byte("a's view"), false)
	notFound("after a's refused save", a)
	// b missed a's write now.
	save("b, which missed a's write", b, []byte("b's view"), false)
	a.Close()
	b.Close()
	c := openNamed(t, name, Options{})
	defer c.Close()
	notFound("reopened after both tabs wrote", c)
	save("a fresh connection", c, []byte("c's view"), true)
	current("a fresh connection", c, []byte("c's view"))
}
