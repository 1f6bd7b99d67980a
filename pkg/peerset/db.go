// Package peerset is the facade that ties a room's pieces together: the
// record store, the in-memory AVL-Merkle tree, the moderation pipeline and
// (when online) the swarm of peers. It is the one API that native programs
// and the WebAssembly build (cmd/wasm) use:
//
//	db, err := peerset.Open(ctx, peerset.Config{Room: "lobby"})
//	rec, err := db.Put(ctx, record.Draft{Text: "hello"})
//
// A record follows one path whatever its origin: it is verified and
// moderated (pkg/moderation), the replacement and deletion rules are applied
// (a newer version of a record replaces the older one, a NIP-09 deletion
// removes what it covers), it is written to the store (pkg/store) and only
// then inserted in the tree (pkg/merkle) and announced to subscribers and
// peers.
package peerset

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// DefaultAppID is the appId used when Config.AppID is empty, the same
// default as the JavaScript API and the peerset command.
const DefaultAppID = "peerset"

// Errors returned by DB methods.
var (
	ErrClosed   = errors.New("database is closed")
	ErrNotFound = errors.New("record not found")
	ErrNoRoom   = errors.New("a room is required: set Config.Room")
	// ErrStoreOfAnotherRoom: a store holds one room; open it with that room.
	ErrStoreOfAnotherRoom = errors.New("the store belongs to another room")
)

// Config configures a DB. Only Room is required.
type Config struct {
	AppID string // default DefaultAppID
	Room  string // the room name (required)

	// Key signs this node's records. Nil: the key kept in the store's
	// metadata is used, or a new one is generated and kept there.
	Key *record.SecretKey
	// KeyPassphrase, when set, keeps that key encrypted (NIP-49 ncryptsec)
	// and is needed to open the store again. Without it the key is kept in
	// the clear: whoever can read the store (the browser profile, the file)
	// can sign as this node.
	KeyPassphrase string
	// Signer, when set, signs this node's records instead of a secret key
	// (a NIP-07 extension in the browser): the DB neither generates nor
	// keeps a key, and Key and KeyPassphrase must be unset. The swarm's
	// handshake is then signed by a session key that Open draws and never
	// keeps, so that the signer is asked nothing when peers connect; peers
	// see (and strike or ban) that session key, not the signer's, while the
	// records carry the signer's key. The session key is not certified by
	// the signer: nothing ties it to the signer's key for peers.
	Signer Signer
	// Identity says which key the handshake proves (IdentityAuthor, the
	// default, or IdentityEphemeral: a fresh key per connection).
	Identity Identity

	// Store holds the records. Nil: an in-memory store (nothing survives
	// Close). The DB closes the store on Close.
	Store store.Store
	// CacheBytes bounds the cache of recently read and written events in
	// front of a persistent store (0: store.DefaultCacheBytes, 8 MiB;
	// negative: none). The DB keeps only a compact index of its events in
	// memory; the events themselves are read from the store through this
	// cache. An in-memory store gets no cache.
	CacheBytes int

	// Moderation is the pipeline's configuration; its RoomID is set by Open.
	// The zero value means moderation.DefaultConfig() (the standard preset).
	Moderation *moderation.Config
	// Rules are custom moderation rules, run after the built-in ones on
	// every record and deletion, local or from a peer; a refusal names the
	// rule. A rule must be a pure function of the event (and the time):
	// peers whose rules differ keep different sets and never converge with
	// each other (they see each other's rules differ, see
	// session.SessionInfo.RulesDiffer, and reconcile less often). Rules are
	// told apart only by name: give a changed rule a new name. A rule that
	// panics refuses the event.
	Rules []moderation.Rule

	// Limits bound record sizes (zero fields: record.DefaultLimits). They
	// replace Moderation.Limits when set.
	Limits record.Limits

	// Granularity of the first split of a reconciliation (and of the
	// per-bucket view in Stats).
	Granularity merkle.Granularity

	// GCInterval is how often records past retention are collected
	// (0: one hour; negative: never, except by calling GC).
	GCInterval time.Duration

	// LoadInBackground makes Open return as soon as the tree is rebuilt from
	// the stored (created_at, id) pairs, and rebuild the moderation index from
	// the stored events in the background. Until it is done, writes, Get,
	// Delete and peers' record checks wait for it, and Stats reports every
	// stored event as a record with Loading set. The browser build uses it so
	// that a page with many stored records is ready sooner.
	LoadInBackground bool

	// IndexSnapshot, with a store that implements store.Snapshots (the
	// browser's IndexedDB store), keeps a snapshot of the index in the
	// store, saved after each quiet second that follows a change (at most
	// once per second per 512 KiB of snapshot), and opens from it and the
	// store's changes since it was saved (its journal): one value and a few
	// rows read instead of every stored key and summary. A snapshot the
	// store cannot bring up to date (store.ErrNotFound) or a damaged one is
	// ignored and the index rebuilt from the store, as without it.
	IndexSnapshot bool

	// Yield, when set, is called after every YieldEvery events that Ingest
	// verifies and moderates. The browser build uses it to hand the main
	// thread back to the page during long syncs (a Go wasm goroutine keeps
	// the thread until it blocks). YieldEvery 0 means 16.
	Yield      func()
	YieldEvery int

	// Blobs (files that records refer to; see PutBlob and Blob) need a
	// store that implements store.Blobs (memory, bolt, IndexedDB).
	// MaxBlobBytes is the largest blob this node stores or fetches
	// (default DefaultMaxBlobBytes, 16 MiB); BlobQuotaAuthor and
	// BlobQuotaRoom bound the bytes of the blobs of one author and of the
	// whole room (defaults 64 MiB and 256 MiB); blobs at or under
	// PrefetchBelow bytes are fetched as soon as their record arrives
	// (default DefaultPrefetchBelow, 256 KiB; negative: never).
	MaxBlobBytes    int
	BlobQuotaAuthor int64
	BlobQuotaRoom   int64
	PrefetchBelow   int

	Logger *slog.Logger // nil: discard
	Clock  func() time.Time
}

// DB is an open peerset room: local records plus, when joined, the swarm.
// All methods are safe for concurrent use.
type DB struct {
	cfg      Config
	roomID   string
	author   record.PublicKey  // the key this node's records carry (zero when read-only)
	signer   Signer            // signs them (nil when read-only)
	handKey  *record.SecretKey // proves the node in handshakes (nil: a fresh key per connection)
	keyKept  KeyStorage
	store    store.Store
	pipeline *moderation.Pipeline
	log      *slog.Logger
	now      func() time.Time

	mu     sync.RWMutex // guards index (replaced once, by load), tree, counts, closed
	index  *moderation.MemoryIndex
	tree   *merkle.Tree
	counts counts // live records and deletions held
	closed bool
	net    *online // non-nil while joined

	loaded  chan struct{} // closed once the index is built (see Config.LoadInBackground)
	loadErr error         // why loading failed; set before loaded is closed

	snaps        store.Snapshots // the store's snapshots (Config.IndexSnapshot), or nil
	sigsChecked  atomic.Int64    // events whose signatures verifyBatch checked (for tests)
	snapWake     chan struct{}   // a change since the last snapshot
	fromSnapshot bool            // opened from a current snapshot
	// snapHold stops snapshots for the rest of this DB's life: the store
	// may hold events the index dropped (a failed cleanup delete) or what
	// the index was built from is in doubt (an unreadable snapshot), and a
	// snapshot would keep that from the next open, which rebuilds instead;
	// or the store refused a save (another connection changed it: it
	// refuses every later one too).
	snapHold atomic.Bool
	// snapPending counts the changes since the last snapshot save began
	// (see snapshotEveryChanges).
	snapPending atomic.Int64

	subs    subscribers[Change]
	rejects subscribers[Rejection]
	blobs   blobState   // blobs.go
	holds   *holdings   // who holds which record versions (see Holders)
	group   groupCommit // this node's writes, batched (see commitLocal)

	progress syncTracker // the catch-up SyncProgress reports

	stop   context.CancelFunc
	bgDone sync.WaitGroup
}

// Store metadata keys.
const (
	metaKeySecret    = "peerset/secret-key"    // the node's secret key (hex), kept in the clear
	metaKeyEncrypted = "peerset/secret-key-49" // or encrypted with Config.KeyPassphrase (ncryptsec)
	metaKeyRoom      = "peerset/room"          // "<RoomID> <appId>/<room>" of the room the store holds
)

// Open opens the room's database: it loads every stored event, applies the
// replacement and deletion rules (healing a store that a crash left with
// both an old and a new version), and rebuilds the tree.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Room == "" {
		return nil, ErrNoRoom
	}
	if cfg.AppID == "" {
		cfg.AppID = DefaultAppID
	}
	if cfg.Store == nil {
		cfg.Store = store.NewMemory()
	}
	var snaps store.Snapshots
	if sn, ok := cfg.Store.(store.Snapshots); ok && cfg.IndexSnapshot {
		snaps = sn
	}
	blobStore := cfg.Store // before the cache wraps it
	if _, inMemory := cfg.Store.(*store.Memory); !inMemory && cfg.CacheBytes >= 0 {
		if cfg.CacheBytes == 0 {
			cfg.CacheBytes = store.DefaultCacheBytes
		}
		cfg.Store = store.NewCache(cfg.Store, cfg.CacheBytes)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(discard{}, nil))
	}
	if cfg.GCInterval == 0 {
		cfg.GCInterval = time.Hour
	}
	if cfg.YieldEvery <= 0 {
		cfg.YieldEvery = 16
	}
	if cfg.MaxBlobBytes <= 0 {
		cfg.MaxBlobBytes = DefaultMaxBlobBytes
	}
	cfg.MaxBlobBytes = min(cfg.MaxBlobBytes, record.MaxBlobBytes)
	if cfg.BlobQuotaAuthor <= 0 {
		cfg.BlobQuotaAuthor = DefaultBlobQuotaAuthor
	}
	if cfg.BlobQuotaRoom <= 0 {
		cfg.BlobQuotaRoom = DefaultBlobQuotaRoom
	}
	if cfg.PrefetchBelow == 0 {
		cfg.PrefetchBelow = DefaultPrefetchBelow
	}
	roomID := record.RoomID(cfg.AppID, cfg.Room)
	mcfg := moderation.DefaultConfig()
	if cfg.Moderation != nil {
		mcfg = *cfg.Moderation
	}
	mcfg.RoomID = roomID
	if cfg.Limits != (record.Limits{}) {
		mcfg.Limits = cfg.Limits
	}
	cfg.Limits = mcfg.Limits.WithDefaults()
	if mcfg.Clock == nil {
		mcfg.Clock = cfg.Clock
	}
	pipeline, err := moderation.NewPipeline(mcfg, cfg.Rules...)
	if err != nil {
		return nil, fmt.Errorf("failed to build the moderation pipeline: %w", err)
	}
	db := &DB{
		cfg: cfg, roomID: roomID, store: cfg.Store, pipeline: pipeline, log: cfg.Logger, now: cfg.Clock,
		index: moderation.NewMemoryIndex(pipeline.Policy()), tree: merkle.NewTree(), holds: newHoldings(),
		snaps: snaps, snapWake: make(chan struct{}, 1),
	}
	db.blobs.init(blobStore)
	if err := bindStore(ctx, cfg, roomID); err != nil {
		return nil, err
	}
	if err := db.setIdentity(ctx); err != nil {
		return nil, err
	}
	db.loaded = make(chan struct{})
	bg, stop := context.WithCancel(context.Background())
	db.stop = stop
	db.blobs.ctx = bg
	switch {
	case db.snaps != nil && db.openFromSnapshot(ctx):
		if err := db.loadErr; err != nil {
			stop()
			return nil, err
		}
	case cfg.LoadInBackground:
		if err := db.loadTree(ctx); err != nil {
			stop()
			return nil, err
		}
		db.bgDone.Add(1)
		go func() {
			defer db.bgDone.Done()
			if err := db.load(bg, true, nil); err != nil {
				db.log.Error("failed to load stored records", "err", err)
			}
		}()
	default:
		if err := db.load(ctx, false, nil); err != nil {
			stop()
			return nil, err
		}
	}
	if db.snaps != nil {
		db.bgDone.Add(1)
		go db.saveSnapshots(bg)
		if !db.fromSnapshot {
			db.snapshotChanged(0) // saved once loaded (it waits for that)
		}
	}
	if cfg.GCInterval > 0 {
		db.bgDone.Add(1)
		go db.gcLoop(bg)
	}
	if db.blobs.st != nil {
		db.bgDone.Add(2)
		go func() {
			defer db.bgDone.Done()
			if db.waitLoaded(bg) == nil {
				db.sweepBlobs(bg)
				close(db.blobs.swept)
				db.prefetchLoop(bg)
			}
		}()
		go func() {
			defer db.bgDone.Done()
			if db.blobs.waitSwept(bg) == nil {
				db.blobRefLoop(bg)
			}
		}()
	}
	return db, nil
}

// bindStore records which room a new store holds and refuses a store that
// holds another room, so that opening a file with the wrong room name cannot
// drop its records.
func bindStore(ctx context.Context, cfg Config, roomID string) error {
	b, err := cfg.Store.GetMeta(ctx, metaKeyRoom)
	switch {
	case err == nil:
		if got, _, _ := strings.Cut(string(b), " "); got != roomID {
			_, name, _ := strings.Cut(string(b), " ")
			return fmt.Errorf("%w: it holds %q, not %s/%s", ErrStoreOfAnotherRoom, name, cfg.AppID, cfg.Room)
		}
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("failed to read the store's room: %w", err)
	}
	if err := cfg.Store.SetMeta(ctx, metaKeyRoom, []byte(roomID+" "+cfg.AppID+"/"+cfg.Room)); err != nil {
		return fmt.Errorf("failed to bind the store to its room: %w", err)
	}
	return nil
}

// StoreRoom returns the appId and room name a store is bound to (see Open),
// or an error wrapping store.ErrNotFound for a store no room has opened yet.
func StoreRoom(ctx context.Context, st store.Store) (appID, room string, err error) {
	b, err := st.GetMeta(ctx, metaKeyRoom)
	if err != nil {
		return "", "", fmt.Errorf("failed to read which room the store holds: %w", err)
	}
	roomID, name, _ := strings.Cut(string(b), " ")
	// "<appId>/<room>": either may hold a slash; the room id tells the split.
	for i := range len(name) {
		if name[i] == '/' && record.RoomID(name[:i], name[i+1:]) == roomID {
			return name[:i], name[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("failed to read which room the store holds: %w: %q", store.ErrCorrupt, b)
}

// setIdentity decides who signs this node's records and which key proves it
// in handshakes (Config.Key, KeyPassphrase, Signer, Identity).
func (db *DB) setIdentity(ctx context.Context) error {
	cfg := db.cfg
	switch cfg.Identity {
	case IdentityAuthor, IdentityEphemeral:
	default:
		return fmt.Errorf("unknown Config.Identity %q: use %q or %q", cfg.Identity, IdentityAuthor, IdentityEphemeral)
	}
	if cfg.Signer != nil {
		if cfg.Key != nil || cfg.KeyPassphrase != "" {
			return errors.New("Config.Signer signs the records: leave Config.Key and Config.KeyPassphrase unset")
		}
		pub, err := cfg.Signer.PublicKey(ctx)
		if err != nil {
			return fmt.Errorf("%w: failed to get its public key: %w", ErrSigner, err)
		}
		if pub == (record.PublicKey{}) {
			return fmt.Errorf("%w: it gave no public key", ErrSigner)
		}
		db.author, db.signer, db.keyKept = pub, cfg.Signer, KeySignerHeld
		if cfg.Identity == IdentityAuthor {
			if db.handKey, err = record.GenerateKey(); err != nil {
				return err
			}
		}
		return nil
	}
	if cfg.Identity == IdentityEphemeral && cfg.Key == nil && cfg.KeyPassphrase == "" {
		db.keyKept = KeyNone
		return nil
	}
	sk, err := loadOrCreateKey(ctx, cfg)
	if err != nil {
		return err
	}
	db.author, db.signer = sk.Public(), KeySigner(sk)
	if cfg.Identity == IdentityAuthor {
		db.handKey = sk
	}
	db.keyKept = db.keyStorage()
	return nil
}

// ErrKeyPassphrase: the store keeps an encrypted key and the passphrase is
// missing or wrong.
var ErrKeyPassphrase = errors.New("the stored key is encrypted: a correct Config.KeyPassphrase is needed")

func loadOrCreateKey(ctx context.Context, cfg Config) (*record.SecretKey, error) {
	if cfg.Key != nil {
		return cfg.Key, nil
	}
	enc, err := cfg.Store.GetMeta(ctx, metaKeyEncrypted)
	switch {
	case err == nil:
		if cfg.KeyPassphrase == "" {
			return nil, ErrKeyPassphrase
		}
		sk, _, err := record.DecryptKey(string(enc), cfg.KeyPassphrase)
		if errors.Is(err, record.ErrWrongPassword) {
			return nil, fmt.Errorf("%w: %w", ErrKeyPassphrase, err)
		} else if err != nil {
			return nil, fmt.Errorf("failed to read the node key kept in the store: %w", err)
		}
		return sk, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("failed to read the node key: %w", err)
	}
	b, err := cfg.Store.GetMeta(ctx, metaKeySecret)
	switch {
	case err == nil:
		sk, err := record.ParseSecretKeyHex(string(b))
		if err != nil {
			return nil, fmt.Errorf("failed to read the node key kept in the store: %w", err)
		}
		if cfg.KeyPassphrase != "" {
			// Encrypt a key kept in the clear now that a passphrase is given.
			if err := keepKey(ctx, cfg, sk, record.KeyKnownInsecure); err != nil {
				return nil, err
			}
			if err := cfg.Store.DeleteMeta(ctx, metaKeySecret); err != nil {
				return nil, fmt.Errorf("failed to remove the unencrypted key: %w", err)
			}
		}
		return sk, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("failed to read the node key: %w", err)
	}
	sk, err := record.GenerateKey()
	if err != nil {
		return nil, err
	}
	if err := keepKey(ctx, cfg, sk, record.KeyNotInsecure); err != nil {
		return nil, err
	}
	return sk, nil
}

func keepKey(ctx context.Context, cfg Config, sk *record.SecretKey, security record.KeySecurity) error {
	key, value := metaKeySecret, []byte(sk.Hex())
	if cfg.KeyPassphrase != "" {
		enc, err := record.EncryptKey(sk, cfg.KeyPassphrase, 0, security)
		if err != nil {
			return err
		}
		key, value = metaKeyEncrypted, []byte(enc)
	}
	if err := cfg.Store.SetMeta(ctx, key, value); err != nil {
		return fmt.Errorf("failed to keep the node key: %w", err)
	}
	return nil
}

// loadTree builds the tree from the stored (created_at, id) pairs alone,
// which needs no event decoding.
func (db *DB) loadTree(ctx context.Context) error {
	err := db.store.Items(ctx, func(createdAt int64, id [32]byte) error {
		if createdAt >= 0 {
			_, _ = db.tree.Insert(merkle.Item{Timestamp: uint64(createdAt), ID: id})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to load stored records: %w", err)
	}
	return nil
}

// load rebuilds the index from the stored events' summaries (no event is
// decoded), applying the replacement and deletion rules (which heals a store
// that a crash left with an old and a new version), then brings the tree in
// line with the index:
// it inserts every kept event (treeBuilt false), or removes from the tree
// built by loadTree what the index did not keep (treeBuilt true). It closes
// db.loaded in every case.
//
// source yields the summaries (nil: the store's Summaries; an index
// snapshot's otherwise).
func (db *DB) load(ctx context.Context, treeBuilt bool, source func(fn func(record.Summary, bool) error) error) (err error) {
	defer func() {
		db.mu.Lock()
		db.loadErr = err
		db.mu.Unlock()
		close(db.loaded)
	}()
	index := moderation.NewMemoryIndex(db.pipeline.Policy())
	var stale [][32]byte
	// The stores keep a summary beside each event: no event is decoded here.
	// Every stored event passed the room's checks when it was stored (a store
	// holds one room, see bindStore); one without a summary (not a
	// well-formed record or deletion) is never ours to keep.
	if source == nil {
		source = func(fn func(record.Summary, bool) error) error { return db.store.Summaries(ctx, fn) }
	}
	err = source(func(s record.Summary, ok bool) error {
		if !ok {
			stale = append(stale, s.ID)
			return nil
		}
		removed, err := index.AddSummary(s)
		if err != nil {
			stale = append(stale, s.ID)
		}
		for _, r := range removed {
			stale = append(stale, r.ID)
		}
		return nil
	})
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) {
		db.log.Warn("dropping undecodable stored events", "count", len(corrupt.IDs))
		stale = append(stale, corrupt.IDs...)
	} else if err != nil {
		return fmt.Errorf("failed to load stored records: %w", err)
	}
	db.mu.Lock()
	db.index = index
	if treeBuilt {
		var gone []merkle.Item
		db.tree.Ascend(merkle.MinBound, merkle.MaxBound, func(it merkle.Item) bool {
			if !index.Has(it.ID) {
				gone = append(gone, it)
			}
			return true
		})
		for _, it := range gone {
			db.tree.Delete(it)
		}
	}
	var own []record.Summary
	index.Each(func(s record.Summary) bool {
		db.treeInsert(s) // a no-op for items loadTree inserted
		db.counts.add(s.Kind, 1)
		if db.isOwn(s) && s.Kind == record.KindRecord {
			own = append(own, s)
		}
		return true
	})
	db.holds.track(true, own...)
	db.mu.Unlock()
	if len(stale) > 0 {
		defer db.snapshotChanged(len(stale))
		if err := db.store.Delete(ctx, stale...); err != nil {
			// The set in memory is right; the leftovers are healed next time
			// (by a rebuild: no snapshot may hide them).
			db.snapHold.Store(true)
			db.log.Warn("failed to remove superseded records left in the store", "count", len(stale), "err", err)
		}
	}
	return nil
}

// waitLoaded waits until the index is built (Config.LoadInBackground).
func (db *DB) waitLoaded(ctx context.Context) error {
	select {
	case <-db.loaded:
	case <-ctx.Done():
		return ctx.Err()
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.loadErr
}

// Close stops background work and closes the store.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	db.stop() // a background load ends now: peers waiting on it give up
	leaveErr := db.Leave()
	db.bgDone.Wait()
	db.subs.closeAll()
	db.rejects.closeAll()
	db.blobs.progress.closeAll()
	if err := db.store.Close(); err != nil {
		return fmt.Errorf("failed to close the store: %w", err)
	}
	return leaveErr
}

// Key returns the key this node's records carry: its own key's, or the
// signer's (Config.Signer). It is the zero key when the node is read-only.
func (db *DB) Key() record.PublicKey { return db.author }

// ReadOnly reports whether the node has nothing to sign with
// (IdentityEphemeral without a key or signer): Put and Delete return
// ErrReadOnly.
func (db *DB) ReadOnly() bool { return db.signer == nil }

// RoomID returns the room id records are bound to (record.RoomID).
func (db *DB) RoomID() string { return db.roomID }

// Root returns the fingerprint of the whole record set: equal sets have
// equal roots whatever order they were built in.
func (db *DB) Root() merkle.Fingerprint {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.tree.Root()
}

func (db *DB) treeInsert(s record.Summary) {
	if _, err := db.tree.Insert(itemOf(s)); err != nil {
		// Only a created_at of MaxUint64 is refused, and negative times
		// never pass CheckWellFormed; log rather than lose the event.
		db.log.Error("failed to insert into the tree", "id", hex.EncodeToString(s.ID[:]), "err", err)
	}
}

func itemOf(s record.Summary) merkle.Item {
	return merkle.Item{Timestamp: uint64(s.CreatedAt), ID: s.ID}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// counts are the live records and deletions held, kept as events come and go.
type counts struct{ records, deletions int }

func (c *counts) add(kind int, delta int) {
	if kind == record.KindDeletion {
		c.deletions += delta
	} else {
		c.records += delta
	}
}
