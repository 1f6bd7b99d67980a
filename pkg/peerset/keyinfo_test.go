package peerset

import (
	"context"
	"errors"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// L2: KeyStorage says what the store really holds, so that a page can warn
// about a key kept in the clear.
func TestKeyStorageSaysWhatTheStoreHolds(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	persistent := noClose{st} // not a *store.Memory: stands for IndexedDB or a file
	holds := func(key string) bool {
		_, err := st.GetMeta(ctx, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	open := func(cfg Config) *DB {
		t.Helper()
		cfg.Room = "keys"
		db, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	if got := open(Config{}).KeyStorage(); got != KeyMemory {
		t.Errorf("in-memory store: %q, want %q", got, KeyMemory)
	}
	sk, _ := record.GenerateKey()
	if got := open(Config{Key: sk, Store: noClose{store.NewMemory()}}).KeyStorage(); got != KeyExternal {
		t.Errorf("Config.Key: %q, want %q", got, KeyExternal)
	}

	db := open(Config{Store: persistent})
	if got := db.KeyStorage(); got != KeyClear || !holds(metaKeySecret) {
		t.Errorf("no passphrase: %q (clear key stored: %v), want %q", got, holds(metaKeySecret), KeyClear)
	}
	db.Close()
	db = open(Config{Store: persistent, KeyPassphrase: "correct horse"})
	if got := db.KeyStorage(); got != KeyEncrypted || holds(metaKeySecret) || !holds(metaKeyEncrypted) {
		t.Errorf("with a passphrase: %q (clear key stored: %v, encrypted: %v), want %q and only the encrypted key",
			got, holds(metaKeySecret), holds(metaKeyEncrypted), KeyEncrypted)
	}
}
