package record

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeEventFast parses the common shape of an event's JSON object without
// reflection: exactly the seven NIP-01 keys, each once, in any order; string
// values with any escapes but lone surrogates; integer numbers; tags as an
// array of arrays of strings. It reports false for anything else (unknown or
// repeated keys, nulls, fractions, exponents, malformed JSON…), and the
// caller then runs encoding/json, which owns the error messages and every
// corner case. The fuzz test checks that the two agree whenever this
// succeeds. Events arrive by the thousand during a sync, and encoding/json
// costs several times more, most of all in WebAssembly.
func decodeEventFast(data []byte) (j jsonEvent, ok bool) {
	p := fastParser{b: data}
	p.space()
	if !p.byte('{') {
		return j, false
	}
	var id, pubkey, sig, content string
	var createdAt int64
	var kind int
	var seen uint8
	for first := true; ; first = false {
		p.space()
		if p.peek() == '}' && first {
			return j, false // an empty object is missing every field
		}
		key, ok := p.str()
		if !ok {
			return j, false
		}
		p.space()
		if !p.byte(':') {
			return j, false
		}
		p.space()
		var bit uint8
		switch key {
		case "id":
			bit = 1
			id, ok = p.str()
		case "pubkey":
			bit = 2
			pubkey, ok = p.str()
		case "created_at":
			bit = 4
			createdAt, ok = p.int64()
		case "kind":
			bit = 8
			var k int64
			k, ok = p.int64()
			kind = int(k)
			ok = ok && int64(kind) == k
		case "tags":
			bit = 16
			j.Tags, ok = p.tags()
		case "content":
			bit = 32
			content, ok = p.str()
		case "sig":
			bit = 64
			sig, ok = p.str()
		default:
			return j, false
		}
		if !ok || seen&bit != 0 {
			return j, false
		}
		seen |= bit
		p.space()
		if p.byte('}') {
			break
		}
		if !p.byte(',') {
			return j, false
		}
	}
	p.space()
	if p.i != len(p.b) || seen != 127 {
		return j, false
	}
	j.ID, j.PubKey, j.Sig, j.Content = &id, &pubkey, &sig, &content
	j.CreatedAt, j.Kind = &createdAt, &kind
	return j, true
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// int64 reads an integer: an optional minus and digits, no leading zeros,
// within int64.
func (p *fastParser) int64() (int64, bool) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 1 && p.b[digits] == '0' {
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	return v, err == nil
}

// str reads a JSON string. The input is known to be valid UTF-8.
func (p *fastParser) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		p.i++
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++ // the backslash
		if p.i >= len(p.b) {
			return "", false
		}
		esc := p.b[p.i]
		p.i++
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one.
				if r >= 0xdc00 || !p.byte('\\') || !p.byte('u') {
					return "", false
				}
				low, ok := p.hex4()
				if !ok {
					return "", false
				}
				r = utf16.DecodeRune(r, low)
				if r == utf8.RuneError {
					return "", false
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *fastParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// tags reads an array of arrays of strings.
func (p *fastParser) tags() ([][]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	tags := [][]string{}
	p.space()
	if p.byte(']') {
		return tags, true
	}
	for {
		p.space()
		if !p.byte('[') {
			return nil, false
		}
		tag := []string{}
		p.space()
		if !p.byte(']') {
			for {
				p.space()
				s, ok := p.str()
				if !ok {
					return nil, false
				}
				tag = append(tag, s)
				p.space()
				if p.byte(']') {
					break
				}
				if !p.byte(',') {
					return nil, false
				}
			}
		}
		tags = append(tags, tag)
		p.space()
		if p.byte(']') {
			return tags, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}
