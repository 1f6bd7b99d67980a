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
// it. A record names the blob's layout, so data must match it whole: its
// SHA-256, size and, in the record's chunk size, the hash list; with
// several records naming the blob, the first whose layout data matches is
// taken (and charged for it), and an error wrapping ErrBlobMismatch says
// that none does. The blob counts against the same limits
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
	if err := ctx.Err(); err != nil {
		return record.BlobRef{}, err
	}
	if err := db.blobs.waitSwept(ctx); err != nil {
		return record.BlobRef{}, err
	}
	recs, err := db.recordsOfBlob(ctx, sha)
	if err != nil {
		return record.BlobRef{}, err
	}
	// The layout of the first record data matches: another record may
	// name the same SHA-256 with a layout of its own (a wrong one).
	var rec *record.Record
	var hashes []byte
	for _, r := range recs {
		h := record.NewBlobHasher(r.Blob.ChunkSize)
		h.Write(data)
		got, list := h.Sum(r.Blob.Type)
		if got.SHA256 == r.Blob.SHA256 && got.Size == r.Blob.Size && got.ListHash == r.Blob.ListHash {
			rec, hashes = r, list
			break
		}
	}
	if rec == nil {
		return record.BlobRef{}, fmt.Errorf("failed to import blob %s: %w (none of its %d records names its chunks' hash list: record %s names list hash %x in chunks of %d bytes)",
			name[:16], ErrBlobMismatch, len(recs), recs[0].UUID, recs[0].Blob.ListHash[:8], recs[0].Blob.ChunkSize)
	}
	ref := *rec.Blob
	db.blobs.quotaMu.Lock()
	err = db.checkBlobQuota(ctx, rec.Author, ref)
	if err == nil {
		err = db.storeBlob(ctx, ref, hashes, data)
	}
	db.blobs.quotaMu.Unlock()
	if err != nil {
		return record.BlobRef{}, err
	}
	if _, err := db.recordsOfBlob(ctx, sha); errors.Is(err, ErrNotFound) {
		// Its records went while it was stored.
		db.sweepBlob(ctx, sha)
		return record.BlobRef{}, err
	}
	db.blobs.progress.publish([]BlobProgress{{SHA256: name, Received: ref.Size, Size: ref.Size, Done: true}})
	return ref, nil
}

// recordsOfBlob returns the live records held here that refer to the
// blob sha (at least one, else an error wrapping ErrNotFound), once the
// references of the records stored so far are noted.
func (db *DB) recordsOfBlob(ctx context.Context, sha [32]byte) ([]*record.Record, error) {
	db.notePendingBlobRefs(ctx)
	ids, err := db.blobs.st.BlobRefs(ctx, sha)
	if err != nil {
		return nil, fmt.Errorf("failed to look up the records of blob %x: %w", sha[:8], err)
	}
	live := ids[:0]
	db.mu.RLock()
	for _, id := range ids {
		if db.index.Has(id) {
			live = append(live, id)
		}
	}
	db.mu.RUnlock()
	var recs []*record.Record
	if len(live) > 0 {
		events, err := db.store.GetMany(ctx, live)
		if err != nil {
			return nil, fmt.Errorf("failed to read the records of blob %x: %w", sha[:8], err)
		}
		for _, e := range events {
			if rec, err := record.Parse(e); err == nil && rec.Blob != nil && rec.Blob.SHA256 == sha {
				recs = append(recs, rec)
			}
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no record held here refers to blob %s (import the records first)", ErrNotFound, hex.EncodeToString(sha[:]))
	}
	return recs, nil
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
