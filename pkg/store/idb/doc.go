// Package idb is peerset's browser store: a store.Store on IndexedDB through
// syscall/js (Open, DeleteDatabase). Outside js/wasm the package is empty;
// native peers use pkg/store/bolt.
//
// # Schema (version 6, see SchemaVersion)
//
// One object store "events" holds one object per event, keyed (keyPath "k")
// by its item key hex(be64(created_at)) ‖ hex(id), so the primary key order
// is the (created_at, id) order and Items reads nothing but primary keys:
//
//	{k: item key, i: hex(id), a: hex(pubkey) ‖ item key, n: kind,
//	 x: [kind, hex(pubkey), uuid], s: summary, j: the event's NIP-01 JSON}
//
// with indexes "id" (unique, on i: Get, GetMany, Delete, and an id stored
// once), "author" (on a: queries by author, time-ordered) and "address" (on
// x, present only on addressable events and on deletions, under the address
// they target: GetByAddress). The summary s is hex(store.AppendStoredSummary):
// what Summaries reads, without decoding the event (a page of objects is
// projected onto k and s by JSON.stringify in the browser). A second object
// store "meta" maps metadata keys to Uint8Arrays, and holds the generation
// (a string) that every write of events replaces and an index snapshot is
// checked against (see Snapshots). Keys are fixed-width lowercase hex
// strings: they sort like the bytes they encode, keep every int64
// created_at exact, and a page of them crosses into Go as one joined string.
//
// Versions: 1 created "events" and "meta"; 2 added a "summaries" store (each
// event's item key ‖ summary under its item key, written beside the event:
// a second request per stored event); 3 added the generation; 4 moves each
// summary into its event's object and drops the summaries store, so that
// storing an event is one request; 5 added the journal (see Snapshots); 6
// adds the three blob stores, empty (see Blobs). Older databases are
// migrated in Open's upgrade transaction (from 3, every event is rewritten
// with the summary of its row, or, if it has none, of its JSON); a failing
// step rolls the whole upgrade back and leaves the database as it was. A
// newer schema found at Open fails with ErrSchema.
//
// # Blobs
//
// The Store implements store.Blobs with three object stores of schema 6,
// their keys out of line and hex like the events' keys:
//
//	blobs        hex(sha256) → {size, chunkSize, type, list: hex(list hash),
//	             complete, hashes: Uint8Array, absent while unknown}
//	blob_chunks  hex(sha256) ‖ hex(be32(index)) → Uint8Array
//	blob_refs    hex(sha256) ‖ hex(record id) → {r: hex(record id)},
//	             with the index "record" on r
//
// so that a blob's chunks, in index order, and its references, in record id
// order, are one key range each (StoredChunks and BlobRefs read their keys
// only), and the chunk count of Blob and ListBlobs is a count of that range.
// Every call is one transaction (ListBlobs one per page). PutChunks reads the
// info and checks the batch in its transaction before it puts any chunk;
// DropBlobRefs is one read-write transaction over the three stores: the
// records' reference keys are looked up in the record index and deleted,
// then the references left under each blob touched are counted, and a blob
// left with none loses its info and its chunks' key range.
//
// # Transactions
//
// Every call is one transaction, or one per page for Items, Scan,
// Summaries and long queries, so that no transaction outlives a callback.
// Put is one read-write transaction of add requests, one per event (an id
// already stored keeps its first copy), plus the generation's replacement,
// committed as soon as its requests are queued (IDBTransaction.commit),
// and returns after the transaction's complete event, with durability
// "strict" unless Options.RelaxedDurability (which the browser build sets:
// the browser has written the batch, without waiting for the operating
// system to flush it). A canceled context aborts a running transaction. A
// store closes itself when another tab upgrades or deletes the database
// (versionchange), so that it never blocks it; its calls then fail with an
// error wrapping store.ErrClosed.
//
// # Snapshots
//
// The Store implements store.Snapshots: every transaction that changes
// events (Put, Delete) also replaces a random generation in the meta store,
// checks the one it replaces, and adds a row to the journal saying what it
// changed (schema 5). A snapshot (one value in the meta store) and the
// journal's rows after it are the events as they are; saving a snapshot
// clears the journal, and a Store that saw another connection's change
// saves none (snapshot.go has the details and the bounds).
//
// A quota refusal is reported as ErrQuotaExceeded, wrapped with what the
// user can do. Open asks once per page for persistent storage; Persisted
// reports the answer.
//
// The tests need a real browser: scripts/browser-go-test.sh runs them, and
// the benchmarks (-bench), in headless Chromium.
package idb
