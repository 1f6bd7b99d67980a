//go:build js && wasm

package idb

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Page sizes of the paged reads; each page is one short read transaction.
const (
	itemsPageSize = 8192
	scanPageSize  = 512
	queryPageSize = 256
)

var (
	jsJSON     = js.Global().Get("JSON")
	jsKeyRange = js.Global().Get("IDBKeyRange")
	jsUint8    = js.Global().Get("Uint8Array")
)

// Put implements store.Store. The batch is one read-write transaction of
// add requests, one per event (its summary is a field of its object),
// committed at once (see putObjects); a batch holding an id already stored
// is written again the slower way, in which the add of that id fails with
// ConstraintError, ignored, and the first copy stays. Put returns after the
// transaction's complete event, with durability "strict" unless
// Options.RelaxedDurability.
func (s *Store) Put(ctx context.Context, events ...*record.Event) error {
	if err := store.CheckBatch(events); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	batch := string(appendBatchJSON(nil, events))
	var objects js.Value
	if err := try(func() { objects = jsJSON.Call("parse", batch) }); err != nil {
		return failure(fmt.Sprintf("put %d events", len(events)), err)
	}
	row := addedRow(events)
	err := s.putObjects(ctx, objects, row, true)
	if errors.Is(err, errConstraintAfterCommit) {
		// An id already stored: Chromium aborts a committed transaction
		// whose request fails, even when the error is handled. Again, the
		// way that keeps the first copy.
		err = s.putObjects(ctx, objects, row, false)
	}
	if err != nil {
		return failure(fmt.Sprintf("put %d events", len(events)), err)
	}
	return nil
}

// errConstraintAfterCommit: a transaction that putObjects committed at
// once aborted because an add found its id already stored.
var errConstraintAfterCommit = errors.New("an id already stored aborted a transaction committed at once")

// putObjects adds the stored objects (an array) in one read-write
// transaction, with the generation's replacement and the journal's row. With commitAtOnce it asks
// the browser to commit right after the requests (IDBTransaction.commit: one
// round trip to the browser's storage instead of two), and a batch holding
// an id already stored fails with errConstraintAfterCommit. Without it, the
// add of an id already stored fails with ConstraintError, which is ignored:
// the first copy stays, summary included, even when the new copy's content
// differs (a store does not verify ids).
func (s *Store) putObjects(ctx context.Context, objects js.Value, row journalRow, commitAtOnce bool) error {
	if err := s.loadGeneration(ctx); err != nil {
		return err
	}
	t, err := s.write(!commitAtOnce, storeEvents, storeMeta, storeJournal)
	if err != nil {
		return err
	}
	var constraint atomic.Bool
	if commitAtOnce {
		t.handlers.on(t.tx, "error", func(ev js.Value) {
			if stringProperty(ev.Get("target").Get("error"), "name") == "ConstraintError" {
				constraint.Store(true)
			}
		}, nil)
	}
	err = try(func() {
		os := t.store(storeEvents)
		for i := range objects.Length() {
			os.Call("add", objects.Index(i))
		}
		s.bumpGeneration(t, row)
	})
	if err != nil {
		return t.fail(err)
	}
	if commitAtOnce {
		t.commit()
	}
	if err := t.wait(ctx); err != nil {
		if constraint.Load() {
			return errConstraintAfterCommit
		}
		return err
	}
	return nil
}

// Delete implements store.Store: one read-write transaction that looks up
// each id's primary key in the id index and deletes it; IndexedDB updates
// the indexes, so a corrupt event is removed like any other (and its
// summary with it: it is a field of the event's object).
func (s *Store) Delete(ctx context.Context, ids ...[32]byte) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	what := fmt.Sprintf("delete %d events", len(ids))
	if err := s.loadGeneration(ctx); err != nil {
		return failure(what, err)
	}
	t, err := s.write(false, storeEvents, storeMeta, storeJournal)
	if err != nil {
		return failure(what, err)
	}
	events := t.store(storeEvents)
	// One handler serves every lookup: it runs when a primary key arrives
	// and queues the deletes in the same transaction.
	onKey := js.FuncOf(func(this js.Value, _ []js.Value) any {
		if err := try(func() {
			if key := this.Get("result"); key.Type() == js.TypeString {
				events.Call("delete", key)
			}
		}); err != nil {
			t.abort() // the journal's row says it was deleted
		}
		return nil
	})
	t.handlers = append(t.handlers, onKey)
	err = try(func() {
		byID := events.Call("index", indexID)
		for _, id := range ids {
			byID.Call("getKey", idHex(id)).Set("onsuccess", onKey)
		}
		s.bumpGeneration(t, removedRow(ids))
	})
	if err != nil {
		return failure(what, t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return failure(what, err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id [32]byte) (*record.Event, error) {
	events, err := s.GetMany(ctx, [][32]byte{id})
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("event %x: %w", id, store.ErrNotFound)
	}
	return events[0], nil
}

// GetMany implements store.Store: one transaction of lookups in the id
// index, read once it completes.
func (s *Store) GetMany(ctx context.Context, ids [][32]byte) ([]*record.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	what := fmt.Sprintf("get %d events", len(ids))
	t, err := s.read(storeEvents)
	if err != nil {
		return nil, failure(what, err)
	}
	requests := make([]js.Value, len(ids))
	err = try(func() {
		byID := t.store(storeEvents).Call("index", indexID)
		for i, id := range ids {
			requests[i] = byID.Call("get", idHex(id))
		}
	})
	if err != nil {
		return nil, failure(what, t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return nil, failure(what, err)
	}
	var out []*record.Event
	corrupt := &store.CorruptError{}
	for i, req := range requests {
		v := req.Get("result")
		if v.IsUndefined() {
			continue
		}
		e, err := decodeJSONField(ids[i], v)
		if err != nil {
			corrupt.Add(ids[i], err)
			continue
		}
		out = append(out, e)
	}
	return out, corrupt.OrNil()
}

// decodeJSONField decodes the event JSON stored in the "j" field of a stored
// object found under id.
func decodeJSONField(id [32]byte, v js.Value) (*record.Event, error) {
	j := v.Get("j")
	if j.Type() != js.TypeString {
		return nil, fmt.Errorf("stored object of event %x has no event JSON", id)
	}
	return store.DecodeEvent(id, []byte(j.String()))
}

// decodeObjects decodes an array of stored objects, reading the fields of
// each (a variable so that the benchmarks can compare it with turning a page
// into one JSON string: that costs fewer calls into JS, but parsing the
// JSON twice in Go costs more; see BenchmarkScan10k).
var decodeObjects = decodeObjectsOneByOne

func decodeObjectsOneByOne(objects js.Value, corrupt *store.CorruptError) []*record.Event {
	n := objects.Length()
	out := make([]*record.Event, 0, n)
	for i := range n {
		v := objects.Index(i)
		var id [32]byte
		key := v.Get("k")
		it, err := parseItemKey(stringOrEmpty(key))
		if err != nil {
			// Not even a key to name it by: report it under the zero id.
			corrupt.Add(id, fmt.Errorf("stored object without a valid key: %w", err))
			continue
		}
		e, err := decodeJSONField(it.ID, v)
		if err != nil {
			corrupt.Add(it.ID, err)
			continue
		}
		out = append(out, e)
	}
	return out
}

func stringOrEmpty(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// GetByAddress implements store.Store: the address index holds
// [kind, hex(pubkey), uuid] for addressable events and for deletions (under
// the address they target), so one exact lookup finds them all.
func (s *Store) GetByAddress(ctx context.Context, addr record.Address) ([]*record.Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if !checkAddress(addr) {
		return nil, nil
	}
	const what = "get events by address"
	t, err := s.read(storeEvents)
	if err != nil {
		return nil, failure(what, err)
	}
	var req js.Value
	err = try(func() {
		key := jsKeyRange.Call("only", addressKey(addr))
		req = t.store(storeEvents).Call("index", indexAddress).Call("getAll", key)
	})
	if err != nil {
		return nil, failure(what, t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return nil, failure(what, err)
	}
	corrupt := &store.CorruptError{}
	out := decodeObjects(req.Get("result"), corrupt)
	slices.SortFunc(out, store.CompareReplacement)
	return out, corrupt.OrNil()
}

// keyRange is a range of string keys; no upper bound when !hasUpper.
type keyRange struct {
	lower, upper         string
	lowerOpen, upperOpen bool
	hasUpper             bool
}

func (r keyRange) empty() bool {
	if !r.hasUpper {
		return false
	}
	return r.lower > r.upper || (r.lower == r.upper && (r.lowerOpen || r.upperOpen))
}

func (r keyRange) js() js.Value {
	if !r.hasUpper {
		return jsKeyRange.Call("lowerBound", r.lower, r.lowerOpen)
	}
	return jsKeyRange.Call("bound", r.lower, r.upper, r.lowerOpen, r.upperOpen)
}

// queryRange returns the key range of a query in the time order (the
// primary key) or, for an author, in the author index, where keys are
// prefix ‖ item key.
func queryRange(q store.Query) (r keyRange, prefix string) {
	if q.Author != nil {
		prefix = q.Author.Hex()
	}
	r.lower = prefix + timeHex(q.Since)
	switch {
	case q.Until != 0:
		r.upper, r.upperOpen, r.hasUpper = prefix+timeHex(q.Until)+keyCeiling, true, true
	case prefix != "":
		r.upper, r.upperOpen, r.hasUpper = prefix+keyCeiling, true, true
	}
	if q.After != nil {
		after := prefix + itemKey(q.After.CreatedAt, q.After.ID)
		if !q.Descending && after >= r.lower {
			r.lower, r.lowerOpen = after, true
		}
		if q.Descending && (!r.hasUpper || after < r.upper) {
			r.upper, r.upperOpen, r.hasUpper = after, true, true
		}
	}
	return r, prefix
}

// Query implements store.Store. Ascending queries read pages with getAll
// over the key range; descending ones walk a cursor backwards, since getAll
// only reads forwards. The kinds filter is applied to the stored kind before
// any event is decoded.
func (s *Store) Query(ctx context.Context, q store.Query) ([]*record.Event, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	r, prefix := queryRange(q)
	if r.empty() {
		return nil, nil
	}
	source := func(t *txn) js.Value {
		events := t.store(storeEvents)
		if prefix != "" {
			return events.Call("index", indexAuthor)
		}
		return events
	}
	keyField := "k"
	if prefix != "" {
		keyField = "a"
	}
	var out []*record.Event
	corrupt := &store.CorruptError{}
	var err error
	if q.Descending {
		out, err = s.queryBackwards(ctx, q, r, source, corrupt)
	} else {
		out, err = s.queryForwards(ctx, q, r, source, keyField, corrupt)
	}
	if err != nil {
		return nil, failure("query events", err)
	}
	return out, corrupt.OrNil()
}

func (s *Store) queryForwards(ctx context.Context, q store.Query, r keyRange, source func(*txn) js.Value, keyField string, corrupt *store.CorruptError) ([]*record.Event, error) {
	var out []*record.Event
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		count := queryPageSize
		if q.Limit > 0 && len(q.Kinds) == 0 {
			count = q.Limit - len(out)
		}
		objects, err := s.readPage(ctx, func(t *txn) js.Value {
			return source(t).Call("getAll", r.js(), count)
		})
		if err != nil {
			return nil, err
		}
		n := objects.Length()
		kept := objects
		if len(q.Kinds) > 0 {
			kept = js.Global().Get("Array").New()
			for i := range n {
				if v := objects.Index(i); q.MatchesKind(v.Get("n").Int()) {
					kept.Call("push", v)
				}
			}
		}
		for _, e := range decodeObjects(kept, corrupt) {
			if !q.Matches(e) {
				continue
			}
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
		if n < count {
			return out, nil
		}
		r.lower, r.lowerOpen = stringOrEmpty(objects.Index(n-1).Get(keyField)), true
		if r.empty() {
			return out, nil
		}
	}
}

// readPage runs one read transaction of the events store with a single
// request made by request, and returns the request's result.
func (s *Store) readPage(ctx context.Context, request func(t *txn) js.Value) (js.Value, error) {
	return s.readPageOf(ctx, storeEvents, request)
}

// readPageOf is readPage over the object store name.
func (s *Store) readPageOf(ctx context.Context, name string, request func(t *txn) js.Value) (js.Value, error) {
	t, err := s.read(name)
	if err != nil {
		return js.Value{}, err
	}
	var req js.Value
	if err := try(func() { req = request(t) }); err != nil {
		return js.Value{}, t.fail(err)
	}
	if err := t.wait(ctx); err != nil {
		return js.Value{}, err
	}
	return req.Get("result"), nil
}

// queryBackwards walks a "prev" cursor over the range in one transaction,
// collecting the stored objects of matching kinds in a JS array until the
// limit, then decodes them.
func (s *Store) queryBackwards(ctx context.Context, q store.Query, r keyRange, source func(*txn) js.Value, corrupt *store.CorruptError) ([]*record.Event, error) {
	t, err := s.read(storeEvents)
	if err != nil {
		return nil, err
	}
	collected := js.Global().Get("Array").New()
	n := 0
	var cursorErr error
	var req js.Value
	onStep := js.FuncOf(func(js.Value, []js.Value) any {
		cursorErr = try(func() {
			cursor := req.Get("result")
			if cursor.IsNull() || cursor.IsUndefined() {
				return
			}
			v := cursor.Get("value")
			if q.MatchesKind(v.Get("n").Int()) {
				collected.Call("push", v)
				n++
			}
			if q.Limit > 0 && n >= q.Limit {
				return // the transaction completes without further requests
			}
			cursor.Call("continue")
		})
		if cursorErr != nil {
			t.abort()
		}
		return nil
	})
	t.handlers = append(t.handlers, onStep)
	err = try(func() {
		req = source(t).Call("openCursor", r.js(), "prev")
		req.Set("onsuccess", onStep)
	})
	if err != nil {
		return nil, t.fail(err)
	}
	if err := t.wait(ctx); err != nil {
		if cursorErr != nil {
			return nil, cursorErr
		}
		return nil, err
	}
	var out []*record.Event
	for _, e := range decodeObjects(collected, corrupt) {
		if q.Matches(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Items implements store.Store. It reads only primary keys (getAllKeys),
// which are the item keys, in pages joined into one string by the browser.
func (s *Store) Items(ctx context.Context, fn func(createdAt int64, id [32]byte) error) error {
	return s.items(ctx, itemsPageSize, fn)
}

func (s *Store) items(ctx context.Context, pageSize int, fn func(createdAt int64, id [32]byte) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	r := keyRange{}
	items := make([]store.Item, 0, pageSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		keys, err := s.readPage(ctx, func(t *txn) js.Value {
			return t.store(storeEvents).Call("getAllKeys", r.js(), pageSize)
		})
		if err != nil {
			return failure("read event keys", err)
		}
		joined := keys.Call("join", "").String()
		if len(joined)%itemKeyLen != 0 {
			return failure("read event keys", fmt.Errorf("%w: a page of keys is %d characters, not a multiple of %d", store.ErrCorrupt, len(joined), itemKeyLen))
		}
		items = items[:0]
		for k := range chunks(joined, itemKeyLen) {
			it, err := parseItemKey(k)
			if err != nil {
				return failure("read event keys", fmt.Errorf("%w: %w", store.ErrCorrupt, err))
			}
			items = append(items, it)
		}
		for _, it := range items {
			if err := fn(it.CreatedAt, it.ID); err != nil {
				return err
			}
		}
		if len(items) < pageSize {
			return nil
		}
		r.lower, r.lowerOpen = joined[len(joined)-itemKeyLen:], true
	}
}

// chunks yields s in pieces of size n.
func chunks(s string, n int) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i+n <= len(s); i += n {
			if !yield(s[i : i+n]) {
				return
			}
		}
	}
}

// Scan implements store.Store, reading pages of stored objects in item key
// order. Corrupt events are skipped and reported at the end as a
// *store.CorruptError.
func (s *Store) Scan(ctx context.Context, fn func(*record.Event) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	r := keyRange{}
	corrupt := &store.CorruptError{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		objects, err := s.readPage(ctx, func(t *txn) js.Value {
			return t.store(storeEvents).Call("getAll", r.js(), scanPageSize)
		})
		if err != nil {
			return failure("scan events", err)
		}
		n := objects.Length()
		for _, e := range decodeObjects(objects, corrupt) {
			if err := fn(e); err != nil {
				return err
			}
		}
		if n < scanPageSize {
			return corrupt.OrNil()
		}
		r.lower, r.lowerOpen = stringOrEmpty(objects.Index(n-1).Get("k")), true
	}
}

// Summaries implements store.Store: pages of stored objects (getAll), from
// which the browser keeps only the item key and the summary (JSON.stringify
// with the replacer ["k", "s"]: one string per page into Go), without
// decoding any event. An object without a well-formed summary (written by
// hand, or damaged) gets the summary of its event JSON, or none.
func (s *Store) Summaries(ctx context.Context, fn func(record.Summary, bool) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	r := keyRange{}
	type entry struct {
		s  record.Summary
		ok bool
	}
	page := make([]entry, 0, summariesPageSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		objects, err := s.readPage(ctx, func(t *txn) js.Value {
			return t.store(storeEvents).Call("getAll", r.js(), summariesPageSize)
		})
		if err != nil {
			return failure("read summaries", err)
		}
		n := objects.Length()
		if n == 0 {
			return nil
		}
		var projected string
		if err := try(func() { projected = jsJSON.Call("stringify", objects, summaryFields).String() }); err != nil {
			return failure("read summaries", err)
		}
		fields, ok := parseSummaryPage(projected, n)
		page = page[:0]
		last := ""
		for i := range n {
			var k, sum string
			if ok {
				k, sum = fields[2*i], fields[2*i+1]
			} else {
				v := objects.Index(i)
				k, sum = stringOrEmpty(v.Get("k")), stringOrEmpty(v.Get("s"))
			}
			it, err := parseItemKey(k)
			if err != nil {
				return failure("read summaries", fmt.Errorf("%w: %w", store.ErrCorrupt, err))
			}
			e := entry{}
			b, err := hex.DecodeString(sum)
			if err == nil {
				e.s, e.ok, err = store.ParseStoredSummary(it.ID, it.CreatedAt, b)
			}
			if err != nil || sum == "" {
				b, _ = hex.DecodeString(summaryFromObject(k, objects.Index(i)))
				if e.s, e.ok, err = store.ParseStoredSummary(it.ID, it.CreatedAt, b); err != nil {
					return failure("read summaries", fmt.Errorf("%w: %w", store.ErrCorrupt, err))
				}
			}
			page = append(page, e)
			last = k
		}
		for _, e := range page {
			if err := fn(e.s, e.ok); err != nil {
				return err
			}
		}
		if n < summariesPageSize {
			return nil
		}
		r.lower, r.lowerOpen = last, true
	}
}

// summariesPageSize is the number of stored objects per page of Summaries:
// reading whole objects costs per object, and larger pages measured no
// faster (2048 took 1.5–2.3× as long as 512 for 20k events, under load).
const summariesPageSize = 512

// summaryFields is the replacer of JSON.stringify that keeps, of each
// stored object, the item key and the summary.
var summaryFields = js.ValueOf([]any{"k", "s"})

// parseSummaryPage reads what JSON.stringify(objects, ["k", "s"]) wrote for
// n objects whose keys and summaries are hex strings: k and s of each, in
// order ("" for a summary left out). It returns false for anything else
// (a key or summary that is not such a string), and the caller then reads
// the objects one by one.
func parseSummaryPage(p string, n int) ([]string, bool) {
	out := make([]string, 0, 2*n)
	if len(p) < 2 || p[0] != '[' || p[len(p)-1] != ']' {
		return nil, false
	}
	p = p[1 : len(p)-1]
	for i := range n {
		if i > 0 {
			if p == "" || p[0] != ',' {
				return nil, false
			}
			p = p[1:]
		}
		const kOpen = `{"k":"`
		if !strings.HasPrefix(p, kOpen) {
			return nil, false
		}
		p = p[len(kOpen):]
		end := strings.IndexByte(p, '"')
		if end < 0 || !isHex(p[:end]) {
			return nil, false
		}
		k := p[:end]
		p = p[end+1:]
		sum := ""
		const sOpen = `,"s":"`
		if strings.HasPrefix(p, sOpen) {
			p = p[len(sOpen):]
			end := strings.IndexByte(p, '"')
			if end < 0 || !isHex(p[:end]) {
				return nil, false
			}
			sum = p[:end]
			p = p[end+1:]
		}
		if p == "" || p[0] != '}' {
			return nil, false
		}
		p = p[1:]
		out = append(out, k, sum)
	}
	return out, p == ""
}

// isHex reports whether s is lowercase hex digits only.
func isHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// summaryFromObject is the summary field ("s") of a stored object under
// item key k that has none, or a malformed one: the hex of
// store.AppendStoredSummary of its event JSON or, when that does not decode
// (or k is no item key), of its kind alone (the field "n"; 0 if not a
// valid kind).
func summaryFromObject(k string, v js.Value) string {
	if it, err := parseItemKey(k); err == nil {
		if e, err := decodeJSONField(it.ID, v); err == nil {
			return hex.EncodeToString(store.AppendStoredSummary(nil, e))
		}
	}
	kind := 0
	if n := v.Get("n"); n.Type() == js.TypeNumber {
		if f := n.Float(); f >= 0 && f <= 0xffff && f == float64(int(f)) {
			kind = int(f)
		}
	}
	return hex.EncodeToString([]byte{byte(kind >> 8), byte(kind)})
}

// Count implements store.Store (IDBObjectStore.count).
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	result, err := s.readPage(ctx, func(t *txn) js.Value { return t.store(storeEvents).Call("count") })
	if err != nil {
		return 0, failure("count events", err)
	}
	return result.Int(), nil
}

// GetMeta implements store.Store.
func (s *Store) GetMeta(ctx context.Context, key string) ([]byte, error) {
	if err := store.CheckMetaKey(key); err != nil {
		return nil, err
	}
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	what := "get metadata " + key
	t, err := s.read(storeMeta)
	if err != nil {
		return nil, failure(what, err)
	}
	var req js.Value
	if err := try(func() { req = t.store(storeMeta).Call("get", key) }); err != nil {
		return nil, failure(what, t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return nil, failure(what, err)
	}
	v := req.Get("result")
	if v.IsUndefined() {
		return nil, fmt.Errorf("metadata %q: %w", key, store.ErrNotFound)
	}
	if !v.InstanceOf(jsUint8) {
		return nil, failure(what, fmt.Errorf("%w: the stored value is not a byte array", store.ErrCorrupt))
	}
	value := make([]byte, v.Length())
	js.CopyBytesToGo(value, v)
	return value, nil
}

// SetMeta implements store.Store.
func (s *Store) SetMeta(ctx context.Context, key string, value []byte) error {
	if err := store.CheckMetaKey(key); err != nil {
		return err
	}
	return s.writeMeta(ctx, "set metadata "+key, func(meta js.Value) {
		bytes := jsUint8.New(len(value))
		js.CopyBytesToJS(bytes, value)
		meta.Call("put", bytes, key)
	})
}

// DeleteMeta implements store.Store.
func (s *Store) DeleteMeta(ctx context.Context, key string) error {
	if err := store.CheckMetaKey(key); err != nil {
		return err
	}
	return s.writeMeta(ctx, "delete metadata "+key, func(meta js.Value) { meta.Call("delete", key) })
}

func (s *Store) writeMeta(ctx context.Context, what string, request func(meta js.Value)) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	t, err := s.write(false, storeMeta)
	if err != nil {
		return failure(what, err)
	}
	if err := try(func() { request(t.store(storeMeta)) }); err != nil {
		return failure(what, t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return failure(what, err)
	}
	return nil
}
