package peerset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/peersetdb/peerset/pkg/store"
)

// BlobByHash returns the bytes of the blob whose SHA-256 is sha, from the
// store only: it fetches nothing (Blob does, through a record that refers
// to the blob). The blob must be held whole, and its bytes must hash to
// sha. A blob not held, or not whole, is an error wrapping ErrNotFound;
// a store that keeps no blobs, ErrNoBlobStore; bytes that do not match sha,
// ErrBlobMismatch.
func (db *DB) BlobByHash(ctx context.Context, sha [32]byte) ([]byte, error) {
	if db.blobs.st == nil {
		return nil, ErrNoBlobStore
	}
	info, err := db.blobs.st.Blob(ctx, sha)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !info.Complete):
		return nil, fmt.Errorf("%w: no whole blob %s is stored here", ErrNotFound, hex.EncodeToString(sha[:]))
	case err != nil:
		return nil, fmt.Errorf("failed to read blob %s: %w", hex.EncodeToString(sha[:]), err)
	}
	ref := info.Ref
	out := make([]byte, 0, ref.Size)
	whole := sha256.New()
	for i := range ref.Chunks() {
		c, err := db.blobs.st.Chunk(ctx, sha, i)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: blob %s lacks its chunk %d here", ErrNotFound, hex.EncodeToString(sha[:]), i)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read blob %s, chunk %d: %w", hex.EncodeToString(sha[:]), i, err)
		}
		whole.Write(c)
		out = append(out, c...)
	}
	if int64(len(out)) != ref.Size || !bytes.Equal(whole.Sum(nil), sha[:]) {
		return nil, fmt.Errorf("failed to read blob %s: %w (the stored bytes are damaged)", hex.EncodeToString(sha[:]), ErrBlobMismatch)
	}
	return out, nil
}
