// Package merkle keeps peerset's set of record keys in an AVL tree whose nodes carry additive
// aggregates (item count and the sum of ids mod 2^256), so the negentropy (NIP-77) fingerprint of any
// key range costs O(log n). It also implements range-based set reconciliation in the negentropy v1
// message format, with an optional first split by UTC time buckets that yields the "missing ranges"
// shown to users. It depends on the standard library only and builds for js/wasm.
package merkle

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/bits"
)

// IDSize is the length of an item id in bytes (a Nostr event id).
const IDSize = 32

// FingerprintSize is the length of a negentropy fingerprint in bytes.
const FingerprintSize = 16

// MaxTimestamp is reserved: it encodes the infinite upper bound on the wire, so items must use a
// smaller timestamp.
const MaxTimestamp = math.MaxUint64

// ErrReservedTimestamp is returned when an item uses MaxTimestamp.
var ErrReservedTimestamp = errors.New("timestamp is reserved for the infinite bound")

// Item is one element of the set: a record's creation time (Unix seconds) and its 32-byte id.
// Items are ordered by timestamp, then by id bytewise.
type Item struct {
	Timestamp uint64
	ID        [IDSize]byte
}

// Compare orders items by timestamp and then by id; it returns -1, 0 or +1.
func (it Item) Compare(other Item) int {
	if c := cmp.Compare(it.Timestamp, other.Timestamp); c != 0 {
		return c
	}
	return bytes.Compare(it.ID[:], other.ID[:])
}

// Bound is a position in the item order. An item x lies below bound b when x.Compare(Item(b)) < 0.
// Bounds decoded from the wire carry an id prefix, zero-padded to 32 bytes here.
type Bound Item

// MinBound lies at or below every item.
var MinBound = Bound{}

// MaxBound is the infinite bound: every valid item lies below it.
var MaxBound = Bound{Timestamp: MaxTimestamp}

// TimeBound returns the bound just before the first item at or after timestamp ts.
func TimeBound(ts uint64) Bound { return Bound{Timestamp: ts} }

// Compare orders bounds like items.
func (b Bound) Compare(other Bound) int { return Item(b).Compare(Item(other)) }

// IsInfinite reports whether b is the infinite upper bound.
func (b Bound) IsInfinite() bool { return b.Timestamp == MaxTimestamp }

// Fingerprint is the negentropy fingerprint of a set of items: the first 16 bytes of
// sha256(sum of ids mod 2^256, 32 bytes little-endian ‖ varint(count)).
type Fingerprint [FingerprintSize]byte

// String returns the fingerprint in lowercase hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// sum256 is a 256-bit unsigned integer in little-endian 64-bit limbs; arithmetic wraps mod 2^256.
type sum256 [4]uint64

func sumOfID(id *[IDSize]byte) sum256 {
	return sum256{
		binary.LittleEndian.Uint64(id[0:8]),
		binary.LittleEndian.Uint64(id[8:16]),
		binary.LittleEndian.Uint64(id[16:24]),
		binary.LittleEndian.Uint64(id[24:32]),
	}
}

func (s *sum256) add(o *sum256) {
	var c uint64
	s[0], c = bits.Add64(s[0], o[0], 0)
	s[1], c = bits.Add64(s[1], o[1], c)
	s[2], c = bits.Add64(s[2], o[2], c)
	s[3], _ = bits.Add64(s[3], o[3], c)
}

func (s *sum256) sub(o *sum256) {
	var b uint64
	s[0], b = bits.Sub64(s[0], o[0], 0)
	s[1], b = bits.Sub64(s[1], o[1], b)
	s[2], b = bits.Sub64(s[2], o[2], b)
	s[3], _ = bits.Sub64(s[3], o[3], b)
}

// aggregate is the additive summary of a set of items.
type aggregate struct {
	count uint64
	sum   sum256
}

func (a *aggregate) addItem(it *Item) {
	s := sumOfID(&it.ID)
	a.sum.add(&s)
	a.count++
}

func (a *aggregate) minus(o *aggregate) aggregate {
	r := *a
	r.sum.sub(&o.sum)
	r.count -= o.count
	return r
}

func (a *aggregate) fingerprint() Fingerprint {
	var buf [IDSize + maxVarintLen]byte
	for i, limb := range a.sum {
		binary.LittleEndian.PutUint64(buf[i*8:], limb)
	}
	n := putVarint(buf[IDSize:], a.count)
	digest := sha256.Sum256(buf[:IDSize+n])
	var f Fingerprint
	copy(f[:], digest[:FingerprintSize])
	return f
}

// FingerprintOf computes the fingerprint of a list of items directly, without a tree. Duplicates
// count twice; it exists for tests and for callers holding small ad-hoc sets.
func FingerprintOf(items []Item) Fingerprint {
	var a aggregate
	for i := range items {
		a.addItem(&items[i])
	}
	return a.fingerprint()
}
