package moderation

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

//go:embed wordlists/tlds.txt
var defaultTLDs string

// DefaultTLDs returns the embedded list of top-level domains
// (wordlists/tlds.txt).
func DefaultTLDs() []string { return ParseList(defaultTLDs) }

// LinkScanner finds links in prose. Something is a link when it is:
//   - a URL with a scheme: "https://…", "http://…", "ftp://…" (any
//     "scheme://" followed by text);
//   - a name starting with "www.": "www.example.org";
//   - a dotted host name whose last label is a listed top-level domain,
//     written in lowercase or all capitals: "example.com", "EXAMPLE.COM";
//   - a dotted host name, or an IPv4 address, followed by a path or a port:
//     "example.anything/x", "10.0.0.1/admin", "example.zz:8080".
//
// So "3.14", "v1.2.3", "e.g.", "i.e.", "a.m.", "U.S.", "file.txt",
// "Node.js" and sentence joins without a space such as "end.Next" or
// "there.It" (a capitalised last label) are not links. E-mail addresses
// are not links either: the domain after an '@' is skipped, so
// "ann@example.com" passes (a "mailto:" URL does not have "//" and passes
// too). Known gaps: a lowercase join of two words whose second is a
// listed domain ("ok.so", "it.is") counts as a link, and so do
// all-capital terms like "ASP.NET"; a title-case "Example.Com" does not.
type LinkScanner struct {
	tlds map[string]bool
}

// NewLinkScanner makes a scanner that knows the top-level domains tlds
// (with or without a leading dot, any case).
func NewLinkScanner(tlds []string) *LinkScanner {
	s := &LinkScanner{tlds: map[string]bool{}}
	for _, t := range tlds {
		if t = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(t)), "."); t != "" {
			s.tlds[t] = true
		}
	}
	return s
}

// Find returns the first link in text, as written there (without trailing
// punctuation).
func (s *LinkScanner) Find(text string) (string, bool) {
	if link, ok := findSchemeURL(text); ok {
		return link, true
	}
	start := -1
	for i, r := range text {
		if isHostRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if link, ok := s.hostLink(text, start, i); ok {
				return link, true
			}
			start = -1
		}
	}
	if start >= 0 {
		return s.hostLink(text, start, len(text))
	}
	return "", false
}

// findSchemeURL finds "scheme://x": a scheme is a letter followed by
// letters, digits, '+', '-' or '.'.
func findSchemeURL(text string) (string, bool) {
	for from := 0; ; {
		i := strings.Index(text[from:], "://")
		if i < 0 {
			return "", false
		}
		i += from
		from = i + 3
		j := i
		for j > 0 && isSchemeByte(text[j-1]) {
			j--
		}
		for j < i && !isASCIILetter(text[j]) {
			j++
		}
		if j == i || from >= len(text) {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(text[from:]); unicode.IsSpace(r) {
			continue
		}
		return linkAt(text, j), true
	}
}

// hostLink judges the run text[start:end] of host characters.
func (s *LinkScanner) hostLink(text string, start, end int) (string, bool) {
	if start > 0 && text[start-1] == '@' {
		return "", false // the domain of an e-mail address
	}
	run := text[start:end]
	trimmed := strings.TrimLeft(run, ".-")
	start += len(run) - len(trimmed)
	host := strings.TrimRight(trimmed, ".-")
	if !strings.Contains(host, ".") {
		return "", false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if !validLabel(l) {
			return "", false
		}
	}
	tld := labels[len(labels)-1]
	if strings.EqualFold(labels[0], "www") {
		return linkAt(text, start), true
	}
	caseOK := tld == strings.ToLower(tld) || tld == strings.ToUpper(tld)
	alphaTLD := len(tld) >= 2 && allASCIILetters(tld) && caseOK
	if alphaTLD && s.tlds[strings.ToLower(tld)] {
		return linkAt(text, start), true
	}
	// A path or a port right after the host (no trailing dot trimmed).
	if len(host) == len(trimmed) && end < len(text) {
		next := text[end]
		pathOrPort := next == '/' || next == ':' && end+1 < len(text) && isDigit(text[end+1])
		if pathOrPort && (alphaTLD || isIPv4(labels)) {
			return linkAt(text, start), true
		}
	}
	return "", false
}

// linkAt returns the link starting at start: up to the next white space,
// without trailing punctuation.
func linkAt(text string, start int) string {
	rest := text[start:]
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		rest = rest[:i]
	}
	return strings.TrimRight(rest, `.,;:!?)]}>"'`)
}

func isHostRune(r rune) bool {
	return r == '.' || r == '-' || r < utf8.RuneSelf && (isASCIILetter(byte(r)) || isDigit(byte(r))) ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// validLabel: letters, digits and inner hyphens, at most 63 bytes.
func validLabel(l string) bool {
	return l != "" && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
}

func isIPv4(labels []string) bool {
	if len(labels) != 4 {
		return false
	}
	for _, l := range labels {
		if len(l) > 3 || !allDigits(l) {
			return false
		}
	}
	return true
}

func isSchemeByte(c byte) bool {
	return isASCIILetter(c) || isDigit(c) || c == '+' || c == '-' || c == '.'
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }

func allASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isASCIILetter(s[i]) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}
