//go:build !js

package peerset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// Attacks on blobs found by a hostile review: each test reproduces one and
// asserts the defence (the comments describe the attack).

// TestBlobOtherLayoutReadsHeldBytesOrRefuses: the node holds blob A whole. A record
// B names the same SHA-256 with another size or chunk size (any author may
// publish it). Blob(B) reads the held chunks with B's layout: it returns
// bytes whose SHA-256 is not the record's x and whose length is not its
// size (or fails for good, when B has more chunks), and never checks.
func TestBlobOtherLayoutReadsHeldBytesOrRefuses(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: "blob-layout", Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	data := blobBytes(200<<10, 7)
	a, err := db.PutBlob(ctx, record.Draft{Text: "honest"}, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alter func(*record.BlobRef)
	}{
		{"other chunk size, same size", func(r *record.BlobRef) { r.ChunkSize = record.MinBlobChunkSize }},
		{"shorter size", func(r *record.BlobRef) { r.Size = 1000 }},
		{"smaller chunks", func(r *record.BlobRef) { r.ChunkSize = record.MinBlobChunkSize; r.Size = 20 << 10 }},
		{"longer size", func(r *record.BlobRef) { r.Size = 300 << 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := *a.Blob
			tc.alter(&ref)
			b, err := db.Put(ctx, record.Draft{Text: "same x, other layout", Blob: &ref})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := db.Blob(ctx, b.UUID)
			t.Logf("Blob(B): %d bytes, err %v (B says %d bytes)", len(got), err, ref.Size)
			if ref.Size != a.Blob.Size {
				// No bytes have both B's SHA-256 and B's size: B is refused.
				if !errors.Is(err, ErrBlobMismatch) {
					t.Fatalf("Blob(B) of an impossible record: %d bytes, %v; want ErrBlobMismatch", len(got), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Blob(B) fails though the bytes are held: %v", err)
			}
			if sha256.Sum256(got) != ref.SHA256 || int64(len(got)) != ref.Size {
				t.Fatalf("Blob(B) returned %d bytes that do not hash to the record's x (size %d)", len(got), ref.Size)
			}
		})
	}
}

// TestBlobUnfetchedBlobsDoNotFillTheQuota: a blob that could not be fetched
// (nobody serves it) keeps its info, counted at its full size against the
// room's quota, though no byte of it is stored. Records of unfetchable blobs
// (prefetched automatically when ≤ PrefetchBelow) fill the quota for free,
// and the node's own PutBlob is then refused.
func TestBlobUnfetchedBlobsDoNotFillTheQuota(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: "blob-phantom", Moderation: &open, BlobQuotaRoom: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		ref, _ := record.HashBlob(blobBytes(256<<10, uint64(100+i)), "")
		r, err := db.Put(ctx, record.Draft{Text: "nobody serves this", Blob: &ref})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = db.Blob(ctx, r.UUID)
		t.Logf("Blob of unfetchable blob %d: %v", i, err)
	}
	u, _ := db.BlobUsage(ctx)
	t.Logf("usage: %+v", u)
	_, err = db.PutBlob(ctx, record.Draft{Text: "mine"}, bytes.NewReader(blobBytes(10<<10, 1)), "")
	var rej *moderation.Rejection
	if errors.As(err, &rej) {
		t.Fatalf("a 10 KiB PutBlob with no blob byte stored: refused by %s (%v); usage %+v", rej.Rule, err, u)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestBlobHugeRecordAllocatesNothing: as above, with B's size 1 GiB (a
// valid record): Blob(B) allocates 1 GiB before any size check (readBlob
// trusts the record's size; MaxBlobBytes is checked only on the fetch path).
// In WebAssembly that is an out-of-memory crash of the node.
func TestBlobHugeRecordAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: "blob-layout-huge", Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.PutBlob(ctx, record.Draft{Text: "honest"}, bytes.NewReader(blobBytes(100<<10, 8)), "")
	if err != nil {
		t.Fatal(err)
	}
	ref := *a.Blob
	ref.Size, ref.ChunkSize = record.MaxBlobBytes, record.MaxBlobChunkSize
	b, err := db.Put(ctx, record.Draft{Text: "same x, 1 GiB", Blob: &ref})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = db.Blob(ctx, b.UUID)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Blob(B): %v; allocated %d MiB", err, allocated>>20)
	if allocated > 64<<20 {
		t.Fatalf("Blob of a record naming a held blob with a 1 GiB size allocated %d MiB (MaxBlobBytes %d MiB)", allocated>>20, db.cfg.MaxBlobBytes>>20)
	}
}

// TestPrefetchGivesUpOnBlobsNobodyServes: an author publishes small-blob
// records and never serves the bytes. Each is queued for prefetch; before,
// it kept its slot of the queue (1,024) and a retry on every pass for the
// life of its record, so enough of them left no room for the blobs that
// can be fetched. Now an entry leaves after maxPrefetchMisses attempts that
// found no peer over prefetchGiveUpAfter (here: the node is not joined, so
// every attempt misses; its clock is moved on).
func TestPrefetchGivesUpOnBlobsNobodyServes(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	var mu sync.Mutex
	skew := time.Duration(0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	db, err := Open(ctx, Config{Room: "prefetch-gives-up", Moderation: &open, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	author, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var events []*record.Event
	for i := range n {
		ref, _ := record.HashBlob(blobBytes(10<<10, uint64(300+i)), "")
		e, err := record.New(record.Draft{Text: "never served", Blob: &ref}, author, record.RoomID(DefaultAppID, "prefetch-gives-up"), record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	for i, o := range db.Ingest(ctx, Origin{PeerID: "hostile"}, events) {
		if !o.Stored {
			t.Fatalf("record %d not stored: %v", i, o.Err)
		}
	}
	queued := func() int {
		db.blobs.mu.Lock()
		defer db.blobs.mu.Unlock()
		return len(db.blobs.wanted)
	}
	testwait.For(t, "the records' blobs to be queued for prefetch", 10*time.Second, func() bool { return queued() == n })
	// Many passes in a short time (a peer joining and leaving in a loop)
	// drop nothing.
	for range 3 * maxPrefetchMisses {
		db.blobs.kick()
		time.Sleep(10 * time.Millisecond)
	}
	testwait.For(t, "the passes to count their misses", 10*time.Second, func() bool {
		db.blobs.mu.Lock()
		defer db.blobs.mu.Unlock()
		for _, e := range db.blobs.wanted {
			if e.misses < maxPrefetchMisses {
				db.blobs.kick()
				return false
			}
		}
		return true
	})
	if q := queued(); q != n {
		t.Fatalf("%d of %d blobs left the queue after misses within a few seconds; want none yet", n-q, n)
	}
	mu.Lock()
	skew = prefetchGiveUpAfter
	mu.Unlock()
	testwait.For(t, "the prefetch to give up on them", 20*time.Second, func() bool {
		db.blobs.kick() // a pass, as when a peer joins
		return queued() == 0
	})
}
