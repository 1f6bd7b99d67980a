package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/peersetdb/peerset/pkg/store"
)

// Bounds of db.import() and db.export() across the page–engine boundary.
const (
	// maxImportCall bounds one import call's text. The shim sends chunks of
	// at most 1,000 events and 1 MiB; this leaves room for one event of
	// the largest size a room may allow beside a full chunk.
	maxImportCall = 4 << 20
	// maxExportPage and maxExportBytes bound one page of db.export().
	maxExportPage  = 1000
	maxExportBytes = 1 << 20
)

// formatExportCursor writes an export cursor as "created_at:id" (id in
// hex); nil, the end, is "".
func formatExportCursor(it *store.Item) string {
	if it == nil {
		return ""
	}
	return strconv.FormatInt(it.CreatedAt, 10) + ":" + hex.EncodeToString(it.ID[:])
}

// parseExportCursor reads what formatExportCursor wrote; "" is the start.
func parseExportCursor(s string) (*store.Item, error) {
	if s == "" {
		return nil, nil
	}
	ts, id, ok := strings.Cut(s, ":")
	var it store.Item
	var err error
	if ok {
		it.CreatedAt, err = strconv.ParseInt(ts, 10, 64)
	}
	if !ok || err != nil || it.CreatedAt < 0 || len(id) != 64 {
		return nil, fmt.Errorf("export cursor %q is not one db.export() made", s)
	}
	if _, err := hex.Decode(it.ID[:], []byte(id)); err != nil {
		return nil, fmt.Errorf("export cursor %q is not one db.export() made", s)
	}
	return &it, nil
}
