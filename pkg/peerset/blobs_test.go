//go:build !js

package peerset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

func blobBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// progressLog collects a DB's blob progress reports.
type progressLog struct {
	mu  sync.Mutex
	all []BlobProgress
}

func (l *progressLog) add(p BlobProgress) {
	l.mu.Lock()
	l.all = append(l.all, p)
	l.mu.Unlock()
}

func (l *progressLog) done(sha string) (BlobProgress, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.all {
		if p.SHA256 == sha {
			n++
			if p.Done {
				return p, n, true
			}
		}
	}
	return BlobProgress{}, n, false
}

// TestBlobTravelsBetweenPeers is issue 13's native acceptance: a 5 MiB file
// put by one peer (in memory) arrives byte-identical at another (a bbolt
// file) over real WebRTC, with progress reports, and is kept there: after
// the first peer leaves, a third fetches it from the second.
func TestBlobTravelsBetweenPeers(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "blobs")
	st, err := bolt.Open(filepath.Join(t.TempDir(), "b.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := openNetPeer(t, "b", st, "blobs")
	var progress progressLog
	b.OnBlob(progress.add)
	data := blobBytes(5<<20, 1)
	rec, err := a.PutBlob(ctx, record.Draft{Text: "a photo"}, bytes.NewReader(data), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Blob == nil || rec.Blob.Size != 5<<20 || rec.Blob.Type != "image/jpeg" || rec.Text != "a photo" {
		t.Fatalf("record %+v blob %+v", rec, rec.Blob)
	}
	for _, p := range []*netPeer{a, b} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 1, a, b)
	start := time.Now()
	got, gotRec, err := b.Blob(ctx, rec.UUID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5 MiB fetched in %v", time.Since(start).Round(time.Millisecond))
	if !bytes.Equal(got, data) || gotRec.Blob.SHA256 != rec.Blob.SHA256 {
		t.Fatal("the fetched blob differs")
	}
	var last BlobProgress
	var reports int
	testwait.For(t, "the last progress report", 10*time.Second, func() bool {
		var ok bool
		last, reports, ok = progress.done(rec.Blob.Hex())
		return ok
	})
	if last.Received != last.Size || last.Size != 5<<20 || last.Err != nil || reports < 2 {
		t.Fatalf("last report %+v after %d reports; want several, done at 5 MiB", last, reports)
	}
	// Kept: a's departure does not matter to a third peer.
	if err := a.Leave(); err != nil {
		t.Fatal(err)
	}
	c := openNetPeer(t, "c", nil, "blobs")
	if err := c.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 60*time.Second, 1, b, c)
	got, _, err = c.Blob(ctx, rec.UUID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("c's fetch from b: %v (equal %v)", err, bytes.Equal(got, data))
	}
}

// TestSmallBlobsArePrefetched: a blob under PrefetchBelow is fetched when
// its record arrives, without a Blob call.
func TestSmallBlobsArePrefetched(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	// b keeps a bbolt file: a race between noting a reference and the
	// prefetch that looks it up showed only there.
	st, err := bolt.Open(filepath.Join(t.TempDir(), "b.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := openNetPeer(t, "a", nil, "prefetch"), openNetPeer(t, "b", st, "prefetch")
	for _, p := range []*netPeer{a, b} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 0, a, b)
	rec, err := a.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(100<<10, 2)), "")
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "b to hold the small blob", 60*time.Second, func() bool {
		info, err := b.blobs.st.Blob(ctx, rec.Blob.SHA256)
		return err == nil && info.Complete
	})
}

// TestBlobGoesWithItsRecord: replacing or deleting the record deletes its
// blob; a blob two records share stays until both go.
func TestBlobGoesWithItsRecord(t *testing.T) {
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "blob-gc")
	held := func(sha [32]byte) bool {
		_, err := a.blobs.st.Blob(ctx, sha)
		return err == nil
	}
	data := blobBytes(200<<10, 3)
	r1, err := a.PutBlob(ctx, record.Draft{Text: "one"}, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := a.PutBlob(ctx, record.Draft{Text: "two"}, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	sha := r1.Blob.SHA256
	if r2.Blob.SHA256 != sha || !held(sha) {
		t.Fatal("the same bytes are not one blob")
	}
	// r1 replaced by a version without the blob: r2 still refers to it.
	if _, err := a.Put(ctx, record.Draft{UUID: r1.UUID, Text: "one, no file"}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "r1's reference to go", 10*time.Second, func() bool {
		refs, _ := a.blobs.st.BlobRefs(ctx, sha)
		return len(refs) == 1
	})
	if !held(sha) {
		t.Fatal("a blob a live record refers to was deleted")
	}
	// r2 replaced again and again by versions that keep the file: the
	// blob never loses its last reference.
	for i := range 20 {
		if _, err := a.PutBlob(ctx, record.Draft{UUID: r2.UUID, Text: fmt.Sprintf("two, version %d", i)}, bytes.NewReader(data), ""); err != nil {
			t.Fatal(err)
		}
	}
	testwait.For(t, "the references to settle", 10*time.Second, func() bool {
		a.blobs.mu.Lock()
		idle := len(a.blobs.pending) == 0
		a.blobs.mu.Unlock()
		refs, _ := a.blobs.st.BlobRefs(ctx, sha)
		return idle && len(refs) == 1
	})
	if got, _, err := a.Blob(ctx, r2.UUID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the blob after 20 replacements that keep it: %v", err)
	}
	if err := a.Delete(ctx, r2.UUID); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the blob to go with its last record", 10*time.Second, func() bool { return !held(sha) })
	if _, _, err := a.Blob(ctx, r2.UUID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Blob of a deleted record: %v", err)
	}
}

// TestPutBlobAuthorQuotaConcurrent: two PutBlob calls made together, each
// under the author's quota alone and over it together: one is refused by
// the rule, whichever stores first (the first one's blob counts from its
// store, before its record is stored).
func TestPutBlobAuthorQuotaConcurrent(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	for round := range 5 {
		db, err := Open(ctx, Config{Room: fmt.Sprintf("blob-quota-race-%d", round), Moderation: &open, MaxBlobBytes: 1 << 20, BlobQuotaAuthor: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for i := range 2 {
			go func() {
				_, err := db.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(600<<10, uint64(100*round+i))), "")
				errs <- err
			}()
		}
		var refused, stored int
		for range 2 {
			err := <-errs
			var rej *moderation.Rejection
			switch {
			case err == nil:
				stored++
			case errors.As(err, &rej) && rej.Rule == RuleBlobQuotaAuthor:
				refused++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		db.Close()
		if stored != 1 || refused != 1 {
			t.Fatalf("round %d: %d stored, %d refused by %s; want one each (600 KiB twice against a quota of 1 MiB)", round, stored, refused, RuleBlobQuotaAuthor)
		}
	}
}

// TestBlobLimits: the largest blob and the quotas refuse with the rule
// named, and store nothing.
func TestBlobLimits(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	db, err := Open(ctx, Config{Room: "blob-limits", Moderation: &open, MaxBlobBytes: 1 << 20, BlobQuotaAuthor: 1 << 20, BlobQuotaRoom: 2 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		name string
		size int
		rule string
	}{
		{"under every limit", 600 << 10, ""},
		{"over the largest blob", 1<<20 + 1, RuleBlobSize},
		{"over the author's quota", 600 << 10, RuleBlobQuotaAuthor},
	}
	for i, tc := range tests {
		_, err := db.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(tc.size, uint64(10+i))), "")
		var rej *moderation.Rejection
		switch {
		case tc.rule == "" && err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case tc.rule != "" && (!errors.As(err, &rej) || rej.Rule != tc.rule):
			t.Fatalf("%s: %v; want a refusal by rule %s", tc.name, err, tc.rule)
		}
	}
	var n int
	_ = db.blobs.st.ListBlobs(ctx, func(store.BlobInfo) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d blobs stored; want the one under every limit", n)
	}
	// The room's quota counts every author.
	other, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	db2, err := Open(ctx, Config{Room: "blob-limits-room", Moderation: &open, Key: other, BlobQuotaRoom: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(700<<10, 20)), ""); err != nil {
		t.Fatal(err)
	}
	_, err = db2.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(700<<10, 21)), "")
	if rej := (*moderation.Rejection)(nil); !errors.As(err, &rej) || rej.Rule != RuleBlobQuotaRoom {
		t.Fatalf("over the room's quota: %v", err)
	}
}

// TestBlobGoesWithItsCollectedRecord: a record past retention is collected
// and its blob with it.
func TestBlobGoesWithItsCollectedRecord(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	db := openTest(t, Config{Clock: clock, GCInterval: -1})
	rec, err := db.PutBlob(ctx, record.Draft{Text: "old photo"}, bytes.NewReader(blobBytes(100<<10, 30)), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(91 * 24 * time.Hour)
	mu.Unlock()
	if n, err := db.GC(ctx); err != nil || n != 1 {
		t.Fatalf("GC = %d, %v", n, err)
	}
	testwait.For(t, "the collected record's blob to go", 10*time.Second, func() bool {
		_, err := db.blobs.st.Blob(ctx, rec.Blob.SHA256)
		return errors.Is(err, store.ErrNotFound)
	})
}

// TestConcurrentFetchesReserveTheRoomQuota: two fetches at once cannot both
// pass the room's quota (each reserves its whole size while it runs).
func TestConcurrentFetchesReserveTheRoomQuota(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "quota-race")
	open := moderation.PresetOpen()
	bdb, err := Open(ctx, Config{Room: "quota-race", Moderation: &open, BlobQuotaRoom: 1536 << 10, PrefetchBelow: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bdb.Close() })
	b := &netPeer{DB: bdb, name: "b"}
	var uuids []string
	for i := range 2 {
		r, err := a.PutBlob(ctx, record.Draft{}, bytes.NewReader(blobBytes(1<<20, uint64(40+i))), "")
		if err != nil {
			t.Fatal(err)
		}
		uuids = append(uuids, r.UUID)
	}
	for _, p := range []*netPeer{a, b} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 2, a, b)
	errs := make(chan error, 2)
	for _, u := range uuids {
		go func() {
			_, _, err := b.Blob(ctx, u)
			errs <- err
		}()
	}
	var ok, refused int
	for range 2 {
		err := <-errs
		var rej *moderation.Rejection
		switch {
		case err == nil:
			ok++
		case errors.As(err, &rej) && rej.Rule == RuleBlobQuotaRoom:
			refused++
		default:
			t.Fatalf("fetch: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Fatalf("%d fetches passed and %d were refused; want one each (1.5 MiB of room for two 1 MiB blobs)", ok, refused)
	}
}
