//go:build nostrinterop

// A real Trystero Nostr-strategy peer (interop/node/trystero-nostr-peer.mjs)
// joins a room through pkg/nostrrelay on loopback, and pkg/nostrsignal
// clients decode what it publishes: its room announcement, the sealed offer
// it addresses to a peer with a larger id (opened with pkg/swarm's key and
// checked to be an SDP) and the directed announcement it sends a peer with a
// smaller id. Then pion answers that offer through the relay (sealed, with
// its candidates in the SDP), applies Trystero's trickled candidates, and the
// WebRTC data channel Trystero opened comes up on loopback: the signalling
// is complete end to end. (Trystero's onPeerJoin needs its data-channel
// handshake, which is the room's business, not this test's.) Not part of
// make test yet:
//
//	cd interop/node && npm ci && cd .. && go test -tags nostrinterop -run TestTrysteroNostr -count=1 .
package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/nostrsignal"
	"github.com/peersetdb/peerset/pkg/wire"
)

type signalLog struct {
	mu  sync.Mutex
	got []nostrsignal.Signal
}

func (l *signalLog) add(s nostrsignal.Signal) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
}

func (l *signalLog) find(ok func(nostrsignal.Signal) bool) (nostrsignal.Signal, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.got {
		if ok(s) {
			return s, true
		}
	}
	return nostrsignal.Signal{}, false
}

func waitSignal(t *testing.T, l *signalLog, d time.Duration, what string, ok func(nostrsignal.Signal) bool) nostrsignal.Signal {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s, found := l.find(ok); found {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no %s within %v; received %+v", what, d, l.got)
	return nostrsignal.Signal{}
}

func TestTrysteroNostrPeerDecodes(t *testing.T) {
	requireNodeDeps(t)
	const app, room = "peerset-nostr-interop", "lobby"

	relay := nostrrelay.New(nostrrelay.Config{})
	srv := httptest.NewServer(relay)
	defer srv.Close()
	defer relay.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	cfg, _ := json.Marshal(map[string]any{"appId": app, "roomId": room, "relays": []string{url}})
	cmd := exec.Command("node", "node/trystero-nostr-peer.mjs", string(cfg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("node stderr:\n%s", stderr.String())
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev struct{ Event, SelfID string }
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "ready" {
				ready <- ev.SelfID
			}
			t.Logf("node: %s", sc.Text())
		}
	}()
	var theirID string
	select {
	case theirID = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("the Trystero peer did not start; stderr:\n%s", stderr.String())
	}

	// Trystero's ids use 0-9A-Za-z, compared as strings: "0…0" sorts below
	// and "z…z" above any id it draws (barring those exact ids).
	low, high := strings.Repeat("0", 20), strings.Repeat("z", 20)
	start := func(id string) (*nostrsignal.Client, *signalLog) {
		l := &signalLog{}
		c, err := nostrsignal.New(nostrsignal.Config{Relays: []string{url}, AppID: app, Room: room, PeerID: id, OnSignal: l.add})
		if err != nil {
			t.Fatal(err)
		}
		c.Start(context.Background())
		t.Cleanup(func() { c.Close() })
		return c, l
	}
	_, lowLog := start(low)
	highClient, highLog := start(high)

	fromThem := func(kind nostrsignal.SignalKind, direct bool) func(nostrsignal.Signal) bool {
		return func(s nostrsignal.Signal) bool { return s.PeerID == theirID && s.Kind == kind && s.Direct == direct }
	}
	// 1. Its room announcement reaches both.
	waitSignal(t, lowLog, 20*time.Second, "room announcement at low", fromThem(nostrsignal.Announce, false))
	waitSignal(t, highLog, 20*time.Second, "room announcement at high", fromThem(nostrsignal.Announce, false))

	// 2. Hearing high's announcement, Trystero (the smaller id) offers to
	// high: a sealed SDP that opens with the room's key.
	offer := waitSignal(t, highLog, 20*time.Second, "offer at high", fromThem(nostrsignal.Offer, true))
	if len(offer.OfferID) != 12 {
		t.Errorf("offer id %q: Trystero's are 12 characters", offer.OfferID)
	}
	sdp, err := wire.OpenSDP(wire.SDPKey("", app, room), offer.Sealed)
	if err != nil {
		t.Fatalf("open the sealed offer: %v", err)
	}
	if !strings.HasPrefix(sdp, "v=0") || !strings.Contains(sdp, "a=ice-ufrag:") {
		t.Fatalf("sealed offer opened to %.80q, not an SDP", sdp)
	}

	// 3. Hearing low's announcement, Trystero (the larger id) asks low to
	// offer with a bare {peerId} on low's own topic.
	waitSignal(t, lowLog, 20*time.Second, "directed announcement at low", fromThem(nostrsignal.Announce, true))
	if _, found := lowLog.find(fromThem(nostrsignal.Offer, true)); found {
		t.Fatal("Trystero offered to the peer with the smaller id")
	}

	// 4. Answer with pion through the relay the offer came by, and feed it
	// Trystero's trickled candidates until the data channel opens.
	opened, problems := answerWithPion(t, highClient, highLog, offer, sdp, app, room, theirID)
	select {
	case label := <-opened:
		for _, p := range problems() {
			t.Error(p)
		}
		n := 0
		highLog.mu.Lock()
		for _, s := range highLog.got {
			if s.Kind == nostrsignal.Candidate && s.PeerID == theirID {
				n++
			}
		}
		highLog.mu.Unlock()
		t.Logf("%d trickled candidates received (each opened to RTCIceCandidateInit JSON); %d candidates inside the offer SDP", n, strings.Count(sdp, "a=candidate:"))
		t.Logf("Trystero peer %s: announcement, offer (%d-byte SDP), directed announcement decoded; data channel %q open", theirID, len(sdp), label)
	case <-time.After(30 * time.Second):
		t.Fatal("the data channel did not open within 30 s of answering")
	}
}

// answerWithPion answers the opened offer sdp from peer them, loopback only,
// and returns a channel that receives the data channel's label once open,
// and the problems met applying Trystero's trickled candidates.
func answerWithPion(t *testing.T, c *nostrsignal.Client, log *signalLog, offer nostrsignal.Signal, sdp, app, room, them string) (<-chan string, func() []string) {
	t.Helper()
	var se webrtc.SettingEngine
	isLoopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(isLoopback)
	se.SetRemoteIPFilter(isLoopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	opened := make(chan string, 1)
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnOpen(func() {
			select {
			case opened <- dc.Label():
			default:
			}
		})
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		t.Fatalf("set Trystero's offer: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	key := wire.SDPKey("", app, room)
	sealed, err := wire.SealSDP(key, pc.LocalDescription().SDP)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, offer.Relay, them, nostrsignal.Payload{OfferID: offer.OfferID, Answer: sealed}); err != nil {
		t.Fatalf("send the answer: %v", err)
	}
	// Apply every candidate Trystero trickles for this offer, until the
	// connection is up or the test ends.
	done := make(chan struct{})
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	stopped := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		<-stopped
	})
	go func() {
		defer close(stopped)
		applied := map[string]bool{}
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			log.mu.Lock()
			var fresh []nostrsignal.Signal
			for _, s := range log.got {
				if s.Kind == nostrsignal.Candidate && s.PeerID == them && !applied[s.Sealed] {
					applied[s.Sealed] = true
					fresh = append(fresh, s)
				}
			}
			log.mu.Unlock()
			for _, s := range fresh {
				text, err := wire.OpenSDP(key, s.Sealed)
				if err != nil {
					report("open a trickled candidate: %v", err)
					continue
				}
				var cand webrtc.ICECandidateInit
				if err := json.Unmarshal([]byte(text), &cand); err != nil || cand.Candidate == "" {
					report("candidate %q is not RTCIceCandidateInit JSON: %v", text, err)
					continue
				}
				// Candidates pion cannot use (other address families) are
				// not an interop failure.
				_ = pc.AddICECandidate(cand)
			}
			if pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
				return
			}
		}
	}()
	return opened, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}
