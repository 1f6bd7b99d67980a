//go:build !js

package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Blob buckets (see doc.go), created at Open in new and old files alike.
var (
	bucketBlobs      = []byte("blobs")
	bucketBlobChunks = []byte("blob_chunks")
	bucketBlobRefs   = []byte("blob_refs")
	bucketBlobsByRef = []byte("blob_refs_by_record")
)

const (
	// blobPageSize is how many infos one read transaction of ListBlobs
	// reads.
	blobPageSize = 256
	// blobInfoHeaderLen is the fixed part of a stored info (encodeBlobInfo).
	blobInfoHeaderLen = 1 + 8 + 4 + 32 + 4 + 2
)

var _ store.Blobs = (*Store)(nil)

// Blob info flags.
const (
	infoComplete  = 1
	infoHasHashes = 2
)

// encodeBlobInfo returns the stored form of a blob's info with stored
// chunks: flags ‖ be64(size) ‖ be32(chunk size) ‖ list hash ‖
// be32(stored) ‖ be16(len(type)) ‖ type ‖ hash list.
func encodeBlobInfo(info store.BlobInfo, stored int) []byte {
	b := make([]byte, 0, blobInfoHeaderLen+len(info.Ref.Type)+len(info.Hashes))
	var flags byte
	if info.Complete {
		flags |= infoComplete
	}
	if info.Hashes != nil {
		flags |= infoHasHashes
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(info.Ref.Size))
	b = binary.BigEndian.AppendUint32(b, uint32(info.Ref.ChunkSize))
	b = append(b, info.Ref.ListHash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(stored))
	b = binary.BigEndian.AppendUint16(b, uint16(len(info.Ref.Type)))
	b = append(b, info.Ref.Type...)
	return append(b, info.Hashes...)
}

// decodeBlobInfo reads what encodeBlobInfo wrote for the blob sha, copying
// the hash list only withHashes. The stored count is in Stored.
func decodeBlobInfo(sha [32]byte, v []byte, withHashes bool) (store.BlobInfo, error) {
	info := store.BlobInfo{Ref: record.BlobRef{SHA256: sha}}
	if len(v) < blobInfoHeaderLen {
		return info, fmt.Errorf("%w: the info of blob %x is %d bytes", store.ErrCorrupt, sha, len(v))
	}
	flags := v[0]
	info.Complete = flags&infoComplete != 0
	info.Ref.Size = int64(binary.BigEndian.Uint64(v[1:]))
	info.Ref.ChunkSize = int(binary.BigEndian.Uint32(v[9:]))
	copy(info.Ref.ListHash[:], v[13:45])
	info.Stored = int(binary.BigEndian.Uint32(v[45:]))
	typeLen := int(binary.BigEndian.Uint16(v[49:]))
	rest := v[blobInfoHeaderLen:]
	if len(rest) < typeLen {
		return info, fmt.Errorf("%w: the info of blob %x is cut short", store.ErrCorrupt, sha)
	}
	info.Ref.Type = string(rest[:typeLen])
	if withHashes && flags&infoHasHashes != 0 {
		info.Hashes = slices.Clone(rest[typeLen:])
		if info.Hashes == nil {
			info.Hashes = []byte{}
		}
	}
	return info, nil
}

// chunkKey is sha ‖ be32(index).
func chunkKey(sha [32]byte, i int) []byte {
	return binary.BigEndian.AppendUint32(append(make([]byte, 0, 36), sha[:]...), uint32(i))
}

// pairKey is a ‖ b: a blob reference under the blob or the record.
func pairKey(a, b [32]byte) []byte {
	return append(append(make([]byte, 0, 64), a[:]...), b[:]...)
}

// getBlobInfo reads a blob's info in tx, or returns store.ErrNotFound.
func getBlobInfo(tx *bbolt.Tx, sha [32]byte, withHashes bool) (store.BlobInfo, error) {
	v := tx.Bucket(bucketBlobs).Get(sha[:])
	if v == nil {
		return store.BlobInfo{}, store.ErrNotFound
	}
	return decodeBlobInfo(sha, v, withHashes)
}

// deleteChunks deletes every chunk of a blob.
func deleteChunks(tx *bbolt.Tx, sha [32]byte) error {
	c := tx.Bucket(bucketBlobChunks).Cursor()
	for k, _ := c.Seek(sha[:]); k != nil && bytes.HasPrefix(k, sha[:]); k, _ = c.Seek(sha[:]) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// deleteBlob deletes a blob's info and chunks in tx.
func deleteBlob(tx *bbolt.Tx, sha [32]byte) error {
	if err := tx.Bucket(bucketBlobs).Delete(sha[:]); err != nil {
		return err
	}
	return deleteChunks(tx, sha)
}

// blobError wraps a failure as "failed to X: err", except the errors a
// caller matches as they are.
func blobError(what string, err error) error {
	if err == nil || errors.Is(err, store.ErrClosed) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidBlobChunk) {
		return err
	}
	return fmt.Errorf("failed to %s: %w", what, err)
}

// SetBlob implements store.Blobs. The stored chunk count is kept when the
// layout stays, and reset with the chunks deleted when it changes.
func (s *Store) SetBlob(ctx context.Context, info store.BlobInfo) error {
	if err := store.CheckBlobInfo(info); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	sha := info.Ref.SHA256
	err := s.update(func(tx *bbolt.Tx) error {
		stored := 0
		if old, err := getBlobInfo(tx, sha, false); err == nil && store.SameBlobLayout(old.Ref, info.Ref) {
			stored = old.Stored
		} else if err := deleteChunks(tx, sha); err != nil {
			return err
		}
		return tx.Bucket(bucketBlobs).Put(slices.Clone(sha[:]), encodeBlobInfo(info, stored))
	})
	return blobError(fmt.Sprintf("set blob %x", sha), err)
}

// Blob implements store.Blobs.
func (s *Store) Blob(ctx context.Context, sha [32]byte) (store.BlobInfo, error) {
	if err := s.begin(ctx); err != nil {
		return store.BlobInfo{}, err
	}
	var info store.BlobInfo
	err := s.view(func(tx *bbolt.Tx) (err error) {
		info, err = getBlobInfo(tx, sha, true)
		return err
	})
	if err != nil {
		return store.BlobInfo{}, blobError(fmt.Sprintf("get blob %x", sha), err)
	}
	return info, nil
}

// PutChunks implements store.Blobs: one write transaction that checks the
// batch against the info, stores the chunks and counts the new ones in it.
func (s *Store) PutChunks(ctx context.Context, sha [32]byte, first int, chunks [][]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.update(func(tx *bbolt.Tx) error {
		infos := tx.Bucket(bucketBlobs)
		v := infos.Get(sha[:])
		if v == nil {
			return fmt.Errorf("blob %x: %w", sha, store.ErrNotFound)
		}
		info, err := decodeBlobInfo(sha, v, false)
		if err != nil {
			return err
		}
		if err := store.CheckBlobChunks(info.Ref, first, chunks); err != nil {
			return err
		}
		value := slices.Clone(v)
		bucket := tx.Bucket(bucketBlobChunks)
		added := 0
		for j, c := range chunks {
			k := chunkKey(sha, first+j)
			if bucket.Get(k) == nil {
				added++
			}
			if err := bucket.Put(k, c); err != nil {
				return err
			}
		}
		if added == 0 {
			return nil
		}
		binary.BigEndian.PutUint32(value[45:], uint32(info.Stored+added))
		return infos.Put(slices.Clone(sha[:]), value)
	})
	return blobError(fmt.Sprintf("put %d chunks of blob %x", len(chunks), sha), err)
}

// Chunk implements store.Blobs.
func (s *Store) Chunk(ctx context.Context, sha [32]byte, i int) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if i < 0 || uint64(i) > 0xffffffff {
		return nil, fmt.Errorf("chunk %d of blob %x: %w", i, sha, store.ErrNotFound)
	}
	var out []byte
	err := s.view(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketBlobChunks).Get(chunkKey(sha, i))
		if v == nil {
			return fmt.Errorf("chunk %d of blob %x: %w", i, sha, store.ErrNotFound)
		}
		out = slices.Clone(v)
		return nil
	})
	if err != nil {
		return nil, blobError(fmt.Sprintf("get chunk %d of blob %x", i, sha), err)
	}
	s.noteReads(1)
	return out, nil
}

// StoredChunks implements store.Blobs: the keys under the blob's prefix.
func (s *Store) StoredChunks(ctx context.Context, sha [32]byte) ([]int, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var out []int
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBlobChunks).Cursor()
		for k, _ := c.Seek(sha[:]); k != nil && bytes.HasPrefix(k, sha[:]); k, _ = c.Next() {
			if len(k) == 36 {
				out = append(out, int(binary.BigEndian.Uint32(k[32:])))
			}
		}
		return nil
	})
	if err != nil {
		return nil, blobError(fmt.Sprintf("list the chunks of blob %x", sha), err)
	}
	return out, nil
}

// DeleteBlob implements store.Blobs.
func (s *Store) DeleteBlob(ctx context.Context, sha [32]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	err := s.update(func(tx *bbolt.Tx) error { return deleteBlob(tx, sha) })
	return blobError(fmt.Sprintf("delete blob %x", sha), err)
}

// ListBlobs implements store.Blobs: pages of blobPageSize infos, each one
// read transaction; fn runs between them.
func (s *Store) ListBlobs(ctx context.Context, fn func(store.BlobInfo) error) error {
	var cursor []byte
	page := make([]store.BlobInfo, 0, blobPageSize)
	for {
		if err := s.begin(ctx); err != nil {
			return err
		}
		page = page[:0]
		err := s.view(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucketBlobs).Cursor()
			var k, v []byte
			if cursor == nil {
				k, v = c.First()
			} else if k, v = c.Seek(cursor); k != nil && bytes.Equal(k, cursor) {
				k, v = c.Next()
			}
			for ; k != nil && len(page) < blobPageSize; k, v = c.Next() {
				if len(k) != 32 {
					continue
				}
				info, err := decodeBlobInfo([32]byte(k), v, false)
				if err != nil {
					return err
				}
				page = append(page, info)
			}
			return nil
		})
		if err != nil {
			return blobError("list blobs", err)
		}
		for _, info := range page {
			if err := fn(info); err != nil {
				return err
			}
		}
		if len(page) < blobPageSize {
			return nil
		}
		cursor = slices.Clone(page[len(page)-1].Ref.SHA256[:])
	}
}

// AddBlobRefs implements store.Blobs: both keys of each reference, in one
// write transaction.
func (s *Store) AddBlobRefs(ctx context.Context, refs []store.BlobRefEntry) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	err := s.update(func(tx *bbolt.Tx) error {
		bySHA, byRecord := tx.Bucket(bucketBlobRefs), tx.Bucket(bucketBlobsByRef)
		for _, r := range refs {
			if err := bySHA.Put(pairKey(r.SHA256, r.Record), []byte{}); err != nil {
				return err
			}
			if err := byRecord.Put(pairKey(r.Record, r.SHA256), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	return blobError(fmt.Sprintf("add %d blob references", len(refs)), err)
}

// DropBlobRefs implements store.Blobs, in one write transaction: each
// record's blobs from blob_refs_by_record, both keys of each reference
// deleted, then every blob left without a key under its prefix in
// blob_refs deleted.
func (s *Store) DropBlobRefs(ctx context.Context, records [][32]byte) ([][32]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, nil
	}
	var gone [][32]byte
	err := s.update(func(tx *bbolt.Tx) error {
		gone = gone[:0]
		bySHA, byRecord := tx.Bucket(bucketBlobRefs), tx.Bucket(bucketBlobsByRef)
		touched := map[[32]byte]struct{}{}
		for _, id := range records {
			var shas [][32]byte
			c := byRecord.Cursor()
			for k, _ := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, _ = c.Next() {
				if len(k) == 64 {
					shas = append(shas, [32]byte(k[32:]))
				}
			}
			for _, sha := range shas {
				if err := byRecord.Delete(pairKey(id, sha)); err != nil {
					return err
				}
				if err := bySHA.Delete(pairKey(sha, id)); err != nil {
					return err
				}
				touched[sha] = struct{}{}
			}
		}
		for sha := range touched {
			if k, _ := bySHA.Cursor().Seek(sha[:]); k != nil && bytes.HasPrefix(k, sha[:]) {
				continue // still referred to
			}
			if err := deleteBlob(tx, sha); err != nil {
				return err
			}
			gone = append(gone, sha)
		}
		return nil
	})
	if err != nil {
		return nil, blobError(fmt.Sprintf("drop the blob references of %d records", len(records)), err)
	}
	slices.SortFunc(gone, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return gone, nil
}

// BlobRefs implements store.Blobs: the keys under the blob's prefix in
// blob_refs, in record id order.
func (s *Store) BlobRefs(ctx context.Context, sha [32]byte) ([][32]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	var out [][32]byte
	err := s.view(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketBlobRefs).Cursor()
		for k, _ := c.Seek(sha[:]); k != nil && bytes.HasPrefix(k, sha[:]); k, _ = c.Next() {
			if len(k) == 64 {
				out = append(out, [32]byte(k[32:]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, blobError(fmt.Sprintf("list the references of blob %x", sha), err)
	}
	return out, nil
}
