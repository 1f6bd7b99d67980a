//go:build !js

package peerset

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/wire"
)

// spliceTracker is a WebTorrent tracker for one room without a password
// that is also a man in the middle (security review M4). Anyone can open
// and seal the SDPs of such a room, so the tracker takes one offer from
// each of two peers A and C, answers both itself with a WebRTC peer of its
// own, and rewrites its answers: its own certificate's sha-384 fingerprint
// at session level, where pion looks, and the other victim's sha-256
// fingerprint at media level, where peerset used to look. It then relays
// the data channels between A and C, so that each believes it talks to the
// other over a connection whose DTLS fingerprints are the other's. Once
// honest, it forwards offers and answers like any tracker.
type spliceTracker struct {
	t        *testing.T
	url      string
	infoHash string
	key      [32]byte
	api      *webrtc.API
	cert     webrtc.Certificate
	certFP   string // sha-384 fingerprint of cert, upper-case hex with colons

	mu       sync.Mutex
	honest   bool
	conns    map[string]*trackerConn // by peer id
	victims  []victimOffer           // one offer per peer, until the splice
	spliced  bool
	answered chan struct{} // closed when both rewritten answers are out
	pcs      []*webrtc.PeerConnection
}

type trackerConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

func (c *trackerConn) send(m wire.TrackerMessage) error {
	data, err := wire.EncodeTrackerMessage(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

type victimOffer struct {
	peerID, offerID, sdp string
}

func startSpliceTracker(t *testing.T, appID, room string) *spliceTracker {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := cert.PEM()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("no certificate in %q", certPEM)
	}
	sum := sha512.Sum384(block.Bytes)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}

	var se webrtc.SettingEngine
	isLoopback := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(isLoopback)
	se.SetRemoteIPFilter(isLoopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)

	m := &spliceTracker{
		t:        t,
		infoHash: wire.InfoHash(appID, room),
		key:      wire.SDPKey("", appID, room),
		api:      webrtc.NewAPI(webrtc.WithSettingEngine(se)),
		cert:     *cert,
		certFP:   strings.Join(hexes, ":"),
		conns:    map[string]*trackerConn{},
		answered: make(chan struct{}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(m.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	m.url = "ws://" + ln.Addr().String() + "/announce"
	t.Cleanup(func() {
		_ = srv.Close()
		m.mu.Lock()
		pcs := m.pcs
		m.mu.Unlock()
		for _, pc := range pcs {
			_ = pc.Close()
		}
	})
	return m
}

func (m *spliceTracker) setHonest() {
	m.mu.Lock()
	m.honest = true
	m.mu.Unlock()
}

func (m *spliceTracker) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	conn := &trackerConn{ws: ws}
	ctx := context.Background()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			_ = ws.CloseNow()
			return
		}
		req, err := wire.DecodeAnnounceRequest(data)
		if err != nil || req.InfoHash != m.infoHash {
			continue
		}
		m.mu.Lock()
		m.conns[req.PeerID] = conn
		honest := m.honest
		peers := len(m.conns)
		m.mu.Unlock()

		if req.Answer != nil {
			if honest {
				m.mu.Lock()
				to := m.conns[req.ToPeerID]
				m.mu.Unlock()
				if to != nil {
					_ = to.send(&wire.ForwardedAnswer{Action: wire.TrackerActionAnnounce, Answer: *req.Answer,
						OfferID: req.OfferID, PeerID: req.PeerID, InfoHash: m.infoHash})
				}
			}
			continue
		}
		_ = conn.send(&wire.AnnounceReply{Action: wire.TrackerActionAnnounce, Interval: 120, InfoHash: m.infoHash,
			Incomplete: peers})
		for _, o := range req.Offers {
			if honest {
				m.forwardOffer(req.PeerID, o)
				continue
			}
			m.collect(req.PeerID, o)
		}
	}
}

// forwardOffer passes an offer on to every other peer, untouched.
func (m *spliceTracker) forwardOffer(from string, o wire.TrackerOffer) {
	m.mu.Lock()
	var to []*trackerConn
	for id, c := range m.conns {
		if id != from {
			to = append(to, c)
		}
	}
	m.mu.Unlock()
	for _, c := range to {
		_ = c.send(&wire.ForwardedOffer{Action: wire.TrackerActionAnnounce, Offer: o.Offer, OfferID: o.OfferID,
			PeerID: from, InfoHash: m.infoHash})
	}
}

// collect keeps the first offer of each of two peers and then splices them.
func (m *spliceTracker) collect(from string, o wire.TrackerOffer) {
	m.mu.Lock()
	if m.spliced {
		m.mu.Unlock()
		return
	}
	for _, v := range m.victims {
		if v.peerID == from {
			m.mu.Unlock()
			return
		}
	}
	sdp, err := wire.OpenSDP(m.key, o.Offer.SDP)
	if err != nil {
		m.mu.Unlock()
		m.t.Errorf("the splicing tracker cannot open an offer of a room without password: %v", err)
		return
	}
	m.victims = append(m.victims, victimOffer{peerID: from, offerID: o.OfferID, sdp: sdp})
	if len(m.victims) < 2 {
		m.mu.Unlock()
		return
	}
	m.spliced = true
	a, c := m.victims[0], m.victims[1]
	m.mu.Unlock()
	go m.splice(a, c)
}

// sha256Fingerprint is the value of the one sha-256 fingerprint line of an
// honest SDP.
func sha256Fingerprint(t *testing.T, sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:sha-256 "); ok {
			return v
		}
	}
	t.Fatalf("no sha-256 fingerprint in %q", sdp)
	return ""
}

// splice answers a's offer as c and c's offer as a, and relays between them.
func (m *spliceTracker) splice(a, c victimOffer) {
	pcA, toA := m.answer(a.sdp, sha256Fingerprint(m.t, c.sdp))
	pcC, toC := m.answer(c.sdp, sha256Fingerprint(m.t, a.sdp))
	if pcA == nil || pcC == nil {
		return
	}
	relay := &dcRelay{}
	pcA.OnDataChannel(func(dc *webrtc.DataChannel) { relay.attach(0, dc) })
	pcC.OnDataChannel(func(dc *webrtc.DataChannel) { relay.attach(1, dc) })

	m.mu.Lock()
	connA, connC := m.conns[a.peerID], m.conns[c.peerID]
	m.mu.Unlock()
	seal := func(sdp string) wire.SessionDescription {
		sealed, err := wire.SealSDP(m.key, sdp)
		if err != nil {
			m.t.Error(err)
		}
		return wire.SessionDescription{Type: wire.SDPTypeAnswer, SDP: sealed}
	}
	// A gets an answer "from C", C one "from A".
	if err := connA.send(&wire.ForwardedAnswer{Action: wire.TrackerActionAnnounce, Answer: seal(toA), OfferID: a.offerID,
		PeerID: c.peerID, InfoHash: m.infoHash}); err != nil {
		m.t.Errorf("failed to send the rewritten answer: %v", err)
	}
	if err := connC.send(&wire.ForwardedAnswer{Action: wire.TrackerActionAnnounce, Answer: seal(toC), OfferID: c.offerID,
		PeerID: a.peerID, InfoHash: m.infoHash}); err != nil {
		m.t.Errorf("failed to send the rewritten answer: %v", err)
	}
	close(m.answered)
}

// answer answers an offer with the tracker's own peer connection and
// rewrites the answer: the tracker's sha-384 fingerprint at session level
// (what pion checks the DTLS certificate against) and victimFP as a sha-256
// fingerprint at media level (what the other victim's SDP carried).
func (m *spliceTracker) answer(offer, victimFP string) (*webrtc.PeerConnection, string) {
	pc, err := m.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{m.cert}})
	if err != nil {
		m.t.Error(err)
		return nil, ""
	}
	m.mu.Lock()
	m.pcs = append(m.pcs, pc)
	m.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		m.t.Error(err)
		return nil, ""
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		m.t.Error(err)
		return nil, ""
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		m.t.Error(err)
		return nil, ""
	}
	<-gathered
	var out strings.Builder
	replaced := false
	for line := range strings.Lines(pc.LocalDescription().SDP) {
		if strings.HasPrefix(line, "a=fingerprint:") {
			out.WriteString("a=fingerprint:sha-384 " + m.certFP + "\r\n")
			replaced = true
			continue
		}
		out.WriteString(line)
	}
	if !replaced {
		m.t.Error("pion wrote no fingerprint line")
	}
	out.WriteString("a=fingerprint:sha-256 " + victimFP + "\r\n") // the end of the (only) media section
	return pc, out.String()
}

// dcRelay copies the messages of two data channels to each other, holding
// them until the other side is open.
type dcRelay struct {
	mu      sync.Mutex
	dcs     [2]*webrtc.DataChannel
	open    [2]bool
	pending [2][]webrtc.DataChannelMessage // for side i, not yet sent
}

func (r *dcRelay) attach(side int, dc *webrtc.DataChannel) {
	r.mu.Lock()
	r.dcs[side] = dc
	r.mu.Unlock()
	dc.OnOpen(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.open[side] = true
		for _, msg := range r.pending[side] {
			sendRelayed(dc, msg)
		}
		r.pending[side] = nil
	})
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		r.mu.Lock()
		defer r.mu.Unlock()
		other := 1 - side
		if !r.open[other] {
			r.pending[other] = append(r.pending[other], msg)
			return
		}
		sendRelayed(r.dcs[other], msg)
	})
}

func sendRelayed(dc *webrtc.DataChannel, msg webrtc.DataChannelMessage) {
	if msg.IsString {
		_ = dc.SendText(string(msg.Data))
		return
	}
	_ = dc.Send(msg.Data)
}

// logBuffer collects a DB's debug log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines(substrings ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
next:
	for line := range strings.Lines(b.buf.String()) {
		for _, s := range substrings {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// authenticatedWith reports whether db holds an authenticated session with
// the given key.
func authenticatedWith(db *DB, other *DB) bool {
	for _, s := range db.Sessions() {
		if s.State.Authenticated() && s.PubKey == other.Key() {
			return true
		}
	}
	return false
}

// sessionKeys lists db's authenticated sessions as "peer id (key)".
func sessionKeys(db *DB) []string {
	var out []string
	for _, s := range db.Sessions() {
		if s.State.Authenticated() {
			out = append(out, fmt.Sprintf("%s (%s)", s.PeerID, s.PubKey))
		}
	}
	return out
}

func anyAuthenticated(db *DB) bool {
	for _, s := range db.Sessions() {
		if s.State.Authenticated() {
			return true
		}
	}
	return false
}

// TestSpliceThroughARewritingTrackerIsRefused is the fingerprint splice of the
// security review (M4): a tracker of a room without a password rewrites the
// SDPs so that pion checks DTLS against the tracker's own (sha-384)
// certificate while peerset binds the handshake to the other victim's
// (sha-256) fingerprint, and relays the data channels. The two peers must
// never get an authenticated session through it, and the refusal must name
// the fingerprint. Once the tracker forwards honestly, they connect.
func TestSpliceThroughARewritingTrackerIsRefused(t *testing.T) {
	const room = "splice"
	mitm := startSpliceTracker(t, DefaultAppID, room)
	logsA, logsC := &logBuffer{}, &logBuffer{}
	a := openNetPeer(t, "a", nil, room).DB
	c := openNetPeer(t, "c", nil, room).DB
	ctx := context.Background()
	for _, p := range []struct {
		db   *DB
		logs *logBuffer
	}{{a, logsA}, {c, logsC}} {
		opts := testJoinOptions(mitm.url)
		scfg := *opts.Swarm
		scfg.Logger = slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts.Swarm = &scfg
		if err := p.db.Join(ctx, opts); err != nil {
			t.Fatal(err)
		}
	}

	select {
	case <-mitm.answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the splicing tracker never got an offer from both peers")
	}
	// Give the splice time to work: on loopback a relayed connection and
	// the handshake take well under a second.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if anyAuthenticated(a) || anyAuthenticated(c) {
			t.Fatalf("spliced through the tracker: a authenticated %v, c authenticated %v", sessionKeys(a), sessionKeys(c))
		}
	}
	refusals := append(logsA.lines("could not join", "fingerprint"), logsC.lines("could not join", "fingerprint")...)
	if len(refusals) == 0 {
		t.Fatalf("no refusal naming the fingerprint was reported; a's log:\n%s", strings.Join(logsA.lines("could not join"), "\n"))
	}
	t.Logf("refused: %s", refusals[0])

	// The same two peers, through a tracker that no longer rewrites.
	mitm.setHonest()
	testwait.For(t, "a and c to authenticate each other through an honest tracker", 30*time.Second, func() bool {
		return authenticatedWith(a, c) && authenticatedWith(c, a)
	})
}
