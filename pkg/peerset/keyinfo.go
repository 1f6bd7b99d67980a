package peerset

import "github.com/peersetdb/peerset/pkg/store"

// KeyStorage says how the node's secret key is kept, as Open decided.
type KeyStorage string

const (
	// KeyExternal: the key came from Config.Key; the DB keeps no copy of it.
	KeyExternal KeyStorage = "external"
	// KeyMemory: the key is kept in an in-memory store (store.Memory), gone
	// on Close.
	KeyMemory KeyStorage = "memory"
	// KeyEncrypted: the key is kept in the store encrypted with
	// Config.KeyPassphrase (NIP-49 ncryptsec).
	KeyEncrypted KeyStorage = "encrypted"
	// KeyClear: the key is kept in the store in the clear (hex). Whoever can
	// read the store can sign as this node: in a browser, any script of the
	// same origin (on a shared host such as *.github.io, every site of that
	// host) can read IndexedDB; natively, whoever can read the file.
	KeyClear KeyStorage = "clear"
	// KeySignerHeld: a Config.Signer signs; the DB holds no secret key.
	KeySignerHeld KeyStorage = "signer"
	// KeyNone: the node is read-only (IdentityEphemeral without a key).
	KeyNone KeyStorage = "none"
)

// KeyStorage reports how the node's secret key is kept. A key given in
// Config.Key is KeyExternal even when the store still holds a key that an
// earlier Open kept there.
func (db *DB) KeyStorage() KeyStorage { return db.keyKept }

// keyStorage is how a secret key that Open loaded, made or was given is kept.
func (db *DB) keyStorage() KeyStorage {
	switch {
	case db.cfg.Key != nil:
		return KeyExternal
	case isMemoryStore(db.store):
		return KeyMemory
	case db.cfg.KeyPassphrase != "":
		// Open decrypted the stored key, encrypted a clear one (and removed
		// it), or kept a new one encrypted.
		return KeyEncrypted
	default:
		return KeyClear
	}
}

func isMemoryStore(s store.Store) bool {
	_, ok := s.(*store.Memory)
	return ok
}
