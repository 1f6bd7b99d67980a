package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// RunBlobs runs the conformance suite of store.Blobs. open must return a
// new, empty store implementing store.Blobs for each call; RunBlobs closes
// it.
func RunBlobs(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s blobStore)
	}{
		{"SetBlobAndBlob", testSetBlobAndBlob},
		{"SetBlobRejectsInvalidInfo", testSetBlobRejectsInvalidInfo},
		{"SetBlobWithAnotherLayoutDropsChunks", testSetBlobWithAnotherLayoutDropsChunks},
		{"UnknownBlob", testUnknownBlob},
		{"PutChunksAndChunk", testPutChunksAndChunk},
		{"PutChunksWithoutInfo", testPutChunksWithoutInfo},
		{"PutChunksRejectsInvalidChunks", testPutChunksRejectsInvalidChunks},
		{"BlobBytesAreCopied", testBlobBytesAreCopied},
		{"DeleteBlob", testDeleteBlob},
		{"ListBlobs", testListBlobs},
		{"ListBlobsCallbacks", testListBlobsCallbacks},
		{"BlobRefs", testBlobRefs},
		{"DropBlobRefs", testDropBlobRefs},
		{"ConcurrentPutChunks", testConcurrentPutChunks},
		{"BlobsCanceledContext", testBlobsCanceledContext},
		{"BlobsAfterClose", testBlobsAfterClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, asBlobStore(t, s))
		})
	}
}

// RunBlobsPersistence checks that blobs, their chunks and their references
// survive Close and a new open. openAt is as for RunPersistence; the names
// it is given differ from those RunPersistence uses.
func RunBlobsPersistence(t *testing.T, openAt func(t *testing.T, name string) store.Store) {
	ctx := context.Background()
	whole := newTestBlob(t, 1, 200<<10, record.BlobChunkSize, "image/png")
	partial := newTestBlob(t, 2, 100<<10, record.MinBlobChunkSize, "")
	dropped := newTestBlob(t, 3, 1000, record.BlobChunkSize, "text/plain")
	r1, r2, r3 := recordID(1), recordID(2), recordID(3)

	s := asBlobStore(t, openAt(t, "blobs"))
	whole.store(t, s, true)
	partial.info.Complete = false
	mustSetBlob(t, s, partial.info)
	mustPutChunks(t, s, partial.sha(), 1, partial.chunks[1:3])
	mustSetBlob(t, s, dropped.info)
	mustAddBlobRefs(t, s, ref(r1, whole), ref(r2, whole), ref(r2, partial), ref(r3, dropped))
	if gone, err := s.DropBlobRefs(ctx, [][32]byte{r3}); err != nil || !slices.Equal(gone, [][32]byte{dropped.sha()}) {
		t.Fatalf("DropBlobRefs = %x, %v; want the dropped blob", gone, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = asBlobStore(t, openAt(t, "blobs"))
	defer closeStore(t, s)
	checkBlob(t, s, whole.info, whole.allChunks())
	checkBlob(t, s, partial.info, map[int][]byte{1: partial.chunks[1], 2: partial.chunks[2]})
	if _, err := s.Blob(ctx, dropped.sha()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Blob(dropped) after reopen: err = %v, want ErrNotFound", err)
	}
	checkRefs(t, s, whole.sha(), r1, r2)
	checkRefs(t, s, partial.sha(), r2)
	checkRefs(t, s, dropped.sha())
	checkList(t, s, withStored(whole.info, len(whole.chunks)), withStored(partial.info, 2))

	other := asBlobStore(t, openAt(t, "blobs-other"))
	defer closeStore(t, other)
	checkList(t, other)
	checkRefs(t, other, whole.sha())
}

// blobStore is a store with blobs.
type blobStore interface {
	store.Store
	store.Blobs
}

func asBlobStore(t *testing.T, s store.Store) blobStore {
	t.Helper()
	b, ok := s.(blobStore)
	if !ok {
		_ = s.Close()
		t.Fatalf("%T does not implement store.Blobs", s)
	}
	return b
}

// testBlob is a blob's data, cut into chunks, and its info.
type testBlob struct {
	data   []byte
	chunks [][]byte
	info   store.BlobInfo
}

// newTestBlob makes a blob of size pseudo-random bytes (from seed) in
// chunks of chunkSize, with its hash list; Complete is set.
func newTestBlob(t testing.TB, seed uint64, size, chunkSize int, mediaType string) testBlob {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	h := record.NewBlobHasher(chunkSize)
	h.Write(data)
	ref, hashes := h.Sum(mediaType)
	if err := ref.Check(); err != nil {
		t.Fatalf("test blob: %v", err)
	}
	b := testBlob{data: data, info: store.BlobInfo{Ref: ref, Hashes: hashes, Complete: true}}
	for i := range ref.Chunks() {
		b.chunks = append(b.chunks, data[i*chunkSize:i*chunkSize+ref.ChunkLen(i)])
	}
	return b
}

func (b testBlob) sha() [32]byte { return b.info.Ref.SHA256 }

// allChunks returns the blob's chunks by index.
func (b testBlob) allChunks() map[int][]byte {
	m := map[int][]byte{}
	for i, c := range b.chunks {
		m[i] = c
	}
	return m
}

// store sets the blob's info and, with chunks, stores all of them.
func (b testBlob) store(t *testing.T, s blobStore, chunks bool) {
	t.Helper()
	mustSetBlob(t, s, b.info)
	if chunks {
		mustPutChunks(t, s, b.sha(), 0, b.chunks)
	}
}

func recordID(n byte) [32]byte { return [32]byte{0xee, n, 0x5a} }

func ref(recordID [32]byte, b testBlob) store.BlobRefEntry {
	return store.BlobRefEntry{Record: recordID, SHA256: b.sha()}
}

func mustSetBlob(t *testing.T, s store.Blobs, info store.BlobInfo) {
	t.Helper()
	if err := s.SetBlob(context.Background(), info); err != nil {
		t.Fatalf("SetBlob(%x): %v", info.Ref.SHA256[:4], err)
	}
}

func mustPutChunks(t *testing.T, s store.Blobs, sha [32]byte, first int, chunks [][]byte) {
	t.Helper()
	if err := s.PutChunks(context.Background(), sha, first, chunks); err != nil {
		t.Fatalf("PutChunks(%x, %d, %d chunks): %v", sha[:4], first, len(chunks), err)
	}
}

func mustAddBlobRefs(t *testing.T, s store.Blobs, refs ...store.BlobRefEntry) {
	t.Helper()
	if err := s.AddBlobRefs(context.Background(), refs); err != nil {
		t.Fatalf("AddBlobRefs: %v", err)
	}
}

// sameInfo compares infos, Stored included; a nil and an empty hash list
// are the same.
func sameInfo(got, want store.BlobInfo) bool {
	return got.Ref == want.Ref && bytes.Equal(got.Hashes, want.Hashes) &&
		(got.Hashes == nil) == (len(want.Hashes) == 0) && got.Complete == want.Complete && got.Stored == want.Stored
}

func describeInfo(i store.BlobInfo) string {
	return fmt.Sprintf("{sha %x size %d chunk %d type %q list %x hashes %d bytes complete %v stored %d}",
		i.Ref.SHA256[:4], i.Ref.Size, i.Ref.ChunkSize, i.Ref.Type, i.Ref.ListHash[:4], len(i.Hashes), i.Complete, i.Stored)
}

// checkBlob checks a blob's info (want, with Stored set from chunks), its
// stored chunk indexes and every chunk's bytes.
func checkBlob(t *testing.T, s store.Blobs, want store.BlobInfo, chunks map[int][]byte) {
	t.Helper()
	ctx := context.Background()
	sha := want.Ref.SHA256
	want.Stored = len(chunks)
	got, err := s.Blob(ctx, sha)
	if err != nil {
		t.Errorf("Blob(%x): %v", sha[:4], err)
	} else if !sameInfo(got, want) {
		t.Errorf("Blob(%x) = %s, want %s", sha[:4], describeInfo(got), describeInfo(want))
	}
	wantIndexes := []int{}
	for i := range chunks {
		wantIndexes = append(wantIndexes, i)
	}
	slices.Sort(wantIndexes)
	indexes, err := s.StoredChunks(ctx, sha)
	if err != nil || !slices.Equal(indexes, wantIndexes) {
		t.Errorf("StoredChunks(%x) = %v, %v; want %v", sha[:4], indexes, err, wantIndexes)
	}
	for i, c := range chunks {
		got, err := s.Chunk(ctx, sha, i)
		if err != nil || !bytes.Equal(got, c) {
			t.Errorf("Chunk(%x, %d) = %d bytes, %v; want the %d bytes stored", sha[:4], i, len(got), err, len(c))
		}
	}
}

// checkGone checks that a blob has no info and no chunks.
func checkGone(t *testing.T, s store.Blobs, b testBlob) {
	t.Helper()
	ctx := context.Background()
	if info, err := s.Blob(ctx, b.sha()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Blob(%x) = %s, %v; want ErrNotFound", b.info.Ref.SHA256[:4], describeInfo(info), err)
	}
	if indexes, err := s.StoredChunks(ctx, b.sha()); err != nil || len(indexes) != 0 {
		t.Errorf("StoredChunks(%x) = %v, %v; want none", b.info.Ref.SHA256[:4], indexes, err)
	}
	for i := range b.chunks {
		if _, err := s.Chunk(ctx, b.sha(), i); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Chunk(%x, %d): err = %v, want ErrNotFound", b.info.Ref.SHA256[:4], i, err)
		}
	}
}

// checkRefs checks the record ids that refer to a blob.
func checkRefs(t *testing.T, s store.Blobs, sha [32]byte, want ...[32]byte) {
	t.Helper()
	got, err := s.BlobRefs(context.Background(), sha)
	if err != nil || len(got) != len(want) || len(want) > 0 && !slices.Equal(got, want) {
		t.Errorf("BlobRefs(%x) = %x, %v; want %x", sha[:4], got, err, want)
	}
}

// checkList checks that ListBlobs yields exactly these infos (Stored as
// given), in SHA-256 order, with no hash list.
func checkList(t *testing.T, s store.Blobs, want ...store.BlobInfo) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b store.BlobInfo) int { return bytes.Compare(a.Ref.SHA256[:], b.Ref.SHA256[:]) })
	var got []store.BlobInfo
	err := s.ListBlobs(context.Background(), func(info store.BlobInfo) error {
		got = append(got, info)
		return nil
	})
	if err != nil {
		t.Fatalf("ListBlobs: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListBlobs yields %d blobs, want %d", len(got), len(want))
	}
	for i := range got {
		w := want[i]
		w.Hashes = nil
		if got[i].Hashes != nil || !sameInfo(got[i], w) {
			t.Errorf("ListBlobs #%d = %s (hashes nil: %v), want %s without hashes", i, describeInfo(got[i]), got[i].Hashes == nil, describeInfo(w))
		}
	}
}

// The tests.

func testSetBlobAndBlob(t *testing.T, s blobStore) {
	ctx := context.Background()
	tests := []struct {
		name string
		blob testBlob
		// stored: the chunks stored before the second SetBlob.
		stored []int
	}{
		{"64KiB chunks", newTestBlob(t, 10, 200<<10, record.BlobChunkSize, "image/jpeg"), []int{0, 3}},
		{"16KiB chunks", newTestBlob(t, 11, 200<<10, record.MinBlobChunkSize, "application/pdf"), []int{1, 2, 12}},
		{"one short chunk", newTestBlob(t, 12, 1000, record.BlobChunkSize, ""), []int{0}},
		{"exact chunks", newTestBlob(t, 13, 128<<10, record.BlobChunkSize, "text/plain"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := tt.blob.info
			// First without hashes, not complete, with a Stored the store
			// must ignore.
			first := info
			first.Hashes, first.Complete, first.Stored = nil, false, 99
			mustSetBlob(t, s, first)
			first.Stored = 0
			checkBlob(t, s, first, nil)

			chunks := map[int][]byte{}
			for _, i := range tt.stored {
				mustPutChunks(t, s, tt.blob.sha(), i, tt.blob.chunks[i:i+1])
				chunks[i] = tt.blob.chunks[i]
			}
			// Then with the hash list and complete: the chunks stay.
			second := info
			second.Stored = -5
			mustSetBlob(t, s, second)
			checkBlob(t, s, info, chunks)
			if got, err := s.Blob(ctx, tt.blob.sha()); err == nil && got.Stored != len(tt.stored) {
				t.Errorf("Stored = %d, want %d", got.Stored, len(tt.stored))
			}
		})
	}
}

func testSetBlobRejectsInvalidInfo(t *testing.T, s blobStore) {
	ctx := context.Background()
	b := newTestBlob(t, 20, 100<<10, record.BlobChunkSize, "")
	b.store(t, s, true)
	tests := []struct {
		name   string
		change func(*store.BlobInfo)
	}{
		{"zero size", func(i *store.BlobInfo) { i.Ref.Size = 0 }},
		{"negative size", func(i *store.BlobInfo) { i.Ref.Size = -1 }},
		{"too large", func(i *store.BlobInfo) { i.Ref.Size = record.MaxBlobBytes + 1 }},
		{"zero chunk size", func(i *store.BlobInfo) { i.Ref.ChunkSize = 0 }},
		{"chunk size not a power of two", func(i *store.BlobInfo) { i.Ref.ChunkSize = 3 << 14 }},
		{"chunk size too small", func(i *store.BlobInfo) { i.Ref.ChunkSize = 1024 }},
		{"hash list too short", func(i *store.BlobInfo) { i.Hashes = i.Hashes[:32] }},
		{"hash list too long", func(i *store.BlobInfo) { i.Hashes = append(slices.Clone(i.Hashes), make([]byte, 32)...) }},
		{"empty hash list", func(i *store.BlobInfo) { i.Hashes = []byte{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := b.info
			info.Hashes = slices.Clone(info.Hashes)
			tt.change(&info)
			if err := s.SetBlob(ctx, info); !errors.Is(err, record.ErrInvalidBlob) {
				t.Errorf("SetBlob: err = %v, want ErrInvalidBlob", err)
			}
			// The stored blob is untouched.
			checkBlob(t, s, b.info, b.allChunks())
		})
	}
}

func testSetBlobWithAnotherLayoutDropsChunks(t *testing.T, s blobStore) {
	b := newTestBlob(t, 30, 100<<10, record.BlobChunkSize, "")
	b.store(t, s, true)
	// The same SHA-256 named with another chunk size: the 64 KiB chunks
	// stored do not fit 16 KiB chunks.
	other := newTestBlob(t, 30, 100<<10, record.MinBlobChunkSize, "")
	if other.sha() != b.sha() {
		t.Fatal("the same data hashed to another SHA-256")
	}
	mustSetBlob(t, s, other.info)
	checkBlob(t, s, other.info, nil)
	mustPutChunks(t, s, other.sha(), 0, other.chunks)
	checkBlob(t, s, other.info, other.allChunks())
	// The same layout again (another media type): the chunks stay.
	retyped := other.info
	retyped.Ref.Type = "image/webp"
	mustSetBlob(t, s, retyped)
	checkBlob(t, s, retyped, other.allChunks())
}

func testUnknownBlob(t *testing.T, s blobStore) {
	ctx := context.Background()
	known := newTestBlob(t, 40, 1000, record.BlobChunkSize, "")
	known.store(t, s, true)
	unknown := [32]byte{0x42}
	if _, err := s.Blob(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Blob(unknown): err = %v, want ErrNotFound", err)
	}
	if _, err := s.Chunk(ctx, unknown, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Chunk(unknown, 0): err = %v, want ErrNotFound", err)
	}
	for _, i := range []int{-1, 1, 1 << 20} {
		if _, err := s.Chunk(ctx, known.sha(), i); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Chunk(known, %d): err = %v, want ErrNotFound", i, err)
		}
	}
	if indexes, err := s.StoredChunks(ctx, unknown); err != nil || len(indexes) != 0 {
		t.Errorf("StoredChunks(unknown) = %v, %v; want none", indexes, err)
	}
	checkRefs(t, s, unknown)
}

func testPutChunksAndChunk(t *testing.T, s blobStore) {
	ctx := context.Background()
	for _, chunkSize := range []int{record.BlobChunkSize, record.MinBlobChunkSize} {
		t.Run(fmt.Sprint(chunkSize), func(t *testing.T) {
			b := newTestBlob(t, uint64(50+chunkSize), 200<<10, chunkSize, "")
			n := len(b.chunks)
			last := n - 1
			mustSetBlob(t, s, b.info)
			want := map[int][]byte{}
			put := func(first int, chunks [][]byte) {
				t.Helper()
				mustPutChunks(t, s, b.sha(), first, chunks)
				for j, c := range chunks {
					want[first+j] = c
				}
				checkBlob(t, s, b.info, want)
			}
			put(1, b.chunks[1:3])      // a run in the middle
			put(last, b.chunks[last:]) // the short last chunk alone
			put(0, nil)                // nothing
			replaced := bytes.Repeat([]byte{0xab}, len(b.chunks[2]))
			put(2, [][]byte{replaced}) // a chunk replaced
			put(0, b.chunks)           // all of them, some again
			if got, err := s.Chunk(ctx, b.sha(), 2); err != nil || !bytes.Equal(got, b.chunks[2]) {
				t.Errorf("Chunk 2 after its replacement was replaced back: %d bytes, %v", len(got), err)
			}
		})
	}
}

func testPutChunksWithoutInfo(t *testing.T, s blobStore) {
	ctx := context.Background()
	b := newTestBlob(t, 60, 100<<10, record.BlobChunkSize, "")
	if err := s.PutChunks(ctx, b.sha(), 0, b.chunks); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutChunks without info: err = %v, want ErrNotFound", err)
	}
	mustSetBlob(t, s, b.info)
	checkBlob(t, s, b.info, nil)
}

func testPutChunksRejectsInvalidChunks(t *testing.T, s blobStore) {
	ctx := context.Background()
	b := newTestBlob(t, 70, 200<<10, record.BlobChunkSize, "") // chunks of 64, 64, 64 and 8 KiB
	mustSetBlob(t, s, b.info)
	mustPutChunks(t, s, b.sha(), 0, b.chunks[:1])
	kept := map[int][]byte{0: b.chunks[0]}
	other := bytes.Repeat([]byte{0x11}, record.BlobChunkSize)
	last := len(b.chunks) - 1
	tests := []struct {
		name   string
		first  int
		chunks [][]byte
	}{
		{"negative index", -1, [][]byte{other}},
		{"index past the last chunk", len(b.chunks), [][]byte{b.chunks[last]}},
		{"batch running past the last chunk", last, [][]byte{b.chunks[last], b.chunks[last]}},
		{"short chunk", 1, [][]byte{b.chunks[1][:100]}},
		{"long chunk", 1, [][]byte{append(slices.Clone(b.chunks[1]), 0)}},
		{"full-size last chunk", last, [][]byte{other}},
		{"empty chunk", 1, [][]byte{{}}},
		{"valid chunks then an invalid one", 0, [][]byte{other, b.chunks[1], b.chunks[2][:10]}},
		{"an invalid chunk then valid ones", 1, [][]byte{b.chunks[2][:10], b.chunks[2], b.chunks[3]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.PutChunks(ctx, b.sha(), tt.first, tt.chunks); !errors.Is(err, store.ErrInvalidBlobChunk) {
				t.Errorf("PutChunks: err = %v, want ErrInvalidBlobChunk", err)
			}
			// Nothing of the batch is stored, and chunk 0 is not replaced.
			checkBlob(t, s, b.info, kept)
		})
	}
}

func testBlobBytesAreCopied(t *testing.T, s blobStore) {
	ctx := context.Background()
	b := newTestBlob(t, 80, 100<<10, record.MinBlobChunkSize, "")
	info := b.info
	info.Hashes = slices.Clone(b.info.Hashes)
	mustSetBlob(t, s, info)
	chunks := make([][]byte, len(b.chunks))
	for i, c := range b.chunks {
		chunks[i] = slices.Clone(c)
	}
	mustPutChunks(t, s, b.sha(), 0, chunks)
	// The caller reuses what it passed in.
	clear(info.Hashes)
	for _, c := range chunks {
		clear(c)
	}
	checkBlob(t, s, b.info, b.allChunks())
	// The caller changes what it got back.
	got, err := s.Blob(ctx, b.sha())
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	clear(got.Hashes)
	c, err := s.Chunk(ctx, b.sha(), 1)
	if err != nil {
		t.Fatalf("Chunk: %v", err)
	}
	clear(c)
	checkBlob(t, s, b.info, b.allChunks())
}

func testDeleteBlob(t *testing.T, s blobStore) {
	ctx := context.Background()
	gone := newTestBlob(t, 90, 200<<10, record.BlobChunkSize, "")
	kept := newTestBlob(t, 91, 200<<10, record.BlobChunkSize, "")
	gone.store(t, s, true)
	kept.store(t, s, true)
	r1, r2 := recordID(1), recordID(2)
	mustAddBlobRefs(t, s, ref(r1, gone), ref(r2, gone), ref(r1, kept))
	if err := s.DeleteBlob(ctx, gone.sha()); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	checkGone(t, s, gone)
	checkRefs(t, s, gone.sha(), r1, r2) // references belong to records
	checkBlob(t, s, kept.info, kept.allChunks())
	checkRefs(t, s, kept.sha(), r1)
	checkList(t, s, withStored(kept.info, len(kept.chunks)))
	if err := s.PutChunks(ctx, gone.sha(), 0, gone.chunks[:1]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutChunks after DeleteBlob: err = %v, want ErrNotFound", err)
	}
	for _, sha := range [][32]byte{gone.sha(), {0x99}} {
		if err := s.DeleteBlob(ctx, sha); err != nil {
			t.Errorf("DeleteBlob of a missing blob: %v", err)
		}
	}
	// Set again, it starts with no chunks.
	mustSetBlob(t, s, gone.info)
	checkBlob(t, s, gone.info, nil)
}

func withStored(info store.BlobInfo, n int) store.BlobInfo {
	info.Stored = n
	return info
}

// listedBlobs is more than a page of ListBlobs in every backend.
const listedBlobs = 150

func testListBlobs(t *testing.T, s blobStore) {
	checkList(t, s)
	var want []store.BlobInfo
	for i := range listedBlobs {
		b := newTestBlob(t, uint64(1000+i), 1000+i, record.MinBlobChunkSize, "")
		if i%3 == 0 {
			b.info.Complete = false
			b.info.Hashes = nil
		}
		chunks := i%2 == 0
		b.store(t, s, chunks)
		want = append(want, withStored(b.info, map[bool]int{true: 1}[chunks]))
	}
	// One with several chunks, a few stored.
	big := newTestBlob(t, 2000, 200<<10, record.MinBlobChunkSize, "video/mp4")
	mustSetBlob(t, s, big.info)
	mustPutChunks(t, s, big.sha(), 4, big.chunks[4:9])
	want = append(want, withStored(big.info, 5))
	checkList(t, s, want...)
}

func testListBlobsCallbacks(t *testing.T, s blobStore) {
	ctx := context.Background()
	var blobs []testBlob
	for i := range listedBlobs {
		b := newTestBlob(t, uint64(3000+i), 100+i, record.BlobChunkSize, "")
		b.store(t, s, false)
		blobs = append(blobs, b)
	}
	slices.SortFunc(blobs, func(a, b testBlob) int { return bytes.Compare(a.info.Ref.SHA256[:], b.info.Ref.SHA256[:]) })
	t.Run("the callback may use the store", func(t *testing.T) {
		// Every other blob gets its chunk and then is deleted from inside
		// the callback: the store is not held by a transaction.
		n := 0
		err := s.ListBlobs(ctx, func(info store.BlobInfo) error {
			if n >= len(blobs) {
				return fmt.Errorf("blob #%d, %x, was never stored", n, info.Ref.SHA256[:4])
			}
			if info.Ref.SHA256 != blobs[n].sha() {
				return fmt.Errorf("blob #%d is %x, want %x", n, info.Ref.SHA256[:4], blobs[n].info.Ref.SHA256[:4])
			}
			if _, err := s.Blob(ctx, info.Ref.SHA256); err != nil {
				return fmt.Errorf("inside ListBlobs, Blob: %w", err)
			}
			if n%2 == 1 {
				if err := s.PutChunks(ctx, info.Ref.SHA256, 0, blobs[n].chunks); err != nil {
					return fmt.Errorf("inside ListBlobs, PutChunks: %w", err)
				}
				if err := s.DeleteBlob(ctx, info.Ref.SHA256); err != nil {
					return fmt.Errorf("inside ListBlobs, DeleteBlob: %w", err)
				}
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != len(blobs) {
			t.Fatalf("ListBlobs visited %d blobs, want %d", n, len(blobs))
		}
		var left []store.BlobInfo
		for i, b := range blobs {
			if i%2 == 0 {
				left = append(left, b.info)
			}
		}
		checkList(t, s, left...)
	})
	t.Run("an error from the callback stops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := s.ListBlobs(ctx, func(store.BlobInfo) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 3 {
			t.Errorf("ListBlobs = %v after %d calls, want the callback's error as is after 3", err, calls)
		}
	})
}

func testBlobRefs(t *testing.T, s blobStore) {
	ctx := context.Background()
	a := newTestBlob(t, 100, 1000, record.BlobChunkSize, "")
	b := newTestBlob(t, 101, 1001, record.BlobChunkSize, "")
	a.store(t, s, true) // b is never stored: a reference needs no blob
	r1, r2, r3 := recordID(1), recordID(2), recordID(3)
	// Out of order, with a duplicate in the batch.
	mustAddBlobRefs(t, s, ref(r3, a), ref(r1, a), ref(r3, a), ref(r2, b))
	checkRefs(t, s, a.sha(), r1, r3)
	checkRefs(t, s, b.sha(), r2)
	// Again: a no-op.
	mustAddBlobRefs(t, s, ref(r1, a), ref(r2, b))
	mustAddBlobRefs(t, s)
	checkRefs(t, s, a.sha(), r1, r3)
	checkRefs(t, s, b.sha(), r2)
	mustAddBlobRefs(t, s, ref(r2, a))
	checkRefs(t, s, a.sha(), r1, r2, r3)
	checkBlob(t, s, a.info, a.allChunks())
	if _, err := s.Blob(ctx, b.sha()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Blob of a blob only referred to: err = %v, want ErrNotFound", err)
	}
}

func testDropBlobRefs(t *testing.T, s blobStore) {
	ctx := context.Background()
	var blobs []testBlob
	for i := range 6 {
		blobs = append(blobs, newTestBlob(t, uint64(200+i), 100<<10+i, record.BlobChunkSize, ""))
	}
	shared, single, unstored, other, orphan, pair := blobs[0], blobs[1], blobs[2], blobs[3], blobs[4], blobs[5]
	for _, b := range []testBlob{shared, single, other, orphan, pair} {
		b.store(t, s, true)
	}
	r1, r2, r3, r4, r5, r6 := recordID(1), recordID(2), recordID(3), recordID(4), recordID(5), recordID(6)
	mustAddBlobRefs(t, s,
		ref(r1, shared), ref(r2, shared), // shared by two records
		ref(r1, single), ref(r1, unstored), // only r1: one stored, one never
		ref(r3, other),
		ref(r5, pair), ref(r6, pair))
	// orphan has no reference at all.
	sorted := func(bs ...testBlob) [][32]byte {
		out := [][32]byte{}
		for _, b := range bs {
			out = append(out, b.sha())
		}
		slices.SortFunc(out, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
		return out
	}
	tests := []struct {
		name    string
		records [][32]byte
		gone    [][32]byte
		check   func(t *testing.T)
	}{
		{"no records", nil, nil, func(t *testing.T) {
			checkRefs(t, s, shared.sha(), r1, r2)
		}},
		{"records without references", [][32]byte{r4, {0x77}}, nil, func(t *testing.T) {
			checkRefs(t, s, shared.sha(), r1, r2)
			checkRefs(t, s, other.sha(), r3)
		}},
		{"one record, twice, and one without references", [][32]byte{r1, r4, r1}, sorted(single, unstored), func(t *testing.T) {
			checkGone(t, s, single)
			checkRefs(t, s, single.sha())
			checkRefs(t, s, unstored.sha())
			// Still referred to by r2.
			checkBlob(t, s, shared.info, shared.allChunks())
			checkRefs(t, s, shared.sha(), r2)
			checkBlob(t, s, other.info, other.allChunks())
			checkRefs(t, s, other.sha(), r3)
		}},
		{"a record already dropped", [][32]byte{r1}, nil, func(t *testing.T) {
			checkBlob(t, s, shared.info, shared.allChunks())
		}},
		{"several records, two of them referring to one blob", [][32]byte{r6, r3, r2, r5}, sorted(shared, other, pair), func(t *testing.T) {
			for _, b := range []testBlob{shared, other, pair} {
				checkGone(t, s, b)
				checkRefs(t, s, b.sha())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gone, err := s.DropBlobRefs(ctx, tt.records)
			if err != nil {
				t.Fatalf("DropBlobRefs: %v", err)
			}
			if len(gone) != len(tt.gone) || len(gone) > 0 && !slices.Equal(gone, tt.gone) {
				t.Errorf("DropBlobRefs = %x, want %x", gone, tt.gone)
			}
			tt.check(t)
			// A blob no record ever referred to is the caller's to sweep.
			checkBlob(t, s, orphan.info, orphan.allChunks())
		})
	}
	checkList(t, s, withStored(orphan.info, len(orphan.chunks)))
}

// testConcurrentPutChunks: writers storing overlapping chunks of one blob
// at once leave every chunk stored once and counted once.
func testConcurrentPutChunks(t *testing.T, s blobStore) {
	ctx := context.Background()
	b := newTestBlob(t, 400, 200<<10, record.MinBlobChunkSize, "") // 13 chunks
	mustSetBlob(t, s, b.info)
	const writers = 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			// Writer w stores the chunks from w on, one at a time, then
			// all of them in one batch.
			for i := w; i < len(b.chunks); i += 2 {
				if err := s.PutChunks(ctx, b.sha(), i, b.chunks[i:i+1]); err != nil {
					errs <- err
					return
				}
			}
			if err := s.PutChunks(ctx, b.sha(), 0, b.chunks); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent PutChunks: %v", err)
	}
	checkBlob(t, s, b.info, b.allChunks())
}

// blobCalls returns one call of every Blobs method.
func blobCalls(s store.Blobs, b testBlob) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"SetBlob": func(ctx context.Context) error { return s.SetBlob(ctx, b.info) },
		"Blob": func(ctx context.Context) error {
			_, err := s.Blob(ctx, b.sha())
			return err
		},
		"PutChunks": func(ctx context.Context) error { return s.PutChunks(ctx, b.sha(), 0, b.chunks[:1]) },
		"Chunk": func(ctx context.Context) error {
			_, err := s.Chunk(ctx, b.sha(), 0)
			return err
		},
		"StoredChunks": func(ctx context.Context) error {
			_, err := s.StoredChunks(ctx, b.sha())
			return err
		},
		"DeleteBlob": func(ctx context.Context) error { return s.DeleteBlob(ctx, b.sha()) },
		"ListBlobs": func(ctx context.Context) error {
			return s.ListBlobs(ctx, func(store.BlobInfo) error { return nil })
		},
		"AddBlobRefs": func(ctx context.Context) error {
			return s.AddBlobRefs(ctx, []store.BlobRefEntry{ref(recordID(9), b)})
		},
		"DropBlobRefs": func(ctx context.Context) error {
			_, err := s.DropBlobRefs(ctx, [][32]byte{recordID(1)})
			return err
		},
		"BlobRefs": func(ctx context.Context) error {
			_, err := s.BlobRefs(ctx, b.sha())
			return err
		},
	}
}

func testBlobsCanceledContext(t *testing.T, s blobStore) {
	b := newTestBlob(t, 300, 1000, record.BlobChunkSize, "")
	b.store(t, s, true)
	mustAddBlobRefs(t, s, ref(recordID(1), b))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range blobCalls(s, b) {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkBlob(t, s, b.info, b.allChunks())
	checkRefs(t, s, b.sha(), recordID(1))
}

func testBlobsAfterClose(t *testing.T, s blobStore) {
	b := newTestBlob(t, 301, 1000, record.BlobChunkSize, "")
	b.store(t, s, true)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, call := range blobCalls(s, b) {
		if err := call(context.Background()); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

// CorruptBlobInfo checks a store whose info of the blob ref was damaged by
// the caller (a backend test writes bytes no backend would): reads of it are
// errors wrapping store.ErrCorrupt, not panics (with replace set, ListBlobs
// too, and then SetBlob replaces the info and DeleteBlob removes it).
func CorruptBlobInfo(t *testing.T, s store.Store, ref record.BlobRef, replace bool) {
	t.Helper()
	ctx := context.Background()
	bs := s.(store.Blobs)
	if _, err := bs.Blob(ctx, ref.SHA256); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Blob: err = %v, want ErrCorrupt", err)
	}
	if err := bs.PutChunks(ctx, ref.SHA256, 0, [][]byte{[]byte("blob")}); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("PutChunks: err = %v, want ErrCorrupt", err)
	}
	if err := bs.ListBlobs(ctx, func(store.BlobInfo) error { return nil }); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("ListBlobs: err = %v, want ErrCorrupt", err)
	}
	if !replace {
		return
	}
	if err := bs.SetBlob(ctx, store.BlobInfo{Ref: ref}); err != nil {
		t.Fatalf("SetBlob over a corrupt info: %v", err)
	}
	if info, err := bs.Blob(ctx, ref.SHA256); err != nil || info.Ref != ref {
		t.Errorf("Blob after SetBlob = %+v, %v", info, err)
	}
	if err := bs.DeleteBlob(ctx, ref.SHA256); err != nil {
		t.Errorf("DeleteBlob: %v", err)
	}
}
