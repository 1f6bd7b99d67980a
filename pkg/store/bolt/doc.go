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
package bolt
