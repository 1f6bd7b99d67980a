// Package record defines peerset's records: signed Nostr events (NIP-01) of
// one addressable kind, with the keys that sign them (NIP-19 npub/nsec), a
// JSON.stringify-exact serialiser for their ids, BIP-340 signatures, size
// limits, the replacement rule and NIP-09 deletion. It is pure Go and has no
// knowledge of storage or networking.
package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event kinds and tag names used by peerset records.
const (
	// KindRecord is the addressable kind (NIP-01 range 30000–39999) of every
	// record: NIP-78's "application-specific data", with the record UUID in
	// the "d" tag. An author replaces a record by publishing a newer event
	// with the same "d".
	KindRecord = 30078
	// KindDeletion is the NIP-09 deletion request.
	KindDeletion = 5

	TagUUID      = "d"    // the record UUID (NIP-01 addressable identifier)
	TagRoom      = "room" // RoomID of the room the record belongs to
	TagGeohash   = "g"    // geohash of the location
	TagGeo       = "geo"  // exact location: ["geo", "<lat>", "<lon>"]
	TagLink      = "r"    // the record's link (a URL)
	TagMediaType = "m"    // media type of content: ["m", "<type>"] or ["m", "<type>", "base64"]
	TagAddress   = "a"    // a deletion's target: "<kind>:<pubkey hex>:<uuid>"
	TagKind      = "k"    // a deletion's target kind
)

// Media types of a record's content.
const (
	MediaTypeText   = "text/plain" // the default; no "m" tag is written for it
	MediaTypeJSON   = "application/json"
	MediaTypeBinary = "application/octet-stream"
	encodingBase64  = "base64"
)

// RoomID is the value of a record's "room" tag: hex SHA-256 of
// "peerset:<byte length of appId>:<appId>:<room>" (the length keeps
// ("a:b", "c") and ("a", "b:c") apart). Binding records to it means a record signed for
// one room is refused by every other room. The room password is not part of
// it: a password guards who may join, not what the data set is.
func RoomID(appID, room string) string {
	sum := sha256.Sum256([]byte("peerset:" + strconv.Itoa(len(appID)) + ":" + appID + ":" + room))
	return hex.EncodeToString(sum[:])
}

// Draft is what an author supplies to make a record.
type Draft struct {
	UUID      string // empty: a new random v4 UUID; set it to update a record
	Text      string // the text content (media type text/plain)
	Data      []byte // or a payload: JSON text when MediaType is application/json, else any bytes
	MediaType string // media type of Data; empty with Data means application/json
	Link      string // optional URL
	Geo       *Geo   // optional location
	// Blob, when set, makes the record refer to a blob (blob.go): Text is
	// then its caption and Data must be nil.
	Blob      *BlobRef
	CreatedAt time.Time // zero: now
}

// Record is the friendly view of a record event.
type Record struct {
	UUID      string
	Author    PublicKey
	CreatedAt time.Time
	Room      string // RoomID
	Text      string
	Data      []byte // for non-text media types
	MediaType string
	Link      string
	Geo       *Geo
	Geohash   string
	Blob      *BlobRef // the blob the record refers to, if any (MediaType is then text/plain)
	Event     *Event   // the signed event itself
}

// New makes and signs a record event for the room roomID.
func New(d Draft, sk *SecretKey, roomID string, limits Limits) (*Event, error) {
	if sk == nil {
		return nil, fmt.Errorf("failed to create record: %w: no secret key", ErrInvalidSecretKey)
	}
	e, err := NewUnsigned(d, sk.Public(), roomID, limits)
	if err != nil {
		return nil, err
	}
	if err := e.Sign(sk); err != nil {
		return nil, fmt.Errorf("failed to create record: %w", err)
	}
	return e, nil
}

// NewUnsigned makes the record event for author in the room roomID, checked
// against limits, with its id computed and no signature: for a signer that
// holds the secret key elsewhere.
func NewUnsigned(d Draft, author PublicKey, roomID string, limits Limits) (*Event, error) {
	if roomID == "" {
		return nil, fmt.Errorf("failed to create record: %w: empty room id", ErrInvalidRecord)
	}
	uuid := d.UUID
	if uuid == "" {
		var err error
		if uuid, err = NewUUID(); err != nil {
			return nil, fmt.Errorf("failed to create record: %w", err)
		}
	} else if err := CheckUUID(uuid); err != nil {
		return nil, fmt.Errorf("failed to create record: %w", err)
	}
	created := d.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	tags := [][]string{{TagUUID, uuid}, {TagRoom, roomID}}
	if d.Geo != nil {
		if err := d.Geo.Check(); err != nil {
			return nil, fmt.Errorf("failed to create record: %w", err)
		}
		tags = append(tags,
			[]string{TagGeohash, Geohash(*d.Geo, GeohashPrecision)},
			[]string{TagGeo, formatDegrees(d.Geo.Lat), formatDegrees(d.Geo.Lon)})
	}
	if d.Link != "" {
		tags = append(tags, []string{TagLink, d.Link})
	}
	content := d.Text
	switch {
	case d.Data != nil && d.Text != "":
		return nil, fmt.Errorf("failed to create record: %w: a record carries text or data, not both", ErrInvalidRecord)
	case d.Data != nil:
		mt := d.MediaType
		if mt == "" {
			mt = MediaTypeJSON
		}
		if err := checkMediaType(mt); err != nil {
			return nil, fmt.Errorf("failed to create record: %w", err)
		}
		if IsTextMediaType(mt) {
			content = string(d.Data)
			tags = append(tags, []string{TagMediaType, mt})
		} else {
			content = base64.StdEncoding.EncodeToString(d.Data)
			tags = append(tags, []string{TagMediaType, mt, encodingBase64})
		}
	case d.MediaType != "" && d.MediaType != MediaTypeText:
		return nil, fmt.Errorf("failed to create record: %w: media type %q needs Data", ErrInvalidRecord, d.MediaType)
	}
	if d.Blob != nil {
		if d.Data != nil {
			return nil, fmt.Errorf("failed to create record: %w: a record carries a blob or data, not both", ErrInvalidRecord)
		}
		if err := d.Blob.Check(); err != nil {
			return nil, fmt.Errorf("failed to create record: %w", err)
		}
		tags = append(tags, d.Blob.tags()...)
	}
	e := &Event{PubKey: author, CreatedAt: created.Unix(), Kind: KindRecord, Tags: tags, Content: content}
	if err := e.CheckWellFormed(); err != nil {
		return nil, fmt.Errorf("failed to create record: %w", err)
	}
	if err := CheckLimits(e, limits); err != nil {
		return nil, fmt.Errorf("failed to create record: %w", err)
	}
	if d.MediaType == MediaTypeJSON || (d.Data != nil && d.MediaType == "") {
		if !jsonValid(d.Data) {
			return nil, fmt.Errorf("failed to create record: %w: data is not valid JSON", ErrInvalidRecord)
		}
	}
	e.ID = e.ComputeID()
	return e, nil
}

// Parse reads the friendly view of a record event, checking its structure
// (kind, UUID, room tag, location, media type) but not its signature.
func Parse(e *Event) (*Record, error) {
	if e.Kind != KindRecord {
		return nil, fmt.Errorf("%w: kind %d, want %d", ErrNotARecord, e.Kind, KindRecord)
	}
	r := &Record{Author: e.PubKey, CreatedAt: time.Unix(e.CreatedAt, 0).UTC(), Event: e, MediaType: MediaTypeText}
	seen := map[string]bool{}
	var base64Content bool
	var blobHash, blobSize, blobChunks []string
	for i, t := range e.Tags {
		if len(t) == 0 {
			return nil, fmt.Errorf("%w at index %d", ErrEmptyTag, i)
		}
		name := t[0]
		switch name {
		case TagUUID, TagRoom, TagGeohash, TagGeo, TagLink, TagMediaType, TagBlobHash, TagBlobSize, TagBlobChunks:
			if seen[name] {
				return nil, fmt.Errorf("%w: more than one %q tag", ErrInvalidRecord, name)
			}
			seen[name] = true
			if len(t) < 2 {
				return nil, fmt.Errorf("%w: %q tag without a value", ErrInvalidRecord, name)
			}
		}
		switch name {
		case TagUUID:
			if err := CheckUUID(t[1]); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
			}
			r.UUID = t[1]
		case TagRoom:
			r.Room = t[1]
		case TagGeohash:
			r.Geohash = t[1]
		case TagGeo:
			if len(t) < 3 {
				return nil, fmt.Errorf("%w: %q tag needs lat and lon", ErrInvalidRecord, name)
			}
			lat, err1 := strconv.ParseFloat(t[1], 64)
			lon, err2 := strconv.ParseFloat(t[2], 64)
			g := Geo{Lat: lat, Lon: lon}
			if err1 != nil || err2 != nil || g.Check() != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, ErrInvalidGeo)
			}
			r.Geo = &g
		case TagLink:
			r.Link = t[1]
		case TagMediaType:
			if err := checkMediaType(t[1]); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
			}
			r.MediaType = t[1]
			base64Content = len(t) > 2 && t[2] == encodingBase64
		case TagBlobHash:
			blobHash = t
		case TagBlobSize:
			blobSize = t
		case TagBlobChunks:
			blobChunks = t
		}
	}
	if blobHash != nil {
		if base64Content {
			return nil, fmt.Errorf("%w: %w: a blob record's content is text, not base64", ErrInvalidRecord, ErrInvalidBlob)
		}
		mt := r.MediaType
		if mt == MediaTypeText && !seen[TagMediaType] {
			mt = MediaTypeBinary
		}
		b, err := parseBlobTags(blobHash, blobSize, blobChunks, mt)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
		}
		r.Blob, r.MediaType = b, MediaTypeText
	}
	if r.UUID == "" {
		return nil, fmt.Errorf("%w: no %q (UUID) tag", ErrInvalidRecord, TagUUID)
	}
	if r.Room == "" {
		return nil, fmt.Errorf("%w: no %q tag", ErrInvalidRecord, TagRoom)
	}
	if r.Geohash != "" && r.Geo != nil && Geohash(*r.Geo, len(r.Geohash)) != r.Geohash {
		return nil, fmt.Errorf("%w: %w: geohash %q does not match lat/lon", ErrInvalidRecord, ErrInvalidGeo, r.Geohash)
	}
	switch {
	case base64Content:
		data, err := base64.StdEncoding.DecodeString(e.Content)
		if err != nil {
			return nil, fmt.Errorf("%w: content is not base64: %v", ErrInvalidRecord, err)
		}
		r.Data = data
	case r.MediaType == MediaTypeText:
		r.Text = e.Content
	default:
		r.Data = []byte(e.Content)
	}
	return r, nil
}

// CheckRecord fully checks an incoming record or deletion for the room
// roomID: size limits, well-formedness, id, signature, structure and room.
// The returned error wraps the sentinel that names the failure
// (ErrRecordTooLarge, ErrIDMismatch, ErrBadSignature, ErrWrongRoom, ...).
func CheckRecord(e *Event, roomID string, limits Limits) error {
	if err := CheckLimits(e, limits); err != nil {
		return err
	}
	if err := CheckStructure(e, roomID); err != nil {
		return err
	}
	return e.Verify()
}

// CheckStructure checks kind, tags and room without verifying the signature.
func CheckStructure(e *Event, roomID string) error {
	if err := e.CheckWellFormed(); err != nil {
		return err
	}
	var room string
	switch e.Kind {
	case KindRecord:
		r, err := Parse(e)
		if err != nil {
			return err
		}
		room = r.Room
	case KindDeletion:
		if _, err := DeletionTarget(e); err != nil {
			return err
		}
		room = e.TagValue(TagRoom)
	default:
		return fmt.Errorf("%w: kind %d", ErrNotARecord, e.Kind)
	}
	if room != roomID {
		return fmt.Errorf("%w: room tag %.16s…, this room is %.16s…", ErrWrongRoom, room, roomID)
	}
	return nil
}

// Address identifies the live version of an addressable record:
// kind, author and UUID ("d" tag).
type Address struct {
	Kind   int
	PubKey PublicKey
	UUID   string
}

// String returns the NIP-01 "a" tag form "<kind>:<pubkey hex>:<uuid>".
func (a Address) String() string {
	return strconv.Itoa(a.Kind) + ":" + a.PubKey.Hex() + ":" + a.UUID
}

// AddressOf returns the address of a record event.
func AddressOf(e *Event) Address {
	return Address{Kind: e.Kind, PubKey: e.PubKey, UUID: e.TagValue(TagUUID)}
}

// ParseAddress reads "<kind>:<pubkey hex>:<uuid>".
func ParseAddress(s string) (Address, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return Address{}, fmt.Errorf("%w: address %q is not kind:pubkey:uuid", ErrInvalidDeletion, s)
	}
	kind, err := strconv.Atoi(parts[0])
	if err != nil || kind < 0 || kind > 65535 {
		return Address{}, fmt.Errorf("%w: address kind %q", ErrInvalidDeletion, parts[0])
	}
	pk, err := ParsePublicKeyHex(parts[1])
	if err != nil {
		return Address{}, fmt.Errorf("%w: %w", ErrInvalidDeletion, err)
	}
	return Address{Kind: kind, PubKey: pk, UUID: parts[2]}, nil
}

// Supersedes reports whether a replaces b under the NIP-01 rule for
// addressable events: the newer created_at wins; at equal times the lower id
// wins. It does not check that a and b share an address.
func Supersedes(a, b *Event) bool {
	if a.CreatedAt != b.CreatedAt {
		return a.CreatedAt > b.CreatedAt
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// NewDeletion makes and signs a NIP-09 deletion request for the author's
// record uuid in room roomID. It deletes every version of that record
// created at or before the deletion's own time.
func NewDeletion(sk *SecretKey, roomID, uuid string, at time.Time) (*Event, error) {
	if sk == nil {
		return nil, fmt.Errorf("failed to create deletion: %w: no secret key", ErrInvalidSecretKey)
	}
	e, err := NewUnsignedDeletion(sk.Public(), roomID, uuid, at)
	if err != nil {
		return nil, err
	}
	if err := e.Sign(sk); err != nil {
		return nil, fmt.Errorf("failed to create deletion: %w", err)
	}
	return e, nil
}

// NewUnsignedDeletion is NewDeletion with its id computed and no signature.
func NewUnsignedDeletion(author PublicKey, roomID, uuid string, at time.Time) (*Event, error) {
	if err := CheckUUID(uuid); err != nil {
		return nil, fmt.Errorf("failed to create deletion: %w", err)
	}
	if at.IsZero() {
		at = time.Now()
	}
	addr := Address{Kind: KindRecord, PubKey: author, UUID: uuid}
	e := &Event{
		PubKey:    author,
		CreatedAt: at.Unix(),
		Kind:      KindDeletion,
		Tags:      [][]string{{TagAddress, addr.String()}, {TagKind, strconv.Itoa(KindRecord)}, {TagRoom, roomID}},
	}
	e.ID = e.ComputeID()
	return e, nil
}

// DeletionTarget returns the record address a deletion request targets. It
// must name exactly one record of the deletion's own author.
func DeletionTarget(e *Event) (Address, error) {
	if e.Kind != KindDeletion {
		return Address{}, fmt.Errorf("%w: kind %d, want %d", ErrInvalidDeletion, e.Kind, KindDeletion)
	}
	var target *Address
	for i, t := range e.Tags {
		if len(t) == 0 {
			return Address{}, fmt.Errorf("%w: %w at index %d", ErrInvalidDeletion, ErrEmptyTag, i)
		}
		if t[0] != TagAddress {
			continue
		}
		if target != nil {
			return Address{}, fmt.Errorf("%w: more than one %q tag", ErrInvalidDeletion, TagAddress)
		}
		if len(t) < 2 {
			return Address{}, fmt.Errorf("%w: empty %q tag", ErrInvalidDeletion, TagAddress)
		}
		a, err := ParseAddress(t[1])
		if err != nil {
			return Address{}, err
		}
		target = &a
	}
	if target == nil {
		return Address{}, fmt.Errorf("%w: no %q tag", ErrInvalidDeletion, TagAddress)
	}
	if target.PubKey != e.PubKey {
		return Address{}, fmt.Errorf("%w: an author can only delete their own records", ErrInvalidDeletion)
	}
	if target.Kind != KindRecord {
		return Address{}, fmt.Errorf("%w: target kind %d is not a record", ErrInvalidDeletion, target.Kind)
	}
	if err := CheckUUID(target.UUID); err != nil {
		return Address{}, fmt.Errorf("%w: %w", ErrInvalidDeletion, err)
	}
	return *target, nil
}

// Deletes reports whether the deletion del removes the record event e: same
// author and address, and e created at or before del.
func Deletes(del, e *Event) bool {
	target, err := DeletionTarget(del)
	if err != nil {
		return false
	}
	return e.Kind == KindRecord && AddressOf(e) == target && e.CreatedAt <= del.CreatedAt
}

func formatDegrees(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// IsTextMediaType reports whether content of media type mt is stored as text
// (text/*, JSON) rather than base64.
func IsTextMediaType(mt string) bool {
	return strings.HasPrefix(mt, "text/") || mt == MediaTypeJSON || strings.HasSuffix(mt, "+json")
}

// checkMediaType accepts type/subtype tokens (no parameters).
func checkMediaType(mt string) error {
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || !isToken(typ) || !isToken(sub) || len(mt) > 127 {
		return fmt.Errorf("%w: media type %q is not type/subtype", ErrInvalidRecord, mt)
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&-^_.+", c) >= 0) {
			return false
		}
	}
	return true
}
