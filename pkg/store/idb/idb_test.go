//go:build js && wasm && browser

package idb

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

// These tests need a real browser: scripts/browser-go-test.sh runs them in
// headless Chromium (the "browser" build tag keeps them out of the Node run).

var databaseSeq atomic.Int64

// databaseName returns a name no other test uses, and deletes the database
// when the test ends (after the stores the test closes).
func databaseName(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("peerset-test-%d-%s", databaseSeq.Add(1), t.Name())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteDatabase(ctx, name); err != nil {
			t.Errorf("DeleteDatabase: %v", err)
		}
	})
	return name
}

func openNamed(t testing.TB, name string, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, name, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openNamed(t, databaseName(t), Options{}) })
}

func TestConformanceRelaxedDurability(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openNamed(t, databaseName(t), Options{RelaxedDurability: true})
	})
}

func TestPersistence(t *testing.T) {
	prefix := databaseName(t)
	var names sync.Map
	t.Cleanup(func() {
		names.Range(func(name, _ any) bool {
			if err := DeleteDatabase(context.Background(), name.(string)); err != nil {
				t.Errorf("DeleteDatabase: %v", err)
			}
			return true
		})
	})
	storetest.RunPersistence(t, func(t *testing.T, name string) store.Store {
		full := prefix + "/" + name
		names.Store(full, true)
		return openNamed(t, full, Options{})
	})
}

func TestBlobs(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.Store { return openNamed(t, databaseName(t), Options{}) })
}

func TestBlobsPersistence(t *testing.T) {
	prefix := databaseName(t)
	var names sync.Map
	t.Cleanup(func() {
		names.Range(func(name, _ any) bool {
			if err := DeleteDatabase(context.Background(), name.(string)); err != nil {
				t.Errorf("DeleteDatabase: %v", err)
			}
			return true
		})
	})
	storetest.RunBlobsPersistence(t, func(t *testing.T, name string) store.Store {
		full := prefix + "/" + name
		names.Store(full, true)
		return openNamed(t, full, Options{})
	})
}

// TestAcknowledgedBatchSurvivesReopen checks that a Put, once it returned,
// is visible to a second connection opened at once and after an immediate
// close and reopen.
func TestAcknowledgedBatchSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 4, 101)
	batch := g.Records(2000, 1_700_000_000, 3600)
	s := openNamed(t, name, Options{})
	if err := s.Put(ctx, batch...); err != nil {
		t.Fatalf("Put: %v", err)
	}
	second := openNamed(t, name, Options{})
	if n, err := second.Count(ctx); err != nil || n != len(batch) {
		t.Errorf("a second connection counts %d events (err %v) right after Put, want %d", n, err, len(batch))
	}
	second.Close()
	s.Close()

	s = openNamed(t, name, Options{})
	defer s.Close()
	seen := map[[32]byte]bool{}
	if err := s.Items(ctx, func(_ int64, id [32]byte) error { seen[id] = true; return nil }); err != nil {
		t.Fatalf("Items after reopen: %v", err)
	}
	for _, e := range batch {
		if !seen[e.ID] {
			t.Fatalf("event %x of the acknowledged batch is missing after reopen (%d of %d seen)", e.ID, len(seen), len(batch))
		}
	}
	got, err := s.Get(ctx, batch[len(batch)-1].ID)
	if err != nil || got.Content != batch[len(batch)-1].Content {
		t.Errorf("Get after reopen = %v, %v", got, err)
	}
}

// TestConcurrentPutsFromGoroutines puts overlapping batches from many
// goroutines while others read, then checks that every event is stored
// once.
func TestConcurrentPutsFromGoroutines(t *testing.T) {
	ctx := context.Background()
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	g := storetest.NewGenerator(t, 8, 102)
	events := g.Records(1600, 1000, 500)
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Go(func() {
			// Each writer puts its own slice and half of its neighbour's.
			own := events[w*100 : (w+1)*100]
			next := events[((w+1)%writers)*100:][:50]
			for _, batch := range [][]*record.Event{own[:50], next, own[50:]} {
				if err := s.Put(ctx, batch...); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 5 {
				if _, err := s.Query(ctx, store.Query{Descending: true, Limit: 30}); err != nil {
					errs <- fmt.Errorf("reader %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := s.Count(ctx); err != nil || n != len(events) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(events))
	}
	items := 0
	if err := s.Items(ctx, func(int64, [32]byte) error { items++; return nil }); err != nil || items != len(events) {
		t.Errorf("Items visited %d, %v; want %d", items, err, len(events))
	}
}

// TestErrorMapping checks how browser exceptions become Go errors, with real
// DOMExceptions and with plain objects shaped like one (a quota error cannot
// be provoked cheaply: Chromium's quota is a share of the free disk).
func TestErrorMapping(t *testing.T) {
	domException := func(name, message string) js.Value {
		return js.Global().Get("DOMException").New(message, name)
	}
	lookalike := func(name, message string) js.Value {
		return js.ValueOf(map[string]any{"name": name, "message": message})
	}
	tests := []struct {
		name     string
		value    js.Value
		sentinel error
		contains string
	}{
		{"quota DOMException", domException("QuotaExceededError", "no room"), ErrQuotaExceeded, "free space"},
		{"quota lookalike", lookalike("QuotaExceededError", "quota"), ErrQuotaExceeded, "delete old records"},
		{"version", domException("VersionError", "newer"), ErrSchema, "update the page"},
		{"other", domException("DataError", "bad key"), nil, "DataError: bad key"},
		{"null", js.Null(), nil, "UnknownError"},
		{"string", js.ValueOf("boom"), nil, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domError(tt.value)
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("domError = %v, want it to wrap %v", err, tt.sentinel)
			}
			var de *DOMError
			if tt.sentinel == nil && !errors.As(err, &de) {
				t.Errorf("domError = %T %v, want a *DOMError", err, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("domError = %q, want it to contain %q", err, tt.contains)
			}
		})
	}
	t.Run("thrown exception", func(t *testing.T) {
		err := try(func() {
			js.Global().Get("Promise").Get("reject") // not thrown: a value
			js.Global().Get("IDBKeyRange").Call("bound", "b", "a")
		})
		var de *DOMError
		if !errors.As(err, &de) || de.Name != "DataError" {
			t.Errorf("try = %v, want the DataError IDBKeyRange.bound throws", err)
		}
	})
	t.Run("quota abort of a put", func(t *testing.T) {
		// What a write sees when the browser aborts its transaction for
		// quota: the transaction's error, mapped by wait and wrapped by
		// failure.
		err := failure("put 3 events", domError(domException("QuotaExceededError", "The quota has been exceeded.")))
		if !errors.Is(err, ErrQuotaExceeded) || !strings.HasPrefix(err.Error(), "failed to put 3 events: browser storage quota exceeded") {
			t.Errorf("err = %q", err)
		}
	})
}

// rawOpen opens a database through the IndexedDB API directly, at version
// (0: the current one), with no versionchange handler.
func rawOpen(t *testing.T, name string, version int) js.Value {
	t.Helper()
	done := make(chan error, 1)
	var req js.Value
	if version > 0 {
		req = js.Global().Get("indexedDB").Call("open", name, version)
	} else {
		req = js.Global().Get("indexedDB").Call("open", name)
	}
	var h handlers
	defer h.release()
	h.on(req, "success", func(js.Value) { signal(done, nil) }, nil)
	h.on(req, "error", func(js.Value) { signal(done, domError(req.Get("error"))) }, nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("indexedDB.open: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("indexedDB.open did not answer")
	}
	return req.Get("result")
}

func TestNewerSchemaIsRefused(t *testing.T) {
	name := databaseName(t)
	rawOpen(t, name, SchemaVersion+1).Call("close")
	s, err := Open(context.Background(), name, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchema) {
		t.Errorf("Open: err = %v, want ErrSchema", err)
	}
}

func TestSchemaIsCreated(t *testing.T) {
	name := databaseName(t)
	openNamed(t, name, Options{}).Close()
	db := rawOpen(t, name, 0)
	defer db.Call("close")
	if v := db.Get("version").Int(); v != SchemaVersion {
		t.Errorf("version = %d, want %d", v, SchemaVersion)
	}
	tx := db.Call("transaction", []any{storeEvents, storeMeta}, "readonly")
	indexes := tx.Call("objectStore", storeEvents).Get("indexNames")
	for _, index := range []string{indexID, indexAuthor, indexAddress} {
		if !indexes.Call("contains", index).Bool() {
			t.Errorf("the events store has no %q index", index)
		}
	}
	if key := tx.Call("objectStore", storeEvents).Get("keyPath").String(); key != "k" {
		t.Errorf("events key path = %q, want k", key)
	}
	if db.Get("objectStoreNames").Call("contains", storeSummaries).Bool() {
		t.Errorf("a new database has the %q store, which schema 4 dropped", storeSummaries)
	}
	checkBlobStores(t, db)
}

// checkBlobStores checks that db has the blob stores of schema 6, with
// out-of-line keys and the references' record index.
func checkBlobStores(t *testing.T, db js.Value) {
	t.Helper()
	names := []any{storeBlobs, storeBlobChunks, storeBlobRefs}
	for _, name := range names {
		if !db.Get("objectStoreNames").Call("contains", name).Bool() {
			t.Errorf("no %q object store", name)
		}
	}
	if t.Failed() {
		return
	}
	tx := db.Call("transaction", names, "readonly")
	for _, name := range names {
		if key := tx.Call("objectStore", name).Get("keyPath"); !key.IsNull() {
			t.Errorf("the %q store has the key path %v, want out-of-line keys", name, key)
		}
	}
	refs := tx.Call("objectStore", storeBlobRefs)
	if !refs.Get("indexNames").Call("contains", indexBlobRecord).Bool() {
		t.Errorf("the %q store has no %q index", storeBlobRefs, indexBlobRecord)
	} else if key := refs.Call("index", indexBlobRecord).Get("keyPath").String(); key != "r" {
		t.Errorf("the %q index key path = %q, want r", indexBlobRecord, key)
	}
}

// TestVersionChangeClosesTheStore checks that a store steps aside when the
// database is deleted (or upgraded) elsewhere, and says so.
func TestVersionChangeClosesTheStore(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	s := openNamed(t, name, Options{})
	g := storetest.NewGenerator(t, 1, 103)
	if err := s.Put(ctx, g.Records(3, 1000, 5)...); err != nil {
		t.Fatalf("Put: %v", err)
	}
	deadline, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := DeleteDatabase(deadline, name); err != nil {
		t.Fatalf("DeleteDatabase while a store is open: %v", err)
	}
	_, err := s.Count(ctx)
	if !errors.Is(err, store.ErrClosed) || !strings.Contains(err.Error(), "another tab") {
		t.Errorf("Count after the database was deleted elsewhere: err = %v, want ErrClosed naming the cause", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestBlockedDelete checks that a connection that does not close blocks
// DeleteDatabase and Open of an upgrade until the context ends, with an
// error saying what to do.
func TestBlockedDelete(t *testing.T) {
	name := databaseName(t)
	openNamed(t, name, Options{}).Close()
	holder := rawOpen(t, name, 0) // no versionchange handler: never steps aside
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := DeleteDatabase(ctx, name)
	if !errors.Is(err, ErrBlocked) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "close the other tabs") {
		t.Errorf("DeleteDatabase while held: err = %v, want ErrBlocked", err)
	}
	holder.Call("close")
	// The abandoned delete request goes through once the holder closed.
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, databaseName(t), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a canceled context: err = %v", err)
	}
}

// rawPut writes a stored object into the events store directly.
func rawPut(t *testing.T, s *Store, object map[string]any) {
	t.Helper()
	tx, err := s.write(false, storeEvents)
	if err != nil {
		t.Fatal(err)
	}
	tx.store(storeEvents).Call("put", object)
	if err := tx.wait(context.Background()); err != nil {
		t.Fatalf("raw put: %v", err)
	}
}

func TestCorruptEventsAreReportedWithTheirID(t *testing.T) {
	ctx := context.Background()
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	g := storetest.NewGenerator(t, 2, 104)
	events := g.Records(1200, 1000, 50) // more than a Scan page
	if err := s.Put(ctx, events...); err != nil {
		t.Fatalf("Put: %v", err)
	}
	bad, other := events[10], events[700]
	overwrite := func(e *record.Event, j any) {
		rawPut(t, s, map[string]any{
			"k": itemKey(e.CreatedAt, e.ID), "i": idHex(e.ID), "a": e.PubKey.Hex() + itemKey(e.CreatedAt, e.ID),
			"n": e.Kind, "x": addressKey(record.AddressOf(e)), "j": j,
		})
	}
	overwrite(bad, `{"id": truncated`)
	overwrite(other, 42) // not even a string
	check := func(what string, err error, want int) {
		t.Helper()
		var ce *store.CorruptError
		if !errors.As(err, &ce) || len(ce.IDs) != want {
			t.Errorf("%s: err = %v, want a CorruptError with %d ids", what, err, want)
		}
	}
	_, err := s.Get(ctx, bad.ID)
	check("Get", err, 1)
	if err != nil && !strings.Contains(err.Error(), idHex(bad.ID)) {
		t.Errorf("Get error %q does not name the id", err)
	}
	scanned := 0
	err = s.Scan(ctx, func(*record.Event) error { scanned++; return nil })
	check("Scan", err, 2)
	if scanned != len(events)-2 {
		t.Errorf("Scan visited %d events, want %d", scanned, len(events)-2)
	}
	got, err := s.GetByAddress(ctx, record.AddressOf(other))
	check("GetByAddress", err, 1)
	if len(got) != 0 {
		t.Errorf("GetByAddress returned %d events", len(got))
	}
	items := 0
	if err := s.Items(ctx, func(int64, [32]byte) error { items++; return nil }); err != nil || items != len(events) {
		t.Errorf("Items = %d, %v; want %d: it reads only keys", items, err, len(events))
	}
	if err := s.Delete(ctx, bad.ID, other.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Scan(ctx, func(*record.Event) error { return nil }); err != nil {
		t.Errorf("Scan after deleting the corrupt events: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != len(events)-2 {
		t.Errorf("Count after repair = %d, %v", n, err)
	}
}

// TestPersisted checks that Persisted reports the browser's own answer.
func TestPersisted(t *testing.T) {
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	answer := make(chan bool, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any { signal(answer, args[0].Truthy()); return nil })
	defer then.Release()
	js.Global().Get("navigator").Get("storage").Call("persisted").Call("then", then)
	want := <-answer
	testwait.Poll(5*time.Second, func() bool { return s.Persisted() == want })
	if got := s.Persisted(); got != want {
		t.Errorf("Persisted() = %v, navigator.storage.persisted() = %v", got, want)
	}
	t.Logf("persistent storage granted: %v", want)
}

// oldDatabase writes a database at an older schema version (1 to 3) as the
// code of that version did: events objects without the summary field and,
// from version 2, a summary row per event in the summaries store (the item
// key, then the hex of its stored summary), except for the events in
// noRow. extra objects are added as they are. meta values are written too.
func oldDatabase(t *testing.T, name string, version int, events []*record.Event, noRow map[[32]byte]bool, extra []js.Value, meta map[string][]byte) {
	t.Helper()
	req := js.Global().Get("indexedDB").Call("open", name, version)
	done := make(chan error, 1)
	var h handlers
	h.on(req, "upgradeneeded", func(js.Value) {
		for v := range version {
			migrations[v](req.Get("result"), req.Get("transaction"), nil, nil)
		}
	}, nil)
	h.on(req, "success", func(js.Value) { signal(done, nil) }, nil)
	h.on(req, "error", func(js.Value) { signal(done, domError(req.Get("error"))) }, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.release()
	db := req.Get("result")
	defer db.Call("close")
	stores := []any{storeEvents, storeMeta}
	if version >= 2 {
		stores = append(stores, storeSummaries)
	}
	tx := db.Call("transaction", stores, "readwrite")
	objects := js.Global().Get("JSON").Call("parse", string(appendBatchJSON(nil, events)))
	for i, e := range events {
		o := objects.Index(i)
		o.Delete("s")
		tx.Call("objectStore", storeEvents).Call("add", o)
		if version >= 2 && !noRow[e.ID] {
			row := itemKey(e.CreatedAt, e.ID) + hex.EncodeToString(store.AppendStoredSummary(nil, e))
			tx.Call("objectStore", storeSummaries).Call("put", row, itemKey(e.CreatedAt, e.ID))
		}
	}
	for _, o := range extra {
		tx.Call("objectStore", storeEvents).Call("add", o)
	}
	for k, v := range meta {
		b := jsUint8.New(len(v))
		js.CopyBytesToJS(b, v)
		tx.Call("objectStore", storeMeta).Call("put", b, k)
	}
	txDone := make(chan error, 1)
	var th handlers
	th.on(tx, "complete", func(js.Value) { signal(txDone, nil) }, nil)
	th.on(tx, "abort", func(js.Value) { signal(txDone, domError(tx.Get("error"))) }, nil)
	if err := <-txDone; err != nil {
		t.Fatalf("writing the schema %d database: %v", version, err)
	}
	th.release()
}

// brokenObject is a stored object whose event JSON does not parse, under
// its own key and id, as a damaged database may hold.
func brokenObject(createdAt int64, id [32]byte, kind int) js.Value {
	return js.ValueOf(map[string]any{
		"k": itemKey(createdAt, id), "i": idHex(id), "a": strings.Repeat("0", 64) + itemKey(createdAt, id),
		"n": kind, "j": "{not json",
	})
}

// checkSummaries checks that Summaries reports exactly the summaries of
// events, in item key order, plus the broken ones (no summary: their id,
// time and kind).
func checkSummaries(t *testing.T, s *Store, events []*record.Event, broken map[[32]byte]record.Summary) {
	t.Helper()
	want := map[[32]byte]*record.Event{}
	for _, e := range events {
		want[e.ID] = e
	}
	n := 0
	var last store.Item
	err := s.Summaries(context.Background(), func(sum record.Summary, ok bool) error {
		it := store.Item{CreatedAt: sum.CreatedAt, ID: sum.ID}
		if n > 0 && last.Compare(it) >= 0 {
			return fmt.Errorf("summary %x after %x: not in item order", it.ID, last.ID)
		}
		last = it
		n++
		if b, isBroken := broken[sum.ID]; isBroken {
			if ok || sum != b {
				return fmt.Errorf("the undecodable event's summary: %+v, %v; want %+v, false", sum, ok, b)
			}
			return nil
		}
		e, known := want[sum.ID]
		if !known {
			return fmt.Errorf("a summary of an event never stored: %x", sum.ID)
		}
		if w, wok := store.SummaryOf(e); sum != w || ok != wok {
			return fmt.Errorf("summary %+v (%v), want %+v (%v)", sum, ok, w, wok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(events)+len(broken) {
		t.Fatalf("%d summaries, want %d", n, len(events)+len(broken))
	}
}

// objectStoreNames lists the object stores of the database called name, and
// returns its version, through a connection of its own.
func objectStoreNames(t *testing.T, name string) (int, []string) {
	t.Helper()
	db := rawOpen(t, name, 0)
	defer db.Call("close")
	names := db.Get("objectStoreNames")
	var out []string
	for i := range names.Length() {
		out = append(out, names.Index(i).String())
	}
	return db.Get("version").Int(), out
}

// TestVersion1DatabasesGetSummaries: a database written at schema 1 (events
// only) opens at the current schema with the summary of every event it
// held, an undecodable one included (without one).
func TestVersion1DatabasesGetSummaries(t *testing.T) {
	name := databaseName(t)
	g := storetest.NewGenerator(t, 2, 9)
	events := g.Records(300, 1000, 500)
	events = append(events, g.Note(1, 999), g.Deletion(0, 2000, events[0].TagValue(record.TagUUID)))
	brokenID := [32]byte{0xbb}
	oldDatabase(t, name, 1, events, nil, []js.Value{brokenObject(3000, brokenID, 1)}, nil)

	s := openNamed(t, name, Options{})
	defer s.Close()
	checkSummaries(t, s, events, map[[32]byte]record.Summary{brokenID: {ID: brokenID, CreatedAt: 3000, Kind: 1}})
}

// TestVersion3DatabasesMigrate: a database written at schema 3 (a summary
// row per event beside it, except where schema 1 left none) opens at schema
// 4: the summaries are in the events' objects, the summaries store is gone,
// the events, the metadata and a current index snapshot are kept, and the
// store reads and writes as usual.
func TestVersion3DatabasesMigrate(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 3, 10)
	events := g.Records(2500, 1000, 5000) // more than two migration pages
	events = append(events, g.Note(1, 999), g.Deletion(0, 7000, events[0].TagValue(record.TagUUID)))
	noRow := map[[32]byte]bool{events[5].ID: true, events[1500].ID: true}
	brokenID := [32]byte{0xcc}
	gen := "0123456789abcdef"
	snapshot := append(binary.BigEndian.AppendUint64(nil, genNumber(gen)), "snapshot data"...)
	oldDatabase(t, name, 3, events, noRow, []js.Value{brokenObject(4000, brokenID, 30023)}, map[string][]byte{
		"node/key":   []byte("kept"),
		metaSnapshot: snapshot,
	})
	// The generation is stored as a string, not bytes.
	db := rawOpen(t, name, 0)
	tx := db.Call("transaction", []any{storeMeta}, "readwrite")
	tx.Call("objectStore", storeMeta).Call("put", gen, metaGeneration)
	txDone := make(chan struct{})
	var th handlers
	th.on(tx, "complete", func(js.Value) { close(txDone) }, nil)
	<-txDone
	th.release()
	db.Call("close")
	if v, names := objectStoreNames(t, name); v != 3 || !slices.Contains(names, storeSummaries) {
		t.Fatalf("the old database: version %d, stores %v", v, names)
	}

	s := openNamed(t, name, Options{})
	defer s.Close()
	if v, names := objectStoreNames(t, name); v != SchemaVersion || slices.Contains(names, storeSummaries) {
		t.Errorf("after Open: version %d, stores %v; want %d without %q", v, names, SchemaVersion, storeSummaries)
	}
	broken := map[[32]byte]record.Summary{brokenID: {ID: brokenID, CreatedAt: 4000, Kind: 30023}}
	checkSummaries(t, s, events, broken)
	// Every object carries its summary now: no event is decoded to read it.
	objects, err := s.readPage(ctx, func(t *txn) js.Value { return t.store(storeEvents).Call("getAll") })
	if err != nil {
		t.Fatal(err)
	}
	for i := range objects.Length() {
		o := objects.Index(i)
		if !isHex(stringOrEmpty(o.Get("s"))) || stringOrEmpty(o.Get("s")) == "" {
			t.Fatalf("object %s has no summary field after the migration", stringOrEmpty(o.Get("k")))
		}
	}
	if n, err := s.Count(ctx); err != nil || n != len(events)+1 {
		t.Errorf("Count = %d, %v; want %d", n, err, len(events)+1)
	}
	if v, err := s.GetMeta(ctx, "node/key"); err != nil || string(v) != "kept" {
		t.Errorf("GetMeta = %q, %v", v, err)
	}
	if snap, err := s.LoadSnapshot(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LoadSnapshot = %q, %v; want ErrNotFound: the step to schema 5 drops a snapshot it has no journal for", snap.Data, err)
	}
	if got, err := s.Get(ctx, events[1500].ID); err != nil || got.ID != events[1500].ID {
		t.Errorf("Get = %v, %v", got, err)
	}
	more := g.Records(10, 9000, 10)
	if err := s.Put(ctx, more...); err != nil {
		t.Fatalf("Put after the migration: %v", err)
	}
	if err := s.Delete(ctx, events[0].ID, brokenID); err != nil {
		t.Fatalf("Delete after the migration: %v", err)
	}
	checkSummaries(t, s, append(slices.Clone(events[1:]), more...), nil)
}

// TestFailedMigrationKeepsTheDatabase: when the step to schema 4 fails
// half-way, Open fails and the database is left at schema 3 with all it
// held; a later Open migrates it.
func TestFailedMigrationKeepsTheDatabase(t *testing.T) {
	name := databaseName(t)
	g := storetest.NewGenerator(t, 2, 11)
	events := g.Records(2500, 1000, 5000)
	oldDatabase(t, name, 3, events, nil, nil, nil)

	failMigrationAfter = 1 // the second page fails, after the first was rewritten
	s, err := Open(context.Background(), name, Options{})
	failMigrationAfter = -1
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded although the migration failed")
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("failed to migrate to schema version %d", SchemaVersion)) {
		t.Errorf("Open: err = %v, want it to say the migration failed", err)
	}
	v, names := objectStoreNames(t, name)
	if v != 3 || !slices.Contains(names, storeSummaries) {
		t.Fatalf("after the failed migration: version %d, stores %v; want schema 3 as it was", v, names)
	}
	db := rawOpen(t, name, 0)
	tx := db.Call("transaction", []any{storeEvents, storeSummaries}, "readonly")
	objects := tx.Call("objectStore", storeEvents).Call("getAll")
	rows := tx.Call("objectStore", storeSummaries).Call("count")
	txDone := make(chan struct{})
	var th handlers
	th.on(tx, "complete", func(js.Value) { close(txDone) }, nil)
	<-txDone
	th.release()
	db.Call("close")
	if n := objects.Get("result").Length(); n != len(events) {
		t.Errorf("%d events left, want %d", n, len(events))
	}
	if n := rows.Get("result").Int(); n != len(events) {
		t.Errorf("%d summary rows left, want %d", n, len(events))
	}
	for i := range objects.Get("result").Length() {
		if !objects.Get("result").Index(i).Get("s").IsUndefined() {
			t.Fatal("an event kept a summary field written by the rolled back migration")
		}
	}

	s = openNamed(t, name, Options{})
	defer s.Close()
	checkSummaries(t, s, events, nil)
}

// TestSummariesOfDamagedObjects: objects whose summary field is missing or
// malformed get the summary of their event JSON.
func TestSummariesOfDamagedObjects(t *testing.T) {
	ctx := context.Background()
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	g := storetest.NewGenerator(t, 2, 12)
	events := g.Records(30, 1000, 50)
	if err := s.Put(ctx, events...); err != nil {
		t.Fatal(err)
	}
	objects := js.Global().Get("JSON").Call("parse", string(appendBatchJSON(nil, events[:3])))
	objects.Index(0).Delete("s")
	objects.Index(1).Set("s", "zz not hex")
	objects.Index(2).Set("s", "00")
	for i := range 3 {
		tx, err := s.write(false, storeEvents)
		if err != nil {
			t.Fatal(err)
		}
		tx.store(storeEvents).Call("put", objects.Index(i))
		if err := tx.wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkSummaries(t, s, events, nil)
}

func TestParseSummaryPage(t *testing.T) {
	k := strings.Repeat("a", itemKeyLen)
	tests := []struct {
		page string
		n    int
		want []string
	}{
		{`[]`, 0, []string{}},
		{`[{"k":"` + k + `","s":"0001"}]`, 1, []string{k, "0001"}},
		{`[{"k":"` + k + `"},{"k":"` + k + `","s":"ff"}]`, 2, []string{k, "", k, "ff"}},
		{`[{"k":"` + k + `","s":"0001"}]`, 2, nil},           // fewer than n
		{`[{"k":"` + k + `","s":"0001"},{"k":"0"}]`, 1, nil}, // more than n
		{`[{"k":"` + k + `","s":"AB"}]`, 1, nil},             // not lowercase hex
		{`[{"k":"\"x","s":"00"}]`, 1, nil},
		{`[{"k":1,"s":"00"}]`, 1, nil},
		{`[{"s":"00","k":"` + k + `"}]`, 1, nil},
		{`{"k":"` + k + `"}`, 1, nil},
		{``, 0, nil},
	}
	for _, tt := range tests {
		got, ok := parseSummaryPage(tt.page, tt.n)
		if (tt.want != nil) != ok || (ok && !slices.Equal(got, tt.want)) {
			t.Errorf("parseSummaryPage(%q, %d) = %q, %v; want %q", tt.page, tt.n, got, ok, tt.want)
		}
	}
}

// TestBlockedOpenTimesOut: Options.BlockedTimeout bounds the wait for a
// connection at an older version that never steps aside, with an error
// saying what to do, while ctx alone would wait on.
func TestBlockedOpenTimesOut(t *testing.T) {
	name := databaseName(t)
	holder := rawOpen(t, name, SchemaVersion-1) // an older tab: no versionchange handler
	defer holder.Call("close")
	start := time.Now()
	_, err := Open(context.Background(), name, Options{BlockedTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "close the other tabs") {
		t.Fatalf("Open while an older connection holds the database: err = %v, want ErrBlocked", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the 300 ms BlockedTimeout", d)
	}
}

// version5Database writes a database at schema 5, as the code of that
// version did: the migrations up to 5, the events' objects (summaries
// included) and metadata values.
func version5Database(t *testing.T, name string, events []*record.Event, meta map[string][]byte) {
	t.Helper()
	const version = 5
	req := js.Global().Get("indexedDB").Call("open", name, version)
	done := make(chan error, 1)
	var h, steps handlers
	h.on(req, "upgradeneeded", func(js.Value) {
		for v := range version {
			migrations[v](req.Get("result"), req.Get("transaction"), &steps, func(err error) { signal(done, err) })
		}
	}, nil)
	h.on(req, "success", func(js.Value) { signal(done, nil) }, nil)
	h.on(req, "error", func(js.Value) { signal(done, domError(req.Get("error"))) }, nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.release()
	steps.release()
	db := req.Get("result")
	defer db.Call("close")
	tx := db.Call("transaction", []any{storeEvents, storeMeta}, "readwrite")
	objects := js.Global().Get("JSON").Call("parse", string(appendBatchJSON(nil, events)))
	for i := range objects.Length() {
		tx.Call("objectStore", storeEvents).Call("add", objects.Index(i))
	}
	for k, v := range meta {
		b := jsUint8.New(len(v))
		js.CopyBytesToJS(b, v)
		tx.Call("objectStore", storeMeta).Call("put", b, k)
	}
	txDone := make(chan error, 1)
	var th handlers
	th.on(tx, "complete", func(js.Value) { signal(txDone, nil) }, nil)
	th.on(tx, "abort", func(js.Value) { signal(txDone, domError(tx.Get("error"))) }, nil)
	if err := <-txDone; err != nil {
		t.Fatalf("writing the schema 5 database: %v", err)
	}
	th.release()
}

// TestVersion5DatabasesGetBlobStores: a database written at schema 5 opens
// at schema 6 with the blob stores, its events and metadata kept, and keeps
// blobs.
func TestVersion5DatabasesGetBlobStores(t *testing.T) {
	ctx := context.Background()
	name := databaseName(t)
	g := storetest.NewGenerator(t, 2, 13)
	events := g.Records(300, 1000, 500)
	version5Database(t, name, events, map[string][]byte{"node/key": []byte("kept")})
	if v, names := objectStoreNames(t, name); v != 5 || slices.Contains(names, storeBlobs) {
		t.Fatalf("the old database: version %d, stores %v", v, names)
	}

	s := openNamed(t, name, Options{})
	defer s.Close()
	db := rawOpen(t, name, 0)
	if v := db.Get("version").Int(); v != SchemaVersion {
		t.Errorf("version after Open = %d, want %d", v, SchemaVersion)
	}
	checkBlobStores(t, db)
	db.Call("close")
	checkSummaries(t, s, events, nil)
	if n, err := s.Count(ctx); err != nil || n != len(events) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(events))
	}
	if v, err := s.GetMeta(ctx, "node/key"); err != nil || string(v) != "kept" {
		t.Errorf("GetMeta = %q, %v", v, err)
	}
	if got, err := s.Get(ctx, events[42].ID); err != nil || got.ID != events[42].ID {
		t.Errorf("Get = %v, %v", got, err)
	}
	data := []byte("a blob stored after the migration")
	ref, hashes := record.HashBlob(data, "text/plain")
	if err := s.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: hashes}); err != nil {
		t.Fatalf("SetBlob: %v", err)
	}
	if err := s.PutChunks(ctx, ref.SHA256, 0, [][]byte{data}); err != nil {
		t.Fatalf("PutChunks: %v", err)
	}
	if err := s.AddBlobRefs(ctx, []store.BlobRefEntry{{Record: events[0].ID, SHA256: ref.SHA256}}); err != nil {
		t.Fatalf("AddBlobRefs: %v", err)
	}
	if info, err := s.Blob(ctx, ref.SHA256); err != nil || info.Stored != 1 || info.Ref != ref {
		t.Errorf("Blob = %+v, %v", info, err)
	}
	if gone, err := s.DropBlobRefs(ctx, [][32]byte{events[0].ID}); err != nil || len(gone) != 1 || gone[0] != ref.SHA256 {
		t.Errorf("DropBlobRefs = %x, %v; want the blob", gone, err)
	}
}

// TestCorruptBlobInfoIsReported: a stored info that is not what
// infoObject writes is an error wrapping store.ErrCorrupt, not a panic;
// SetBlob replaces it and DeleteBlob removes it.
func TestCorruptBlobInfoIsReported(t *testing.T) {
	ctx := context.Background()
	s := openNamed(t, databaseName(t), Options{})
	defer s.Close()
	ref, _ := record.HashBlob([]byte("blob"), "")
	for i, bad := range []js.Value{js.ValueOf("not an object"), js.ValueOf(map[string]any{"size": "4"})} {
		tx, err := s.write(false, storeBlobs)
		if err != nil {
			t.Fatal(err)
		}
		tx.store(storeBlobs).Call("put", bad, idHex(ref.SHA256))
		if err := tx.wait(ctx); err != nil {
			t.Fatal(err)
		}
		storetest.CorruptBlobInfo(t, s, ref, i == 1)
	}
}
