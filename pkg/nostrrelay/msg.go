package nostrrelay

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/peersetdb/peerset/pkg/record"
)

// Decoder bounds: the largest values ParseClientMessage accepts.
const (
	// MaxSubIDLength is the longest subscription id (NIP-01: 64 characters).
	MaxSubIDLength = 64
	// MaxFiltersPerReq is how many filters one REQ may carry.
	MaxFiltersPerReq = 10
	// MaxFilterValues is how many values one filter field (ids, authors,
	// kinds, one #tag) may list.
	MaxFilterValues = 500
	// MaxTagValueLength bounds each value of a #tag filter, in bytes.
	MaxTagValueLength = 1024
)

// ErrMalformed means a client message is not a NIP-01 message this relay
// understands; the error text says why.
var ErrMalformed = errors.New("malformed message")

// MessageType names a client-to-relay message.
type MessageType string

// The client messages of NIP-01.
const (
	TypeEvent MessageType = "EVENT"
	TypeReq   MessageType = "REQ"
	TypeClose MessageType = "CLOSE"
)

// ClientMessage is one decoded client-to-relay message.
type ClientMessage struct {
	Type MessageType
	// Event is the event of an EVENT message: well formed, not yet verified.
	Event *record.Event
	// EventID is the "id" field of an EVENT whose event did not decode, when
	// it is 64 hex characters, so the relay can still answer OK false.
	EventID string
	// SubID is the subscription id of REQ and CLOSE.
	SubID string
	// Filters are the filters of a REQ (at least one).
	Filters []Filter
}

// Filter is a NIP-01 subscription filter. Nil slices mean "any"; an event
// matches when every set field matches.
type Filter struct {
	IDs     []string            // lowercase hex event ids, exact match
	Authors []string            // lowercase hex pubkeys, exact match
	Kinds   []int               // event kinds
	Tags    map[string][]string // "#x": ["v"] is Tags["x"] = ["v"]
	Since   *int64              // created_at >= Since
	Until   *int64              // created_at <= Until
	Limit   *int                // most events returned from storage
}

// Matches reports whether e passes the filter.
func (f *Filter) Matches(e *record.Event) bool {
	if f.IDs != nil && !containsHex(f.IDs, e.ID[:]) {
		return false
	}
	if f.Authors != nil && !containsHex(f.Authors, e.PubKey[:]) {
		return false
	}
	if f.Kinds != nil {
		found := false
		for _, k := range f.Kinds {
			if k == e.Kind {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if f.Since != nil && e.CreatedAt < *f.Since {
		return false
	}
	if f.Until != nil && e.CreatedAt > *f.Until {
		return false
	}
	for name, values := range f.Tags {
		if !hasTag(e, name, values) {
			return false
		}
	}
	return true
}

func containsHex(list []string, b []byte) bool {
	h := hex.EncodeToString(b)
	for _, v := range list {
		if v == h {
			return true
		}
	}
	return false
}

// hasTag reports whether e has a tag named name whose first value is one of
// values.
func hasTag(e *record.Event, name string, values []string) bool {
	for _, t := range e.Tags {
		if len(t) < 2 || t[0] != name {
			continue
		}
		for _, v := range values {
			if t[1] == v {
				return true
			}
		}
	}
	return false
}

// ParseClientMessage decodes one client message: ["EVENT", <event>],
// ["REQ", <sub id>, <filter>, …] or ["CLOSE", <sub id>]. maxEventBytes bounds
// the event JSON (0: record's default). It never panics; every error wraps
// ErrMalformed, except that an EVENT whose event is invalid returns the
// record error (wrapped in ErrMalformed too) with EventID set when known.
func ParseClientMessage(data []byte, maxEventBytes int) (ClientMessage, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return ClientMessage{}, fmt.Errorf("%w: not a JSON array: %v", ErrMalformed, err)
	}
	if len(parts) == 0 {
		return ClientMessage{}, fmt.Errorf("%w: empty array", ErrMalformed)
	}
	var typ string
	if err := json.Unmarshal(parts[0], &typ); err != nil {
		return ClientMessage{}, fmt.Errorf("%w: message type is not a string", ErrMalformed)
	}
	switch MessageType(typ) {
	case TypeEvent:
		if len(parts) != 2 {
			return ClientMessage{}, fmt.Errorf("%w: EVENT takes exactly one event", ErrMalformed)
		}
		ev, err := record.ParseEvent(parts[1], maxEventBytes)
		if err != nil {
			m := ClientMessage{Type: TypeEvent, EventID: peekID(parts[1])}
			return m, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return ClientMessage{Type: TypeEvent, Event: ev}, nil
	case TypeReq:
		if len(parts) < 3 {
			return ClientMessage{}, fmt.Errorf("%w: REQ needs a subscription id and at least one filter", ErrMalformed)
		}
		if len(parts)-2 > MaxFiltersPerReq {
			return ClientMessage{}, fmt.Errorf("%w: REQ has %d filters, at most %d allowed", ErrMalformed, len(parts)-2, MaxFiltersPerReq)
		}
		sub, err := parseSubID(parts[1])
		if err != nil {
			return ClientMessage{}, err
		}
		m := ClientMessage{Type: TypeReq, SubID: sub}
		for i, raw := range parts[2:] {
			f, err := parseFilter(raw)
			if err != nil {
				return ClientMessage{Type: TypeReq, SubID: sub}, fmt.Errorf("filter %d: %w", i, err)
			}
			m.Filters = append(m.Filters, f)
		}
		return m, nil
	case TypeClose:
		if len(parts) != 2 {
			return ClientMessage{}, fmt.Errorf("%w: CLOSE takes exactly one subscription id", ErrMalformed)
		}
		sub, err := parseSubID(parts[1])
		if err != nil {
			return ClientMessage{}, err
		}
		return ClientMessage{Type: TypeClose, SubID: sub}, nil
	default:
		if len(typ) > 16 {
			typ = typ[:16] + "…"
		}
		return ClientMessage{}, fmt.Errorf("%w: unsupported message type %q", ErrMalformed, typ)
	}
}

// peekID returns the event's "id" when it is 64 lowercase hex characters.
func peekID(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil || !isHex64(v.ID) {
		return ""
	}
	return v.ID
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func parseSubID(raw json.RawMessage) (string, error) {
	var sub string
	if err := json.Unmarshal(raw, &sub); err != nil {
		return "", fmt.Errorf("%w: subscription id is not a string", ErrMalformed)
	}
	if sub == "" || len(sub) > MaxSubIDLength {
		return "", fmt.Errorf("%w: subscription id must be 1 to %d characters", ErrMalformed, MaxSubIDLength)
	}
	return sub, nil
}

func parseFilter(raw json.RawMessage) (Filter, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return Filter{}, fmt.Errorf("%w: filter is not a JSON object", ErrMalformed)
	}
	var f Filter
	for key, val := range fields {
		var err error
		switch {
		case key == "ids":
			f.IDs, err = hexList(key, val)
		case key == "authors":
			f.Authors, err = hexList(key, val)
		case key == "kinds":
			err = json.Unmarshal(val, &f.Kinds)
			if err == nil && len(f.Kinds) > MaxFilterValues {
				err = fmt.Errorf("more than %d values", MaxFilterValues)
			}
		case key == "since":
			f.Since = new(int64)
			err = json.Unmarshal(val, f.Since)
		case key == "until":
			f.Until = new(int64)
			err = json.Unmarshal(val, f.Until)
		case key == "limit":
			f.Limit = new(int)
			err = json.Unmarshal(val, f.Limit)
			if err == nil && *f.Limit < 0 {
				err = errors.New("negative")
			}
		case len(key) == 2 && key[0] == '#' && isLetter(key[1]):
			var vs []string
			err = json.Unmarshal(val, &vs)
			if err == nil {
				err = checkValues(vs, MaxTagValueLength)
			}
			if err == nil && vs != nil { // null means no condition
				if f.Tags == nil {
					f.Tags = map[string][]string{}
				}
				f.Tags[key[1:]] = vs
			}
		default:
			if len(key) > 16 {
				key = key[:16] + "…"
			}
			return Filter{}, fmt.Errorf("%w: unsupported filter field %q", ErrMalformed, key)
		}
		if err != nil {
			return Filter{}, fmt.Errorf("%w: filter field %q: %v", ErrMalformed, key, err)
		}
	}
	return f, nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func hexList(key string, val json.RawMessage) ([]string, error) {
	var vs []string
	if err := json.Unmarshal(val, &vs); err != nil {
		return nil, err
	}
	if err := checkValues(vs, 64); err != nil {
		return nil, err
	}
	for _, v := range vs {
		if !isHex64(strings.ToLower(v)) || v != strings.ToLower(v) {
			return nil, fmt.Errorf("%s must be 64 lowercase hex characters", key)
		}
	}
	return vs, nil
}

func checkValues(vs []string, maxLen int) error {
	if len(vs) > MaxFilterValues {
		return fmt.Errorf("more than %d values", MaxFilterValues)
	}
	for _, v := range vs {
		if len(v) > maxLen {
			return fmt.Errorf("a value is longer than %d bytes", maxLen)
		}
	}
	return nil
}

// Relay-to-client messages, written by hand so strings are escaped exactly
// as JSON.stringify does.

func appendString(dst []byte, s string) []byte { return record.AppendJSONString(dst, s) }

// EncodeOK returns ["OK", <id>, <accepted>, <message>].
func EncodeOK(id string, accepted bool, msg string) []byte {
	b := appendString([]byte(`["OK",`), id)
	if accepted {
		b = append(b, ",true,"...)
	} else {
		b = append(b, ",false,"...)
	}
	b = appendString(b, msg)
	return append(b, ']')
}

// EncodeEvent returns ["EVENT", <sub id>, <event JSON>].
func EncodeEvent(sub string, eventJSON []byte) []byte {
	b := appendString(make([]byte, 0, 16+len(sub)+len(eventJSON)), "EVENT")
	b = append([]byte{'['}, b...)
	b = append(b, ',')
	b = appendString(b, sub)
	b = append(b, ',')
	b = append(b, eventJSON...)
	return append(b, ']')
}

// EncodeEOSE returns ["EOSE", <sub id>].
func EncodeEOSE(sub string) []byte {
	return append(appendString([]byte(`["EOSE",`), sub), ']')
}

// EncodeClosed returns ["CLOSED", <sub id>, <message>].
func EncodeClosed(sub, msg string) []byte {
	b := appendString([]byte(`["CLOSED",`), sub)
	b = append(b, ',')
	return append(appendString(b, msg), ']')
}

// EncodeNotice returns ["NOTICE", <message>].
func EncodeNotice(msg string) []byte {
	return append(appendString([]byte(`["NOTICE",`), msg), ']')
}
