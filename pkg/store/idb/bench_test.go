//go:build js && wasm && browser

package idb

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"syscall/js"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

// Run with: scripts/browser-go-test.sh -run '^$' -bench . ./pkg/store/idb

func BenchmarkIDB(b *testing.B) {
	for _, opts := range []struct {
		name string
		opts Options
	}{{"strict", Options{}}, {"relaxed", Options{RelaxedDurability: true}}} {
		b.Run(opts.name, func(b *testing.B) {
			storetest.Benchmark(b, func(b *testing.B) store.Store { return openNamed(b, databaseName(b), opts.opts) })
		})
	}
}

// filled returns the name of a database holding n generated records.
func filled(b *testing.B, n int) string {
	b.Helper()
	name := databaseName(b)
	s := openNamed(b, name, Options{RelaxedDurability: true})
	storetest.Fill(b, s, storetest.NewGenerator(b, 10, 41), n)
	s.Close()
	return name
}

// BenchmarkOpenItems50k measures what a browser peer pays at startup: open
// a database of 50,000 events and read the (created_at, id) items the
// facade rebuilds its tree from. Variants: the page size of Items, and a
// key cursor (one JS callback per item) for comparison.
func BenchmarkOpenItems50k(b *testing.B) {
	const n = 50_000
	name := filled(b, n)
	ctx := context.Background()
	variants := []struct {
		name  string
		items func(s *Store, fn func(int64, [32]byte) error) error
	}{
		{"getAllKeys-page8192", func(s *Store, fn func(int64, [32]byte) error) error { return s.items(ctx, 8192, fn) }},
		{"getAllKeys-page2048", func(s *Store, fn func(int64, [32]byte) error) error { return s.items(ctx, 2048, fn) }},
		{"getAllKeys-page32768", func(s *Store, fn func(int64, [32]byte) error) error { return s.items(ctx, 32768, fn) }},
		{"keyCursor", func(s *Store, fn func(int64, [32]byte) error) error { return itemsByKeyCursor(ctx, s, fn) }},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				s := openNamed(b, name, Options{})
				count := 0
				if err := v.items(s, func(int64, [32]byte) error { count++; return nil }); err != nil || count != n {
					b.Fatalf("read %d items, %v; want %d", count, err, n)
				}
				s.Close()
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "items/s")
		})
	}
	b.Run("Count", func(b *testing.B) {
		s := openNamed(b, name, Options{})
		defer s.Close()
		for b.Loop() {
			if c, err := s.Count(ctx); err != nil || c != n {
				b.Fatalf("Count = %d, %v", c, err)
			}
		}
	})
}

// itemsByKeyCursor is Items with an IDBCursor over the primary keys: one
// Go callback per item, in a single transaction.
func itemsByKeyCursor(ctx context.Context, s *Store, fn func(int64, [32]byte) error) error {
	t, err := s.read(storeEvents)
	if err != nil {
		return err
	}
	var items []store.Item
	var req js.Value
	var parseErr error
	step := js.FuncOf(func(js.Value, []js.Value) any {
		cursor := req.Get("result")
		if cursor.IsNull() {
			return nil
		}
		it, err := parseItemKey(cursor.Get("key").String())
		if err != nil {
			parseErr = err
			return nil
		}
		items = append(items, it)
		cursor.Call("continue")
		return nil
	})
	t.handlers = append(t.handlers, step)
	req = t.store(storeEvents).Call("openKeyCursor")
	req.Set("onsuccess", step)
	if err := t.wait(ctx); err != nil {
		return err
	}
	if parseErr != nil {
		return parseErr
	}
	for _, it := range items {
		if err := fn(it.CreatedAt, it.ID); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkScan10k reads 10,000 full events, with both ways of decoding a
// page of stored objects.
func BenchmarkScan10k(b *testing.B) {
	const n = 10_000
	name := filled(b, n)
	s := openNamed(b, name, Options{})
	defer s.Close()
	ctx := context.Background()
	for _, v := range []struct {
		name   string
		decode func(js.Value, *store.CorruptError) []*record.Event
	}{{"fieldByField", decodeObjectsOneByOne}, {"stringifyPage", decodeObjectsBatched}} {
		b.Run(v.name, func(b *testing.B) {
			defer func(saved func(js.Value, *store.CorruptError) []*record.Event) { decodeObjects = saved }(decodeObjects)
			decodeObjects = v.decode
			for b.Loop() {
				count := 0
				if err := s.Scan(ctx, func(*record.Event) error { count++; return nil }); err != nil || count != n {
					b.Fatalf("scanned %d events, %v; want %d", count, err, n)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkKeyEncoding50k compares reading 50,000 keys of an object store
// with getAllKeys when keys are hex strings (joined into one string in the
// browser) and when they are 40-byte ArrayBuffers (copied one by one).
func BenchmarkKeyEncoding50k(b *testing.B) {
	const n = 50_000
	name := databaseName(b)
	s := openNamed(b, name, Options{})
	s.Close()
	db := rawUpgrade(b, name, func(db js.Value) {
		db.Call("createObjectStore", "hex")
		db.Call("createObjectStore", "binary")
	})
	defer db.Call("close")
	g := storetest.NewGenerator(b, 1, 42)
	events := g.Records(n, 1_700_000_000, 86_400)
	tx := &txn{}
	var err error
	if tx, err = newTxn(db, "readwrite", js.Undefined(), false, "hex", "binary"); err != nil {
		b.Fatal(err)
	}
	hexStore, binStore := tx.store("hex"), tx.store("binary")
	key := make([]byte, 40)
	for _, e := range events {
		k := itemKey(e.CreatedAt, e.ID)
		hexStore.Call("put", 1, k)
		copy(key, fmt.Sprintf("%016x", e.CreatedAt)) // any 40 bytes do
		copy(key[8:], e.ID[:])
		buf := jsUint8.New(40)
		js.CopyBytesToJS(buf, key)
		binStore.Call("put", 1, buf.Get("buffer"))
	}
	if err := tx.wait(context.Background()); err != nil {
		b.Fatal(err)
	}
	readAll := func(b *testing.B, storeName string, decode func(keys js.Value) int) {
		for b.Loop() {
			t, err := newTxn(db, "readonly", js.Undefined(), false, storeName)
			if err != nil {
				b.Fatal(err)
			}
			req := t.store(storeName).Call("getAllKeys")
			if err := t.wait(context.Background()); err != nil {
				b.Fatal(err)
			}
			if got := decode(req.Get("result")); got != n {
				b.Fatalf("decoded %d keys, want %d", got, n)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "keys/s")
	}
	b.Run("hexJoined", func(b *testing.B) {
		readAll(b, "hex", func(keys js.Value) int {
			joined := keys.Call("join", "").String()
			count := 0
			for k := range chunks(joined, itemKeyLen) {
				if _, err := parseItemKey(k); err != nil {
					b.Fatal(err)
				}
				count++
			}
			return count
		})
	})
	b.Run("binaryEach", func(b *testing.B) {
		var it [40]byte
		readAll(b, "binary", func(keys js.Value) int {
			count := keys.Length()
			for i := range count {
				js.CopyBytesToGo(it[:], jsUint8.New(keys.Index(i)))
			}
			return count
		})
	})
}

// decodeObjectsBatched is the other way to decode a page of stored
// objects: JSON.stringify the page in the browser (one call) and parse it in
// Go, then parse each event's JSON.
func decodeObjectsBatched(objects js.Value, corrupt *store.CorruptError) []*record.Event {
	text := jsJSON.Call("stringify", objects, js.ValueOf([]any{"i", "j"})).String()
	var fields []struct {
		ID   string `json:"i"`
		JSON string `json:"j"`
	}
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		panic(err)
	}
	out := make([]*record.Event, 0, len(fields))
	for _, f := range fields {
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(f.ID)); err != nil {
			panic(err)
		}
		e, err := store.DecodeEvent(id, []byte(f.JSON))
		if err != nil {
			corrupt.Add(id, err)
			continue
		}
		out = append(out, e)
	}
	return out
}

// rawUpgrade opens the database at the next version, running upgrade in
// its versionchange transaction.
func rawUpgrade(b *testing.B, name string, upgrade func(db js.Value)) js.Value {
	b.Helper()
	done := make(chan error, 1)
	req := js.Global().Get("indexedDB").Call("open", name, SchemaVersion+1)
	var h handlers
	defer h.release()
	h.on(req, "upgradeneeded", func(js.Value) { upgrade(req.Get("result")) }, func(err error) { signal(done, err) })
	h.on(req, "success", func(js.Value) { signal(done, nil) }, nil)
	h.on(req, "error", func(js.Value) { signal(done, domError(req.Get("error"))) }, nil)
	if err := <-done; err != nil {
		b.Fatalf("upgrade: %v", err)
	}
	return req.Get("result")
}

// BenchmarkSummaries20k measures what an open without a current snapshot
// reads in the background: the summaries of 20,000 stored events.
func BenchmarkSummaries20k(b *testing.B) {
	const n = 20_000
	name := filled(b, n)
	ctx := context.Background()
	s := openNamed(b, name, Options{})
	defer s.Close()
	for b.Loop() {
		seen := 0
		if err := s.Summaries(ctx, func(record.Summary, bool) error { seen++; return nil }); err != nil || seen != n {
			b.Fatalf("Summaries: %d, %v", seen, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/summary")
}
