//go:build nostrinterop

// A real Trystero 0.25.4 peer on the Nostr strategy (interop/node/
// trystero-peer.mjs with strategy "nostr", werift as its WebRTC) and a
// native pkg/swarm room with only a loopback pkg/nostrrelay relay (no
// tracker) find each other, join both ways and exchange actions over the
// data channel, with either side's id the smaller (so either side offers).
package interop

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

func TestTrysteroNostrMeetsNativeRoom(t *testing.T) {
	requireNodeDeps(t)
	relay := nostrrelay.New(nostrrelay.Config{})
	srv := httptest.NewServer(relay)
	t.Cleanup(func() {
		srv.Close()
		_ = relay.Close()
	})
	relayURL := "ws" + strings.TrimPrefix(srv.URL, "http")

	tests := []struct {
		name, goIDPrefix, password string
	}{
		{"Go id lower: Go offers", "00000", ""},
		{"Go id higher: Trystero offers", "zzzzz", ""},
		{"password, Go id lower", "00000", "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roomName := "nostr-" + strings.NewReplacer(" ", "-", ",", "", ":", "").Replace(tc.name)
			peerID, err := wire.NewPeerID()
			if err != nil {
				t.Fatal(err)
			}
			peerID = tc.goIDPrefix + peerID[len(tc.goIDPrefix):]
			node := startNodePeer(t, nodePeerConfig{
				AppID:    trysteroAppID,
				RoomID:   roomName,
				Trackers: []string{relayURL},
				Password: tc.password,
				Actions:  []string{"chat", "blob"},
				Strategy: "nostr",
			})
			start := time.Now()
			g := startGoRoomConfig(t, swarm.Config{
				AppID:              trysteroAppID,
				Room:               roomName,
				Password:           tc.password,
				PeerID:             peerID,
				Relays:             []string{relayURL},
				ICEServers:         []webrtc.ICEServer{},
				LoopbackCandidates: true,
			})
			if n := len(g.room.Trackers()); n != 0 {
				t.Fatalf("the Go room has %d trackers, want none", n)
			}
			checkTrysteroJoinAndExchange(t, g, node, start)
		})
	}
}
