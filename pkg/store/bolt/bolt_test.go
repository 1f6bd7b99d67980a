//go:build !js

package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

// testOptions keep lock waits short in tests.
var testOptions = Options{LockTimeout: 100 * time.Millisecond}

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "peerset.db"), testOptions)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestConformanceCached: the same behind the facade's cache (small enough
// to evict).
func TestConformanceCached(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewCache(openTemp(t), 8<<10) })
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	storetest.RunPersistence(t, func(t *testing.T, name string) store.Store {
		s, err := Open(filepath.Join(dir, name+".db"), testOptions)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestBlobs(t *testing.T) {
	storetest.RunBlobs(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestBlobsPersistence(t *testing.T) {
	dir := t.TempDir()
	storetest.RunBlobsPersistence(t, func(t *testing.T, name string) store.Store {
		s, err := Open(filepath.Join(dir, name+".db"), testOptions)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestFilesWithoutBlobBucketsGetThem: a file written before blobs (no blob
// buckets) opens with its events and metadata, and keeps blobs.
func TestFilesWithoutBlobBucketsGetThem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "peerset.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.NewGenerator(t, 2, 21)
	events := g.Records(50, 1000, 100)
	if err := s.Put(ctx, events...); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "node/key", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	blobBuckets := [][]byte{bucketBlobs, bucketBlobChunks, bucketBlobRefs, bucketBlobsByRef}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range blobBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open of a file without blob buckets: %v", err)
	}
	defer s.Close()
	if err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range blobBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("no bucket %s after Open", name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx); err != nil || n != len(events) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(events))
	}
	if v, err := s.GetMeta(ctx, "node/key"); err != nil || string(v) != "kept" {
		t.Errorf("GetMeta = %q, %v", v, err)
	}
	ref, hashes := record.HashBlob([]byte("a small blob"), "text/plain")
	if err := s.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: hashes}); err != nil {
		t.Fatalf("SetBlob: %v", err)
	}
	if err := s.PutChunks(ctx, ref.SHA256, 0, [][]byte{[]byte("a small blob")}); err != nil {
		t.Fatalf("PutChunks: %v", err)
	}
	if info, err := s.Blob(ctx, ref.SHA256); err != nil || info.Stored != 1 || info.Ref != ref {
		t.Errorf("Blob = %+v, %v", info, err)
	}
}

// TestCorruptBlobInfoIsReported: an info too short to decode is an error
// wrapping store.ErrCorrupt, not a panic.
func TestCorruptBlobInfoIsReported(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ref, _ := record.HashBlob([]byte("blob"), "")
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlobs).Put(ref.SHA256[:], []byte{1, 2, 3})
	}); err != nil {
		t.Fatal(err)
	}
	storetest.CorruptBlobInfo(t, s, ref, true)
}

func TestSecondOpenFailsWithLockError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peerset.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	start := time.Now()
	second, err := Open(path, testOptions)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a held file succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "database is locked by another process") {
		t.Errorf("second Open: err = %v, want ErrLocked", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second Open took %v with a %v lock timeout", waited, testOptions.LockTimeout)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	third, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	third.Close()
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "peerset.db")},
		{"a directory", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, testOptions)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "failed to open store ") || errors.Is(err, ErrLocked) {
				t.Errorf("err = %v, want a wrapped open error", err)
			}
		})
	}
	t.Run("not a bbolt file", func(t *testing.T) {
		path := filepath.Join(dir, "garbage.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(path, testOptions); err == nil {
			s.Close()
			t.Fatal("Open of a garbage file succeeded")
		}
	})
}

func TestSchemaVersionIsChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peerset.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketInternal).Put(keySchema, be64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path, testOptions); !errors.Is(err, ErrSchema) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open of a newer schema: err = %v, want ErrSchema", err)
	}
}

// TestVersion1FilesAreMigrated: a file written before summaries (its time
// index held bare kinds, schema 1) opens with every event's summary in place,
// across several migration transactions.
func TestVersion1FilesAreMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peerset.db")
	s, err := Open(path, testOptions)
	if err != nil {
		t.Fatal(err)
	}
	g := storetest.NewGenerator(t, 3, 5)
	events := g.Records(migratePageSize+100, 1000, 5000)
	events = append(events, g.Note(1, 999), g.Deletion(0, 7000, events[0].TagValue(record.TagUUID)))
	if err := s.Put(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	// Turn it into a version 1 file.
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		byTime := tx.Bucket(bucketByTime)
		var keys [][]byte
		if err := byTime.ForEach(func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			e, err := store.DecodeEvent(lastID(k), tx.Bucket(bucketEvents).Get(k[8:]))
			if err != nil {
				return err
			}
			if err := byTime.Put(k, kindValue(e.Kind)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketInternal).Put(keySchema, be64(1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, testOptions)
	if err != nil {
		t.Fatalf("Open of a version 1 file: %v", err)
	}
	defer s.Close()
	byID := map[[32]byte]*record.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	n := 0
	if err := s.Summaries(context.Background(), func(sum record.Summary, ok bool) error {
		n++
		if want, wantOK := store.SummaryOf(byID[sum.ID]); sum != want || ok != wantOK {
			return fmt.Errorf("summary %+v (%v), want %+v (%v)", sum, ok, want, wantOK)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(events) {
		t.Fatalf("%d summaries, want %d", n, len(events))
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketInternal).Get(keySchema); string(v) != string(be64(schemaVersion)) {
			return fmt.Errorf("schema %x after the migration", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// corrupt overwrites the stored JSON of an event.
func corrupt(t *testing.T, s *Store, id [32]byte, data string) {
	t.Helper()
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEvents).Put(id[:], []byte(data))
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptEventsAreReportedWithTheirID(t *testing.T) {
	ctx := context.Background()
	g := storetest.NewGenerator(t, 2, 21)
	events := g.Records(600, 1000, 50) // more than a Scan page
	s := openTemp(t)
	defer s.Close()
	if err := s.Put(ctx, events...); err != nil {
		t.Fatalf("Put: %v", err)
	}
	bad, other := events[10], events[400]
	corrupt(t, s, bad.ID, `{"id": truncated`)
	corrupt(t, s, other.ID, string(events[0].AppendJSON(nil))) // valid JSON of another id
	badHex := fmt.Sprintf("%x", bad.ID)

	checkCorrupt := func(t *testing.T, what string, err error, wantIDs ...[32]byte) {
		t.Helper()
		var ce *store.CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("%s: err = %v, want a *store.CorruptError", what, err)
		}
		if len(ce.IDs) != len(wantIDs) {
			t.Fatalf("%s: corrupt ids %x, want %x", what, ce.IDs, wantIDs)
		}
		for i := range wantIDs {
			if ce.IDs[i] != wantIDs[i] {
				t.Errorf("%s: corrupt ids %x, want %x", what, ce.IDs, wantIDs)
			}
		}
	}

	_, err := s.Get(ctx, bad.ID)
	checkCorrupt(t, "Get", err, bad.ID)
	if !strings.Contains(err.Error(), badHex) {
		t.Errorf("Get error %q does not name the id %s", err, badHex)
	}
	_, err = s.Get(ctx, other.ID)
	checkCorrupt(t, "Get(event holding another id)", err, other.ID)

	scanned := 0
	err = s.Scan(ctx, func(*record.Event) error { scanned++; return nil })
	wantOrder := [][32]byte{bad.ID, other.ID}
	if store.ItemOf(other).Compare(store.ItemOf(bad)) < 0 {
		wantOrder = [][32]byte{other.ID, bad.ID}
	}
	checkCorrupt(t, "Scan", err, wantOrder...)
	if scanned != len(events)-2 {
		t.Errorf("Scan visited %d events, want %d", scanned, len(events)-2)
	}
	got, err := s.Query(ctx, store.Query{Author: &bad.PubKey})
	var wantQuery [][32]byte
	for _, id := range wantOrder {
		if id == bad.ID || other.PubKey == bad.PubKey {
			wantQuery = append(wantQuery, id)
		}
	}
	checkCorrupt(t, "Query", err, wantQuery...)
	if len(got) == 0 {
		t.Errorf("Query returned no events besides the corrupt one")
	}
	got, err = s.GetMany(ctx, [][32]byte{bad.ID, events[1].ID})
	checkCorrupt(t, "GetMany", err, bad.ID)
	if len(got) != 1 || got[0].ID != events[1].ID {
		t.Errorf("GetMany returned %d events, want the readable one", len(got))
	}
	_, err = s.GetByAddress(ctx, record.AddressOf(bad))
	checkCorrupt(t, "GetByAddress", err, bad.ID)
	n := 0
	if err := s.Items(ctx, func(int64, [32]byte) error { n++; return nil }); err != nil || n != len(events) {
		t.Errorf("Items = %d items, %v; want %d: it reads only the index", n, err, len(events))
	}

	// Deleting the corrupt events repairs the store.
	if err := s.Delete(ctx, bad.ID, other.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Scan(ctx, func(*record.Event) error { return nil }); err != nil {
		t.Errorf("Scan after deleting the corrupt events: %v", err)
	}
	n = 0
	if err := s.Items(ctx, func(int64, [32]byte) error { n++; return nil }); err != nil || n != len(events)-2 {
		t.Errorf("Items after repair = %d, %v; want %d", n, err, len(events)-2)
	}
	if c, err := s.Count(ctx); err != nil || c != len(events)-2 {
		t.Errorf("Count after repair = %d, %v; want %d", c, err, len(events)-2)
	}
	for _, q := range []store.Query{{Author: &bad.PubKey}, {Author: &other.PubKey}, {}} {
		if _, err := s.Query(ctx, q); err != nil {
			t.Errorf("Query after repair: %v", err)
		}
	}
	if got, err := s.GetByAddress(ctx, record.AddressOf(bad)); err != nil || len(got) != 0 {
		t.Errorf("GetByAddress after repair = %d events, %v; want none", len(got), err)
	}
}
