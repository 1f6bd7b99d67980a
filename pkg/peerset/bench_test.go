package peerset

import (
	"context"
	"fmt"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// BenchmarkOpen50k: opening a room whose store holds 50k records (the load
// rebuilds the moderation index and the tree). The store is in memory, so this
// is the facade's own cost; the browser adds IndexedDB reads and decoding.
func BenchmarkOpen50k(b *testing.B) {
	st := store.NewMemory()
	roomID := record.RoomID(DefaultAppID, "bench")
	var keys []record.PublicKey
	for range 50 {
		sk, _ := record.GenerateKey()
		keys = append(keys, sk.Public())
	}
	var events []*record.Event
	for i := range 50000 {
		u, _ := record.NewUUID()
		e := &record.Event{PubKey: keys[i%50], CreatedAt: 1790000000 + int64(i), Kind: record.KindRecord,
			Tags: [][]string{{"d", u}, {"room", roomID}}, Content: fmt.Sprintf("record %d with a bit of text", i)}
		e.ID = e.ComputeID()
		events = append(events, e)
	}
	if err := st.Put(context.Background(), events...); err != nil {
		b.Fatal(err)
	}
	open := moderation.PresetOpen()
	b.ResetTimer()
	for b.Loop() {
		db, err := Open(context.Background(), Config{Room: "bench", Store: noClose{st}, Moderation: &open})
		if err != nil {
			b.Fatal(err)
		}
		if db.Stats().Records != 50000 {
			b.Fatal(db.Stats())
		}
		db.Close()
	}
}
