package swarm

import (
	"errors"
	"fmt"
	"strings"
)

// ErrFingerprint means an SDP was refused because its DTLS fingerprint is
// not exactly one SHA-256 a=fingerprint line.
var ErrFingerprint = errors.New("refused SDP fingerprint")

// fingerprintHash is the only DTLS fingerprint hash accepted.
const fingerprintHash = "sha-256"

// sdpFingerprint returns the DTLS certificate fingerprint of an SDP as
// "sha-256 AB:CD:…" (hash name in lower case, hex digits in upper case, so
// that both ends of a connection write the same string).
//
// The peerset handshake signs both fingerprints, so the fingerprint read
// here must be the very one the WebRTC stack checks the DTLS certificate
// against. Stacks disagree on which one that is when there are several
// (pion: the first at session level, whatever its hash; libwebrtc: the
// media-level one), so an SDP is refused unless it holds exactly one
// a=fingerprint line, anywhere, and that line is SHA-256 with 32 bytes. A
// rewriting tracker or relay could otherwise show the stack its own
// certificate and peerset another peer's, and splice two connections. Every
// error wraps ErrFingerprint.
func sdpFingerprint(sdp string) (string, error) {
	type occurrence struct{ line, level string }
	var found []occurrence
	level := "session level"
	media := 0
	for line := range strings.Lines(sdp) {
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, "m=") {
			media++
			level = fmt.Sprintf("media section %d", media)
		}
		if countFold(line, "fingerprint") > 0 {
			found = append(found, occurrence{line, level})
		}
	}
	// Count occurrences in the whole text too: a line break that this scan
	// and the stack's parser read differently must not hide a second one.
	total := countFold(sdp, "fingerprint")
	switch {
	case total == 0:
		return "", fmt.Errorf("%w: the SDP has no a=fingerprint line", ErrFingerprint)
	case total > 1:
		var where []string
		for _, o := range found {
			hash, _, _ := strings.Cut(strings.TrimPrefix(o.line, "a=fingerprint:"), " ")
			where = append(where, fmt.Sprintf("%.16s at %s", hash, o.level))
		}
		return "", fmt.Errorf("%w: %d a=fingerprint lines (%s); exactly one %s fingerprint is accepted",
			ErrFingerprint, total, strings.Join(where, ", "), fingerprintHash)
	case len(found) != 1:
		return "", fmt.Errorf("%w: malformed a=fingerprint line", ErrFingerprint)
	}
	o := found[0]
	value, ok := strings.CutPrefix(o.line, "a=fingerprint:")
	if !ok {
		return "", fmt.Errorf("%w: malformed a=fingerprint line %.80q at %s", ErrFingerprint, o.line, o.level)
	}
	hash, digest, ok := strings.Cut(value, " ")
	if !ok {
		return "", fmt.Errorf("%w: malformed a=fingerprint line %.80q at %s", ErrFingerprint, o.line, o.level)
	}
	if !strings.EqualFold(hash, fingerprintHash) {
		return "", fmt.Errorf("%w: %.16q fingerprint at %s; only %s is accepted", ErrFingerprint, hash, o.level, fingerprintHash)
	}
	if !isFingerprintDigest(digest, 32) {
		return "", fmt.Errorf("%w: %s digest %.100q at %s is not 32 colon-separated hex bytes", ErrFingerprint, fingerprintHash, digest, o.level)
	}
	return fingerprintHash + " " + strings.ToUpper(digest), nil
}

// countFold counts the occurrences of the lower-case ASCII word w in s, in
// any ASCII case, without allocating.
func countFold(s, w string) int {
	n := 0
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			n++
			i += len(w) - 1
		}
	}
	return n
}

// isFingerprintDigest reports whether s is n hex bytes separated by colons.
func isFingerprintDigest(s string, n int) bool {
	if len(s) != 3*n-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
