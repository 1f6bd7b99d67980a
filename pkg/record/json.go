package record

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// AppendJSONString appends s to dst as a JSON string literal, byte for byte
// what JavaScript's JSON.stringify writes (see appendJSONString): the one JSON
// string writer of the module, for any code that writes JSON by hand.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// appendJSONString appends s to dst as a JSON string literal, byte for byte
// what JavaScript's JSON.stringify produces for the same text:
//
//   - '"' and '\\' are escaped with a backslash;
//   - \b \f \n \r \t use their short escapes;
//   - every other code point below U+0020 becomes \u00xx (lowercase hex);
//   - everything else, U+2028, U+2029, U+007F, '<', '>', '&' and all non-ASCII
//     text included, is copied verbatim as UTF-8.
//
// Go's encoding/json differs on U+2028/U+2029 (it escapes them) and on
// invalid UTF-8 (it substitutes \ufffd), so it cannot be used for NIP-01 ids.
//
// JavaScript strings cannot hold invalid UTF-8, so there is no JSON.stringify
// output to match for it: callers must reject such text before serialising
// (Event.Validate returns ErrInvalidUTF8). appendJSONString copies invalid
// bytes through unchanged, and never panics.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONStringArray appends a JSON array of strings.
func appendJSONStringArray(dst []byte, values []string) []byte {
	dst = append(dst, '[')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v)
	}
	return append(dst, ']')
}

// appendJSONTags appends tags as a JSON array of string arrays.
func appendJSONTags(dst []byte, tags [][]string) []byte {
	dst = append(dst, '[')
	for i, tag := range tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONStringArray(dst, tag)
	}
	return append(dst, ']')
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// validUTF8 reports whether every string of the event is valid UTF-8.
func validUTF8(content string, tags [][]string) bool {
	if !utf8.ValidString(content) {
		return false
	}
	for _, tag := range tags {
		for _, v := range tag {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

func jsonValid(b []byte) bool { return json.Valid(b) }
