//go:build js && wasm

package idb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/peersetdb/peerset/pkg/store"
)

// SchemaVersion is the IndexedDB version this package creates and reads.
// A database with an older version is migrated at Open; a newer one is
// refused with ErrSchema.
const SchemaVersion = 6

// Object stores and indexes.
const (
	storeEvents = "events"
	// storeSummaries held each event's summary from schema 2 to 3; schema
	// 4 keeps it in the event's object (field "s") and drops the store.
	storeSummaries = "summaries"
	storeMeta      = "meta"
	// storeJournal (schema 5): one row per transaction that changed events
	// since the snapshot was saved (see snapshot.go).
	storeJournal = "journal"
	indexID      = "id"
	indexAuthor  = "author"
	indexAddress = "address"
)

// A migration upgrades a database by one version inside the versionchange
// transaction tx of Open. A synchronous step returns after queueing its
// requests; an asynchronous one (3 → 4) goes on in request callbacks,
// registered in h, and reports a failure through fail, which aborts the
// upgrade. The browser commits the upgrade only after every step's requests
// are done, and rolls all of them back if any fails: the database then
// stays at its old version with everything it held.
type migration func(db, tx js.Value, h *handlers, fail func(error))

// migrations[v] upgrades a database from version v to v+1. They run inside
// the versionchange transaction of Open, from the stored version up to
// SchemaVersion.
var migrations = [SchemaVersion]migration{
	// 0 → 1: events keyed by item key, with the id, author and address
	// indexes; metadata values (Uint8Array) under out-of-line string keys.
	func(db, _ js.Value, _ *handlers, _ func(error)) {
		events := db.Call("createObjectStore", storeEvents, map[string]any{"keyPath": "k"})
		events.Call("createIndex", indexID, "i", map[string]any{"unique": true})
		events.Call("createIndex", indexAuthor, "a")
		events.Call("createIndex", indexAddress, "x")
		db.Call("createObjectStore", storeMeta)
	},
	// 1 → 2: each event's summary beside it, under its item key, so that
	// Summaries reads no event (filled for older events by schema 2 and 3's
	// first Summaries call, or by the step to 4).
	func(db, _ js.Value, _ *handlers, _ func(error)) {
		db.Call("createObjectStore", storeSummaries)
	},
	// 2 → 3: nothing changes in the stores. Every write now also replaces
	// the generation (meta "peerset/idb-generation") that keeps an index
	// snapshot valid; code of schema 2 writes events without it, so it must
	// not open this database (it is refused with ErrSchema), and a tab
	// still running it is closed by this upgrade's versionchange.
	func(js.Value, js.Value, *handlers, func(error)) {},
	// 3 → 4: each event's summary moves into its object (field "s"), so
	// that a Put is one request per event instead of two; the summaries
	// store is dropped. See migrateSummaries.
	migrateSummaries,
	// 4 → 5: a journal of the changes made since the snapshot, written by
	// each change in its own transaction, brings a snapshot up to date
	// when it is loaded. A schema 4 snapshot has no journal of what
	// changed after it: it is dropped (the next open rebuilds the index
	// from the events and saves a new one).
	func(db, tx js.Value, _ *handlers, _ func(error)) {
		db.Call("createObjectStore", storeJournal, map[string]any{"autoIncrement": true})
		tx.Call("objectStore", storeMeta).Call("delete", metaSnapshot)
	},
	// 5 → 6: blobs (store.Blobs, see blob.go): their infos, their chunks
	// and the records' references to them, in three new stores.
	migrateBlobs,
}

// migrationPageSize is the number of events the step to schema 4 reads and
// rewrites per request.
const migrationPageSize = 1024

// failMigrationAfter, when not negative, makes the step to schema 4 fail
// after that many pages (a test hook: what a failing upgrade keeps).
var failMigrationAfter = -1

// migrateSummaries is the step from schema 3 to 4, inside the upgrade
// transaction: pages of events in item key order (getAll), each with the
// summaries stored under the same key range; every event is put again with
// its summary in the field "s" (the hex of store.AppendStoredSummary, the
// part of a schema 3 summary value after the item key). An event without a
// summary row (stored by schema 1, never filled in) gets the summary of its
// JSON, or, when that does not decode, none (its kind only). Then the
// summaries store is deleted.
func migrateSummaries(db, tx js.Value, h *handlers, fail func(error)) {
	events, sums := tx.Call("objectStore", storeEvents), tx.Call("objectStore", storeSummaries)
	var (
		page          js.Value // the events of the current page
		lower         js.Value // the key of the last event rewritten
		pages         int
		eventsRequest js.Value
		sumsRequest   js.Value
	)
	abort := func(err error) {
		fail(err)
		_ = try(func() { tx.Call("abort") })
	}
	var next func()
	onSummaries := js.FuncOf(func(js.Value, []js.Value) any {
		if err := try(func() {
			rows := map[string]string{}
			values := sumsRequest.Get("result")
			if values.Length() > 0 {
				for v := range strings.SplitSeq(values.Call("join", ",").String(), ",") {
					if len(v) > itemKeyLen {
						rows[v[:itemKeyLen]] = v[itemKeyLen:]
					}
				}
			}
			n := page.Length()
			for i := range n {
				v := page.Index(i)
				k := stringOrEmpty(v.Get("k"))
				s, ok := rows[k]
				if !ok || !isHex(s) {
					s = summaryFromObject(k, v)
				}
				v.Set("s", s)
				events.Call("put", v)
				lower = v.Get("k")
			}
			pages++
			if failMigrationAfter >= 0 && pages > failMigrationAfter {
				panic(js.Error{Value: js.ValueOf(map[string]any{"name": "AbortError", "message": "test: the migration fails"})})
			}
			next()
		}); err != nil {
			abort(err)
		}
		return nil
	})
	onEvents := js.FuncOf(func(js.Value, []js.Value) any {
		if err := try(func() {
			page = eventsRequest.Get("result")
			n := page.Length()
			if n == 0 {
				db.Call("deleteObjectStore", storeSummaries)
				return
			}
			first, last := page.Index(0).Get("k"), page.Index(n-1).Get("k")
			sumsRequest = sums.Call("getAll", jsKeyRange.Call("bound", first, last))
			sumsRequest.Set("onsuccess", onSummaries)
		}); err != nil {
			abort(err)
		}
		return nil
	})
	*h = append(*h, onSummaries, onEvents)
	next = func() {
		r := js.Undefined()
		if !lower.IsUndefined() {
			r = jsKeyRange.Call("lowerBound", lower, true)
		}
		eventsRequest = events.Call("getAll", r, migrationPageSize)
		eventsRequest.Set("onsuccess", onEvents)
	}
	next()
}

// Options configure Open. The zero value is ready to use.
type Options struct {
	// RelaxedDurability lets the browser report a write complete before it
	// has flushed it to disk (IndexedDB durability "relaxed"): faster, but
	// a power loss or a crash of the OS may lose the last acknowledged
	// writes. By default writes use durability "strict", so that Put
	// returns only once the batch is on disk.
	RelaxedDurability bool
	// BlockedTimeout bounds the wait for another tab that holds the database
	// open at an older schema version (the "blocked" event) until the
	// upgrade starts; then Open fails with an error wrapping ErrBlocked. A
	// migration that has started is not bounded by it: it runs to its end
	// (or until ctx ends), however long a large store takes. 0: only ctx
	// bounds the wait.
	BlockedTimeout time.Duration
}

// Store is a store.Store on an IndexedDB database. It is safe for concurrent
// use from several goroutines: IndexedDB orders the transactions.
type Store struct {
	name          string
	db            js.Value
	writeOptions  js.Value
	onVersion     js.Func
	onForcedClose js.Func

	mu       sync.Mutex
	closed   bool
	closeErr error // why the store closed itself, nil after Close
	// The generation (see snapshot.go): the value this Store wrote or read
	// last, whether it is known yet, and whether another connection has
	// changed events meanwhile.
	gen      string
	genKnown bool
	foreign  bool
	// journaled counts the journal's changes: those LoadSnapshot read and
	// those this Store added since (see journalLimit). usesSnapshots: the
	// caller loaded a snapshot; until then this Store journals nothing.
	journaled int
	// journaledBytes: the bytes of those changes' rows; snapBytes: the
	// size of the snapshot they follow (0 for none). See journalFull.
	journaledBytes int
	snapBytes      int
	usesSnapshots  bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating or migrating it if needed) the IndexedDB database
// called name in the current origin. It also asks the browser, once per
// page, to keep the site's storage persistent (see Persisted).
//
// If another tab holds the database open at an older schema version and
// does not close it, Open waits for it until ctx ends, or for
// opts.BlockedTimeout, and then fails with an error wrapping ErrBlocked.
func Open(ctx context.Context, name string, opts Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("failed to open IndexedDB database %q: %w", name, err)
	}
	factory := js.Global().Get("indexedDB")
	if factory.Type() != js.TypeObject {
		return nil, fmt.Errorf("failed to open IndexedDB database %q: %w: run peerset in a browser page, or use another store", name, ErrUnavailable)
	}
	requestPersistence()

	var req js.Value
	if err := try(func() { req = factory.Call("open", name, SchemaVersion) }); err != nil {
		return nil, fmt.Errorf("failed to open IndexedDB database %q: %w", name, err)
	}
	done := make(chan error, 1)
	blocked := make(chan struct{}, 1)
	upgrading := make(chan struct{}, 1)
	var (
		upgradeMu  sync.Mutex
		upgradeErr error
	)
	setUpgradeErr := func(err error) {
		upgradeMu.Lock()
		defer upgradeMu.Unlock()
		if upgradeErr == nil {
			upgradeErr = err
		}
	}
	var h handlers
	h.on(req, "upgradeneeded", func(ev js.Value) {
		signal(upgrading, struct{}{})
		db, tx := req.Get("result"), req.Get("transaction")
		from := ev.Get("oldVersion").Int()
		err := try(func() {
			for v := from; v < SchemaVersion; v++ {
				migrations[v](db, tx, &h, setUpgradeErr)
			}
		})
		if err != nil {
			setUpgradeErr(err)
			tx.Call("abort")
		}
	}, setUpgradeErr)
	h.on(req, "success", func(js.Value) { signal(done, nil) }, func(err error) { signal(done, err) })
	h.on(req, "error", func(ev js.Value) {
		ev.Call("preventDefault")
		signal(done, domError(req.Get("error")))
	}, func(err error) { signal(done, err) })
	h.on(req, "blocked", func(js.Value) { signal(blocked, struct{}{}) }, nil)

	wasBlocked, upgradeStarted := false, false
	var blockedFor <-chan time.Time // runs from "blocked" until the upgrade starts
	giveUp := func(err error) (*Store, error) {
		// The request goes on: close what it opens, then let go.
		go func() {
			if err := <-done; err == nil {
				req.Get("result").Call("close")
			}
			h.release()
		}()
		if wasBlocked {
			return nil, fmt.Errorf("failed to open IndexedDB database %q: %w (%w): close the other tabs of this site, or reload them", name, ErrBlocked, err)
		}
		return nil, fmt.Errorf("failed to open IndexedDB database %q: %w", name, err)
	}
	for {
		select {
		case err := <-done:
			h.release()
			upgradeMu.Lock()
			if upgradeErr != nil {
				err = fmt.Errorf("failed to migrate to schema version %d: %w", SchemaVersion, upgradeErr)
			}
			upgradeMu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("failed to open IndexedDB database %q: %w", name, err)
			}
			return newStore(name, req.Get("result"), opts), nil
		case <-blocked:
			wasBlocked = true
			if opts.BlockedTimeout > 0 && blockedFor == nil && !upgradeStarted {
				blockedFor = time.After(opts.BlockedTimeout)
			}
		case <-upgrading:
			upgradeStarted, blockedFor = true, nil
		case <-blockedFor:
			return giveUp(fmt.Errorf("waited %v", opts.BlockedTimeout))
		case <-ctx.Done():
			return giveUp(ctx.Err())
		}
	}
}

func newStore(name string, db js.Value, opts Options) *Store {
	durability := "strict"
	if opts.RelaxedDurability {
		durability = "relaxed"
	}
	s := &Store{
		name:         name,
		db:           db,
		writeOptions: js.ValueOf(map[string]any{"durability": durability}),
	}
	// Another tab (or DeleteDatabase) wants to upgrade or delete the
	// database: step aside, or it would wait on us forever.
	s.onVersion = js.FuncOf(func(js.Value, []js.Value) any {
		s.shutdown(fmt.Errorf("%w: another tab upgraded or deleted IndexedDB database %q; reload the page to open it again", store.ErrClosed, name))
		return nil
	})
	db.Set("onversionchange", s.onVersion)
	// The browser closes the connection itself when the user clears the
	// site's data or the storage fails.
	s.onForcedClose = js.FuncOf(func(js.Value, []js.Value) any {
		s.shutdown(fmt.Errorf("%w: the browser closed IndexedDB database %q (site data cleared, or a storage failure); reload the page", store.ErrClosed, name))
		return nil
	})
	db.Set("onclose", s.onForcedClose)
	return s
}

// Name returns the name of the database.
func (s *Store) Name() string { return s.name }

// Close implements store.Store. Transactions already started still finish.
func (s *Store) Close() error {
	s.shutdown(nil)
	return nil
}

func (s *Store) shutdown(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed, s.closeErr = true, reason
	_ = try(func() {
		s.db.Set("onversionchange", js.Null())
		s.db.Set("onclose", js.Null())
		s.db.Call("close")
	})
	s.onVersion.Release()
	s.onForcedClose.Release()
}

// begin checks ctx and whether the store is open before a call.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.closedError()
}

func (s *Store) closedError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		return nil
	}
	if s.closeErr != nil {
		return s.closeErr
	}
	return store.ErrClosed
}

// read starts a read-only transaction.
func (s *Store) read(stores ...string) (*txn, error) {
	t, err := newTxn(s.db, "readonly", js.Undefined(), false, stores...)
	return t, s.txnError(err)
}

// write starts a read-write transaction with the store's durability.
func (s *Store) write(ignoreConstraint bool, stores ...string) (*txn, error) {
	t, err := newTxn(s.db, "readwrite", s.writeOptions, ignoreConstraint, stores...)
	return t, s.txnError(err)
}

// txnError reports a transaction that could not start because the
// connection closed (Close won a race with begin) as the closed error.
func (s *Store) txnError(err error) error {
	if err == nil {
		return nil
	}
	if closed := s.closedError(); closed != nil {
		return closed
	}
	return err
}

// failure wraps the error of a call as "failed to X: err", except for the
// errors a caller matches as they are.
func failure(what string, err error) error {
	if errors.Is(err, store.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("failed to %s: %w", what, err)
}

// DeleteDatabase deletes the IndexedDB database called name, if it exists.
// Open stores on it close themselves first (see Open). If another
// connection does not close, it waits until ctx ends and then fails with an
// error wrapping ErrBlocked.
func DeleteDatabase(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("failed to delete IndexedDB database %q: %w", name, err)
	}
	factory := js.Global().Get("indexedDB")
	if factory.Type() != js.TypeObject {
		return fmt.Errorf("failed to delete IndexedDB database %q: %w", name, ErrUnavailable)
	}
	var req js.Value
	if err := try(func() { req = factory.Call("deleteDatabase", name) }); err != nil {
		return fmt.Errorf("failed to delete IndexedDB database %q: %w", name, err)
	}
	done := make(chan error, 1)
	blocked := make(chan struct{}, 1)
	var h handlers
	h.on(req, "success", func(js.Value) { signal(done, nil) }, func(err error) { signal(done, err) })
	h.on(req, "error", func(ev js.Value) {
		ev.Call("preventDefault")
		signal(done, domError(req.Get("error")))
	}, func(err error) { signal(done, err) })
	h.on(req, "blocked", func(js.Value) { signal(blocked, struct{}{}) }, nil)
	wasBlocked := false
	for {
		select {
		case err := <-done:
			h.release()
			if err != nil {
				return fmt.Errorf("failed to delete IndexedDB database %q: %w", name, err)
			}
			return nil
		case <-blocked:
			wasBlocked = true
		case <-ctx.Done():
			go func() { <-done; h.release() }()
			if wasBlocked {
				return fmt.Errorf("failed to delete IndexedDB database %q: %w (%w): close the other tabs of this site, then try again", name, ErrBlocked, ctx.Err())
			}
			return fmt.Errorf("failed to delete IndexedDB database %q: %w", name, ctx.Err())
		}
	}
}

// Persistent storage: asked for once per page.
var (
	persistOnce sync.Once
	persisted   atomic.Bool
)

// requestPersistence asks the browser not to evict the site's storage under
// pressure (navigator.storage.persist). The answer arrives later, possibly
// after the user answers a prompt, so nothing waits for it.
func requestPersistence() {
	persistOnce.Do(func() {
		_ = try(func() {
			storage := js.Global().Get("navigator").Get("storage")
			if storage.Type() != js.TypeObject || storage.Get("persist").Type() != js.TypeFunction {
				return
			}
			var then, catch js.Func
			then = js.FuncOf(func(_ js.Value, args []js.Value) any {
				persisted.Store(len(args) > 0 && args[0].Truthy())
				go then.Release()
				go catch.Release()
				return nil
			})
			catch = js.FuncOf(func(js.Value, []js.Value) any {
				go then.Release()
				go catch.Release()
				return nil
			})
			storage.Call("persist").Call("then", then, catch)
		})
	})
}

// Persisted reports whether the browser granted persistent storage to the
// site (navigator.storage.persist, asked for by the first Open): then it
// does not evict the database when the device runs short of space. False
// while the answer is pending, when refused, and where the API is missing.
func (s *Store) Persisted() bool { return persisted.Load() }
