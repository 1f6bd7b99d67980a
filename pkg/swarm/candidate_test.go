package swarm

import (
	"errors"
	"testing"
)

func TestParseCandidate(t *testing.T) {
	line := "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"
	tests := []struct {
		name, in string
		ok       bool
		mid      string
		idx      int // -1: absent
	}{
		{"trystero toJSON", `{"candidate":"` + line + `","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}`, true, "0", 0},
		{"nulls", `{"candidate":"` + line + `","sdpMid":null,"sdpMLineIndex":3,"usernameFragment":null}`, true, "", 3},
		{"mid only", `{"candidate":"` + line + `","sdpMid":"data"}`, true, "data", -1},
		{"end of candidates", `{"candidate":""}`, true, "", -1},
		{"no candidate", `{"sdpMid":"0"}`, false, "", -1},
		{"no mid nor index", `{"candidate":"` + line + `"}`, false, "", -1},
		{"index out of range", `{"candidate":"x","sdpMLineIndex":70000}`, false, "", -1},
		{"index negative", `{"candidate":"x","sdpMLineIndex":-1}`, false, "", -1},
		{"candidate not a string", `{"candidate":5,"sdpMid":"0"}`, false, "", -1},
		{"not json", `candidate:1 1 udp`, false, "", -1},
		{"array", `[]`, false, "", -1},
		{"too long", `{"candidate":"` + string(make([]byte, maxCandidateBytes)) + `"}`, false, "", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCandidate(tc.in)
			if !tc.ok {
				if !errors.Is(err, errBadCandidate) {
					t.Fatalf("parseCandidate(%q) = %+v, %v; want errBadCandidate", tc.in, c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCandidate: %v", err)
			}
			if (c.SDPMid != nil) != (tc.mid != "") || (c.SDPMid != nil && *c.SDPMid != tc.mid) {
				t.Errorf("sdpMid = %v, want %q", c.SDPMid, tc.mid)
			}
			if (c.SDPMLineIndex != nil) != (tc.idx >= 0) || (c.SDPMLineIndex != nil && int(*c.SDPMLineIndex) != tc.idx) {
				t.Errorf("sdpMLineIndex = %v, want %d", c.SDPMLineIndex, tc.idx)
			}
			again, err := parseCandidate(c.json())
			if err != nil || again.Candidate != c.Candidate {
				t.Errorf("round trip of %s: %+v, %v", c.json(), again, err)
			}
		})
	}
}

func FuzzParseCandidate(f *testing.F) {
	f.Add(`{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}`)
	f.Add(`{"candidate":""}`)
	f.Add(`{"candidate":"x","sdpMLineIndex":1e3}`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCandidate(s)
		if err != nil {
			return
		}
		if j := c.json(); len(j) <= maxCandidateBytes { // escaping may lengthen it
			if _, err := parseCandidate(j); err != nil {
				t.Fatalf("a parsed candidate does not parse again: %s: %v", j, err)
			}
		}
	})
}
