//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/idb"
)

// idbBlockedTimeout bounds the wait for another tab that holds the database
// open at an older schema version. A migration that has started is not
// bounded: a large store may take longer to migrate, and a reload would
// throw its work away (the browser rolls the upgrade back).
const idbBlockedTimeout = 30 * time.Second

// openIndexedDB opens the IndexedDB store named name.
func openIndexedDB(ctx context.Context, name string) (store.Store, error) {
	st, err := idb.Open(ctx, name, idb.Options{RelaxedDurability: true, BlockedTimeout: idbBlockedTimeout})
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, idb.ErrBlocked):
		return nil, fmt.Errorf("failed to open IndexedDB database %q: another tab keeps it open while it needs an upgrade: close or reload the other tabs of this page: %w", name, err)
	case errors.Is(err, idb.ErrUnavailable):
		return nil, &unsupportedError{fmt.Sprintf("this browser offers no usable IndexedDB (%v): allow site data for this page, or open({ storage: 'memory' }) to keep records in memory until the page closes", err)}
	case errors.Is(err, idb.ErrSchema):
		return nil, fmt.Errorf("failed to open IndexedDB database %q: it was written by a newer peerset: update this page's peerset, or open another database with open({ databaseName }): %w", name, err)
	}
	return nil, fmt.Errorf("failed to open IndexedDB database %q: %w", name, err)
}
