//go:build js && wasm

package idb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"syscall/js"

	"github.com/peersetdb/peerset/pkg/store"
)

// Snapshots (store.Snapshots). Every transaction that changes events
// replaces the generation, a random value under metaGeneration, in the
// same transaction, and reads the one it replaces: when that is not the
// value this Store wrote (or found at Open) last, another connection (a
// tab) changed events, and this Store saves no snapshot any more. A
// snapshot is kept under metaSnapshot as the generation (8 bytes) followed
// by its data, and is valid while the generation stays.
const (
	metaGeneration = "peerset/idb-generation"
	metaSnapshot   = "peerset/idb-snapshot"
)

var _ store.Snapshots = (*Store)(nil)

// newGeneration draws a generation: 16 hex digits, never "".
func newGeneration() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bumpGeneration queues, in t (which must include the meta store), the read
// of the generation and its replacement. The transaction's completion, in
// the order the browser commits transactions, records the outcome (an
// aborted one changes nothing): a generation that is not the one this Store
// knows means another connection changed events. Callers read the
// generation first (loadGeneration).
func (s *Store) bumpGeneration(t *txn) {
	meta := t.store(storeMeta)
	next := newGeneration()
	prev := meta.Call("get", metaGeneration)
	meta.Call("put", next, metaGeneration)
	t.completed = func() {
		seen := stringOrEmpty(prev.Get("result"))
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.genKnown || seen != s.gen {
			s.foreign = true
		}
		s.gen, s.genKnown = next, true
	}
}

// loadGeneration reads the generation once, before the first change or
// snapshot of this Store.
func (s *Store) loadGeneration(ctx context.Context) error {
	s.mu.Lock()
	known := s.genKnown
	s.mu.Unlock()
	if known {
		return nil
	}
	v, err := s.readPageOf(ctx, storeMeta, func(t *txn) js.Value { return t.store(storeMeta).Call("get", metaGeneration) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.genKnown {
		s.gen, s.genKnown = stringOrEmpty(v), true
	}
	return nil
}

// SaveSnapshot implements store.Snapshots: one read-write transaction
// that writes the snapshot only if the generation is still the one this
// Store knows.
func (s *Store) SaveSnapshot(ctx context.Context, data []byte) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	if err := s.loadGeneration(ctx); err != nil {
		return false, failure("save a snapshot", err)
	}
	s.mu.Lock()
	gen, foreign := s.gen, s.foreign
	s.mu.Unlock()
	if foreign {
		return false, nil
	}
	t, err := s.write(false, storeMeta)
	if err != nil {
		return false, failure("save a snapshot", err)
	}
	value := make([]byte, 0, 8+len(data))
	value = binary.BigEndian.AppendUint64(value, genNumber(gen))
	value = append(value, data...)
	bytes := jsUint8.New(len(value))
	js.CopyBytesToJS(bytes, value)
	saved := false
	var req js.Value
	onGen := js.FuncOf(func(js.Value, []js.Value) any {
		_ = try(func() {
			if v := req.Get("result"); v.Type() == js.TypeString && v.String() == gen || (v.IsUndefined() && gen == "") {
				t.store(storeMeta).Call("put", bytes, metaSnapshot)
				saved = true
			}
		})
		return nil
	})
	t.handlers = append(t.handlers, onGen)
	if err := try(func() {
		req = t.store(storeMeta).Call("get", metaGeneration)
		req.Set("onsuccess", onGen)
	}); err != nil {
		return false, failure("save a snapshot", t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return false, failure("save a snapshot", err)
	}
	return saved, nil
}

// LoadSnapshot implements store.Snapshots: the generation and the snapshot
// in one read transaction.
func (s *Store) LoadSnapshot(ctx context.Context) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	t, err := s.read(storeMeta)
	if err != nil {
		return nil, failure("load the snapshot", err)
	}
	var genReq, snapReq js.Value
	if err := try(func() {
		meta := t.store(storeMeta)
		genReq, snapReq = meta.Call("get", metaGeneration), meta.Call("get", metaSnapshot)
	}); err != nil {
		return nil, failure("load the snapshot", t.fail(err))
	}
	if err := t.wait(ctx); err != nil {
		return nil, failure("load the snapshot", err)
	}
	gen := stringOrEmpty(genReq.Get("result"))
	s.mu.Lock()
	if !s.genKnown {
		s.gen, s.genKnown = gen, true
	}
	s.mu.Unlock()
	v := snapReq.Get("result")
	if v.IsUndefined() {
		return nil, fmt.Errorf("no snapshot: %w", store.ErrNotFound)
	}
	if !v.InstanceOf(jsUint8) || v.Length() < 8 {
		return nil, fmt.Errorf("the stored snapshot is not a byte array of at least 8 bytes: %w", store.ErrNotFound)
	}
	value := make([]byte, v.Length())
	js.CopyBytesToGo(value, v)
	if binary.BigEndian.Uint64(value) != genNumber(gen) {
		return nil, fmt.Errorf("the snapshot is stale (events changed after it was saved): %w", store.ErrNotFound)
	}
	return value[8:], nil
}

// genNumber is a generation as the number kept in front of a snapshot (0
// for none or one that does not parse: never drawn in practice).
func genNumber(gen string) uint64 {
	var b [8]byte
	if n, err := hex.Decode(b[:], []byte(gen)); err != nil || n != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b[:])
}
