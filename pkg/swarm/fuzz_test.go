package swarm

import (
	"errors"
	"strings"
	"testing"
)

// Run it with go test -run=^$ -fuzz=FuzzSDPFingerprint ./pkg/swarm

// FuzzSDPFingerprint checks that an accepted SDP has exactly one
// fingerprint, SHA-256, and that the result is in canonical form.
func FuzzSDPFingerprint(f *testing.F) {
	f.Add(pionLikeOffer)
	f.Add(browserLikeAnswer)
	f.Add(sdpWith([]string{"a=fingerprint:sha-384 " + digest384}, []string{"a=fingerprint:sha-256 " + digest256}))
	f.Add("a=fingerprint:sha-256 " + digest256 + "\ra=fingerprint:sha-256 " + digest256)
	f.Fuzz(func(t *testing.T, sdp string) {
		fp, err := sdpFingerprint(sdp)
		if err != nil {
			if !errors.Is(err, ErrFingerprint) {
				t.Fatalf("error %v does not wrap ErrFingerprint", err)
			}
			return
		}
		asciiLower := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, sdp)
		if n := strings.Count(asciiLower, "fingerprint"); n != 1 {
			t.Fatalf("accepted an SDP with %d fingerprints", n)
		}
		digest, ok := strings.CutPrefix(fp, "sha-256 ")
		if !ok || !isFingerprintDigest(digest, 32) || strings.ToUpper(digest) != digest {
			t.Fatalf("fingerprint %q is not canonical", fp)
		}
		if !strings.Contains(strings.ToUpper(sdp), strings.ToUpper(digest)) {
			t.Fatalf("fingerprint %q is not in the SDP", fp)
		}
	})
}
