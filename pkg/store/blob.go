package store

import (
	"context"
	"errors"

	"github.com/peersetdb/peerset/pkg/record"
)

// Blobs is implemented by stores that keep blobs (issue 13): files that
// records refer to (record.BlobRef), content-addressed by SHA-256 and kept
// as chunks of BlobRef.ChunkSize bytes, with the ids of the records that
// refer to each. peerset.DB stores a blob's info and chunks, then the
// record, then the record's reference; a blob no record refers to any more
// is deleted with the last reference (DropBlobRefs), and one left without
// any (a crash between the steps) is found by ListBlobs and BlobRefs.
//
// A store keeps what it is given: it checks no hash (the caller checks
// every chunk against the hash list and the whole blob against its SHA-256
// before it calls SetBlob with Complete). Methods are safe for concurrent
// use; byte slices passed in are not retained and those returned are the
// caller's.
type Blobs interface {
	// SetBlob creates or replaces a blob's info. Its stored chunks stay,
	// unless the new Ref cuts the blob into other chunks (another Size or
	// ChunkSize, see SameBlobLayout): they no longer fit and are deleted
	// in the same transaction. Info.Stored is ignored: the store counts
	// chunks itself. Info failing CheckBlobInfo is refused with an error
	// wrapping record.ErrInvalidBlob, and nothing changes.
	SetBlob(ctx context.Context, info BlobInfo) error
	// Blob returns a blob's info with Stored set, or an error wrapping
	// ErrNotFound.
	Blob(ctx context.Context, sha [32]byte) (BlobInfo, error)
	// PutChunks stores chunks first, first+1, … of a blob whose info is
	// set, atomically (a chunk already stored is replaced). It returns an
	// error wrapping ErrNotFound when there is no info, and one wrapping
	// ErrInvalidBlobChunk when an index falls outside the blob's chunks or
	// a chunk's length is not ChunkLen of its index.
	PutChunks(ctx context.Context, sha [32]byte, first int, chunks [][]byte) error
	// Chunk returns chunk i of a blob, or an error wrapping ErrNotFound.
	Chunk(ctx context.Context, sha [32]byte, i int) ([]byte, error)
	// StoredChunks returns the indexes of a blob's stored chunks, ascending
	// (empty when there are none or no info).
	StoredChunks(ctx context.Context, sha [32]byte) ([]int, error)
	// DeleteBlob removes a blob's info and chunks, atomically; its
	// references stay (they belong to records). A missing blob is no error.
	DeleteBlob(ctx context.Context, sha [32]byte) error
	// ListBlobs calls fn with the info of every blob, in SHA-256 order,
	// with Hashes left nil. fn runs outside any backend transaction (the
	// store may read in pages, as Items does) and may call the store; blobs
	// set or deleted meanwhile may or may not be visited. An error from fn
	// stops the iteration and is returned as is.
	ListBlobs(ctx context.Context, fn func(BlobInfo) error) error
	// AddBlobRefs notes that records refer to blobs, atomically. A
	// reference already noted is a no-op. The blob need not be stored.
	AddBlobRefs(ctx context.Context, refs []BlobRefEntry) error
	// DropBlobRefs removes every reference of these record ids and, in the
	// same transaction, deletes the info and chunks of each blob that no
	// record refers to any more. It returns those blobs' SHA-256s,
	// ascending, each once (a blob that had references but was never
	// stored is listed too). Ids without references are ignored.
	DropBlobRefs(ctx context.Context, records [][32]byte) ([][32]byte, error)
	// BlobRefs returns the ids of the records that refer to a blob,
	// ascending.
	BlobRefs(ctx context.Context, sha [32]byte) ([][32]byte, error)
}

// BlobInfo is what a store keeps of one blob besides its chunks.
type BlobInfo struct {
	Ref record.BlobRef
	// Hashes is the hash list (32 bytes per chunk), nil until known.
	Hashes []byte
	// Complete: every chunk is stored and the whole blob matched
	// Ref.SHA256 (set by the caller).
	Complete bool
	// Stored is the number of chunks stored (set by the store).
	Stored int
}

// BlobRefEntry says that the record Record refers to the blob SHA256.
type BlobRefEntry struct {
	Record [32]byte
	SHA256 [32]byte
}

// ErrInvalidBlobChunk is wrapped by PutChunks for a chunk that does not fit
// its blob.
var ErrInvalidBlobChunk = errors.New("chunk does not fit its blob")
