package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Summary is what a room's index needs to know of a stored event — enough to
// apply the replacement and deletion rules, the moderation policy and sync —
// without its content or tags. A store keeps one per event (SummaryBytes
// bytes besides the id and created_at), so that a room opens without decoding
// every event.
type Summary struct {
	ID        [32]byte
	CreatedAt int64
	Kind      int // KindRecord or KindDeletion
	PubKey    PublicKey
	// UUID is the record's UUID, or the UUID of the record a deletion
	// targets (a deletion targets its own author's record).
	UUID [16]byte
	// Content is the first half of the record's ContentKey, when HasContent.
	Content    [16]byte
	HasContent bool
}

// ErrInvalidSummary is wrapped by ParseSummary and Summarize.
var ErrInvalidSummary = errors.New("invalid event summary")

// Summarize returns the summary of a well-formed record or deletion.
func Summarize(e *Event) (Summary, error) {
	s := Summary{ID: e.ID, CreatedAt: e.CreatedAt, Kind: e.Kind, PubKey: e.PubKey}
	var uuid string
	switch e.Kind {
	case KindRecord:
		uuid = e.TagValue(TagUUID)
		if k, ok := ContentKeyOf(e); ok {
			copy(s.Content[:], k[:16])
			s.HasContent = true
		}
	case KindDeletion:
		addr, err := DeletionTarget(e)
		if err != nil {
			return s, fmt.Errorf("%w: %w", ErrInvalidSummary, err)
		}
		uuid = addr.UUID
	default:
		return s, fmt.Errorf("%w: kind %d is neither a record nor a deletion", ErrInvalidSummary, e.Kind)
	}
	u, err := ParseUUID(uuid)
	if err != nil {
		return s, fmt.Errorf("%w: %w", ErrInvalidSummary, err)
	}
	s.UUID = u
	return s, nil
}

// Address returns the address of the record the summary is about (the
// deletion's target, for a deletion).
func (s Summary) Address() Address {
	return Address{Kind: KindRecord, PubKey: s.PubKey, UUID: FormatUUID(s.UUID)}
}

// Supersedes is the Supersedes rule on summaries: the newer created_at wins,
// at equal times the lower id.
func (s Summary) Supersedes(o Summary) bool {
	if s.CreatedAt != o.CreatedAt {
		return s.CreatedAt > o.CreatedAt
	}
	return bytes.Compare(s.ID[:], o.ID[:]) < 0
}

// Deletes reports whether the deletion s removes the record r: same author
// and UUID, and r created at or before s.
func (s Summary) Deletes(r Summary) bool {
	return s.Kind == KindDeletion && r.Kind == KindRecord && s.PubKey == r.PubKey && s.UUID == r.UUID && r.CreatedAt <= s.CreatedAt
}

// SummaryBytes is the length of AppendSummary's encoding.
const SummaryBytes = 68

// summaryFormat is the version byte of the encoding.
const summaryFormat = 1

// AppendSummary appends the stored form of s without its id and created_at
// (which stores keep in the event's key): kind as a big-endian uint16 (so
// that the first two bytes read like a bare kind), a format byte, the
// pubkey, the UUID, a flags byte (1: HasContent) and the content key half.
func AppendSummary(dst []byte, s Summary) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(s.Kind))
	dst = append(dst, summaryFormat)
	dst = append(dst, s.PubKey[:]...)
	dst = append(dst, s.UUID[:]...)
	flags := byte(0)
	if s.HasContent {
		flags = 1
	}
	dst = append(dst, flags)
	return append(dst, s.Content[:]...)
}

// ParseSummary reads what AppendSummary wrote, with the id and created_at
// from the store's key.
func ParseSummary(id [32]byte, createdAt int64, b []byte) (Summary, error) {
	s := Summary{ID: id, CreatedAt: createdAt}
	if len(b) != SummaryBytes || b[2] != summaryFormat {
		return s, fmt.Errorf("%w: %d bytes", ErrInvalidSummary, len(b))
	}
	s.Kind = int(binary.BigEndian.Uint16(b))
	if s.Kind != KindRecord && s.Kind != KindDeletion {
		return s, fmt.Errorf("%w: kind %d", ErrInvalidSummary, s.Kind)
	}
	copy(s.PubKey[:], b[3:35])
	copy(s.UUID[:], b[35:51])
	switch b[51] {
	case 0:
	case 1:
		s.HasContent = true
	default:
		return s, fmt.Errorf("%w: flags %#x", ErrInvalidSummary, b[51])
	}
	copy(s.Content[:], b[52:68])
	if !s.HasContent && s.Content != ([16]byte{}) {
		return s, fmt.Errorf("%w: a content key without its flag", ErrInvalidSummary)
	}
	return s, nil
}

// ContentKeyOf returns the content key of a record event and true, or false
// when the event has no content to compare (a deletion, an empty record).
// Plain text is compared after lowercasing and collapsing white space, so
// "Hello  World" and "hello world" have one key; other media types are
// compared byte for byte, together with their media type.
func ContentKeyOf(e *Event) ([32]byte, bool) {
	if e.Kind != KindRecord {
		return [32]byte{}, false
	}
	mt := e.TagValue(TagMediaType)
	content := e.Content
	if mt == "" || mt == MediaTypeText {
		mt = MediaTypeText
		content = strings.ToLower(strings.Join(strings.Fields(content), " "))
	}
	if content == "" {
		return [32]byte{}, false
	}
	h := sha256.New()
	h.Write([]byte(mt))
	h.Write([]byte{0})
	h.Write([]byte(content))
	var k [32]byte
	h.Sum(k[:0])
	return k, true
}

// ParseUUID reads a canonical lowercase version 4 UUID (see CheckUUID).
func ParseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if err := CheckUUID(s); err != nil {
		return u, err
	}
	var h [32]byte
	copy(h[0:8], s[0:8])
	copy(h[8:12], s[9:13])
	copy(h[12:16], s[14:18])
	copy(h[16:20], s[19:23])
	copy(h[20:32], s[24:36])
	if _, err := hex.Decode(u[:], h[:]); err != nil {
		return u, fmt.Errorf("%w: %w", ErrInvalidUUID, err)
	}
	return u, nil
}

// FormatUUID writes u in canonical lowercase form.
func FormatUUID(u [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}
