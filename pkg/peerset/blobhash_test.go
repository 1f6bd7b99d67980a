package peerset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// storeWithoutBlobs hides the memory store's blob methods.
type storeWithoutBlobs struct{ store.Store }

// sweptMemory is a memory store that notes when the sweep of orphaned blobs
// that Open starts has listed the blobs (its first ListBlobs): a blob put
// before then may be swept before PutBlob notes its record's reference.
type sweptMemory struct {
	*store.Memory
	once   sync.Once
	listed chan struct{}
}

func (s *sweptMemory) ListBlobs(ctx context.Context, fn func(store.BlobInfo) error) error {
	err := s.Memory.ListBlobs(ctx, fn)
	s.once.Do(func() { close(s.listed) })
	return err
}

// TestBlobByHash: a blob put here is read back by its SHA-256, byte for
// byte; a hash not held, a blob not whole yet and one whose stored bytes
// were damaged are refused with the error that says which; a store without
// blobs says so.
func TestBlobByHash(t *testing.T) {
	ctx := context.Background()
	mem := &sweptMemory{Memory: store.NewMemory(), listed: make(chan struct{})}
	db, err := Open(ctx, Config{Room: "blobhash", Store: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	select {
	case <-mem.listed:
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep of orphaned blobs 10 s after Open")
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 9000) // 144,000 bytes: 3 chunks, the last short
	rec, err := db.PutBlob(ctx, record.Draft{Text: "numbers"}, bytes.NewReader(data), "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	// Three more blobs written straight to the store, each with a record
	// referring to it first (the sweep at Open deletes blobs without one).
	damaged := bytes.Repeat([]byte{7}, 70000)
	dref, dhashes := record.HashBlob(damaged, "")
	partial := bytes.Repeat([]byte{9}, 70000)
	pref, phashes := record.HashBlob(partial, "")
	lacking := bytes.Repeat([]byte{6}, 70000)
	lref, lhashes := record.HashBlob(lacking, "")
	for i, ref := range []record.BlobRef{dref, pref, lref} {
		r, err := db.Put(ctx, record.Draft{Text: fmt.Sprintf("written by hand %d", i), Blob: &ref})
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.AddBlobRefs(ctx, []store.BlobRefEntry{{Record: r.Event.ID, SHA256: ref.SHA256}}); err != nil {
			t.Fatal(err)
		}
	}
	// A blob whose info says whole but whose chunk 1 was overwritten.
	if err := mem.SetBlob(ctx, store.BlobInfo{Ref: dref, Hashes: dhashes}); err != nil {
		t.Fatal(err)
	}
	if err := mem.PutChunks(ctx, dref.SHA256, 0, [][]byte{damaged[:65536], bytes.Repeat([]byte{8}, 70000-65536)}); err != nil {
		t.Fatal(err)
	}
	if err := mem.SetBlob(ctx, store.BlobInfo{Ref: dref, Hashes: dhashes, Complete: true}); err != nil {
		t.Fatal(err)
	}
	// A blob whose info says whole but whose chunk 1 is not there.
	if err := mem.SetBlob(ctx, store.BlobInfo{Ref: lref, Hashes: lhashes}); err != nil {
		t.Fatal(err)
	}
	if err := mem.PutChunks(ctx, lref.SHA256, 0, [][]byte{lacking[:65536]}); err != nil {
		t.Fatal(err)
	}
	if err := mem.SetBlob(ctx, store.BlobInfo{Ref: lref, Hashes: lhashes, Complete: true}); err != nil {
		t.Fatal(err)
	}
	// A blob whose fetch has begun: info and one chunk, not whole.
	if err := mem.SetBlob(ctx, store.BlobInfo{Ref: pref, Hashes: phashes}); err != nil {
		t.Fatal(err)
	}
	if err := mem.PutChunks(ctx, pref.SHA256, 0, [][]byte{partial[:65536]}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		sha     [32]byte
		want    []byte
		wantErr error
	}{
		{"a blob put here", rec.Blob.SHA256, data, nil},
		{"a hash not held", sha256.Sum256([]byte("never stored")), nil, ErrNotFound},
		{"a blob not whole yet", pref.SHA256, nil, ErrNotFound},
		{"damaged bytes", dref.SHA256, nil, ErrBlobMismatch},
		{"a chunk gone", lref.SHA256, nil, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.BlobByHash(ctx, tt.sha)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("%d bytes, want %d", len(got), len(tt.want))
			}
		})
	}

	plain, err := Open(ctx, Config{Room: "blobhash", Store: storeWithoutBlobs{store.NewMemory()}})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.BlobByHash(ctx, rec.Blob.SHA256); !errors.Is(err, ErrNoBlobStore) {
		t.Fatalf("a store without blobs: %v, want ErrNoBlobStore", err)
	}
}
