//go:build js && wasm

package swarm

import (
	"context"
	"testing"
)

// TestBrowserAddCandidate: a trickled candidate reaches the page's WebRTC
// host as RTCIceCandidateInit JSON, which it parses back the same.
func TestBrowserAddCandidate(t *testing.T) {
	host := &fakeHost{answerSDP: browserLikeAnswer}
	host.install(t)
	pc, err := newRTCAPI(Config{}).newPeer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.close()
	c, err := parseCandidate(`{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.addCandidate(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	host.mu.Lock()
	got := append([]string(nil), host.candidates...)
	host.mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the host got %d candidates, want 1", len(got))
	}
	back, err := parseCandidate(got[0])
	if err != nil || back.Candidate != c.Candidate || back.SDPMid == nil || *back.SDPMid != "0" || back.SDPMLineIndex == nil || *back.SDPMLineIndex != 0 || back.UsernameFragment == nil || *back.UsernameFragment != "abcd" {
		t.Fatalf("the host got %s (%+v, %v)", got[0], back, err)
	}
}
