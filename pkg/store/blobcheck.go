package store

import (
	"fmt"

	"github.com/peersetdb/peerset/pkg/record"
)

// CheckBlobInfo reports whether a store can keep info (Blobs.SetBlob): its
// Ref must pass record.BlobRef.Check, so that its chunk count is bounded,
// and Hashes must be nil or 32 bytes per chunk. It checks no hash. The
// error wraps record.ErrInvalidBlob.
func CheckBlobInfo(info BlobInfo) error {
	if err := info.Ref.Check(); err != nil {
		return fmt.Errorf("blob %x: %w", info.Ref.SHA256, err)
	}
	if info.Hashes != nil && len(info.Hashes) != 32*info.Ref.Chunks() {
		return fmt.Errorf("%w: blob %x: hash list of %d bytes, want %d", record.ErrInvalidBlob, info.Ref.SHA256, len(info.Hashes), 32*info.Ref.Chunks())
	}
	return nil
}

// CheckBlobChunks reports whether chunks first, first+1, … fit the blob
// ref describes (Blobs.PutChunks): every index among its chunks, every
// length ChunkLen of its index. The error wraps ErrInvalidBlobChunk.
func CheckBlobChunks(ref record.BlobRef, first int, chunks [][]byte) error {
	n := ref.Chunks()
	if first < 0 || first > n || len(chunks) > n-first {
		return fmt.Errorf("%w: chunks %d..%d of blob %x, which has %d", ErrInvalidBlobChunk, first, first+len(chunks)-1, ref.SHA256, n)
	}
	for j, c := range chunks {
		if want := ref.ChunkLen(first + j); len(c) != want {
			return fmt.Errorf("%w: chunk %d of blob %x has %d bytes, want %d", ErrInvalidBlobChunk, first+j, ref.SHA256, len(c), want)
		}
	}
	return nil
}

// SameBlobLayout reports whether two references cut their blob into the
// same chunks with the same hashes (same size, chunk size and list hash),
// so that chunks stored under one are the other's. SetBlob keeps a blob's
// stored chunks only then.
func SameBlobLayout(a, b record.BlobRef) bool {
	return a.Size == b.Size && a.ChunkSize == b.ChunkSize && a.ListHash == b.ListHash
}
