//go:build js && wasm

package main

import (
	"context"

	"github.com/peersetdb/peerset/pkg/store"
)

// openStore opens where the room's records and key are kept: IndexedDB by
// default (a database per appId and room), or memory.
func openStore(ctx context.Context, o openOptions) (store.Store, error) {
	if o.Storage == storageMemory {
		return store.NewMemory(), nil
	}
	if !hasGlobal("indexedDB") {
		return nil, &unsupportedError{"this browser offers no IndexedDB (some private-browsing modes turn it off), so records cannot be kept: allow site data for this page, or open({ storage: 'memory' }) to keep records in memory until the page closes"}
	}
	return openIndexedDB(ctx, o.databaseName())
}
