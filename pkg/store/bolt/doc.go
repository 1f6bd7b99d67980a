// Package bolt is peerset's native file store: a store.Store on a bbolt file,
// for Go peers, tools and tests. Under js/wasm the package is empty: browsers
// use pkg/store/idb.
//
// Layout, one bucket each: events (id → NIP-01 JSON), time index
// (be64(created_at) ‖ id → be16(kind)), author index
// (pubkey ‖ be64(created_at) ‖ id → be16(kind)), address index
// (be16(kind) ‖ pubkey ‖ be16(len(uuid)) ‖ uuid ‖ id), metadata, and an
// internal bucket with the schema version and the event count. Every Put or
// Delete batch is one write transaction, fsynced before it returns.
//
// Blobs (store.Blobs, blob.go), four more buckets, created at Open in files
// written before them (no schema change): blobs (sha256 → flags ‖ be64(size)
// ‖ be32(chunk size) ‖ list hash ‖ be32(chunks stored) ‖ be16(len(type)) ‖
// type ‖ hash list), blob_chunks (sha256 ‖ be32(index) → the chunk's bytes,
// so a blob's chunks are one key range in index order), blob_refs
// (sha256 ‖ record id: BlobRefs and "is it still referred to" are one prefix
// seek) and blob_refs_by_record (record id ‖ sha256: what DropBlobRefs
// removes). PutChunks keeps the stored count in the info, so Blob and
// ListBlobs read no chunk key; DropBlobRefs, like every other blob call, is
// one write transaction.
package bolt
