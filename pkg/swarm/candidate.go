package swarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Trickled ICE candidates. Trystero's Nostr strategy sends its candidates
// after the offer or answer, each sealed like an SDP: the sealed text is
// JSON.stringify(RTCIceCandidate.toJSON()), that is {"candidate",
// "sdpMid", "sdpMLineIndex", "usernameFragment"} (docs/nostr-signalling.md
// §5). Our own offers and answers are complete (non-trickle), so we only
// receive candidates.

// maxCandidateBytes bounds one opened candidate: a candidate line is about
// 100–200 bytes.
const maxCandidateBytes = 2048

// iceCandidate is one remote ICE candidate, as RTCIceCandidateInit.
type iceCandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// errBadCandidate is the error of a candidate that cannot be used.
var errBadCandidate = errors.New("malformed ICE candidate")

// parseCandidate reads an opened candidate. null fields are absent; an
// empty candidate is the end of candidates (applied like any other).
func parseCandidate(text string) (iceCandidate, error) {
	if len(text) > maxCandidateBytes {
		return iceCandidate{}, fmt.Errorf("%w: %d bytes, at most %d", errBadCandidate, len(text), maxCandidateBytes)
	}
	var raw struct {
		Candidate        *string         `json:"candidate"`
		SDPMid           *string         `json:"sdpMid"`
		SDPMLineIndex    json.RawMessage `json:"sdpMLineIndex"`
		UsernameFragment *string         `json:"usernameFragment"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return iceCandidate{}, fmt.Errorf("%w: %w", errBadCandidate, err)
	}
	if raw.Candidate == nil {
		return iceCandidate{}, fmt.Errorf("%w: no candidate field", errBadCandidate)
	}
	c := iceCandidate{Candidate: *raw.Candidate, SDPMid: raw.SDPMid, UsernameFragment: raw.UsernameFragment}
	if len(raw.SDPMLineIndex) > 0 && string(raw.SDPMLineIndex) != "null" {
		var idx uint16
		if err := json.Unmarshal(raw.SDPMLineIndex, &idx); err != nil {
			return iceCandidate{}, fmt.Errorf("%w: sdpMLineIndex: %w", errBadCandidate, err)
		}
		c.SDPMLineIndex = &idx
	}
	if c.SDPMid == nil && c.SDPMLineIndex == nil && c.Candidate != "" {
		return iceCandidate{}, fmt.Errorf("%w: neither sdpMid nor sdpMLineIndex", errBadCandidate)
	}
	return c, nil
}

// isMDNS reports whether c's address is an mDNS name (x.local): resolving
// one costs a multicast query, so a connection takes only a few.
func (c iceCandidate) isMDNS() bool {
	// candidate:<foundation> <component> <transport> <priority> <address> ...
	f := strings.Fields(c.Candidate)
	return len(f) > 4 && strings.HasSuffix(strings.ToLower(f[4]), ".local")
}

// countMDNS counts the mDNS candidates of cs.
func countMDNS(cs []iceCandidate) int {
	n := 0
	for _, c := range cs {
		if c.isMDNS() {
			n++
		}
	}
	return n
}

// json is the candidate as the browser's addIceCandidate takes it.
func (c iceCandidate) json() string {
	b, err := json.Marshal(c)
	if err != nil {
		return `{"candidate":""}` // cannot happen: strings and numbers only
	}
	return string(b)
}
