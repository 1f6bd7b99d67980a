package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

func TestHandshakeAuthenticatesBothSides(t *testing.T) {
	a := newNode(t, "alice", quickConfig())
	b := newNode(t, "bob", quickConfig())
	connect(t, a, b, 0)

	ia := waitState(t, a, "bob", StateIdle)
	ib := waitState(t, b, "alice", StateIdle)
	if ia.PubKey != b.key.Public() || ib.PubKey != a.key.Public() {
		t.Fatalf("pubkeys: alice sees %s, bob sees %s", ia.PubKey.Hex(), ib.PubKey.Hex())
	}
	if ia.Initiator == ib.Initiator {
		t.Fatalf("exactly one side must initiate; both say %v", ia.Initiator)
	}
	if ia.AuthenticatedAt.IsZero() || ib.AuthenticatedAt.IsZero() {
		t.Fatal("AuthenticatedAt not set")
	}
}

func TestHandshakeSameKeyBothEnds(t *testing.T) {
	key, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	a := newNodeInRoom(t, "tab1", quickConfig(), testRoom, key)
	b := newNodeInRoom(t, "tab2", quickConfig(), testRoom, key)
	connect(t, a, b, 0)
	waitState(t, a, "tab2", StateIdle)
	waitState(t, b, "tab1", StateIdle)
}

// TestHandshakeRefusals drives the remote side by hand.
func TestHandshakeRefusals(t *testing.T) {
	otherRoom := record.RoomID("peerset", "another-room")
	tests := []struct {
		name     string
		run      func(t *testing.T, r *rawPeer, link *pipeLink, theirHello []byte)
		wantErr  error
		wantCode string
	}{
		{
			name: "garbage signature",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, _ []byte) {
				send(t, link, ActionHello, r.hello())
				var sig [64]byte
				for i := range sig {
					sig[i] = byte(i * 7)
				}
				send(t, link, ActionAuth, encodeAuth(auth{Sig: sig}))
			},
			wantErr: ErrAuthFailed, wantCode: ByeAuth,
		},
		{
			name: "signature over other fingerprints (spliced from another connection)",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, theirHello []byte) {
				send(t, link, ActionHello, r.hello())
				h, _ := DecodeHello(theirHello)
				hash := AuthHash(r.room, h.Nonce, r.nonce, randomFingerprint(), randomFingerprint())
				sig, _ := signHash(r.key, hash)
				send(t, link, ActionAuth, encodeAuth(auth{Sig: sig}))
			},
			wantErr: ErrAuthFailed, wantCode: ByeAuth,
		},
		{
			name: "signature replayed for an old nonce",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, _ []byte) {
				send(t, link, ActionHello, r.hello())
				var oldNonce [NonceSize]byte
				oldNonce[0] = 1
				hash := AuthHash(r.room, oldNonce, r.nonce, link.LocalFingerprint(), link.RemoteFingerprint())
				sig, _ := signHash(r.key, hash)
				send(t, link, ActionAuth, encodeAuth(auth{Sig: sig}))
			},
			wantErr: ErrAuthFailed, wantCode: ByeAuth,
		},
		{
			name: "signature by another key",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, theirHello []byte) {
				send(t, link, ActionHello, r.hello())
				other, _ := record.GenerateKey()
				h, _ := DecodeHello(theirHello)
				hash := AuthHash(r.room, h.Nonce, r.nonce, link.LocalFingerprint(), link.RemoteFingerprint())
				sig, _ := signHash(other, hash)
				send(t, link, ActionAuth, encodeAuth(auth{Sig: sig}))
			},
			wantErr: ErrAuthFailed, wantCode: ByeAuth,
		},
		{
			name: "wrong room",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, _ []byte) {
				r.room = otherRoom
				send(t, link, ActionHello, r.hello())
			},
			wantErr: ErrWrongRoom, wantCode: ByeRoom,
		},
		{
			name: "version mismatch",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, _ []byte) {
				var h map[string]any
				_ = json.Unmarshal(r.hello(), &h)
				h["v"] = 2
				h["future"] = "field"
				b, _ := json.Marshal(h)
				send(t, link, ActionHello, b)
			},
			wantErr: ErrVersionMismatch, wantCode: ByeVersion,
		},
		{
			name: "reflected hello",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, theirHello []byte) {
				send(t, link, ActionHello, theirHello)
			},
			wantErr: ErrAuthFailed, wantCode: ByeAuth,
		},
		{
			name: "malformed hello",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, _ []byte) {
				send(t, link, ActionHello, []byte(`{"v":1,"room":"nope"}`))
			},
			wantErr: ErrProtocolViolation, wantCode: ByeAuth,
		},
		{
			name: "auth before hello",
			run: func(t *testing.T, r *rawPeer, link *pipeLink, theirHello []byte) {
				send(t, link, ActionAuth, r.authFor(t, link, theirHello))
				// The violation may have closed the link already.
				_ = link.Send(context.Background(), ActionBye, encodeBye(byeMsg{Code: "test", Reason: "done"}))
			},
			wantErr: ErrProtocolViolation, wantCode: ByeViolation,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, "node", quickConfig())
			r := newRawPeer(t, testRoom)
			link, err := r.dial(t, n, "raw")
			if err != nil {
				t.Fatal(err)
			}
			theirHello := r.next(t, ActionHello)
			tt.run(t, r, link, theirHello.payload)
			info := waitClosed(t, n, "raw")
			if !errors.Is(info.CloseReason, tt.wantErr) {
				t.Fatalf("close reason %v, want %v", info.CloseReason, tt.wantErr)
			}
			if info.State != StateClosed {
				t.Fatalf("state %s after close", info.State)
			}
			bye := r.waitDetached(t)
			if tt.wantCode != "" && bye.Code != tt.wantCode {
				t.Fatalf("bye code %q (%s), want %q", bye.Code, bye.Reason, tt.wantCode)
			}
			// Nothing an unauthenticated connection says about itself is
			// proven: it is closed, and nobody is struck on its word.
			if strikes := n.m.Ledger().Strikes(moderation.PeerSubject("raw")); len(strikes) > 0 {
				t.Fatalf("a self-asserted transport id was struck: %v", strikes)
			}
			if keyStrikes := n.m.Ledger().Strikes(moderation.KeySubject(r.key.Public())); len(keyStrikes) > 0 {
				t.Fatalf("an unproven key was struck: %v", keyStrikes)
			}
		})
	}
}

// TestHandshakeTimeouts runs on synctest's fake clock, as do the other
// tests of timers here (session time limits, the handshake grace).
func TestHandshakeTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		sendHi  bool
		wantErr error
	}{
		{"no hello", Config{HandshakeTimeout: 150 * time.Millisecond}, false, ErrHandshakeTimeout},
		{"no auth", Config{ChallengeTimeout: 150 * time.Millisecond}, true, ErrChallengeTimeout},
	}
	const timeout = 150 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNode(t, "node", tt.cfg)
				r := newRawPeer(t, testRoom)
				link, err := r.dial(t, n, "raw")
				if err != nil {
					t.Fatal(err)
				}
				r.next(t, ActionHello)
				start := time.Now()
				if tt.sendHi {
					send(t, link, ActionHello, r.hello())
					r.next(t, ActionAuth)
				}
				info := waitClosed(t, n, "raw")
				if !errors.Is(info.CloseReason, tt.wantErr) {
					t.Fatalf("close reason %v, want %v", info.CloseReason, tt.wantErr)
				}
				// On the bubble's clock the timeout is kept exactly: not
				// before it, and not much after.
				if waited := time.Since(start); waited < timeout || waited > 2*timeout {
					t.Fatalf("closed %v after the peer went quiet, want the %v timeout", waited, timeout)
				}
				if bye := r.waitDetached(t); bye.Code != ByeTimeout {
					t.Fatalf("bye code %q, want %q", bye.Code, ByeTimeout)
				}
			})
		})
	}
}

func TestBannedPeerIsRefused(t *testing.T) {
	n := newNode(t, "node", quickConfig())
	r := newRawPeer(t, testRoom)
	// A banned key is refused at its hello, whatever its transport id.
	for range n.m.Ledger().Config().Threshold {
		n.m.Ledger().Strike(moderation.KeySubject(r.key.Public()), "test")
	}
	link, err := r.dial(t, n, "raw-2")
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, ActionHello)
	send(t, link, ActionHello, r.hello())
	info := waitClosed(t, n, "raw-2")
	if !errors.Is(info.CloseReason, ErrBanned) {
		t.Fatalf("close reason %v, want ErrBanned", info.CloseReason)
	}
	if bye := r.waitDetached(t); bye.Code != ByeBanned {
		t.Fatalf("bye code %q, want %q", bye.Code, ByeBanned)
	}
}

// TestBanFramingByTransportID is the attack of a peer that connects under an
// honest peer's transport id (ids are self-asserted: taken from forwarded
// offers) and misbehaves before authenticating, to get that id banned. The
// connection is closed, nobody is struck, and the honest peer still joins
// under its id.
func TestBanFramingByTransportID(t *testing.T) {
	cfg := quickConfig()
	cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 1, BanDuration: time.Hour}
	n := newNode(t, "node", cfg)
	for range 5 {
		r := newRawPeer(t, testRoom)
		link, err := r.dial(t, n, "honest")
		if err != nil {
			t.Fatal(err)
		}
		r.next(t, ActionHello)
		send(t, link, ActionRoot, encodeRoot(rootMsg{})) // not allowed before the handshake
		info := waitClosed(t, n, "honest")
		if !errors.Is(info.CloseReason, ErrProtocolViolation) {
			t.Fatalf("close reason %v, want ErrProtocolViolation", info.CloseReason)
		}
	}
	if s := n.m.Ledger().Strikes(moderation.PeerSubject("honest")); len(s) > 0 {
		t.Fatalf("the framed transport id was struck: %v", s)
	}
	honest := newNodeInRoom(t, "honest", quickConfig(), testRoom, nil)
	connect(t, n, honest, 0)
	waitState(t, n, "honest", StateIdle)
}

func TestMaxPeers(t *testing.T) {
	cfg := quickConfig()
	cfg.MaxPeers = 1
	n := newNode(t, "node", cfg)
	b := newNode(t, "b", quickConfig())
	connect(t, n, b, 0)
	waitState(t, n, "b", StateIdle)
	r := newRawPeer(t, testRoom)
	link, err := r.dial(t, n, "raw")
	if err != nil {
		t.Fatal(err)
	}
	// Authenticating past MaxPeers is refused.
	theirs := r.next(t, ActionHello)
	send(t, link, ActionHello, r.hello())
	r.next(t, ActionAuth)
	send(t, link, ActionAuth, r.authFor(t, link, theirs.payload))
	info := waitClosed(t, n, "raw")
	if !errors.Is(info.CloseReason, ErrTooManyPeers) {
		t.Fatalf("close reason %v, want ErrTooManyPeers", info.CloseReason)
	}
	if bye := r.waitDetached(t); bye.Code != ByeFull {
		t.Fatalf("bye code %q, want %q", bye.Code, ByeFull)
	}
	waitState(t, n, "b", StateIdle)
}

// TestStalledHandshakesCannotTakeEverySlot is the attack of connections that
// open and never authenticate, to keep honest peers out: handshakes have
// MaxPendingSessions slots of their own, the oldest is ended for a newcomer
// once it had HandshakeGrace, and authenticated peers keep theirs.
func TestStalledHandshakesCannotTakeEverySlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.MaxPeers, cfg.MaxPendingSessions = 2, 3
		cfg.HandshakeTimeout, cfg.HandshakeGrace = time.Minute, 200*time.Millisecond
		n := newNode(t, "node", cfg)
		early := newNode(t, "early", quickConfig())
		connect(t, n, early, 0)
		waitState(t, n, "early", StateIdle)
		refused := 0
		for i := range 10 {
			r := newRawPeer(t, testRoom)
			if _, err := r.dial(t, n, fmt.Sprintf("stalled-%d", i)); errors.Is(err, ErrTooManyPeers) {
				refused++ // every pending handshake is younger than the grace
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if refused == 0 {
			t.Error("no newcomer was refused while the pending handshakes were young")
		}
		time.Sleep(cfg.HandshakeGrace) // the stalled ones had their chance
		waitFor(t, "the stalled handshakes to be cut to MaxPendingSessions", func() bool {
			pending := 0
			for _, info := range n.m.Sessions() {
				if !info.State.Authenticated() {
					pending++
				}
			}
			return pending <= 3
		})
		honest := newNodeInRoom(t, "honest", quickConfig(), testRoom, nil)
		connect(t, n, honest, 0)
		waitState(t, n, "honest", StateIdle)
		waitState(t, n, "early", StateIdle)
	})
}

func TestMaxPeerSessionTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.MaxPeerSessionTime = 300 * time.Millisecond
		a := newNode(t, "a", cfg)
		b := newNode(t, "b", quickConfig())
		start := time.Now()
		connect(t, a, b, 0)
		info := waitClosed(t, a, "b")
		if waited := time.Since(start); waited < cfg.MaxPeerSessionTime || waited > 2*cfg.MaxPeerSessionTime {
			t.Fatalf("the session ended after %v, want MaxPeerSessionTime %v", waited, cfg.MaxPeerSessionTime)
		}
		if !errors.Is(info.CloseReason, ErrPeerSessionExpired) {
			t.Fatalf("close reason %v, want ErrPeerSessionExpired", info.CloseReason)
		}
		var bye *ByeError
		if info := waitClosed(t, b, "a"); !errors.As(info.CloseReason, &bye) || bye.Code != ByeExpired {
			t.Fatalf("b's close reason %v, want a bye %q", info.CloseReason, ByeExpired)
		}
	})
}

func TestMaxClientSessionTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.MaxClientSessionTime = 400 * time.Millisecond
		a := newNode(t, "a", cfg)
		b := newNode(t, "b", quickConfig())
		start := time.Now()
		connect(t, a, b, 0)
		select {
		case <-a.m.Done():
		case <-time.After(waitTimeout):
			t.Fatal("client session did not expire")
		}
		if waited := time.Since(start); waited < cfg.MaxClientSessionTime || waited > 2*cfg.MaxClientSessionTime {
			t.Fatalf("the client session ended after %v, want MaxClientSessionTime %v", waited, cfg.MaxClientSessionTime)
		}
		if !errors.Is(a.m.Err(), ErrClientSessionExpired) {
			t.Fatalf("Err() = %v", a.m.Err())
		}
		if info := waitClosed(t, a, "b"); !errors.Is(info.CloseReason, ErrClientSessionExpired) {
			t.Fatalf("close reason %v", info.CloseReason)
		}
		r := newRawPeer(t, testRoom)
		if _, err := r.dial(t, a, "late"); !errors.Is(err, ErrClientSessionExpired) {
			t.Fatalf("attach after expiry: %v", err)
		}
	})
}

func TestCloseIsIdempotent(t *testing.T) {
	a := newNode(t, "a", quickConfig())
	b := newNode(t, "b", quickConfig())
	connect(t, a, b, 0)
	waitState(t, a, "b", StateIdle)
	a.m.Close()
	a.m.Close()
	if !errors.Is(a.m.Err(), ErrManagerClosed) {
		t.Fatalf("Err() = %v", a.m.Err())
	}
	var bye *ByeError
	if info := waitClosed(t, b, "a"); !errors.As(info.CloseReason, &bye) || bye.Code != ByeShutdown {
		t.Fatalf("b's close reason %v, want a bye %q", info.CloseReason, ByeShutdown)
	}
	if len(a.m.Sessions()) != 0 {
		t.Fatalf("sessions left after Close: %v", a.m.Sessions())
	}
}
