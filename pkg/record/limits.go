package record

import "fmt"

// Limits bound the size of a record. Every field can be changed; the zero
// value of a field means "use the default".
type Limits struct {
	MaxRecordBytes   int // the whole event as JSON; default 64 KiB
	MaxTags          int // tags per event; default 16
	MaxTagFields     int // strings per tag, name included; default 4
	MaxTagValueBytes int // bytes per tag string (links, ids); default 2048
}

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxRecordBytes: 64 << 10, MaxTags: 16, MaxTagFields: 4, MaxTagValueBytes: 2048}
}

// WithDefaults returns l with its zero fields taken from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxRecordBytes <= 0 {
		l.MaxRecordBytes = d.MaxRecordBytes
	}
	if l.MaxTags <= 0 {
		l.MaxTags = d.MaxTags
	}
	if l.MaxTagFields <= 0 {
		l.MaxTagFields = d.MaxTagFields
	}
	if l.MaxTagValueBytes <= 0 {
		l.MaxTagValueBytes = d.MaxTagValueBytes
	}
	return l
}

// LimitError reports which limit an event broke. It matches ErrRecordTooLarge
// with errors.Is.
type LimitError struct {
	Limit string // the Limits field, e.g. "MaxRecordBytes"
	What  string // what was measured, e.g. "event JSON"
	Max   int
	Got   int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s is %d, over the limit %s = %d", e.What, e.Got, e.Limit, e.Max)
}

// Is makes errors.Is(err, ErrRecordTooLarge) true for every LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrRecordTooLarge }

// CheckLimits returns a *LimitError naming the first limit the event breaks.
func CheckLimits(e *Event, limits Limits) error {
	l := limits.WithDefaults()
	if len(e.Tags) > l.MaxTags {
		return &LimitError{Limit: "MaxTags", What: "tag count", Max: l.MaxTags, Got: len(e.Tags)}
	}
	for i, t := range e.Tags {
		if len(t) > l.MaxTagFields {
			return &LimitError{Limit: "MaxTagFields", What: fmt.Sprintf("field count of tag %d", i), Max: l.MaxTagFields, Got: len(t)}
		}
		for _, v := range t {
			if len(v) > l.MaxTagValueBytes {
				return &LimitError{Limit: "MaxTagValueBytes", What: fmt.Sprintf("size in bytes of a %q tag value", t[0]), Max: l.MaxTagValueBytes, Got: len(v)}
			}
		}
	}
	// The JSON size is bounded by the serialised commitment plus the fixed
	// id/sig overhead; compute it exactly only when it might be over.
	if size := JSONSize(e); size > l.MaxRecordBytes {
		return &LimitError{Limit: "MaxRecordBytes", What: "size in bytes of the event JSON", Max: l.MaxRecordBytes, Got: size}
	}
	return nil
}

// JSONSize returns the length of the event's JSON form (MarshalJSON).
func JSONSize(e *Event) int {
	// {"id":"<64>","pubkey":"<64>","created_at":N,"kind":N,"tags":T,"content":C,"sig":"<128>"}
	n := len(`{"id":"","pubkey":"","created_at":,"kind":,"tags":,"content":,"sig":""}`) + 64 + 64 + 128
	n += len(appendInt(nil, e.CreatedAt)) + len(appendInt(nil, int64(e.Kind)))
	n += jsonTagsLen(e.Tags) + jsonStringLen(e.Content)
	return n
}

func jsonTagsLen(tags [][]string) int {
	n := 2 // []
	for i, t := range tags {
		if i > 0 {
			n++
		}
		n += 2
		for j, v := range t {
			if j > 0 {
				n++
			}
			n += jsonStringLen(v)
		}
	}
	return n
}

// jsonStringLen is len(appendJSONString(nil, s)) without allocating.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			n += 2
		case c < 0x20:
			n += 6
		default:
			n++
		}
	}
	return n
}
