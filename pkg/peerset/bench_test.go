package peerset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
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

// summaryStore holds summaries only, like a persistent store seen from the
// Go heap (whose events stay on disk): what a room keeps in memory is then
// all that BenchmarkRoomMemory measures.
type summaryStore struct {
	store.Store // nil: every other method panics, and no test calls one
	summaries   []record.Summary
	meta        map[string][]byte
}

func (s *summaryStore) Summaries(_ context.Context, fn func(record.Summary, bool) error) error {
	for _, sum := range s.summaries {
		if err := fn(sum, true); err != nil {
			return err
		}
	}
	return nil
}

func (s *summaryStore) Items(_ context.Context, fn func(int64, [32]byte) error) error {
	for _, sum := range s.summaries {
		if err := fn(sum.CreatedAt, sum.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *summaryStore) GetMeta(_ context.Context, key string) ([]byte, error) {
	if v, ok := s.meta[key]; ok {
		return v, nil
	}
	return nil, store.ErrNotFound
}

func (s *summaryStore) SetMeta(_ context.Context, key string, v []byte) error {
	s.meta[key] = v
	return nil
}

func (s *summaryStore) Close() error { return nil }

// BenchmarkRoomMemory measures the Go heap an open room of 100,000 records
// (4 per author, the standard preset) holds per record after a GC: the
// index and the tree, the events being in the store. heap-B/record is the
// custom metric; run it natively and as js/wasm.
func BenchmarkRoomMemory(b *testing.B) {
	const n = 100_000
	st := &summaryStore{meta: map[string][]byte{}}
	var pk record.PublicKey
	for i := range n {
		if i%4 == 0 {
			sk, _ := record.GenerateKey()
			pk = sk.Public()
		}
		u, _ := record.NewUUID()
		uuid, _ := record.ParseUUID(u)
		s := record.Summary{CreatedAt: 1790000000 + int64(i), Kind: record.KindRecord, PubKey: pk, UUID: uuid, HasContent: true}
		s.ID = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))) // distinct ids
		copy(s.Content[:], s.ID[16:])
		st.summaries = append(st.summaries, s)
	}
	std := moderation.PresetStandard()
	var perRecord float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		db, err := Open(context.Background(), Config{Room: "bench", Store: st, Moderation: &std, CacheBytes: -1, GCInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		if db.Stats().Records != n {
			b.Fatal(db.Stats())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRecord = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		runtime.KeepAlive(db)
		db.stop()
		db.bgDone.Wait()
	}
	b.ReportMetric(perRecord, "heap-B/record")
}
