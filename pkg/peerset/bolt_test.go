//go:build !js

package peerset

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

func TestReopenBoltStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "room.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: "lobby", Store: st, Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	var uuids []string
	for i := range 20 {
		r, err := db.Put(ctx, record.Draft{Text: "record number " + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, r.UUID)
	}
	if err := db.Delete(ctx, uuids[0]); err != nil {
		t.Fatal(err)
	}
	root, key, stats := db.Root(), db.Key(), db.Stats()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, Config{Room: "lobby", Store: st, Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Root() != root || db.Key() != key || !reflect.DeepEqual(db.Stats(), stats) {
		t.Fatalf("reopened: root %s key %s stats %+v; want %s %s %+v", db.Root(), db.Key(), db.Stats(), root, key, stats)
	}
	if _, err := db.Get(ctx, uuids[5]); err != nil {
		t.Fatal(err)
	}
}

// Opening a store with another room's name fails and keeps its records.
func TestStoreOfAnotherRoomIsRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "room.db")
	st, _ := bolt.Open(path, bolt.Options{})
	db, err := Open(ctx, Config{Room: "lobby", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Put(ctx, record.Draft{Text: "keep me"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, _ = bolt.Open(path, bolt.Options{})
	if _, err := Open(ctx, Config{Room: "other", Store: st}); !errors.Is(err, ErrStoreOfAnotherRoom) || !strings.Contains(err.Error(), "peerset/lobby") {
		t.Fatalf("Open with another room: %v", err)
	}
	st.Close()
	st, _ = bolt.Open(path, bolt.Options{})
	db, err = Open(ctx, Config{Room: "lobby", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Stats().Records != 1 {
		t.Fatalf("records lost: %+v", db.Stats())
	}
}
