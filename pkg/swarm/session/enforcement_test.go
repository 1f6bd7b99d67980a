package session

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

func strikesOf(n *node, subject string) []moderation.Strike {
	return n.m.Ledger().Strikes(subject)
}

func TestViolationsEarnStrikes(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxControlBytes+1)
	tooManyIDs := make([][32]byte, DefaultMaxWantIDs+1)
	for i := range tooManyIDs {
		tooManyIDs[i][0], tooManyIDs[i][1] = byte(i), byte(i>>8)
	}
	tests := []struct {
		name          string
		authenticated bool
		action        string
		payload       []byte
		reason        string // substring of the strike reason
	}{
		{"want before auth", false, ActionWant, encodeWant(wantMsg{IDs: [][32]byte{{1}}}), "not allowed in state open"},
		{"records before auth", false, ActionRecords, []byte(`{"events":[]}`), "not allowed in state open"},
		{"root before auth", false, ActionRoot, encodeRoot(rootMsg{}), "not allowed in state open"},
		{"unknown action", false, "peerset/nope", []byte(`{}`), "unknown action"},
		{"action name too long", true, "peerset/" + strings.Repeat("a", 40), []byte(`{}`), "unknown action"},
		{"oversized root", true, ActionRoot, big, "message too large"},
		{"malformed root", true, ActionRoot, []byte(`{"root":"zz","count":1}`), "protocol violation"},
		{"unknown field", true, ActionRoot, []byte(`{"root":"00000000000000000000000000000000","count":1,"x":1}`), "unknown field"},
		{"trailing data", true, ActionRoot, []byte(`{"root":"00000000000000000000000000000000","count":1}{}`), "after the JSON"},
		{"hello after auth", true, ActionHello, []byte(`{}`), "not allowed in state"},
		{"auth after auth", true, ActionAuth, []byte(`{}`), "not allowed in state"},
		{"neg-reply never asked", true, ActionNegReply, encodeNeg(negMsg{SID: 99, Msg: []byte{0x61}}), "never started"},
		{"malformed negentropy", true, ActionNeg, encodeNeg(negMsg{SID: 1, Msg: []byte{0x61, 0xff, 0xff}}), "protocol violation"},
		{"want over the limit", true, ActionWant, encodeWant(wantMsg{IDs: tooManyIDs}), "more than 256 ids"},
		{"empty want", true, ActionWant, []byte(`{"ids":""}`), "empty want"},
		{"records without events", true, ActionRecords, []byte(`{"missing":""}`), "without events"},
		{"records over the batch count", true, ActionRecords, []byte(`{"events":[` + strings.Repeat(`{},`, DefaultMaxBatchRecords) + `{}]}`), "events in one message"},
		{"malformed event", true, ActionRecords, []byte(`{"events":[{"id":"nope"}]}`), "invalid records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, "node", quickConfig())
			r := newRawPeer(t, testRoom)
			link, err := r.dial(t, n, "raw")
			if err != nil {
				t.Fatal(err)
			}
			if tt.authenticated {
				r.handshake(t, link)
			} else {
				r.next(t, ActionHello)
			}
			send(t, link, tt.action, tt.payload)
			key := moderation.KeySubject(r.key.Public())
			if !tt.authenticated {
				// Before the handshake nothing is proven: the connection is
				// closed and nobody is struck on its word.
				info := waitClosed(t, n, "raw")
				if !errors.Is(info.CloseReason, ErrProtocolViolation) || !strings.Contains(info.CloseReason.Error(), tt.reason) {
					t.Fatalf("close reason %v, want a protocol violation containing %q", info.CloseReason, tt.reason)
				}
				if s := append(strikesOf(n, moderation.PeerSubject("raw")), strikesOf(n, key)...); len(s) > 0 {
					t.Fatalf("strikes %+v before authentication", s)
				}
				return
			}
			waitFor(t, "a strike", func() bool { return len(strikesOf(n, key)) > 0 })
			strikes := strikesOf(n, key)
			if len(strikes) != 1 || !strings.Contains(strikes[0].Reason, tt.reason) {
				t.Fatalf("strikes %+v, want one containing %q", strikes, tt.reason)
			}
			if s := strikesOf(n, moderation.PeerSubject("raw")); len(s) > 0 {
				t.Fatalf("the self-asserted transport id was struck: %+v", s)
			}
			info, ok := n.m.Session("raw")
			if !ok || info.Strikes != 1 {
				t.Fatalf("session info %+v, want 1 strike on an open session", info)
			}
		})
	}
}

func TestForeignActionsAreIgnored(t *testing.T) {
	n := newNode(t, "node", quickConfig())
	r := newRawPeer(t, testRoom)
	link, err := r.dial(t, n, "raw")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	other := n.m.session("raw").link
	if err := n.m.Deliver(other, "chat", []byte("hi")); !errors.Is(err, ErrForeignAction) {
		t.Fatalf("Deliver of a foreign action: %v", err)
	}
	unknown, _ := newPipe("x", "nobody", 0)
	if err := n.m.Deliver(unknown, ActionRoot, nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("Deliver from an unknown link: %v", err)
	}
	if s := strikesOf(n, moderation.KeySubject(r.key.Public())); len(s) != 0 {
		t.Fatalf("strikes %v", s)
	}
}

// TestBanDisconnectsAndHonestPeersKeepSyncing: a peer past the threshold is
// banned and dropped while two honest peers converge.
func TestBanDisconnectsAndHonestPeersKeepSyncing(t *testing.T) {
	pool := pooledRecords(t, 300)
	cfg := quickConfig()
	cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 3, BanDuration: time.Hour}
	a := newNode(t, "a", cfg)
	c := newNode(t, "c", quickConfig())
	seed(t, a, pool[:150])
	seed(t, c, pool[150:])

	r := newRawPeer(t, testRoom)
	link, err := r.dial(t, a, "hostile")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	connect(t, a, c, time.Millisecond)
	for range 3 {
		send(t, link, ActionRoot, []byte(`{"root":"nope"}`))
	}
	info := waitClosed(t, a, "hostile")
	if !errors.Is(info.CloseReason, ErrBanned) {
		t.Fatalf("close reason %v, want ErrBanned", info.CloseReason)
	}
	if bye := r.waitDetached(t); bye.Code != ByeBanned {
		t.Fatalf("bye code %q, want %q", bye.Code, ByeBanned)
	}
	if banned, _ := a.m.Ledger().Banned(moderation.KeySubject(r.key.Public())); !banned {
		t.Fatal("the hostile key is not banned")
	}
	// Back under another transport id: its key is refused at its hello.
	link, err = r.dial(t, a, "hostile-2")
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, ActionHello)
	send(t, link, ActionHello, r.hello())
	if info := waitClosed(t, a, "hostile-2"); !errors.Is(info.CloseReason, ErrBanned) {
		t.Fatalf("re-attach of a banned key: %v, want ErrBanned", info.CloseReason)
	}
	waitConverged(t, 300, a, c)
}

func TestFloodIsStruck(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"token bucket", Config{FloodRate: 1, FloodBurst: 10}, "flood limit"},
		{"inbox full", Config{InboxSize: 1, FloodRate: 1e6, FloodBurst: 1e6}, "inbox full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := tt.cfg
				cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 1}
				n := newNode(t, "node", cfg)
				r := newRawPeer(t, testRoom)
				link, err := r.dial(t, n, "raw")
				if err != nil {
					t.Fatal(err)
				}
				r.handshake(t, link)
				root := encodeRoot(rootMsg{})
				s := n.m.session("raw")
				if s == nil {
					t.Fatal("no session")
				}
				// Deliver straight from here, faster than the session drains its inbox.
				var lastErr error
				for range 2000 {
					if lastErr = n.m.Deliver(s.link, ActionRoot, root); lastErr != nil {
						break
					}
				}
				if !errors.Is(lastErr, ErrFlood) {
					t.Fatalf("Deliver error %v, want ErrFlood", lastErr)
				}
				info := waitClosed(t, n, "raw")
				if !errors.Is(info.CloseReason, ErrBanned) || !strings.Contains(info.CloseReason.Error(), tt.reason) {
					t.Fatalf("close reason %v, want a ban for %q", info.CloseReason, tt.reason)
				}
			})
		})
	}
}

// TestHostileRecords: records that fail integrity are struck and never stored;
// records honest peers send (duplicates, stale versions, policy rejections)
// are not struck.
func TestHostileRecords(t *testing.T) {
	pool := pooledRecords(t, 3)
	key, _ := record.GenerateKey()
	valid, err := record.New(record.Draft{Text: "valid"}, key, testRoom, record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	forged := *valid
	forged.Sig[0] ^= 1
	tampered := *valid
	tampered.Content = "tampered"
	otherRoom, _ := record.New(record.Draft{Text: "elsewhere"}, key, record.RoomID("peerset", "elsewhere"), record.Limits{})
	uuid, _ := record.NewUUID()
	now := time.Now()
	newer, _ := record.New(record.Draft{UUID: uuid, Text: "new", CreatedAt: now}, key, testRoom, record.Limits{})
	older, _ := record.New(record.Draft{UUID: uuid, Text: "old", CreatedAt: now.Add(-time.Minute)}, key, testRoom, record.Limits{})
	rude, _ := record.New(record.Draft{Text: "you are a shit"}, key, testRoom, record.Limits{})

	eventJSON := func(e *record.Event) []byte { return e.AppendJSON(nil) }
	tests := []struct {
		name    string
		preset  func() moderation.Config
		seeded  []*record.Event
		events  [][]byte
		strike  bool
		stored  *record.Event // must be stored afterwards, if set
		refused *record.Event // must not be stored
	}{
		{"bad signature", moderation.PresetOpen, nil, [][]byte{eventJSON(&forged)}, true, nil, &forged},
		{"id mismatch", moderation.PresetOpen, nil, [][]byte{eventJSON(&tampered)}, true, nil, &tampered},
		{"another room", moderation.PresetOpen, nil, [][]byte{eventJSON(otherRoom)}, true, nil, otherRoom},
		{"malformed event beside a valid one", moderation.PresetOpen, nil, [][]byte{[]byte(`{"id":1}`), eventJSON(valid)}, true, valid, nil},
		{"duplicate", moderation.PresetOpen, pool[:1], [][]byte{eventJSON(pool[0])}, false, pool[0], nil},
		{"stale version", moderation.PresetOpen, []*record.Event{newer}, [][]byte{eventJSON(older)}, false, newer, older},
		{"policy rejection", moderation.PresetStandard, nil, [][]byte{eventJSON(rude)}, false, nil, rude},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcfg := tt.preset()
			pcfg.RoomID = testRoom
			pipeline, err := moderation.NewPipeline(pcfg)
			if err != nil {
				t.Fatal(err)
			}
			n := newNode(t, "node", quickConfig())
			n.replica = NewMemoryReplica(pipeline)
			n.m.replica = n.replica
			seed(t, n, tt.seeded)
			r := newRawPeer(t, testRoom)
			link, err := r.dial(t, n, "raw")
			if err != nil {
				t.Fatal(err)
			}
			r.handshake(t, link)
			payload := appendRecords(nil, tt.events, nil)
			send(t, link, ActionRecords, payload)
			// A root after the records: once it is answered, the records were handled.
			waitFor(t, "the records to be handled", func() bool {
				info, _ := n.m.Session("raw")
				return info.RecordsIn == len(tt.events)
			})
			keyStrikes := strikesOf(n, moderation.KeySubject(r.key.Public()))
			if struck := len(keyStrikes) > 0; struck != tt.strike {
				t.Fatalf("struck=%v, want %v (%v)", struck, tt.strike, keyStrikes)
			}
			if tt.stored != nil && n.replica.Event(tt.stored.ID) == nil {
				t.Fatal("the valid record was not stored")
			}
			if tt.refused != nil && n.replica.Has(tt.refused.ID) {
				t.Fatal("a refused record was stored")
			}
		})
	}
}

// TestTwoInitiators: a peer that initiates although it is not its turn (or
// while we initiate too) is answered like any other, without a strike.
func TestTwoInitiators(t *testing.T) {
	pool := pooledRecords(t, 40)
	n := newNode(t, "n", quickConfig())
	seed(t, n, pool[:30])
	r := newRawPeer(t, testRoom)
	for i := range r.nonce {
		r.nonce[i] = 0xff // n is the designated initiator
	}
	link, err := r.dial(t, n, "eager")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	tree := merkle.NewTree()
	for _, e := range pool[10:] {
		_, _ = tree.Insert(merkle.Item{Timestamp: uint64(e.CreatedAt), ID: e.ID})
	}
	in, _ := merkle.NewInitiator(tree, merkle.Options{})
	msg, _ := in.Initiate()
	send(t, link, ActionNeg, encodeNeg(negMsg{SID: 7, Msg: msg}))
	var have, need [][32]byte
	for {
		reply := r.next(t, ActionNegReply)
		got, err := decodeNeg(reply.payload, DefaultFrameSizeLimit)
		if err != nil || got.SID != 7 {
			t.Fatalf("neg-reply %+v: %v", got, err)
		}
		next, h, nd, done, err := in.Reconcile(got.Msg)
		if err != nil {
			t.Fatal(err)
		}
		have, need = append(have, h...), append(need, nd...)
		if done {
			break
		}
		send(t, link, ActionNeg, encodeNeg(negMsg{SID: 7, Msg: next}))
	}
	if len(have) != 10 || len(need) != 10 {
		t.Fatalf("eager initiator found have=%d need=%d, want 10 and 10", len(have), len(need))
	}
	if s := strikesOf(n, moderation.KeySubject(r.key.Public())); len(s) != 0 {
		t.Fatalf("strikes %v", s)
	}
}

// TestGarbageNeverPanics throws random payloads, and mutations of valid ones,
// at an authenticated session; it must strike, never panic, and keep syncing.
func TestGarbageNeverPanics(t *testing.T) {
	pool := pooledRecords(t, 20)
	cfg := quickConfig()
	cfg.LedgerConfig = moderation.LedgerConfig{Threshold: 1 << 20}
	cfg.FloodRate, cfg.FloodBurst, cfg.InboxSize = 1e6, 1<<20, 8192
	n := newNode(t, "node", cfg)
	seed(t, n, pool[:10])
	r := newRawPeer(t, testRoom)
	link, err := r.dial(t, n, "raw")
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	tree := merkle.NewTree()
	in, _ := merkle.NewInitiator(tree, merkle.Options{})
	negStart, _ := in.Initiate()
	valid := map[string][]byte{
		ActionRoot:     encodeRoot(rootMsg{Count: 1}),
		ActionNeg:      encodeNeg(negMsg{SID: 1, Msg: negStart}),
		ActionNegReply: encodeNeg(negMsg{SID: 1, Msg: negStart}),
		ActionWant:     encodeWant(wantMsg{IDs: [][32]byte{pool[0].ID, {1}}}),
		ActionRecords:  appendRecords(nil, [][]byte{pool[11].AppendJSON(nil)}, [][32]byte{{2}}),
		ActionHello:    r.hello(),
		ActionAuth:     encodeAuth(auth{}),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		action := Actions[rng.IntN(len(Actions)-1)] // no bye: keep the session
		payload := append([]byte(nil), valid[action]...)
		switch i % 3 {
		case 0: // flip bytes
			for range 1 + rng.IntN(4) {
				if len(payload) > 0 {
					payload[rng.IntN(len(payload))] = byte(rng.IntN(256))
				}
			}
		case 1: // truncate
			payload = payload[:rng.IntN(len(payload)+1)]
		default: // random bytes
			payload = make([]byte, rng.IntN(64))
			for j := range payload {
				payload[j] = byte(rng.IntN(256))
			}
		}
		send(t, link, action, payload)
	}
	send(t, link, ActionRoot, encodeRoot(rootMsg{Count: 7}))
	waitFor(t, "the garbage to be handled", func() bool {
		info, ok := n.m.Session("raw")
		if !ok {
			select {
			case closed := <-n.closed:
				t.Fatalf("session closed: %v", closed.CloseReason)
			default:
			}
		}
		return ok && info.RemoteCount == 7
	})
	if info, _ := n.m.Session("raw"); info.Strikes == 0 || !info.State.Authenticated() {
		t.Fatalf("after the garbage: %+v", info)
	}
	// The node still syncs with an honest peer.
	c := newNode(t, "c", quickConfig())
	seed(t, c, pool[10:])
	connect(t, n, c, 0)
	waitFor(t, "n and c to converge", func() bool {
		rn, _ := n.replica.Root()
		rc, _ := c.replica.Root()
		return rn == rc
	})
}
