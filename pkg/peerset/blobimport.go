package peerset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// ImportBlob stores data as the blob that a record held here refers to:
// the restore path of a backup that kept blobs beside its events (`peerset
// export --blobs`, then Import of the events and ImportBlob of each file),
// where a blob would otherwise come back only from a peer that still holds
// it. The record names the blob's layout, so data must match it whole: its
// SHA-256, size and, in the record's chunk size, the hash list (else an
// error wrapping ErrBlobMismatch). The blob counts against the same limits
// as one fetched from a peer: a refusal is a *moderation.Rejection naming
// RuleBlobSize, RuleBlobQuotaAuthor or RuleBlobQuotaRoom. A blob that no
// record held here refers to is an error wrapping ErrNotFound (import the
// records first); one held whole already is stored again as a no-op.
func (db *DB) ImportBlob(ctx context.Context, data []byte) (record.BlobRef, error) {
	if db.blobs.st == nil {
		return record.BlobRef{}, ErrNoBlobStore
	}
	if len(data) > db.cfg.MaxBlobBytes {
		return record.BlobRef{}, db.blobRejection(RuleBlobSize, fmt.Sprintf("the blob has %d bytes, over the largest blob, %d", len(data), db.cfg.MaxBlobBytes))
	}
	sha := sha256.Sum256(data)
	name := hex.EncodeToString(sha[:])
	if err := db.blobs.waitSwept(ctx); err != nil {
		return record.BlobRef{}, err
	}
	rec, err := db.recordOfBlob(ctx, sha)
	if err != nil {
		return record.BlobRef{}, err
	}
	ref := *rec.Blob
	h := record.NewBlobHasher(ref.ChunkSize)
	h.Write(data)
	got, hashes := h.Sum(ref.Type)
	if got.SHA256 != ref.SHA256 || got.Size != ref.Size || got.ListHash != ref.ListHash {
		return record.BlobRef{}, fmt.Errorf("failed to import blob %s: %w (record %s names %d bytes, list hash %x)",
			name[:16], ErrBlobMismatch, rec.UUID, ref.Size, ref.ListHash[:8])
	}
	db.blobs.quotaMu.Lock()
	err = db.checkBlobQuota(ctx, rec.Author, ref)
	if err == nil {
		err = db.storeBlob(ctx, ref, hashes, data)
	}
	db.blobs.quotaMu.Unlock()
	if err != nil {
		return record.BlobRef{}, err
	}
	if _, err := db.recordOfBlob(ctx, sha); errors.Is(err, ErrNotFound) {
		// Its records went while it was stored.
		db.sweepBlob(ctx, sha)
		return record.BlobRef{}, err
	}
	db.blobs.progress.publish([]BlobProgress{{SHA256: name, Received: ref.Size, Size: ref.Size, Done: true}})
	return ref, nil
}

// recordOfBlob returns a live record held here that refers to the blob
// sha, once the references of the records stored so far are noted.
func (db *DB) recordOfBlob(ctx context.Context, sha [32]byte) (*record.Record, error) {
	db.notePendingBlobRefs(ctx)
	ids, err := db.blobs.st.BlobRefs(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("failed to look up the records of blob %x: %w", sha[:8], err)
	}
	for _, id := range ids {
		db.mu.RLock()
		live := db.index.Has(id)
		db.mu.RUnlock()
		if !live {
			continue
		}
		events, err := db.store.GetMany(ctx, [][32]byte{id})
		if err != nil {
			return nil, fmt.Errorf("failed to read the record of blob %x: %w", sha[:8], err)
		}
		if len(events) == 0 {
			continue
		}
		if rec, err := record.Parse(events[0]); err == nil && rec.Blob != nil && rec.Blob.SHA256 == sha {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("%w: no record held here refers to blob %s (import the records first)", ErrNotFound, hex.EncodeToString(sha[:]))
}

// WholeBlobs returns the SHA-256s of the blobs held whole here (those
// BlobByHash returns), in SHA-256 order: what a backup keeps beside the
// events (`peerset export --blobs`).
func (db *DB) WholeBlobs(ctx context.Context) ([][32]byte, error) {
	if db.blobs.st == nil {
		return nil, nil
	}
	var shas [][32]byte
	err := db.blobs.st.ListBlobs(ctx, func(info store.BlobInfo) error {
		if info.Complete {
			shas = append(shas, info.Ref.SHA256)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list the blobs: %w", err)
	}
	return shas, nil
}
