package peerset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// Blobs (issue 13): PutBlob stores a file once, content-addressed, and
// publishes a record that refers to it (record.BlobRef); Blob returns the
// file, from the store or fetched in chunks from the peers that hold it
// (session.FetchBlob checks every chunk). A blob goes when the last record
// that refers to it goes (replaced, deleted, collected). Blobs at or under
// Config.PrefetchBelow are fetched as soon as their record arrives.
//
// References follow the records in the background: every batch of changes
// is queued whole (noteBlobs, before its subscribers hear of it) and
// blobRefLoop notes the references of a drained queue's new records before
// it drops those of its removed ones, so that a record replaced by a
// version that keeps the blob never leaves it without a reference. At open,
// the sweep of blobs no live record refers to runs first; PutBlob and
// Blob wait for it (swept).

// Defaults of the blob settings.
const (
	DefaultMaxBlobBytes    = 16 << 20
	DefaultBlobQuotaAuthor = 64 << 20
	DefaultBlobQuotaRoom   = 256 << 20
	DefaultPrefetchBelow   = 256 << 10
)

// Rules named by blob refusals (a *moderation.Rejection).
const (
	RuleBlobSize        = "blob-size"         // over Config.MaxBlobBytes
	RuleBlobQuotaAuthor = "blob-quota-author" // the author's blobs would pass Config.BlobQuotaAuthor
	RuleBlobQuotaRoom   = "blob-quota-room"   // the room's blobs would pass Config.BlobQuotaRoom
)

// Blob errors.
var (
	// ErrNoBlob: the record refers to no blob.
	ErrNoBlob = errors.New("the record has no blob")
	// ErrNoBlobStore: the store keeps no blobs (it does not implement
	// store.Blobs).
	ErrNoBlobStore = errors.New("this store keeps no blobs")
	// ErrBlobUnavailable: the blob is not stored here and no connected peer
	// serves it (try again once peers join).
	ErrBlobUnavailable = session.ErrBlobUnavailable
	// ErrBlobMismatch: the chunks matched the record's hash list but the
	// whole did not match its SHA-256: the author published a wrong record.
	ErrBlobMismatch = errors.New("the blob does not match the record's SHA-256")
)

// BlobProgress reports a blob being stored or fetched (OnBlob).
type BlobProgress struct {
	SHA256   string // lowercase hex
	Received int64  // bytes held
	Size     int64
	Done     bool  // the whole blob is held (or Err says why not)
	Err      error // why a fetch failed (with Done)
}

// blobState is the DB's blob machinery.
type blobState struct {
	st       store.Blobs // nil: no blobs
	progress subscribers[BlobProgress]

	mu       sync.Mutex
	fetching map[[32]byte]*blobCall
	wanted   map[[32]byte]*prefetchEntry // to prefetch (bounded by maxPrefetchQueue)
	wake     chan struct{}
	ctx      context.Context // the DB's background context: fetches run in it
	quotaMu  sync.Mutex      // one quota check (and the store or fetch it allows) at a time
	// unnoted: the blobs PutBlob stored whose record is not stored yet, by
	// how many PutBlob calls hold each (guarded by quotaMu): they count
	// against this node's author quota until their record does.
	unnoted map[[32]byte]unnotedBlob
	pending []Change      // changes whose references are not noted yet
	refMu   sync.Mutex    // one batch of pending is noted at a time, in order
	refWake chan struct{} // pending grew
	swept   chan struct{} // closed once the sweep at open is done
}

// unnotedBlob is a blob of PutBlob in blobState.unnoted.
type unnotedBlob struct {
	size  int64
	calls int
}

// blobCall is one fetch that concurrent Blob calls share.
type blobCall struct {
	size int64 // the blob's, reserved against the room's quota while it runs
	done chan struct{}
	data []byte
	err  error
}

const maxPrefetchQueue = 1024

// A blob to prefetch leaves the queue once maxPrefetchMisses attempts
// found no peer to serve it over at least prefetchGiveUpAfter: a blob
// nobody serves (an author's records of blobs it never shares, a holder
// gone for good) must not keep a slot of the queue, and a retry on every
// pass, for the life of its record. Both bounds hold, so that neither a
// peer joining and leaving in a loop (a pass per join) nor a few minutes
// offline (a pass every prefetchRetry) drops the blobs of a holder that is
// only away. It stays fetchable on demand (DB.Blob).
const (
	maxPrefetchMisses   = 8
	prefetchGiveUpAfter = 10 * time.Minute
)

// prefetchEntry is a blob to prefetch.
type prefetchEntry struct {
	ref       record.BlobRef
	misses    int       // attempts that found no peer to serve it
	firstMiss time.Time // the first of them
}

func (b *blobState) init(st store.Store) {
	if bs, ok := st.(store.Blobs); ok {
		b.st = bs
	}
	b.fetching = map[[32]byte]*blobCall{}
	b.wanted = map[[32]byte]*prefetchEntry{}
	b.unnoted = map[[32]byte]unnotedBlob{}
	b.wake = make(chan struct{}, 1)
	b.refWake = make(chan struct{}, 1)
	b.swept = make(chan struct{})
	if b.st == nil {
		close(b.swept)
	}
}

// waitSwept waits for the sweep at open.
func (b *blobState) waitSwept(ctx context.Context) error {
	select {
	case <-b.swept:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// noteBlobs queues a batch of changes for blobRefLoop: the removed records
// and the new ones that refer to a blob.
func (db *DB) noteBlobs(notes []Change) {
	if db.blobs.st == nil {
		return
	}
	var keep []Change
	for _, c := range notes {
		if c.Removed || (c.Event.Kind == record.KindRecord && c.Event.TagValue(record.TagBlobHash) != "") {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return
	}
	db.blobs.mu.Lock()
	db.blobs.pending = append(db.blobs.pending, keep...)
	db.blobs.mu.Unlock()
	select {
	case db.blobs.refWake <- struct{}{}:
	default:
	}
}

func (b *blobState) kick() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// MaxBlobBytes returns the largest blob this node stores or fetches
// (Config.MaxBlobBytes with its default).
func (db *DB) MaxBlobBytes() int { return db.cfg.MaxBlobBytes }

// OnBlob calls fn with the progress of every blob this node stores or
// fetches, in order, on a goroutine of its own.
func (db *DB) OnBlob(fn func(BlobProgress)) (unsubscribe func()) {
	return db.blobs.progress.add(fn)
}

func (db *DB) blobRejection(rule, reason string) error {
	return &moderation.Rejection{Rule: rule, Reason: reason}
}

// PutBlob stores the bytes of data (at most Config.MaxBlobBytes) as a blob
// of mediaType and puts the record d referring to it (d.Text is its
// caption; d.Data must be nil). Quotas are checked first: a refusal is a
// *moderation.Rejection naming RuleBlobSize, RuleBlobQuotaAuthor or
// RuleBlobQuotaRoom.
func (db *DB) PutBlob(ctx context.Context, d record.Draft, data io.Reader, mediaType string) (*record.Record, error) {
	if db.ReadOnly() {
		return nil, ErrReadOnly
	}
	if db.blobs.st == nil {
		return nil, ErrNoBlobStore
	}
	if d.Data != nil {
		return nil, fmt.Errorf("failed to put blob: %w: a blob record carries no Data", record.ErrInvalidRecord)
	}
	if mediaType == "" {
		mediaType = record.MediaTypeBinary
	}
	raw, err := io.ReadAll(io.LimitReader(data, int64(db.cfg.MaxBlobBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read the blob: %w", err)
	}
	if len(raw) > db.cfg.MaxBlobBytes {
		return nil, db.blobRejection(RuleBlobSize, fmt.Sprintf("the file is over the largest blob, %d bytes", db.cfg.MaxBlobBytes))
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("failed to put blob: %w: the file is empty", record.ErrInvalidBlob)
	}
	ref, hashes := record.HashBlob(raw, mediaType)
	if err := ref.Check(); err != nil {
		return nil, fmt.Errorf("failed to put blob: %w", err)
	}
	if err := db.blobs.waitSwept(ctx); err != nil {
		return nil, err
	}
	db.blobs.quotaMu.Lock()
	err = db.checkBlobQuota(ctx, db.author, ref)
	if err == nil {
		err = db.storeBlob(ctx, ref, hashes, raw)
	}
	if err == nil {
		// Until its record is stored (below), the blob counts against the
		// author's quota here: a second PutBlob meanwhile must see it.
		u := db.blobs.unnoted[ref.SHA256]
		db.blobs.unnoted[ref.SHA256] = unnotedBlob{size: ref.Size, calls: u.calls + 1}
	}
	db.blobs.quotaMu.Unlock()
	if err != nil {
		return nil, err
	}
	defer func() {
		db.blobs.quotaMu.Lock()
		if u := db.blobs.unnoted[ref.SHA256]; u.calls > 1 {
			db.blobs.unnoted[ref.SHA256] = unnotedBlob{size: u.size, calls: u.calls - 1}
		} else {
			delete(db.blobs.unnoted, ref.SHA256)
		}
		db.blobs.quotaMu.Unlock()
	}()
	d.Blob = &ref
	rec, err := db.Put(ctx, d)
	if err != nil {
		db.sweepBlob(ctx, ref.SHA256)
		return nil, err
	}
	if err := db.blobs.st.AddBlobRefs(ctx, []store.BlobRefEntry{{Record: rec.Event.ID, SHA256: ref.SHA256}}); err != nil {
		return nil, fmt.Errorf("failed to note the record's blob: %w", err)
	}
	db.blobs.progress.publish([]BlobProgress{{SHA256: ref.Hex(), Received: ref.Size, Size: ref.Size, Done: true}})
	return rec, nil
}

// storeBlob writes a whole blob, checked, marking it complete last.
func (db *DB) storeBlob(ctx context.Context, ref record.BlobRef, hashes, raw []byte) error {
	if info, err := db.blobs.st.Blob(ctx, ref.SHA256); err == nil && info.Complete {
		return nil // held already
	}
	if err := db.blobs.st.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: hashes}); err != nil {
		return fmt.Errorf("failed to store the blob: %w", err)
	}
	const perWrite = 16
	for first := 0; first < ref.Chunks(); first += perWrite {
		var chunks [][]byte
		for i := first; i < min(first+perWrite, ref.Chunks()); i++ {
			off := int64(i) * int64(ref.ChunkSize)
			chunks = append(chunks, raw[off:off+int64(ref.ChunkLen(i))])
		}
		if err := db.blobs.st.PutChunks(ctx, ref.SHA256, first, chunks); err != nil {
			return fmt.Errorf("failed to store the blob: %w", err)
		}
	}
	if err := db.blobs.st.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: hashes, Complete: true}); err != nil {
		return fmt.Errorf("failed to store the blob: %w", err)
	}
	return nil
}

// sweepBlob deletes a blob no record refers to.
func (db *DB) sweepBlob(ctx context.Context, sha [32]byte) {
	refs, err := db.blobs.st.BlobRefs(ctx, sha)
	if err == nil && len(refs) == 0 {
		_ = db.blobs.st.DeleteBlob(ctx, sha)
	}
}

// checkBlobQuota refuses a blob that is not held yet and would take the
// author's or the room's blobs past their quota.
func (db *DB) checkBlobQuota(ctx context.Context, author record.PublicKey, ref record.BlobRef) error {
	if ref.Size > int64(db.cfg.MaxBlobBytes) {
		return db.blobRejection(RuleBlobSize, fmt.Sprintf("the blob has %d bytes, over the largest blob, %d", ref.Size, db.cfg.MaxBlobBytes))
	}
	if info, err := db.blobs.st.Blob(ctx, ref.SHA256); err == nil && info.Complete {
		return nil
	}
	// The room: what is stored, and the whole of every blob being fetched
	// (its reservation), this one aside.
	var room int64
	db.blobs.mu.Lock()
	fetching := make(map[[32]byte]int64, len(db.blobs.fetching))
	for sha, c := range db.blobs.fetching {
		if sha != ref.SHA256 {
			fetching[sha] = c.size
			room += c.size
		}
	}
	db.blobs.mu.Unlock()
	err := db.blobs.st.ListBlobs(ctx, func(info store.BlobInfo) error {
		if _, reserved := fetching[info.Ref.SHA256]; info.Ref.SHA256 != ref.SHA256 && !reserved {
			room += blobBytesHeld(info)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to count the room's blobs: %w", err)
	}
	if room+ref.Size > db.cfg.BlobQuotaRoom {
		return db.blobRejection(RuleBlobQuotaRoom, fmt.Sprintf("the room's blobs would take %d bytes, over its quota of %d", room+ref.Size, db.cfg.BlobQuotaRoom))
	}
	used, err := db.authorBlobBytes(ctx, author, ref.SHA256)
	if err != nil {
		return err
	}
	if used+ref.Size > db.cfg.BlobQuotaAuthor {
		return db.blobRejection(RuleBlobQuotaAuthor, fmt.Sprintf("the author's blobs would take %d bytes, over the quota of %d per author", used+ref.Size, db.cfg.BlobQuotaAuthor))
	}
	return nil
}

// blobBytesHeld is what a stored blob takes: all of it when whole, else
// the chunks stored so far.
func blobBytesHeld(info store.BlobInfo) int64 {
	if info.Complete {
		return info.Ref.Size
	}
	return min(info.Ref.Size, int64(info.Stored)*int64(info.Ref.ChunkSize))
}

// authorBlobBytes sums the distinct blobs the author's live records refer
// to, and, for this node's author, those PutBlob stored whose record is
// not stored yet (unnoted), other than except. Callers hold quotaMu.
func (db *DB) authorBlobBytes(ctx context.Context, author record.PublicKey, except [32]byte) (int64, error) {
	events, err := db.store.Query(ctx, store.Query{Author: &author, Kinds: []int{record.KindRecord}})
	if err != nil {
		return 0, fmt.Errorf("failed to count the author's blobs: %w", err)
	}
	seen := map[[32]byte]bool{except: true}
	var used int64
	for _, e := range events {
		r, err := record.Parse(e)
		if err != nil || r.Blob == nil || seen[r.Blob.SHA256] {
			continue
		}
		seen[r.Blob.SHA256] = true
		used += r.Blob.Size
	}
	if author == db.author {
		for sha, u := range db.blobs.unnoted { // callers hold quotaMu
			if !seen[sha] {
				seen[sha] = true
				used += u.size
			}
		}
	}
	return used, nil
}

// Blob returns the blob of the live record uuid: from the store, or
// fetched from the peers that hold it (which needs Join), checked chunk by
// chunk and as a whole, and then kept. Concurrent calls for one blob share
// one fetch. A blob over MaxBlobBytes or a quota is refused with a
// *moderation.Rejection naming the rule.
func (db *DB) Blob(ctx context.Context, uuid string) ([]byte, *record.Record, error) {
	if db.blobs.st == nil {
		return nil, nil, ErrNoBlobStore
	}
	rec, err := db.Get(ctx, uuid)
	if err != nil {
		return nil, nil, err
	}
	if rec.Blob == nil {
		return nil, rec, fmt.Errorf("%w: %s", ErrNoBlob, uuid)
	}
	data, err := db.blobBytes(ctx, rec)
	return data, rec, err
}

func (db *DB) blobBytes(ctx context.Context, rec *record.Record) ([]byte, error) {
	ref := *rec.Blob
	if ref.Size > int64(db.cfg.MaxBlobBytes) {
		return nil, db.blobRejection(RuleBlobSize, fmt.Sprintf("the blob has %d bytes, over the largest blob, %d", ref.Size, db.cfg.MaxBlobBytes))
	}
	if err := db.blobs.waitSwept(ctx); err != nil {
		return nil, err
	}
	if data, ok, err := db.readBlob(ctx, ref); err != nil || ok {
		return data, err
	}
	// Close sets closed before it waits for the background work: no fetch
	// starts after that.
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return nil, ErrClosed
	}
	db.blobs.mu.Lock()
	call := db.blobs.fetching[ref.SHA256]
	if call == nil {
		// The fetch runs on its own, in the DB's context, so that every
		// caller waiting for it waits with its own (a caller that gives
		// up stops no one else); it ends when done, stalled or closed.
		call = &blobCall{size: ref.Size, done: make(chan struct{})}
		db.blobs.fetching[ref.SHA256] = call
		db.bgDone.Add(1)
		go func() {
			defer db.bgDone.Done()
			call.data, call.err = db.fetchBlob(db.blobs.ctx, rec)
			db.blobs.mu.Lock()
			delete(db.blobs.fetching, ref.SHA256)
			db.blobs.mu.Unlock()
			close(call.done)
		}()
	}
	db.blobs.mu.Unlock()
	db.mu.RUnlock()
	select {
	case <-call.done:
		if call.err != nil {
			return nil, call.err
		}
		return bytes.Clone(call.data), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readBlob reads a complete stored blob; ok false when it is not complete.
// The bytes are held in the layout of the record that brought them (info.
// Ref), which another record naming the same SHA-256 may not share: a
// record whose size differs names bytes that cannot have that SHA-256.
func (db *DB) readBlob(ctx context.Context, ref record.BlobRef) ([]byte, bool, error) {
	info, err := db.blobs.st.Blob(ctx, ref.SHA256)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !info.Complete) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("failed to read the blob: %w", err)
	}
	if info.Ref.Size != ref.Size {
		return nil, false, fmt.Errorf("failed to read blob %s: %w: the record says %d bytes, the blob with that SHA-256 has %d", ref.Hex()[:16], ErrBlobMismatch, ref.Size, info.Ref.Size)
	}
	held := info.Ref
	out := make([]byte, 0, held.Size)
	for i := range held.Chunks() {
		c, err := db.blobs.st.Chunk(ctx, ref.SHA256, i)
		if err != nil {
			return nil, false, fmt.Errorf("failed to read the blob's chunk %d: %w", i, err)
		}
		out = append(out, c...)
	}
	if int64(len(out)) != held.Size {
		return nil, false, fmt.Errorf("failed to read blob %s: %w: %d bytes stored, want %d", ref.Hex()[:16], store.ErrCorrupt, len(out), held.Size)
	}
	return out, true, nil
}

// fetchBlob fetches a blob from peers into the store.
func (db *DB) fetchBlob(ctx context.Context, rec *record.Record) ([]byte, error) {
	ref := *rec.Blob
	sha := ref.Hex()
	fail := func(err error) ([]byte, error) {
		db.blobs.progress.publish([]BlobProgress{{SHA256: sha, Size: ref.Size, Done: true, Err: err}})
		return nil, err
	}
	db.blobs.quotaMu.Lock()
	err := db.checkBlobQuota(ctx, rec.Author, ref)
	db.blobs.quotaMu.Unlock()
	if err != nil {
		return fail(err)
	}
	db.mu.RLock()
	net := db.net
	db.mu.RUnlock()
	if net == nil || net.mgr == nil {
		return fail(fmt.Errorf("failed to fetch blob %s: %w (not joined to the room)", sha[:16], ErrBlobUnavailable))
	}
	info, err := db.blobs.st.Blob(ctx, ref.SHA256)
	if errors.Is(err, store.ErrNotFound) || (err == nil && info.Ref != ref) {
		// Nothing held, or part of it in another record's layout (not
		// whole: readBlob would have served it): start over in this one.
		info = store.BlobInfo{Ref: ref}
		if err = db.blobs.st.SetBlob(ctx, info); err != nil {
			return fail(fmt.Errorf("failed to store the blob: %w", err))
		}
	} else if err != nil {
		return fail(fmt.Errorf("failed to read the blob: %w", err))
	}
	fetched := false // a chunk or the list was stored by this fetch
	defer func() {
		if !fetched {
			// A failed fetch that stored nothing leaves no info behind
			// (it would count against the room's quota for nothing).
			if in, err := db.blobs.st.Blob(context.WithoutCancel(ctx), ref.SHA256); err == nil && !in.Complete && in.Stored == 0 && in.Hashes == nil {
				_ = db.blobs.st.DeleteBlob(context.WithoutCancel(ctx), ref.SHA256)
			}
		}
	}()
	have, err := db.blobs.st.StoredChunks(ctx, ref.SHA256)
	if err != nil {
		return fail(fmt.Errorf("failed to read the blob: %w", err))
	}
	if info.Hashes == nil {
		have = nil // chunks stored before the list was known are not trusted
	}
	var received int64
	for _, i := range have {
		received += int64(ref.ChunkLen(i))
	}
	hashes := info.Hashes
	lastReport := time.Time{}
	err = net.mgr.FetchBlob(ctx, session.BlobFetch{
		Ref: ref, Hashes: hashes, Have: have,
		List: func(list []byte) error {
			hashes, fetched = list, true
			return db.blobs.st.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: list})
		},
		Put: func(i int, data []byte) error {
			fetched = true
			return db.blobs.st.PutChunks(ctx, ref.SHA256, i, [][]byte{data})
		},
		Progress: func(got int64) {
			received = got
			if now := time.Now(); now.Sub(lastReport) >= 50*time.Millisecond || got == ref.Size {
				lastReport = now
				db.blobs.progress.publish([]BlobProgress{{SHA256: sha, Received: got, Size: ref.Size}})
			}
		},
	})
	if err != nil {
		return fail(err)
	}
	// Every chunk matched the list; the whole must match the record too.
	out := make([]byte, 0, ref.Size)
	whole := sha256.New()
	for i := range ref.Chunks() {
		c, err := db.blobs.st.Chunk(ctx, ref.SHA256, i)
		if err != nil {
			return fail(fmt.Errorf("failed to read the blob's chunk %d: %w", i, err))
		}
		whole.Write(c)
		out = append(out, c...)
	}
	if !bytes.Equal(whole.Sum(nil), ref.SHA256[:]) {
		_ = db.blobs.st.DeleteBlob(ctx, ref.SHA256)
		return fail(fmt.Errorf("failed to fetch blob %s: %w", sha[:16], ErrBlobMismatch))
	}
	if err := db.blobs.st.SetBlob(ctx, store.BlobInfo{Ref: ref, Hashes: hashes, Complete: true}); err != nil {
		return fail(fmt.Errorf("failed to store the blob: %w", err))
	}
	if refs, _ := db.blobs.st.BlobRefs(ctx, ref.SHA256); len(refs) == 0 {
		// The record went while the blob travelled.
		_ = db.blobs.st.DeleteBlob(ctx, ref.SHA256)
	}
	db.blobs.progress.publish([]BlobProgress{{SHA256: sha, Received: ref.Size, Size: ref.Size, Done: true}})
	return out, nil
}

// blobRefLoop notes and drops the references of queued changes (see
// noteBlobs), until ctx ends.
func (db *DB) blobRefLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.blobs.refWake:
		}
		db.notePendingBlobRefs(ctx)
	}
}

// maxPendingBlobRefs bounds the changes kept for a retry when the store
// fails to note their references.
const maxPendingBlobRefs = 8192

// notePendingBlobRefs notes and drops the references of the changes
// queued so far (blobRefLoop, and ImportBlob before it looks a blob's
// records up), one batch at a time in the order they were queued.
// The batch is noted whatever becomes of ctx (a caller's, cancelled
// meanwhile, must not drop it), and one the store fails to note goes back
// to the front of the queue.
func (db *DB) notePendingBlobRefs(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	db.blobs.refMu.Lock()
	defer db.blobs.refMu.Unlock()
	db.blobs.mu.Lock()
	batch := db.blobs.pending
	db.blobs.pending = nil
	db.blobs.mu.Unlock()
	requeue := func() {
		db.blobs.mu.Lock()
		defer db.blobs.mu.Unlock()
		if len(batch)+len(db.blobs.pending) > maxPendingBlobRefs {
			// A store failing for long: drop the batch (the sweep at the
			// next open drops references left over; a reference not
			// noted leaves its blob unfetched until its record changes).
			db.log.Warn("dropping blob references the store failed to note", "count", len(batch))
			return
		}
		db.blobs.pending = append(batch, db.blobs.pending...)
	}
	var adds []store.BlobRefEntry
	var drops [][32]byte
	var prefetch []record.BlobRef
	for _, c := range batch {
		if c.Removed {
			drops = append(drops, c.Event.ID)
			continue
		}
		r, err := record.Parse(c.Event)
		if err != nil || r.Blob == nil {
			continue
		}
		adds = append(adds, store.BlobRefEntry{Record: c.Event.ID, SHA256: r.Blob.SHA256})
		if c.Origin.Local() || db.cfg.PrefetchBelow < 0 || r.Blob.Size > int64(db.cfg.PrefetchBelow) || r.Blob.Size > int64(db.cfg.MaxBlobBytes) {
			continue
		}
		prefetch = append(prefetch, *r.Blob)
	}
	if len(adds) > 0 {
		if err := db.blobs.st.AddBlobRefs(ctx, adds); err != nil {
			if !errors.Is(err, store.ErrClosed) {
				db.log.Warn("failed to note the blobs of new records (retried with the next batch)", "count", len(adds), "err", err)
			}
			requeue()
			return
		}
	}
	// Once noted: the prefetch looks a blob's record up by reference.
	if len(prefetch) > 0 {
		db.blobs.mu.Lock()
		for _, ref := range prefetch {
			if db.blobs.wanted[ref.SHA256] == nil && len(db.blobs.wanted) < maxPrefetchQueue {
				db.blobs.wanted[ref.SHA256] = &prefetchEntry{ref: ref}
			}
		}
		db.blobs.mu.Unlock()
		db.blobs.kick()
	}
	if len(drops) > 0 {
		gone, err := db.blobs.st.DropBlobRefs(ctx, drops)
		if err != nil {
			if !errors.Is(err, store.ErrClosed) {
				db.log.Warn("failed to drop the blob references of removed records (retried with the next batch)", "count", len(drops), "err", err)
			}
			requeue() // its adds again: a no-op
			return
		}
		if len(gone) > 0 {
			db.log.Debug("blobs deleted with their last record", "count", len(gone))
		}
	}
}

// prefetchLoop fetches the small blobs of records that arrived, when they
// arrive, when peers join and every prefetchRetry, until ctx ends.
func (db *DB) prefetchLoop(ctx context.Context) {
	const prefetchRetry = 15 * time.Second
	tick := time.NewTicker(prefetchRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.blobs.wake:
		case <-tick.C:
		}
		db.blobs.mu.Lock()
		var refs []record.BlobRef
		for _, e := range db.blobs.wanted {
			refs = append(refs, e.ref)
		}
		db.blobs.mu.Unlock()
		for _, ref := range refs {
			if ctx.Err() != nil {
				return
			}
			err := db.prefetch(ctx, ref)
			if errors.Is(err, ErrBlobUnavailable) {
				// Retried when peers join and every prefetchRetry, a few
				// times.
				db.blobs.mu.Lock()
				if e := db.blobs.wanted[ref.SHA256]; e != nil {
					now := db.now()
					if e.misses == 0 {
						e.firstMiss = now
					}
					if e.misses++; e.misses >= maxPrefetchMisses && now.Sub(e.firstMiss) >= prefetchGiveUpAfter {
						delete(db.blobs.wanted, ref.SHA256)
						db.log.Debug("prefetch gave up: no peer serves the blob (it is fetched on demand)", "sha", ref.Hex()[:16], "attempts", e.misses)
					}
				}
				db.blobs.mu.Unlock()
				continue
			}
			if err != nil && ctx.Err() == nil {
				db.log.Warn("failed to prefetch a blob", "sha", ref.Hex()[:16], "err", err)
			}
			db.blobs.mu.Lock()
			delete(db.blobs.wanted, ref.SHA256)
			db.blobs.mu.Unlock()
		}
	}
}

// prefetch fetches one blob through a live record that refers to it.
func (db *DB) prefetch(ctx context.Context, ref record.BlobRef) error {
	refs, err := db.blobs.st.BlobRefs(ctx, ref.SHA256)
	if err != nil || len(refs) == 0 {
		return err
	}
	events, err := db.store.GetMany(ctx, refs[:1])
	if err != nil || len(events) == 0 {
		return err
	}
	rec, err := record.Parse(events[0])
	if err != nil || rec.Blob == nil {
		return err
	}
	_, err = db.blobBytes(ctx, rec)
	return err
}

// sweepBlobs deletes the blobs that no live record refers to (a crash
// between storing a blob and its record, records removed at open).
func (db *DB) sweepBlobs(ctx context.Context) {
	var orphans [][32]byte
	var stale [][32]byte
	_ = db.blobs.st.ListBlobs(ctx, func(info store.BlobInfo) error {
		refs, err := db.blobs.st.BlobRefs(ctx, info.Ref.SHA256)
		if err != nil {
			return err
		}
		live := 0
		for _, id := range refs {
			db.mu.RLock()
			has := db.index.Has(id)
			db.mu.RUnlock()
			if has {
				live++
			} else {
				stale = append(stale, id)
			}
		}
		if live == 0 && len(stale) == 0 {
			orphans = append(orphans, info.Ref.SHA256)
		}
		return nil
	})
	if len(stale) > 0 {
		if _, err := db.blobs.st.DropBlobRefs(ctx, stale); err != nil {
			db.log.Warn("failed to drop stale blob references", "err", err)
		}
	}
	for _, sha := range orphans {
		if err := db.blobs.st.DeleteBlob(ctx, sha); err != nil {
			db.log.Warn("failed to delete an orphaned blob", "sha", hex.EncodeToString(sha[:8]), "err", err)
		}
	}
}

// BlobUsage is what the store holds of blobs.
type BlobUsage struct {
	Blobs int   // blobs stored, whole or in part
	Whole int   // of those, held whole (served to peers)
	Bytes int64 // the bytes they take (a blob in part: its chunks stored)
}

// BlobUsage counts the blobs in the store (zero without a blob store).
func (db *DB) BlobUsage(ctx context.Context) (BlobUsage, error) {
	var u BlobUsage
	if db.blobs.st == nil {
		return u, nil
	}
	err := db.blobs.st.ListBlobs(ctx, func(info store.BlobInfo) error {
		u.Blobs++
		u.Bytes += blobBytesHeld(info)
		if info.Complete {
			u.Whole++
		}
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("failed to count the blobs: %w", err)
	}
	return u, nil
}

// blobServer is the session.BlobSource over the DB's store.
type blobServer struct{ db *DB }

func (s blobServer) ServedBlob(ctx context.Context, sha [32]byte) (record.BlobRef, []byte, bool) {
	info, err := s.db.blobs.st.Blob(ctx, sha)
	if err != nil || !info.Complete || info.Hashes == nil {
		return record.BlobRef{}, nil, false
	}
	return info.Ref, info.Hashes, true
}

func (s blobServer) BlobChunk(ctx context.Context, sha [32]byte, i int) ([]byte, error) {
	return s.db.blobs.st.Chunk(ctx, sha, i)
}
