package main

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// The record views JavaScript sees: a record as JSON (the hand-written fast
// path beside the struct), the 'record' events of changes, holders.

// recordJSON is the friendly view of a record that JavaScript sees
// (PeersetRecord in js/peerset.d.ts). The shim turns dataBase64 into a
// Uint8Array.
type recordJSON struct {
	UUID       string          `json:"uuid"`
	Author     string          `json:"author"`
	CreatedAt  int64           `json:"createdAt"` // milliseconds
	Text       string          `json:"text,omitempty"`
	Link       string          `json:"link,omitempty"`
	Geo        *record.Geo     `json:"geo,omitempty"`
	Geohash    string          `json:"geohash,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 string          `json:"dataBase64,omitempty"`
	MediaType  string          `json:"mediaType,omitempty"`
	Blob       *blobJSON       `json:"blob,omitempty"`
	ID         string          `json:"id"`
	Event      json.RawMessage `json:"event"`
}

// blobJSON is record.blob: the file the record refers to (db.blob(uuid)
// reads it).
type blobJSON struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`
}

// npubCache remembers the npub of recent authors: bech32 per record adds up
// when a query returns thousands of records by a few authors.
type npubCache struct {
	mu sync.Mutex
	m  map[record.PublicKey]string
}

const npubCacheSize = 4096

func (c *npubCache) npub(pk record.PublicKey) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[pk]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= npubCacheSize {
		c.m = make(map[record.PublicKey]string)
	}
	s := pk.Npub()
	c.m[pk] = s
	return s
}

var npubs npubCache

// toRecordJSON builds the friendly view of r.
func toRecordJSON(r *record.Record) recordJSON {
	out := recordJSON{
		UUID:      r.UUID,
		Author:    npubs.npub(r.Author),
		CreatedAt: r.CreatedAt.UnixMilli(),
		Link:      r.Link,
		Geo:       r.Geo,
		Geohash:   r.Geohash,
		ID:        r.Event.IDHex(),
		Event:     r.Event.AppendJSON(nil),
	}
	if r.Blob != nil {
		out.Blob = &blobJSON{SHA256: r.Blob.Hex(), Size: r.Blob.Size, Type: r.Blob.Type}
	}
	switch {
	case r.MediaType == "" || r.MediaType == record.MediaTypeText:
		out.Text = r.Text
	case r.MediaType == record.MediaTypeJSON && json.Valid(r.Data):
		out.Data = r.Data
		out.MediaType = r.MediaType
	case record.IsTextMediaType(r.MediaType) && r.Data == nil:
		out.Text = r.Text
		out.MediaType = r.MediaType
	default:
		out.DataBase64 = base64.StdEncoding.EncodeToString(r.Data)
		out.MediaType = r.MediaType
	}
	return out
}

// appendRecordJSON appends the JSON of toRecordJSON(r), written by hand:
// query() and 'record' events carry thousands of records, and reflection
// costs about three times as much (BenchmarkMarshalRecords).
func appendRecordJSON(b []byte, r *record.Record) []byte {
	v := toRecordJSON(r)
	b = append(b, `{"uuid":`...)
	b = appendJSONString(b, v.UUID)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, v.Author)
	b = append(b, `,"createdAt":`...)
	b = strconv.AppendInt(b, v.CreatedAt, 10)
	if v.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, v.Text)
	}
	if v.Link != "" {
		b = append(b, `,"link":`...)
		b = appendJSONString(b, v.Link)
	}
	if v.Geo != nil {
		b = append(b, `,"geo":{"lat":`...)
		b = strconv.AppendFloat(b, v.Geo.Lat, 'f', -1, 64)
		b = append(b, `,"lon":`...)
		b = strconv.AppendFloat(b, v.Geo.Lon, 'f', -1, 64)
		b = append(b, '}')
	}
	if v.Geohash != "" {
		b = append(b, `,"geohash":`...)
		b = appendJSONString(b, v.Geohash)
	}
	if v.Data != nil {
		b = append(b, `,"data":`...)
		b = append(b, v.Data...) // checked by json.Valid in toRecordJSON
	}
	if v.DataBase64 != "" {
		b = append(b, `,"dataBase64":`...)
		b = appendJSONString(b, v.DataBase64)
	}
	if v.MediaType != "" {
		b = append(b, `,"mediaType":`...)
		b = appendJSONString(b, v.MediaType)
	}
	if v.Blob != nil {
		b = append(b, `,"blob":{"sha256":"`...)
		b = append(b, v.Blob.SHA256...)
		b = append(b, `","size":`...)
		b = strconv.AppendInt(b, v.Blob.Size, 10)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, v.Blob.Type)
		b = append(b, '}')
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"event":`...)
	b = append(b, v.Event...)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; each byte of invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		var v []byte
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				v = append(v, "\uFFFD"...)
			} else {
				v = append(v, s[i:i+size]...)
			}
			i += size
		}
		s = string(v)
	}
	return record.AppendJSONString(b, s)
}

func marshalRecords(rs []*record.Record) ([]byte, error) {
	b := make([]byte, 0, 1024*len(rs)+2)
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, r)
	}
	return append(b, ']'), nil
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}

// originName is how JavaScript sees where a change came from.
func originName(o peerset.Origin) string {
	if o.Local() {
		return "local"
	}
	return o.PeerID
}

// recordEventJSON is the payload of a 'record' event.
type recordEventJSON struct {
	Record  recordJSON `json:"record"`
	UUID    string     `json:"uuid"`
	Removed bool       `json:"removed"`
	Origin  string     `json:"origin"`
}

// marshalChanges encodes the record changes of a batch as 'record' events
// (recordEventJSON); deletion events themselves are left out: what they
// remove is reported as removed. When missed changes were dropped before
// them (recordQueue), the batch starts with { overflow: true, missed: n }.
func marshalChanges(changes []peerset.Change, missed int) ([]byte, int, error) {
	b := make([]byte, 0, 1024*len(changes)+40)
	b = append(b, '[')
	n := 0
	if missed > 0 {
		b = append(b, `{"overflow":true,"missed":`...)
		b = strconv.AppendInt(b, int64(missed), 10)
		b = append(b, '}')
		n++
	}
	for _, c := range changes {
		if c.Event == nil || c.Event.Kind != record.KindRecord {
			continue
		}
		r, err := record.Parse(c.Event)
		if err != nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"record":`...)
		b = appendRecordJSON(b, r)
		b = append(b, `,"uuid":`...)
		b = appendJSONString(b, r.UUID)
		b = append(b, `,"removed":`...)
		b = strconv.AppendBool(b, c.Removed)
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, originName(c.Origin))
		if !c.Removed {
			b = append(b, `,"heldBy":`...)
			b = strconv.AppendInt(b, int64(c.HeldBy), 10)
		}
		b = append(b, '}')
	}
	if n == 0 {
		return nil, 0, nil
	}
	return append(b, ']'), n, nil
}

// holdersJSON is the result of holders(uuid).
type holdersJSON struct {
	Count int      `json:"count"`
	Peers []string `json:"peers"` // npubs
}
