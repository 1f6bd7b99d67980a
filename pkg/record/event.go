package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Event is a NIP-01 Nostr event: every peerset record, and every deletion of
// one, travels and is stored as an Event. The binary fields hold bytes; the
// JSON form (MarshalJSON / ParseEvent) writes them as lowercase hex.
type Event struct {
	ID        [32]byte
	PubKey    PublicKey
	CreatedAt int64 // seconds since the Unix epoch
	Kind      int
	Tags      [][]string
	Content   string
	Sig       [64]byte
}

// Errors that name what is wrong with an event. Validation and verification
// errors wrap one of them.
var (
	ErrInvalidUTF8     = errors.New("event text is not valid UTF-8")
	ErrIDMismatch      = errors.New("event id does not match its content")
	ErrBadSignature    = errors.New("event signature is not a valid BIP-340 signature by its pubkey")
	ErrMalformedEvent  = errors.New("malformed event")
	ErrKindOutOfRange  = errors.New("event kind out of range 0..65535")
	ErrNegativeTime    = errors.New("event created_at is negative")
	ErrEmptyTag        = errors.New("event has an empty tag")
	ErrRecordTooLarge  = errors.New("record exceeds a size limit")
	ErrWrongRoom       = errors.New("record belongs to another room")
	ErrNotARecord      = errors.New("event is not a peerset record")
	ErrInvalidRecord   = errors.New("invalid record")
	ErrInvalidDeletion = errors.New("invalid deletion")
)

// Serialize returns the NIP-01 commitment
// [0,<pubkey hex>,<created_at>,<kind>,<tags>,<content>] exactly as
// JavaScript's JSON.stringify writes it; the event id is its SHA-256.
func (e *Event) Serialize() []byte {
	return e.appendSerialized(make([]byte, 0, 96+len(e.Content)+tagsSize(e.Tags)))
}

func (e *Event) appendSerialized(dst []byte) []byte {
	var pk [64]byte
	hex.Encode(pk[:], e.PubKey[:])
	dst = append(dst, `[0,"`...)
	dst = append(dst, pk[:]...)
	dst = append(dst, `",`...)
	dst = appendInt(dst, e.CreatedAt)
	dst = append(dst, ',')
	dst = appendInt(dst, int64(e.Kind))
	dst = append(dst, ',')
	dst = appendJSONTags(dst, e.Tags)
	dst = append(dst, ',')
	dst = appendJSONString(dst, e.Content)
	return append(dst, ']')
}

func tagsSize(tags [][]string) int {
	n := 2
	for _, t := range tags {
		n += 3
		for _, v := range t {
			n += len(v) + 3
		}
	}
	return n
}

// ComputeID returns the SHA-256 of the serialised event.
func (e *Event) ComputeID() [32]byte { return sha256.Sum256(e.Serialize()) }

// IDHex returns the id as lowercase hex.
func (e *Event) IDHex() string { return hex.EncodeToString(e.ID[:]) }

// CheckWellFormed checks what can be checked without the signature: kind and
// time ranges, non-empty tags, valid UTF-8 text.
func (e *Event) CheckWellFormed() error {
	if err := e.checkShape(); err != nil {
		return err
	}
	if !validUTF8(e.Content, e.Tags) {
		return ErrInvalidUTF8
	}
	return nil
}

// checkShape is CheckWellFormed without the UTF-8 check, for text that is
// known to be valid (decoded from validated JSON).
func (e *Event) checkShape() error {
	if e.Kind < 0 || e.Kind > 65535 {
		return fmt.Errorf("%w: %d", ErrKindOutOfRange, e.Kind)
	}
	if e.CreatedAt < 0 {
		return fmt.Errorf("%w: %d", ErrNegativeTime, e.CreatedAt)
	}
	for i, t := range e.Tags {
		if len(t) == 0 {
			return fmt.Errorf("%w at index %d", ErrEmptyTag, i)
		}
	}
	return nil
}

// Sign sets the event's pubkey to sk's, computes its id and signs it with
// BIP-340 (random auxiliary data, as nostr-tools and noble do).
func (e *Event) Sign(sk *SecretKey) error {
	if err := e.CheckWellFormed(); err != nil {
		return fmt.Errorf("failed to sign event: %w", err)
	}
	e.PubKey = sk.Public()
	e.ID = e.ComputeID()
	sig, err := sk.SignHash(e.ID)
	if err != nil {
		return fmt.Errorf("failed to sign event: %w", err)
	}
	e.Sig = sig
	return nil
}

// Verify checks that the event is well formed, that its id is the hash of its
// content and that its signature is valid for its pubkey.
func (e *Event) Verify() error {
	if err := e.CheckWellFormed(); err != nil {
		return err
	}
	if id := e.ComputeID(); id != e.ID {
		return fmt.Errorf("%w: id %x, content hashes to %x", ErrIDMismatch, e.ID[:4], id[:4])
	}
	return e.VerifySignature()
}

// VerifySignature checks only the BIP-340 signature over the id, for callers
// that already checked the id.
func (e *Event) VerifySignature() error { return e.PubKey.VerifyHash(e.ID, e.Sig) }

// Tag returns the first tag whose name is name, or nil.
func (e *Event) Tag(name string) []string {
	for _, t := range e.Tags {
		if len(t) > 0 && t[0] == name {
			return t
		}
	}
	return nil
}

// TagValue returns the second element of the first tag named name, or "".
func (e *Event) TagValue(name string) string {
	if t := e.Tag(name); len(t) > 1 {
		return t[1]
	}
	return ""
}

// MarshalJSON writes the event as a NIP-01 JSON object with the keys in the
// usual order (id, pubkey, created_at, kind, tags, content, sig), using the
// same JSON.stringify-compatible escaping as the id serialisation.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 256+len(e.Content)+tagsSize(e.Tags))), nil
}

// AppendJSON appends the JSON object form of the event to dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	var h [128]byte
	dst = append(dst, `{"id":"`...)
	hex.Encode(h[:64], e.ID[:])
	dst = append(dst, h[:64]...)
	dst = append(dst, `","pubkey":"`...)
	hex.Encode(h[:64], e.PubKey[:])
	dst = append(dst, h[:64]...)
	dst = append(dst, `","created_at":`...)
	dst = appendInt(dst, e.CreatedAt)
	dst = append(dst, `,"kind":`...)
	dst = appendInt(dst, int64(e.Kind))
	dst = append(dst, `,"tags":`...)
	dst = appendJSONTags(dst, e.Tags)
	dst = append(dst, `,"content":`...)
	dst = appendJSONString(dst, e.Content)
	dst = append(dst, `,"sig":"`...)
	hex.Encode(h[:], e.Sig[:])
	dst = append(dst, h[:]...)
	return append(dst, `"}`...)
}

// jsonEvent is the wire shape used for decoding.
type jsonEvent struct {
	ID        *string    `json:"id"`
	PubKey    *string    `json:"pubkey"`
	CreatedAt *int64     `json:"created_at"`
	Kind      *int       `json:"kind"`
	Tags      [][]string `json:"tags"`
	Content   *string    `json:"content"`
	Sig       *string    `json:"sig"`
}

// UnmarshalJSON reads a NIP-01 JSON object. It checks the shape (all seven
// fields present, hex of the right length, integer time and kind, valid
// UTF-8) but not the id or signature: call Verify for that.
func (e *Event) UnmarshalJSON(data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: %w", ErrMalformedEvent, ErrInvalidUTF8)
	}
	j, ok := decodeEventFast(data)
	if !ok {
		var err error
		if j, err = decodeEventSlow(data); err != nil {
			return err
		}
	}
	return e.fromJSON(j)
}

// decodeEventSlow is the reference decoder: encoding/json, whose errors are
// reported as they are.
func decodeEventSlow(data []byte) (jsonEvent, error) {
	var j jsonEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return j, fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	if dec.More() {
		return j, fmt.Errorf("%w: trailing data after the event object", ErrMalformedEvent)
	}
	return j, nil
}

// fromJSON checks the decoded fields and fills e.
func (e *Event) fromJSON(j jsonEvent) error {
	missing := func(name string) error { return fmt.Errorf("%w: missing %q", ErrMalformedEvent, name) }
	switch {
	case j.ID == nil:
		return missing("id")
	case j.PubKey == nil:
		return missing("pubkey")
	case j.CreatedAt == nil:
		return missing("created_at")
	case j.Kind == nil:
		return missing("kind")
	case j.Tags == nil:
		return missing("tags")
	case j.Content == nil:
		return missing("content")
	case j.Sig == nil:
		return missing("sig")
	}
	var out Event
	for _, f := range []struct {
		name string
		text string
		dst  []byte
	}{{"id", *j.ID, out.ID[:]}, {"pubkey", *j.PubKey, out.PubKey[:]}, {"sig", *j.Sig, out.Sig[:]}} {
		if err := decodeHexInto(f.dst, f.text); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrMalformedEvent, f.name, err)
		}
	}
	out.CreatedAt = *j.CreatedAt
	out.Kind = *j.Kind
	out.Tags = j.Tags
	out.Content = *j.Content
	// The text was decoded from validated UTF-8 JSON, so only the shape is
	// left to check.
	if err := out.checkShape(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	*e = out
	return nil
}

// ParseEvent decodes one event from JSON, refusing input over maxBytes
// (0 means DefaultLimits.MaxRecordBytes) before parsing it. It does not
// verify the id or signature.
func ParseEvent(data []byte, maxBytes int) (*Event, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLimits().MaxRecordBytes
	}
	if len(data) > maxBytes {
		return nil, &LimitError{Limit: "MaxRecordBytes", Max: maxBytes, Got: len(data), What: "event JSON"}
	}
	var e Event
	if err := e.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return &e, nil
}
