package store

import (
	"bytes"
	"context"
	"maps"
	"slices"
)

// memoryBlob is one blob of the memory store: its info (Stored unset) and
// its chunks by index.
type memoryBlob struct {
	info   BlobInfo
	chunks map[int][]byte
}

// memoryBlobs is the blob state of a Memory store, guarded by its mutex.
type memoryBlobs struct {
	blobs map[[32]byte]*memoryBlob
	// refs maps a blob to the records that refer to it, and byRecord a
	// record to the blobs it refers to.
	refs     map[[32]byte]map[[32]byte]struct{}
	byRecord map[[32]byte]map[[32]byte]struct{}
}

var _ Blobs = (*Memory)(nil)

// blobState returns the blob state, creating it on first use; the caller
// holds the write lock.
func (m *Memory) blobState() *memoryBlobs {
	if m.blob == nil {
		m.blob = &memoryBlobs{
			blobs:    map[[32]byte]*memoryBlob{},
			refs:     map[[32]byte]map[[32]byte]struct{}{},
			byRecord: map[[32]byte]map[[32]byte]struct{}{},
		}
	}
	return m.blob
}

// lookupBlob returns a blob, or nil; the caller holds a lock.
func (m *Memory) lookupBlob(sha [32]byte) *memoryBlob {
	if m.blob == nil {
		return nil
	}
	return m.blob.blobs[sha]
}

func (b *memoryBlob) export(withHashes bool) BlobInfo {
	info := b.info
	info.Hashes = nil
	if withHashes && b.info.Hashes != nil {
		info.Hashes = slices.Clone(b.info.Hashes)
	}
	info.Stored = len(b.chunks)
	return info
}

// SetBlob implements Blobs.
func (m *Memory) SetBlob(ctx context.Context, info BlobInfo) error {
	if err := CheckBlobInfo(info); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	info.Hashes = slices.Clone(info.Hashes)
	info.Stored = 0
	st := m.blobState()
	b := st.blobs[info.Ref.SHA256]
	if b == nil || !SameBlobLayout(b.info.Ref, info.Ref) {
		b = &memoryBlob{chunks: map[int][]byte{}}
		st.blobs[info.Ref.SHA256] = b
	}
	b.info = info
	return nil
}

// Blob implements Blobs.
func (m *Memory) Blob(ctx context.Context, sha [32]byte) (BlobInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return BlobInfo{}, err
	}
	b := m.lookupBlob(sha)
	if b == nil {
		return BlobInfo{}, ErrNotFound
	}
	return b.export(true), nil
}

// PutChunks implements Blobs.
func (m *Memory) PutChunks(ctx context.Context, sha [32]byte, first int, chunks [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	b := m.lookupBlob(sha)
	if b == nil {
		return ErrNotFound
	}
	if err := CheckBlobChunks(b.info.Ref, first, chunks); err != nil {
		return err
	}
	for j, c := range chunks {
		b.chunks[first+j] = slices.Clone(c)
	}
	return nil
}

// Chunk implements Blobs.
func (m *Memory) Chunk(ctx context.Context, sha [32]byte, i int) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	b := m.lookupBlob(sha)
	if b == nil {
		return nil, ErrNotFound
	}
	c, ok := b.chunks[i]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(c), nil
}

// StoredChunks implements Blobs.
func (m *Memory) StoredChunks(ctx context.Context, sha [32]byte) ([]int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	b := m.lookupBlob(sha)
	if b == nil {
		return nil, nil
	}
	return slices.Sorted(maps.Keys(b.chunks)), nil
}

// DeleteBlob implements Blobs.
func (m *Memory) DeleteBlob(ctx context.Context, sha [32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	if m.blob != nil {
		delete(m.blob.blobs, sha)
	}
	return nil
}

// ListBlobs implements Blobs: pages of memoryPageSize blobs, each copied
// under the read lock, fn called outside it.
func (m *Memory) ListBlobs(ctx context.Context, fn func(BlobInfo) error) error {
	var after *[32]byte
	for {
		page, err := m.blobPage(ctx, after)
		if err != nil {
			return err
		}
		for _, info := range page {
			if err := fn(info); err != nil {
				return err
			}
		}
		if len(page) < memoryPageSize {
			return nil
		}
		last := page[len(page)-1].Ref.SHA256
		after = &last
	}
}

// blobPage returns up to memoryPageSize blobs after the given SHA-256 (from
// the first when nil), in order. Sorting every key per page costs
// O(n log n), which suits the memory store's sizes.
func (m *Memory) blobPage(ctx context.Context, after *[32]byte) ([]BlobInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	if m.blob == nil {
		return nil, nil
	}
	keys := slices.SortedFunc(maps.Keys(m.blob.blobs), compareSHA)
	lo := 0
	if after != nil {
		i, found := slices.BinarySearchFunc(keys, *after, compareSHA)
		if found {
			i++
		}
		lo = i
	}
	keys = keys[lo:min(len(keys), lo+memoryPageSize)]
	page := make([]BlobInfo, len(keys))
	for i, k := range keys {
		page[i] = m.blob.blobs[k].export(false)
	}
	return page, nil
}

func compareSHA(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }

// AddBlobRefs implements Blobs.
func (m *Memory) AddBlobRefs(ctx context.Context, refs []BlobRefEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return err
	}
	st := m.blobState()
	for _, r := range refs {
		addToSet(st.refs, r.SHA256, r.Record)
		addToSet(st.byRecord, r.Record, r.SHA256)
	}
	return nil
}

func addToSet(sets map[[32]byte]map[[32]byte]struct{}, key, member [32]byte) {
	set := sets[key]
	if set == nil {
		set = map[[32]byte]struct{}{}
		sets[key] = set
	}
	set[member] = struct{}{}
}

// DropBlobRefs implements Blobs.
func (m *Memory) DropBlobRefs(ctx context.Context, records [][32]byte) ([][32]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	if m.blob == nil {
		return nil, nil
	}
	st := m.blob
	var gone [][32]byte
	for _, id := range records {
		for sha := range st.byRecord[id] {
			refs := st.refs[sha]
			delete(refs, id)
			if len(refs) == 0 {
				delete(st.refs, sha)
				delete(st.blobs, sha)
				gone = append(gone, sha)
			}
		}
		delete(st.byRecord, id)
	}
	slices.SortFunc(gone, compareSHA)
	return gone, nil
}

// BlobRefs implements Blobs.
func (m *Memory) BlobRefs(ctx context.Context, sha [32]byte) ([][32]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	if m.blob == nil {
		return nil, nil
	}
	return slices.SortedFunc(maps.Keys(m.blob.refs[sha]), compareSHA), nil
}
