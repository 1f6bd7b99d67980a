package moderation

import (
	_ "embed"
	"strings"
	"unicode"
)

//go:embed wordlists/en.txt
var englishBadWords string

// DefaultBadWords returns the embedded English list (wordlists/en.txt).
func DefaultBadWords() []string { return ParseList(englishBadWords) }

// ParseList reads a list kept as data: one entry per line, lowercased and
// trimmed; blank lines and lines starting with '#' are skipped.
func ParseList(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		line = strings.ToLower(strings.TrimSpace(line))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// WordFilter finds listed words in text. It matches whole words only, case
// insensitively, so "class", "assess" and "Scunthorpe" never match "ass" or
// "cunt". A word is a run of letters, digits, '@' and '$'. Two cheap
// obfuscations are undone:
//   - letters repeated three or more times ("fuuuck", "asssss") are tried
//     collapsed to one and to two letters;
//   - leetspeak (0→o 1→i 3→e 4→a 5→s 7→t @→a $→s) is undone in words with
//     at least two letters, or one letter and an '@' or '$' ("sh1t", "a$$"),
//     so that codes like "A55" stay innocent.
//
// Spacing and punctuation tricks ("f.u.c.k"), look-alike letters from other
// scripts and accents are not undone.
type WordFilter struct {
	words map[string]bool
}

// NewWordFilter makes a filter of list plus extra, minus allowed.
func NewWordFilter(list, extra, allowed []string) *WordFilter {
	f := &WordFilter{words: map[string]bool{}}
	for _, group := range [][]string{list, extra} {
		for _, w := range group {
			if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
				f.words[w] = true
			}
		}
	}
	for _, w := range allowed {
		delete(f.words, strings.ToLower(strings.TrimSpace(w)))
	}
	return f
}

// Len returns the number of words in the filter.
func (f *WordFilter) Len() int { return len(f.words) }

// Find returns the first word of text that the filter matches, as written
// in text.
func (f *WordFilter) Find(text string) (string, bool) {
	if len(f.words) == 0 {
		return "", false
	}
	start := -1
	for i, r := range text {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if f.matches(text[start:i]) {
				return text[start:i], true
			}
			start = -1
		}
	}
	if start >= 0 && f.matches(text[start:]) {
		return text[start:], true
	}
	return "", false
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '@' || r == '$'
}

// matches reports whether the word token, or one of its de-obfuscated
// forms, is listed.
func (f *WordFilter) matches(token string) bool {
	lower := strings.ToLower(token)
	if f.hasWithRepeats(lower) {
		return true
	}
	var letters int
	var symbols, digits bool
	for _, r := range lower {
		switch {
		case r == '@' || r == '$':
			symbols = true
		case unicode.IsLetter(r):
			letters++
		default:
			digits = true
		}
	}
	if symbols {
		// "shit@home", "$shit$": the parts between the symbols.
		for part := range strings.FieldsFuncSeq(lower, func(r rune) bool { return r == '@' || r == '$' }) {
			if f.hasWithRepeats(part) {
				return true
			}
		}
	}
	if (symbols || digits) && (letters >= 2 || letters == 1 && symbols) {
		return f.hasWithRepeats(strings.Map(unLeet, lower))
	}
	return false
}

func unLeet(r rune) rune {
	switch r {
	case '0':
		return 'o'
	case '1':
		return 'i'
	case '3':
		return 'e'
	case '4', '@':
		return 'a'
	case '5', '$':
		return 's'
	case '7':
		return 't'
	}
	return r
}

// hasWithRepeats checks w, and if it repeats a letter three or more times,
// w with those runs collapsed to one and to two letters.
func (f *WordFilter) hasWithRepeats(w string) bool {
	if f.words[w] {
		return true
	}
	if !hasLongRun(w) {
		return false
	}
	return f.words[collapseRuns(w, 1)] || f.words[collapseRuns(w, 2)]
}

func hasLongRun(w string) bool {
	var prev rune
	n := 0
	for _, r := range w {
		if r == prev {
			if n++; n >= 3 {
				return true
			}
		} else {
			prev, n = r, 1
		}
	}
	return false
}

// collapseRuns shortens every run of three or more equal runes to keep runes.
func collapseRuns(w string, keep int) string {
	rs := []rune(w)
	var b strings.Builder
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		n := j - i
		if n >= 3 {
			n = keep
		}
		for k := 0; k < n; k++ {
			b.WriteRune(rs[i])
		}
		i = j
	}
	return b.String()
}
