//go:build js && wasm

package idb

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Blobs (store.Blobs, schema 6). Keys are lowercase hex like the events'
// (see keys.go), so that a blob's chunks and references are one key range:
//
//	blobs        hex(sha256) → {size, chunkSize, type, list: hex(list hash),
//	             complete, hashes: Uint8Array (absent while unknown)}
//	blob_chunks  hex(sha256) ‖ hex(be32(index)) → Uint8Array
//	blob_refs    hex(sha256) ‖ hex(record id) → {r: hex(record id)}, with
//	             the index "record" on r
const (
	storeBlobs       = "blobs"
	storeBlobChunks  = "blob_chunks"
	storeBlobRefs    = "blob_refs"
	indexBlobRecord  = "record"
	chunkIndexHexLen = 8
	blobRefKeyLen    = 2 * idHexLen
	chunkKeyLen      = idHexLen + chunkIndexHexLen
	// blobPageSize is how many infos one read transaction of ListBlobs
	// reads (with their hash lists: up to 64 KiB each for 512 MiB blobs).
	blobPageSize = 128
)

var _ store.Blobs = (*Store)(nil)

// migrateBlobs is the step from schema 5 to 6: the blob stores, empty.
func migrateBlobs(db, _ js.Value, _ *handlers, _ func(error)) {
	db.Call("createObjectStore", storeBlobs)
	db.Call("createObjectStore", storeBlobChunks)
	refs := db.Call("createObjectStore", storeBlobRefs)
	refs.Call("createIndex", indexBlobRecord, "r")
}

func chunkKey(sha [32]byte, i int) string {
	b := hex.AppendEncode(make([]byte, 0, chunkKeyLen), sha[:])
	return string(hex.AppendEncode(b, []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}))
}

// blobRange is the range of the chunk or reference keys of a blob.
func blobRange(sha [32]byte) keyRange {
	h := idHex(sha)
	return keyRange{lower: h, upper: h + keyCeiling, hasUpper: true, upperOpen: true}
}

// infoObject returns the stored object of a blob's info.
func infoObject(info store.BlobInfo) js.Value {
	v := js.ValueOf(map[string]any{
		"size":      float64(info.Ref.Size), // at most record.MaxBlobBytes: exact
		"chunkSize": info.Ref.ChunkSize,
		"type":      info.Ref.Type,
		"list":      hex.EncodeToString(info.Ref.ListHash[:]),
		"complete":  info.Complete,
	})
	if info.Hashes != nil {
		hashes := jsUint8.New(len(info.Hashes))
		js.CopyBytesToJS(hashes, info.Hashes)
		v.Set("hashes", hashes)
	}
	return v
}

// parseInfoObject reads the stored info of the blob sha, with its hash list
// only withHashes.
func parseInfoObject(sha [32]byte, v js.Value, withHashes bool) (store.BlobInfo, error) {
	info := store.BlobInfo{Ref: record.BlobRef{SHA256: sha}}
	corrupt := func(what string) (store.BlobInfo, error) {
		return store.BlobInfo{}, fmt.Errorf("%w: the info of blob %x has %s", store.ErrCorrupt, sha, what)
	}
	if v.Type() != js.TypeObject {
		return corrupt("no object")
	}
	size, chunkSize, typ, list, complete := v.Get("size"), v.Get("chunkSize"), v.Get("type"), v.Get("list"), v.Get("complete")
	if size.Type() != js.TypeNumber || chunkSize.Type() != js.TypeNumber {
		return corrupt("no size or chunk size")
	}
	info.Ref.Size, info.Ref.ChunkSize = int64(size.Float()), chunkSize.Int()
	if typ.Type() != js.TypeString || list.Type() != js.TypeString || complete.Type() != js.TypeBoolean {
		return corrupt("no type, list hash or complete flag")
	}
	info.Ref.Type, info.Complete = typ.String(), complete.Bool()
	if n, err := hex.Decode(info.Ref.ListHash[:], []byte(list.String())); err != nil || n != 32 || len(list.String()) != 64 {
		return corrupt("a malformed list hash")
	}
	if hashes := v.Get("hashes"); withHashes && !hashes.IsUndefined() {
		if !hashes.InstanceOf(jsUint8) {
			return corrupt("a hash list that is no byte array")
		}
		info.Hashes = make([]byte, hashes.Length())
		js.CopyBytesToGo(info.Hashes, hashes)
	}
	return info, nil
}

// blobTxn is a transaction whose request callbacks may fail: the first
// error is kept (and, with abort, the transaction aborted).
type blobTxn struct {
	*txn
	err error
}

func (t *blobTxn) keep(err error, abort bool) {
	if t.err == nil {
		t.err = err
	}
	if abort {
		t.abort()
	}
}

// onSuccess runs fn on a request's success, inside the transaction; a
// JS exception in fn aborts it.
func (t *blobTxn) onSuccess(req js.Value, fn func(result js.Value)) {
	t.handlers.on(req, "success", func(js.Value) { fn(req.Get("result")) }, func(err error) { t.keep(err, true) })
}

// run queues the first requests of t (queue), waits for the transaction
// and returns the first error of its callbacks, or its own.
func (t *blobTxn) run(ctx context.Context, queue func()) error {
	if err := try(queue); err != nil {
		return t.txn.fail(err)
	}
	err := t.wait(ctx)
	if t.err != nil {
		return t.err
	}
	return err
}

// SetBlob implements store.Blobs: one read-write transaction that reads the
// old info, puts the new one and, when the layout changed, deletes the
// chunks.
func (s *Store) SetBlob(ctx context.Context, info store.BlobInfo) error {
	if err := store.CheckBlobInfo(info); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	sha := info.Ref.SHA256
	what := fmt.Sprintf("set blob %x", sha)
	tx, err := s.write(false, storeBlobs, storeBlobChunks)
	if err != nil {
		return failure(what, err)
	}
	t := &blobTxn{txn: tx}
	err = t.run(ctx, func() {
		blobs := t.store(storeBlobs)
		old := blobs.Call("get", idHex(sha))
		t.onSuccess(old, func(v js.Value) {
			if !v.IsUndefined() {
				if oldInfo, err := parseInfoObject(sha, v, false); err == nil && store.SameBlobLayout(oldInfo.Ref, info.Ref) {
					return
				}
			}
			t.store(storeBlobChunks).Call("delete", blobRange(sha).js())
		})
		blobs.Call("put", infoObject(info), idHex(sha))
	})
	if err != nil {
		return blobFailure(what, err)
	}
	return nil
}

// Blob implements store.Blobs: the info and the count of the chunk keys,
// in one read transaction.
func (s *Store) Blob(ctx context.Context, sha [32]byte) (store.BlobInfo, error) {
	if err := s.begin(ctx); err != nil {
		return store.BlobInfo{}, err
	}
	what := fmt.Sprintf("get blob %x", sha)
	tx, err := s.read(storeBlobs, storeBlobChunks)
	if err != nil {
		return store.BlobInfo{}, failure(what, err)
	}
	t := &blobTxn{txn: tx}
	var infoReq, countReq js.Value
	err = t.run(ctx, func() {
		infoReq = t.store(storeBlobs).Call("get", idHex(sha))
		countReq = t.store(storeBlobChunks).Call("count", blobRange(sha).js())
	})
	if err != nil {
		return store.BlobInfo{}, failure(what, err)
	}
	v := infoReq.Get("result")
	if v.IsUndefined() {
		return store.BlobInfo{}, fmt.Errorf("blob %x: %w", sha, store.ErrNotFound)
	}
	info, err := parseInfoObject(sha, v, true)
	if err != nil {
		return store.BlobInfo{}, failure(what, err)
	}
	info.Stored = countReq.Get("result").Int()
	return info, nil
}

// PutChunks implements store.Blobs: one read-write transaction that reads
// the info and, in its callback, checks the batch against it and puts the
// chunks (copied into Uint8Arrays before it starts), or puts none.
func (s *Store) PutChunks(ctx context.Context, sha [32]byte, first int, chunks [][]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	what := fmt.Sprintf("put %d chunks of blob %x", len(chunks), sha)
	arrays := make([]js.Value, len(chunks))
	err := try(func() {
		for j, c := range chunks {
			arrays[j] = jsUint8.New(len(c))
			js.CopyBytesToJS(arrays[j], c)
		}
	})
	if err != nil {
		return failure(what, err)
	}
	tx, err := s.write(false, storeBlobs, storeBlobChunks)
	if err != nil {
		return failure(what, err)
	}
	t := &blobTxn{txn: tx}
	err = t.run(ctx, func() {
		t.onSuccess(t.store(storeBlobs).Call("get", idHex(sha)), func(v js.Value) {
			if v.IsUndefined() {
				t.keep(fmt.Errorf("blob %x: %w", sha, store.ErrNotFound), false)
				return
			}
			info, err := parseInfoObject(sha, v, false)
			if err == nil {
				err = store.CheckBlobChunks(info.Ref, first, chunks)
			}
			if err != nil {
				t.keep(err, false) // nothing was queued: the transaction commits empty
				return
			}
			os := t.store(storeBlobChunks)
			for j, a := range arrays {
				os.Call("put", a, chunkKey(sha, first+j))
			}
		})
	})
	if err != nil {
		return blobFailure(what, err)
	}
	return nil
}

// blobFailure wraps the error of a blob call as failure does, and lets
// through as they are the errors a caller matches: not found and invalid
// chunks.
func blobFailure(what string, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidBlobChunk) {
		return err
	}
	return failure(what, err)
}

// Chunk implements store.Blobs.
func (s *Store) Chunk(ctx context.Context, sha [32]byte, i int) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if i < 0 || int64(i) > 0xffffffff {
		return nil, fmt.Errorf("chunk %d of blob %x: %w", i, sha, store.ErrNotFound)
	}
	what := fmt.Sprintf("get chunk %d of blob %x", i, sha)
	v, err := s.readPageOf(ctx, storeBlobChunks, func(t *txn) js.Value {
		return t.store(storeBlobChunks).Call("get", chunkKey(sha, i))
	})
	if err != nil {
		return nil, failure(what, err)
	}
	if v.IsUndefined() {
		return nil, fmt.Errorf("chunk %d of blob %x: %w", i, sha, store.ErrNotFound)
	}
	if !v.InstanceOf(jsUint8) {
		return nil, failure(what, fmt.Errorf("%w: the stored chunk is not a byte array", store.ErrCorrupt))
	}
	out := make([]byte, v.Length())
	js.CopyBytesToGo(out, v)
	return out, nil
}

// StoredChunks implements store.Blobs: the chunk keys of the blob's range
// (getAllKeys), joined into one string by the browser.
func (s *Store) StoredChunks(ctx context.Context, sha [32]byte) ([]int, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list the chunks of blob %x", sha)
	keys, err := s.readPageOf(ctx, storeBlobChunks, func(t *txn) js.Value {
		return t.store(storeBlobChunks).Call("getAllKeys", blobRange(sha).js())
	})
	if err != nil {
		return nil, failure(what, err)
	}
	joined, err := joinKeys(keys, chunkKeyLen)
	if err != nil {
		return nil, failure(what, err)
	}
	var out []int
	for k := range chunks(joined, chunkKeyLen) {
		i, err := strconv.ParseUint(k[idHexLen:], 16, 32)
		if err != nil {
			return nil, failure(what, fmt.Errorf("%w: malformed chunk key %q", store.ErrCorrupt, k))
		}
		out = append(out, int(i))
	}
	return out, nil
}

// joinKeys joins an array of fixed-width string keys into one string.
func joinKeys(keys js.Value, width int) (string, error) {
	var joined string
	if err := try(func() { joined = keys.Call("join", "").String() }); err != nil {
		return "", err
	}
	if len(joined)%width != 0 {
		return "", fmt.Errorf("%w: %d characters of keys, not a multiple of %d", store.ErrCorrupt, len(joined), width)
	}
	return joined, nil
}

// DeleteBlob implements store.Blobs: the info and the chunks' key range, in
// one read-write transaction.
func (s *Store) DeleteBlob(ctx context.Context, sha [32]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	what := fmt.Sprintf("delete blob %x", sha)
	tx, err := s.write(false, storeBlobs, storeBlobChunks)
	if err != nil {
		return failure(what, err)
	}
	t := &blobTxn{txn: tx}
	return blobFailure(what, t.run(ctx, func() { queueDeleteBlob(t.txn, sha) }))
}

func queueDeleteBlob(t *txn, sha [32]byte) {
	t.store(storeBlobs).Call("delete", idHex(sha))
	t.store(storeBlobChunks).Call("delete", blobRange(sha).js())
}

// ListBlobs implements store.Blobs: pages of blobPageSize infos (getAll and
// getAllKeys over the same range) with a count of each one's chunk keys, one
// read transaction each; fn runs between them.
func (s *Store) ListBlobs(ctx context.Context, fn func(store.BlobInfo) error) error {
	const what = "list blobs"
	if err := s.begin(ctx); err != nil {
		return err
	}
	r := keyRange{}
	page := make([]store.BlobInfo, 0, blobPageSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tx, err := s.read(storeBlobs, storeBlobChunks)
		if err != nil {
			return failure(what, err)
		}
		t := &blobTxn{txn: tx}
		var keysReq, valuesReq js.Value
		var joined string
		var counts []js.Value
		err = t.run(ctx, func() {
			blobs := t.store(storeBlobs)
			keysReq = blobs.Call("getAllKeys", r.js(), blobPageSize)
			valuesReq = blobs.Call("getAll", r.js(), blobPageSize)
			t.onSuccess(keysReq, func(keys js.Value) {
				var err error
				if joined, err = joinKeys(keys, idHexLen); err != nil {
					t.keep(err, true)
					return
				}
				os := t.store(storeBlobChunks)
				for k := range chunks(joined, idHexLen) {
					counts = append(counts, os.Call("count", jsKeyRange.Call("bound", k, k+keyCeiling, false, true)))
				}
			})
		})
		if err != nil {
			return failure(what, err)
		}
		values := valuesReq.Get("result")
		if values.Length() != len(counts) {
			return failure(what, fmt.Errorf("%w: %d blob infos under %d keys", store.ErrCorrupt, values.Length(), len(counts)))
		}
		page = page[:0]
		i := 0
		for k := range chunks(joined, idHexLen) {
			var sha [32]byte
			if _, err := hex.Decode(sha[:], []byte(k)); err != nil {
				return failure(what, fmt.Errorf("%w: malformed blob key %q", store.ErrCorrupt, k))
			}
			info, err := parseInfoObject(sha, values.Index(i), false)
			if err != nil {
				return failure(what, err)
			}
			info.Stored = counts[i].Get("result").Int()
			page = append(page, info)
			i++
		}
		for _, info := range page {
			if err := fn(info); err != nil {
				return err
			}
		}
		if len(page) < blobPageSize {
			return nil
		}
		r.lower, r.lowerOpen = joined[len(joined)-idHexLen:], true
	}
}

// AddBlobRefs implements store.Blobs: one read-write transaction of puts
// (a reference already stored is put again, unchanged).
func (s *Store) AddBlobRefs(ctx context.Context, refs []store.BlobRefEntry) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	what := fmt.Sprintf("add %d blob references", len(refs))
	tx, err := s.write(false, storeBlobRefs)
	if err != nil {
		return failure(what, err)
	}
	t := &blobTxn{txn: tx}
	return blobFailure(what, t.run(ctx, func() {
		os := t.store(storeBlobRefs)
		for _, r := range refs {
			rec := idHex(r.Record)
			os.Call("put", js.ValueOf(map[string]any{"r": rec}), idHex(r.SHA256)+rec)
		}
		t.commit()
	}))
}

// DropBlobRefs implements store.Blobs in one read-write transaction over the
// references, infos and chunks: the keys of each record's references (the
// index "record") are looked up and deleted; once every lookup is back, the
// references left under each blob touched are counted, and a blob with none
// loses its info and chunks.
func (s *Store) DropBlobRefs(ctx context.Context, records [][32]byte) ([][32]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, nil
	}
	what := fmt.Sprintf("drop the blob references of %d records", len(records))
	tx, err := s.write(false, storeBlobRefs, storeBlobs, storeBlobChunks)
	if err != nil {
		return nil, failure(what, err)
	}
	t := &blobTxn{txn: tx}
	var gone [][32]byte
	touched := map[[32]byte]bool{}
	pending := len(records)
	// count queues, after every delete, the count of a touched blob's
	// references, and deletes the blob when there are none.
	count := func(sha [32]byte) {
		req := t.store(storeBlobRefs).Call("count", blobRange(sha).js())
		t.onSuccess(req, func(n js.Value) {
			if n.Int() == 0 {
				queueDeleteBlob(t.txn, sha)
				gone = append(gone, sha)
			}
		})
	}
	err = t.run(ctx, func() {
		refs := t.store(storeBlobRefs)
		byRecord := refs.Call("index", indexBlobRecord)
		for _, id := range records {
			req := byRecord.Call("getAllKeys", jsKeyRange.Call("only", idHex(id)))
			t.onSuccess(req, func(keys js.Value) {
				joined, err := joinKeys(keys, blobRefKeyLen)
				if err != nil {
					t.keep(err, true)
					return
				}
				for k := range chunks(joined, blobRefKeyLen) {
					var sha [32]byte
					if _, err := hex.Decode(sha[:], []byte(k[:idHexLen])); err != nil {
						t.keep(fmt.Errorf("%w: malformed blob reference key %q", store.ErrCorrupt, k), true)
						return
					}
					refs.Call("delete", k)
					touched[sha] = true
				}
				if pending--; pending == 0 {
					for sha := range touched {
						count(sha)
					}
				}
			})
		}
	})
	if err != nil {
		return nil, failure(what, err)
	}
	slices.SortFunc(gone, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return gone, nil
}

// BlobRefs implements store.Blobs: the reference keys of the blob's range,
// in record id order.
func (s *Store) BlobRefs(ctx context.Context, sha [32]byte) ([][32]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list the references of blob %x", sha)
	keys, err := s.readPageOf(ctx, storeBlobRefs, func(t *txn) js.Value {
		return t.store(storeBlobRefs).Call("getAllKeys", blobRange(sha).js())
	})
	if err != nil {
		return nil, failure(what, err)
	}
	joined, err := joinKeys(keys, blobRefKeyLen)
	if err != nil {
		return nil, failure(what, err)
	}
	var out [][32]byte
	for k := range chunks(joined, blobRefKeyLen) {
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(k[idHexLen:])); err != nil {
			return nil, failure(what, fmt.Errorf("%w: malformed blob reference key %q", store.ErrCorrupt, k))
		}
		out = append(out, id)
	}
	return out, nil
}
