package swarm

import "strings"

// sdpFingerprint returns the DTLS certificate fingerprint of an SDP, as
// "sha-256 AB:CD:…": the value of its first a=fingerprint line, preferring
// SHA-256, with the hash name in lower case and the hex digits in upper case
// so that both ends of a connection write the same string. It returns "" if
// the SDP has no fingerprint.
func sdpFingerprint(sdp string) string {
	var first string
	for line := range strings.Lines(sdp) {
		value, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=fingerprint:")
		if !ok {
			continue
		}
		hash, digest, ok := strings.Cut(strings.TrimSpace(value), " ")
		if !ok {
			continue
		}
		fp := strings.ToLower(hash) + " " + strings.ToUpper(strings.TrimSpace(digest))
		if strings.EqualFold(hash, "sha-256") {
			return fp
		}
		if first == "" {
			first = fp
		}
	}
	return first
}
