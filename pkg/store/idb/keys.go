//go:build js && wasm

package idb

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Keys are lowercase hex strings. IndexedDB compares strings by UTF-16 code
// unit, so fixed-width lowercase hex sorts like the bytes it encodes, and a
// page of keys comes back to Go as one string (Array.prototype.join) instead
// of one call per key. created_at is written as 16 hex digits, which keeps
// every int64 exact (a JS number would not beyond 2^53).
const (
	timeHexLen = 16
	idHexLen   = 64
	// itemKeyLen is the length of an event's primary key, its item key:
	// hex(be64(created_at)) ‖ hex(id).
	itemKeyLen = timeHexLen + idHexLen
	// keyCeiling sorts after every hex digit: prefix+keyCeiling bounds
	// every key that starts with prefix.
	keyCeiling = "g"
)

const hexDigits = "0123456789abcdef"

func appendTimeHex(dst []byte, createdAt int64) []byte {
	u := uint64(createdAt)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(u>>uint(shift))&0xf])
	}
	return dst
}

func appendItemKey(dst []byte, createdAt int64, id [32]byte) []byte {
	return hex.AppendEncode(appendTimeHex(dst, createdAt), id[:])
}

func itemKey(createdAt int64, id [32]byte) string {
	return string(appendItemKey(make([]byte, 0, itemKeyLen), createdAt, id))
}

func timeHex(createdAt int64) string {
	return string(appendTimeHex(make([]byte, 0, timeHexLen), createdAt))
}

func idHex(id [32]byte) string { return hex.EncodeToString(id[:]) }

// parseItemKey reads an item key back.
func parseItemKey(k string) (store.Item, error) {
	var it store.Item
	if len(k) != itemKeyLen {
		return it, fmt.Errorf("malformed item key %q", k)
	}
	t, err := strconv.ParseUint(k[:timeHexLen], 16, 64)
	if err != nil || t > math.MaxInt64 {
		return it, fmt.Errorf("malformed item key %q", k)
	}
	if _, err := hex.Decode(it.ID[:], []byte(k[timeHexLen:])); err != nil {
		return it, fmt.Errorf("malformed item key %q: %w", k, err)
	}
	it.CreatedAt = int64(t)
	return it, nil
}

// indexedAddress returns the address index key of e: [kind, hex(pubkey),
// uuid], and false if e has none or one no index can hold.
func indexedAddress(e *record.Event) (record.Address, bool) {
	addr, ok := store.IndexAddress(e)
	return addr, ok && checkAddress(addr)
}

func checkAddress(a record.Address) bool {
	return a.Kind >= 0 && a.Kind <= math.MaxUint16 && len(a.UUID) <= store.MaxUUIDBytes
}

func addressKey(a record.Address) []any {
	return []any{a.Kind, a.PubKey.Hex(), a.UUID}
}

// appendBatchJSON writes the stored objects of a batch of events as one JSON
// array, which the browser turns into objects with a single JSON.parse
// instead of several calls per field. Each object is
//
//	{"k": item key, "i": hex(id), "a": author key, "n": kind,
//	 "x": [kind, hex(pubkey), uuid] (addressable events and deletions only),
//	 "s": hex(store.AppendStoredSummary), the event's summary,
//	 "j": the event's NIP-01 JSON (store.EncodeEvent) as a string}
func appendBatchJSON(dst []byte, events []*record.Event) []byte {
	dst = append(dst, '[')
	for i, e := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"k":"`...)
		dst = appendItemKey(dst, e.CreatedAt, e.ID)
		dst = append(dst, `","i":"`...)
		dst = hex.AppendEncode(dst, e.ID[:])
		dst = append(dst, `","a":"`...)
		dst = hex.AppendEncode(dst, e.PubKey[:])
		dst = appendItemKey(dst, e.CreatedAt, e.ID)
		dst = append(dst, `","n":`...)
		dst = strconv.AppendInt(dst, int64(e.Kind), 10)
		if addr, ok := indexedAddress(e); ok {
			dst = append(dst, `,"x":[`...)
			dst = strconv.AppendInt(dst, int64(addr.Kind), 10)
			dst = append(dst, `,"`...)
			dst = hex.AppendEncode(dst, addr.PubKey[:])
			dst = append(dst, `",`...)
			dst = record.AppendJSONString(dst, addr.UUID)
			dst = append(dst, ']')
		}
		dst = append(dst, `,"s":"`...)
		dst = hex.AppendEncode(dst, store.AppendStoredSummary(nil, e))
		dst = append(dst, `","j":`...)
		dst = record.AppendJSONString(dst, string(store.EncodeEvent(e)))
		dst = append(dst, '}')
	}
	return append(dst, ']')
}
