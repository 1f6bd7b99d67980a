//go:build !js

package swarm_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// trickler is a peer that signals like Trystero in a browser: through a
// relay (pkg/nostrsignal), with an offer or answer sent before ICE gathering
// (no candidates in the SDP) and each candidate sent afterwards, sealed, as
// JSON.stringify(RTCIceCandidate.toJSON()). It is raw pion, not a Room.
type trickler struct {
	t       *testing.T
	id      string
	relay   string
	client  *nostrsignal.Client
	signals chan nostrsignal.Signal
	key     [32]byte
	pc      *webrtc.PeerConnection
	opened  chan struct{}
}

func newTrickler(t *testing.T, relay, appID, room, id string) *trickler {
	t.Helper()
	var se webrtc.SettingEngine
	isLoopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(isLoopback)
	se.SetRemoteIPFilter(isLoopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	tr := &trickler{t: t, id: id, relay: relay, signals: make(chan nostrsignal.Signal, 64), key: wire.SDPKey("", appID, room), pc: pc, opened: make(chan struct{})}
	tr.client, err = nostrsignal.New(nostrsignal.Config{Relays: []string{relay}, AppID: appID, Room: room, PeerID: id,
		OnSignal: func(s nostrsignal.Signal) {
			select {
			case tr.signals <- s:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	tr.client.Start(context.Background())
	t.Cleanup(func() { _ = tr.client.Close() })
	return tr
}

// next waits for a signal of kind from peer.
func (tr *trickler) next(kind nostrsignal.SignalKind, peer string) nostrsignal.Signal {
	tr.t.Helper()
	deadline := time.After(joinTimeout)
	for {
		select {
		case s := <-tr.signals:
			if s.Kind == kind && s.PeerID == peer {
				return s
			}
		case <-deadline:
			tr.t.Fatalf("the trickling peer got no %v from %s", kind, peer)
		}
	}
}

// trickle sends every local candidate of offerID to peer as it is gathered.
func (tr *trickler) trickle(peer, offerID string) {
	tr.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		text, err := json.Marshal(c.ToJSON())
		if err != nil {
			tr.t.Error(err)
			return
		}
		sealed, err := wire.SealSDP(tr.key, string(text))
		if err != nil {
			tr.t.Error(err)
			return
		}
		if err := tr.client.Send(context.Background(), tr.relay, peer, nostrsignal.Payload{OfferID: offerID, Candidate: sealed}); err != nil {
			tr.t.Errorf("candidate not sent: %v", err)
		}
	})
}

// withoutCandidates is an SDP as a trickling browser sends it.
func withoutCandidates(sdp string) string {
	var b strings.Builder
	for line := range strings.Lines(sdp) {
		if !strings.HasPrefix(line, "a=candidate:") && !strings.HasPrefix(line, "a=end-of-candidates") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (tr *trickler) seal(sdp string) string {
	tr.t.Helper()
	s, err := wire.SealSDP(tr.key, withoutCandidates(sdp))
	if err != nil {
		tr.t.Fatal(err)
	}
	return s
}

func (tr *trickler) open(sealed string) string {
	tr.t.Helper()
	sdp, err := wire.OpenSDP(tr.key, sealed)
	if err != nil {
		tr.t.Fatal(err)
	}
	return sdp
}

// TestRelayTrickledCandidates: a room connects to a peer that trickles its
// ICE candidates through the relay, whether the room answers its offer or
// it answers the room's; the room applies the candidates (pion
// AddICECandidate) and the data channel opens.
func TestRelayTrickledCandidates(t *testing.T) {
	for _, tc := range []struct {
		name          string
		roomID, trick string // the smaller id offers
	}{
		{"the trickling peer offers", "z" + randomID(19), "0" + randomID(19)},
		{"the trickling peer answers", "0" + randomID(19), "z" + randomID(19)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			relay := startRelay(t)
			name := roomName(t)
			cfg := relayConfig(t, name, relay)
			cfg.PeerID = tc.roomID
			room := newTestPeer(t, cfg)
			tr := newTrickler(t, relay, cfg.AppID, name, tc.trick)
			tr.pc.OnDataChannel(func(dc *webrtc.DataChannel) { dc.OnOpen(func() { close(tr.opened) }) })

			if tc.trick < tc.roomID {
				tr.next(nostrsignal.Announce, tc.roomID)
				dc, err := tr.pc.CreateDataChannel("data", nil)
				if err != nil {
					t.Fatal(err)
				}
				dc.OnOpen(func() { close(tr.opened) })
				offerID := randomID(12)
				tr.trickle(tc.roomID, offerID)
				offer, err := tr.pc.CreateOffer(nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.pc.SetLocalDescription(offer); err != nil {
					t.Fatal(err)
				}
				if err := tr.client.Send(t.Context(), relay, tc.roomID, nostrsignal.Payload{OfferID: offerID, Offer: tr.seal(offer.SDP)}); err != nil {
					t.Fatal(err)
				}
				ans := tr.next(nostrsignal.Answer, tc.roomID)
				if ans.OfferID != offerID {
					t.Fatalf("answer to offer %q, want %q", ans.OfferID, offerID)
				}
				if err := tr.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: tr.open(ans.Sealed)}); err != nil {
					t.Fatal(err)
				}
			} else {
				// The room, smaller, offers when it hears our announcement.
				of := tr.next(nostrsignal.Offer, tc.roomID)
				tr.trickle(tc.roomID, of.OfferID)
				if err := tr.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: tr.open(of.Sealed)}); err != nil {
					t.Fatal(err)
				}
				answer, err := tr.pc.CreateAnswer(nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.pc.SetLocalDescription(answer); err != nil {
					t.Fatal(err)
				}
				if err := tr.client.Send(t.Context(), relay, tc.roomID, nostrsignal.Payload{OfferID: of.OfferID, Answer: tr.seal(answer.SDP)}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-tr.opened:
			case <-time.After(joinTimeout):
				t.Fatalf("the data channel did not open (room relays %+v)", room.room.Relays())
			}
			// Candidates are applied until the connection opens; under load
			// it may open first (on peer-reflexive candidates), and later
			// ones are refused (TestRelayCandidatesBoundedPerConnection
			// shows those before the opening are kept).
			testwait.For(t, "the room to take trickled candidates", 10*time.Second, func() bool {
				return swarm.CandidatesAppliedForTest(room.room)+swarm.CandidatesDroppedForTest(room.room) > 0
			})
		})
	}
}
