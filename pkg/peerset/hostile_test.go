//go:build !js

package peerset

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// hostile is a peer that speaks the transport correctly but the peerset
// protocol however a test script tells it to. It is built on a raw
// swarm.Room, with no session.Manager.
type hostile struct {
	t      *testing.T
	room   *swarm.Room
	key    *record.SecretKey
	roomID string

	mu     sync.Mutex
	nonce  map[string][32]byte      // our nonce per peer
	hellos map[string]session.Hello // their hello per peer
	got    chan received            // every peerset message received
	joined chan *swarm.Peer
}

type received struct {
	peer    *swarm.Peer
	action  string
	payload []byte
}

func startHostile(t *testing.T, trackerURL, roomName string) *hostile {
	t.Helper()
	key, _ := record.GenerateKey()
	h := &hostile{t: t, key: key, roomID: record.RoomID(DefaultAppID, roomName),
		nonce: map[string][32]byte{}, hellos: map[string]session.Hello{}, got: make(chan received, 10000), joined: make(chan *swarm.Peer, 10)}
	cfg := swarm.Config{Room: roomName, Trackers: []string{trackerURL}, ICEServers: []webrtc.ICEServer{}, LoopbackCandidates: true,
		AnnounceSteady: time.Second, TrackerReconnectMin: 100 * time.Millisecond, TrackerReconnectMax: time.Second}
	room, err := swarm.NewRoom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.room = room
	for _, a := range session.Actions {
		_ = room.Handle(a, func(p *swarm.Peer, msg swarm.ActionMessage) {
			if msg.Type == session.ActionHello {
				if hm, err := session.DecodeHello(msg.Payload); err == nil {
					h.mu.Lock()
					h.hellos[p.ID()] = hm
					h.mu.Unlock()
				}
			}
			h.got <- received{peer: p, action: msg.Type, payload: msg.Payload}
		})
	}
	room.OnPeerJoin(func(p *swarm.Peer) { h.joined <- p })
	if err := room.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { room.Close() })
	return h
}

func (h *hostile) send(p *swarm.Peer, action string, payload any) {
	b, ok := payload.([]byte)
	if !ok {
		b, _ = json.Marshal(payload)
	}
	if err := p.Send(context.Background(), swarm.BinaryMessage(action, b)); err != nil {
		h.t.Logf("hostile send %s: %v", action, err)
	}
}

// hello sends our hello to p, with a fresh nonce (or the one given).
func (h *hostile) hello(p *swarm.Peer, nonce *[32]byte) {
	var n [32]byte
	if nonce != nil {
		n = *nonce
	} else {
		_, _ = rand.Read(n[:])
	}
	h.mu.Lock()
	h.nonce[p.ID()] = n
	h.mu.Unlock()
	h.send(p, session.ActionHello, session.EncodeHello(session.Hello{Version: session.ProtocolVersion, Room: h.roomID,
		PubKey: h.key.Public(), Nonce: n, Limits: session.DefaultLimits()}))
}

// waitHello waits for p's hello.
func (h *hostile) waitHello(p *swarm.Peer) session.Hello {
	h.t.Helper()
	var hm session.Hello
	testwait.For(h.t, "a hello from "+p.ID(), 20*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		var ok bool
		hm, ok = h.hellos[p.ID()]
		return ok
	})
	return hm
}

// auth is our answer to their hello: the auth payload signed by sk over the
// transcript with the given nonces and fingerprints.
func (h *hostile) auth(sk *record.SecretKey, verifierNonce, signerNonce [32]byte, signerFP, verifierFP string) []byte {
	h.t.Helper()
	payload, err := session.SignAuth(sk, h.roomID, verifierNonce, signerNonce, signerFP, verifierFP)
	if err != nil {
		h.t.Fatal(err)
	}
	return payload
}

// authenticate completes an honest handshake with p.
func (h *hostile) authenticate(p *swarm.Peer) {
	h.hello(p, nil)
	their := h.waitHello(p)
	h.mu.Lock()
	n := h.nonce[p.ID()]
	h.mu.Unlock()
	h.send(p, session.ActionAuth, h.auth(h.key, their.Nonce, n, p.LocalFingerprint(), p.RemoteFingerprint()))
}

func (h *hostile) waitJoin() *swarm.Peer {
	h.t.Helper()
	select {
	case p := <-h.joined:
		return p
	case <-time.After(30 * time.Second):
		h.t.Fatal("the hostile peer never connected")
		return nil
	}
}

// strikesAgainst returns the strikes db's ledger holds against a key (only
// keys proven in a handshake are struck; transport ids never are).
func strikesAgainst(db *DB, key record.PublicKey) []moderation.Strike {
	if l := db.Ledger(); l != nil {
		return l.Strikes(moderation.KeySubject(key))
	}
	return nil
}

// Acceptance 3: a record with a bad signature, a record for another room, a
// message not allowed in its state, an oversized message and a flood each
// earn strikes; past the threshold the peer is disconnected and banned;
// honest peers still converge, nothing panics, no stored record is lost.
func TestHostilePeerIsStruckAndBanned(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	const threshold = 8
	opts := testJoinOptions(trk.URL())
	opts.Session.LedgerConfig = moderation.LedgerConfig{Threshold: threshold, Window: time.Hour, BanDuration: time.Hour}
	victim := openNetPeer(t, "victim", nil, "hostile")
	fill(t, victim, 50)
	if err := victim.Join(ctx, opts); err != nil {
		t.Fatal(err)
	}
	h := startHostile(t, trk.URL(), "hostile")
	p := h.waitJoin()
	h.authenticate(p)
	testwait.For(t, "the victim to authenticate the hostile peer", 20*time.Second, func() bool {
		for _, s := range victim.Sessions() {
			if s.PeerID == h.room.SelfID() && s.State.Authenticated() {
				return true
			}
		}
		return false
	})

	// Records the hostile peer makes: valid ones to forge from.
	good, _ := record.New(record.Draft{Text: "an honest looking record"}, h.key, h.roomID, record.Limits{})
	badSig := *good
	badSig.Sig[10] ^= 1
	foreign, _ := record.New(record.Draft{Text: "from another room"}, h.key, record.RoomID(DefaultAppID, "elsewhere"), record.Limits{})
	attacks := []struct {
		name   string
		send   func()
		reason string // in the strike's reason
	}{
		{"a record with a bad signature", func() { h.send(p, session.ActionRecords, map[string]any{"events": []*record.Event{&badSig}}) }, "signature"},
		{"a record for another room", func() { h.send(p, session.ActionRecords, map[string]any{"events": []*record.Event{foreign}}) }, "room"},
		{"a message not allowed in its state (a second hello)", func() { h.hello(p, nil) }, "hello"},
		{"an oversized message", func() {
			big := strings.Repeat("x", 600<<10)
			h.send(p, session.ActionRecords, []byte(`{"events":[],"missing":"`+big+`"}`))
		}, "large"},
	}
	self := h.key.Public() // the hostile peer's proven key
	before := 0
	for _, a := range attacks {
		a.send()
		testwait.For(t, "a strike for "+a.name, 20*time.Second, func() bool { return len(strikesAgainst(victim.DB, self)) > before })
		strikes := strikesAgainst(victim.DB, self)
		last := strikes[len(strikes)-1]
		if !strings.Contains(strings.ToLower(last.Reason), a.reason) {
			t.Errorf("%s: strike reason %q does not mention %q", a.name, last.Reason, a.reason)
		}
		t.Logf("%s → strike %q", a.name, last.Reason)
		before = len(strikes)
	}
	// A sustained flood (flood strikes come at most once a second) pushes it
	// past the threshold: banned and disconnected.
	if banned, _ := victim.Ledger().Banned(moderation.KeySubject(self)); banned || before >= threshold {
		t.Fatalf("banned before the flood (%d strikes): the flood must be what crosses the threshold", before)
	}
	for start := time.Now(); time.Since(start) < 30*time.Second; {
		if banned, _ := victim.Ledger().Banned(moderation.KeySubject(self)); banned {
			break
		}
		for range 50 {
			h.send(p, session.ActionRoot, map[string]any{"root": strings.Repeat("0", 32), "count": 0})
		}
		time.Sleep(10 * time.Millisecond)
	}
	testwait.For(t, "the ban (the flood earned too few strikes)", time.Second, func() bool {
		banned, _ := victim.Ledger().Banned(moderation.KeySubject(self))
		return banned
	})
	testwait.For(t, "the disconnection", 20*time.Second, func() bool {
		select {
		case <-p.Done():
			return true
		default:
			return false
		}
	})
	if s := victim.Ledger().Strikes(moderation.PeerSubject(h.room.SelfID())); len(s) > 0 {
		t.Errorf("the self-asserted transport id was struck: %v", s)
	}

	// Nothing forged was stored, nothing stored was lost, and an honest
	// peer still converges with the victim.
	if victim.Stats().Records != 50 {
		t.Fatalf("victim holds %d records, want its 50", victim.Stats().Records)
	}
	honest := openNetPeer(t, "honest", nil, "hostile")
	fill(t, honest, 30)
	if err := honest.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 60*time.Second, 80, victim, honest)
	if _, err := victim.Get(ctx, good.TagValue(record.TagUUID)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a record of the banned peer is held: %v", err)
	}
}

// Acceptance 4: a peer that cannot sign the challenge, or relays a signature
// from another connection, is refused; handshake and challenge timeouts
// fire.
func TestHandshakeRefusals(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	closed := make(chan session.SessionInfo, 100)
	opts := testJoinOptions(trk.URL())
	opts.Session.HandshakeTimeout = 1500 * time.Millisecond
	opts.Session.ChallengeTimeout = 1500 * time.Millisecond
	opts.Session.OnSessionClosed = func(s session.SessionInfo) { closed <- s }
	victim := openNetPeer(t, "victim", nil, "handshake")
	if err := victim.Join(ctx, opts); err != nil {
		t.Fatal(err)
	}
	closedWith := func(peerID string) error {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case s := <-closed:
				if s.PeerID == peerID {
					if s.State.Authenticated() || !s.AuthenticatedAt.IsZero() {
						t.Errorf("session with %s was authenticated", peerID)
					}
					return s.CloseReason
				}
			case <-deadline:
				t.Fatalf("the victim never closed its session with %s", peerID)
				return nil
			}
		}
	}

	tests := []struct {
		name   string
		script func(h *hostile, p *swarm.Peer)
		want   error
	}{
		{"silent peer: handshake timeout", func(h *hostile, p *swarm.Peer) {}, session.ErrHandshakeTimeout},
		{"hello but no answer to the challenge: challenge timeout", func(h *hostile, p *swarm.Peer) { h.hello(p, nil) }, session.ErrChallengeTimeout},
		{"cannot sign: garbage signature", func(h *hostile, p *swarm.Peer) {
			h.hello(p, nil)
			h.waitHello(p)
			h.send(p, session.ActionAuth, map[string]string{"sig": strings.Repeat("ab", 64)})
		}, session.ErrAuthFailed},
		{"signs with another key than its hello's", func(h *hostile, p *swarm.Peer) {
			other, _ := record.GenerateKey()
			h.hello(p, nil)
			their := h.waitHello(p)
			h.mu.Lock()
			n := h.nonce[p.ID()]
			h.mu.Unlock()
			h.send(p, session.ActionAuth, h.auth(other, their.Nonce, n, p.LocalFingerprint(), p.RemoteFingerprint()))
		}, session.ErrAuthFailed},
		{"signature bound to another connection (other fingerprints)", func(h *hostile, p *swarm.Peer) {
			h.hello(p, nil)
			their := h.waitHello(p)
			h.mu.Lock()
			n := h.nonce[p.ID()]
			h.mu.Unlock()
			// A signature a relay could have obtained on its own connection:
			// right key and nonces, but the fingerprints of another DTLS session.
			fp := "sha-256 " + strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
			h.send(p, session.ActionAuth, h.auth(h.key, their.Nonce, n, fp, p.RemoteFingerprint()))
		}, session.ErrAuthFailed},
		{"signature over a stale nonce (replay)", func(h *hostile, p *swarm.Peer) {
			h.hello(p, nil)
			h.waitHello(p)
			h.mu.Lock()
			n := h.nonce[p.ID()]
			h.mu.Unlock()
			var stale [32]byte // not the nonce the victim sent on this connection
			h.send(p, session.ActionAuth, h.auth(h.key, stale, n, p.LocalFingerprint(), p.RemoteFingerprint()))
		}, session.ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHostile(t, trk.URL(), "handshake")
			p := h.waitJoin()
			start := time.Now()
			tt.script(h, p)
			reason := closedWith(h.room.SelfID())
			if !errors.Is(reason, tt.want) {
				t.Fatalf("closed with %v, want %v", reason, tt.want)
			}
			t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), reason)
			h.room.Close()
		})
	}
}
