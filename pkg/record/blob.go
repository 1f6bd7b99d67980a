package record

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
)

// Blobs (issue 13): a record may refer to a file kept beside it, content-
// addressed by SHA-256, with NIP-94-style tags written after the record's
// other tags, in this order:
//
//	["m", type]                      the blob's media type (the content is text: a caption)
//	["x", sha256 hex]                SHA-256 of the whole blob
//	["size", decimal bytes]          1 … MaxBlobBytes
//	["chunks", list hash hex, "65536"]
//
// The blob travels in chunks of the given size (the last one shorter); the
// list hash is the SHA-256 of the chunks' SHA-256s written back to back, so
// a peer fetches the hash list once, checks it against the signed record,
// and then checks every chunk as it arrives.
const (
	TagBlobHash   = "x"
	TagBlobSize   = "size"
	TagBlobChunks = "chunks"

	// BlobChunkSize is the chunk size peerset writes: 64 KiB.
	BlobChunkSize = 64 << 10
	// MinBlobChunkSize and MaxBlobChunkSize bound the chunk size a record
	// may name (a power of two).
	MinBlobChunkSize = 16 << 10
	MaxBlobChunkSize = 256 << 10
	// MaxBlobBytes is the largest blob a record may describe at all (1 GiB);
	// a node's own limit (peerset.Config.MaxBlobBytes) is usually far lower.
	MaxBlobBytes = 1 << 30
)

// ErrInvalidBlob is wrapped by every blob tag or blob content error.
var ErrInvalidBlob = errors.New("invalid blob")

// BlobRef is what a record says of its blob.
type BlobRef struct {
	SHA256    [32]byte // of the whole blob
	Size      int64
	Type      string // media type; application/octet-stream when unknown
	ChunkSize int
	ListHash  [32]byte // SHA-256 of the chunk hashes back to back
}

// Hex returns the blob's SHA-256 in lowercase hex.
func (b BlobRef) Hex() string { return hex.EncodeToString(b.SHA256[:]) }

// Chunks returns the number of chunks.
func (b BlobRef) Chunks() int {
	if b.ChunkSize <= 0 {
		return 0
	}
	return int((b.Size + int64(b.ChunkSize) - 1) / int64(b.ChunkSize))
}

// ChunkLen returns the length of chunk i (the last one may be shorter).
func (b BlobRef) ChunkLen(i int) int {
	if i < 0 || i >= b.Chunks() {
		return 0
	}
	return int(min(int64(b.ChunkSize), b.Size-int64(i)*int64(b.ChunkSize)))
}

// Check reports whether the reference is one a record may carry.
func (b BlobRef) Check() error {
	switch {
	case b.Size < 1 || b.Size > MaxBlobBytes:
		return fmt.Errorf("%w: size %d outside 1..%d", ErrInvalidBlob, b.Size, MaxBlobBytes)
	case b.ChunkSize < MinBlobChunkSize || b.ChunkSize > MaxBlobChunkSize || b.ChunkSize&(b.ChunkSize-1) != 0:
		return fmt.Errorf("%w: chunk size %d is not a power of two in %d..%d", ErrInvalidBlob, b.ChunkSize, MinBlobChunkSize, MaxBlobChunkSize)
	}
	if b.Type != "" {
		if err := checkMediaType(b.Type); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidBlob, err)
		}
	}
	return nil
}

// CheckHashList checks a hash list (the chunks' SHA-256s back to back)
// against the reference: its length and its hash.
func (b BlobRef) CheckHashList(list []byte) error {
	if len(list) != 32*b.Chunks() {
		return fmt.Errorf("%w: hash list of %d bytes, want %d", ErrInvalidBlob, len(list), 32*b.Chunks())
	}
	if sha256.Sum256(list) != b.ListHash {
		return fmt.Errorf("%w: the hash list does not match the record's list hash", ErrInvalidBlob)
	}
	return nil
}

// tags returns the blob's tags in record order.
func (b BlobRef) tags() [][]string {
	mt := b.Type
	if mt == "" {
		mt = MediaTypeBinary
	}
	return [][]string{
		{TagMediaType, mt},
		{TagBlobHash, hex.EncodeToString(b.SHA256[:])},
		{TagBlobSize, strconv.FormatInt(b.Size, 10)},
		{TagBlobChunks, hex.EncodeToString(b.ListHash[:]), strconv.Itoa(b.ChunkSize)},
	}
}

// parseBlobTags reads the blob tags of a record with an "x" tag.
func parseBlobTags(x, size, chunks []string, mediaType string) (*BlobRef, error) {
	b := &BlobRef{Type: mediaType}
	h, err := hex.DecodeString(x[1])
	if err != nil || len(h) != 32 || hex.EncodeToString(h) != x[1] {
		return nil, fmt.Errorf("%w: %q tag is not 64 lowercase hex digits", ErrInvalidBlob, TagBlobHash)
	}
	b.SHA256 = [32]byte(h)
	if len(size) < 2 {
		return nil, fmt.Errorf("%w: no %q tag", ErrInvalidBlob, TagBlobSize)
	}
	n, err := strconv.ParseInt(size[1], 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != size[1] {
		return nil, fmt.Errorf("%w: %q tag %q is not a decimal size", ErrInvalidBlob, TagBlobSize, size[1])
	}
	b.Size = n
	if len(chunks) < 3 {
		return nil, fmt.Errorf("%w: no %q tag with a list hash and a chunk size", ErrInvalidBlob, TagBlobChunks)
	}
	l, err := hex.DecodeString(chunks[1])
	if err != nil || len(l) != 32 || hex.EncodeToString(l) != chunks[1] {
		return nil, fmt.Errorf("%w: %q tag's list hash is not 64 lowercase hex digits", ErrInvalidBlob, TagBlobChunks)
	}
	b.ListHash = [32]byte(l)
	cs, err := strconv.Atoi(chunks[2])
	if err != nil || strconv.Itoa(cs) != chunks[2] {
		return nil, fmt.Errorf("%w: %q tag's chunk size %q is not a number", ErrInvalidBlob, TagBlobChunks, chunks[2])
	}
	b.ChunkSize = cs
	if err := b.Check(); err != nil {
		return nil, err
	}
	return b, nil
}

// BlobHasher reads a blob once and yields its BlobRef and hash list.
type BlobHasher struct {
	chunkSize int
	whole     hash.Hash
	chunk     hash.Hash
	inChunk   int
	size      int64
	list      []byte
}

// NewBlobHasher returns a hasher for chunks of chunkSize (BlobChunkSize
// when 0).
func NewBlobHasher(chunkSize int) *BlobHasher {
	if chunkSize == 0 {
		chunkSize = BlobChunkSize
	}
	return &BlobHasher{chunkSize: chunkSize, whole: sha256.New(), chunk: sha256.New()}
}

// Write hashes more of the blob; it never fails.
func (h *BlobHasher) Write(p []byte) (int, error) {
	n := len(p)
	h.whole.Write(p)
	h.size += int64(n)
	for len(p) > 0 {
		k := min(len(p), h.chunkSize-h.inChunk)
		h.chunk.Write(p[:k])
		h.inChunk += k
		p = p[k:]
		if h.inChunk == h.chunkSize {
			h.list = h.chunk.Sum(h.list)
			h.chunk.Reset()
			h.inChunk = 0
		}
	}
	return n, nil
}

// Sum returns the reference (with mediaType) and the hash list of what was
// written.
func (h *BlobHasher) Sum(mediaType string) (BlobRef, []byte) {
	list := h.list
	if h.inChunk > 0 {
		list = h.chunk.Sum(append([]byte(nil), list...))
	}
	b := BlobRef{Size: h.size, Type: mediaType, ChunkSize: h.chunkSize, ListHash: sha256.Sum256(list)}
	copy(b.SHA256[:], h.whole.Sum(nil))
	return b, list
}

// HashBlob returns the reference and hash list of data in chunks of
// BlobChunkSize.
func HashBlob(data []byte, mediaType string) (BlobRef, []byte) {
	h := NewBlobHasher(BlobChunkSize)
	h.Write(data)
	return h.Sum(mediaType)
}
