package session

import (
	"crypto/rand"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
)

// gossipReady connects nodes pairwise as given and waits until every
// session is authenticated and in sync.
func gossipReady(t *testing.T, pairs [][2]*node) map[[2]string]*pipeLink {
	t.Helper()
	links := map[[2]string]*pipeLink{}
	for _, p := range pairs {
		ab, ba := connect(t, p[0], p[1], time.Millisecond)
		links[[2]string{p[0].name, p[1].name}] = ab
		links[[2]string{p[1].name, p[0].name}] = ba
	}
	for _, p := range pairs {
		waitState(t, p[0], p[1].name, StateIdle)
		waitState(t, p[1], p[0].name, StateIdle)
	}
	return links
}

// TestGossipSpreadsARecordOncePerLink: a record written at a reaches b and c
// of a triangle by ihave/iwant, crossing each link at most once, without a
// reconciliation; b and c announce it onward (to each other), and neither
// asks again for what it holds.
func TestGossipSpreadsARecordOncePerLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := quickConfig()
		cfg.IdleRootInterval = time.Minute // no idle roots during the test
		a, b, c := newNode(t, "a", cfg), newNode(t, "b", cfg), newNode(t, "c", cfg)
		base := bubbleRecords(t, 21)
		for _, n := range []*node{a, b, c} {
			seed(t, n, base[:20])
		}
		links := gossipReady(t, [][2]*node{{a, b}, {b, c}, {a, c}})
		negBefore := map[[2]string]int64{}
		for k, l := range links {
			negBefore[k] = l.sent(ActionNeg)
		}
		e := base[20]
		if err := a.replica.addTrusted(e); err != nil {
			t.Fatal(err)
		}
		a.m.Push(e)
		waitFor(t, "b and c to store the record", func() bool { return b.replica.Has(e.ID) && c.replica.Has(e.ID) })
		time.Sleep(200 * time.Millisecond) // let the announcements onward arrive
		totalRecords := int64(0)
		for k, l := range links {
			if n := l.sent(ActionRecords); n > 1 {
				t.Errorf("link %s→%s carried %d records messages, want at most 1", k[0], k[1], n)
			}
			totalRecords += l.sent(ActionRecords)
			if l.sent(ActionNeg) != negBefore[k] {
				t.Errorf("link %s→%s: a reconciliation ran; gossip should have sufficed", k[0], k[1])
			}
			if l.sent(ActionRecords) > 0 && l.sent(ActionIHave) == 0 {
				t.Errorf("link %s→%s carried a record with no ihave before it", k[0], k[1])
			}
		}
		if totalRecords != 2 {
			t.Errorf("%d records messages in all, want 2 (one to each of b and c)", totalRecords)
		}
		if links[[2]string{"a", "b"}].sent(ActionIHave) != 1 || links[[2]string{"a", "c"}].sent(ActionIHave) != 1 {
			t.Error("a did not announce the record to both of its peers once")
		}
		// Whoever stored it second learnt it from a, and its peer announced it:
		// one of b and c got an ihave from the other and asked for nothing.
		bc, cb := links[[2]string{"b", "c"}], links[[2]string{"c", "b"}]
		if bc.sent(ActionIWant)+cb.sent(ActionIWant) != 0 {
			t.Errorf("b and c asked each other for a record they held (%d, %d iwants)", bc.sent(ActionIWant), cb.sent(ActionIWant))
		}
		for _, n := range []*node{a, b, c} {
			for _, s := range n.m.Sessions() {
				if s.Strikes != 0 {
					t.Errorf("%s struck %s %d times", n.name, s.PeerID, s.Strikes)
				}
			}
		}
	})
}

// TestGossipFallsBackToPushes: a peer whose hello does not offer gossip
// (DisableGossip, or a peer of before gossip) gets new records pushed and
// never sees an ihave.
func TestGossipFallsBackToPushes(t *testing.T) {
	old := quickConfig()
	old.DisableGossip = true
	a, b := newNode(t, "a", quickConfig()), newNode(t, "b", old)
	base := pooledRecords(t, 11)
	seed(t, a, base[:10])
	seed(t, b, base[:10])
	links := gossipReady(t, [][2]*node{{a, b}})
	e := base[10]
	if err := a.replica.addTrusted(e); err != nil {
		t.Fatal(err)
	}
	a.m.Push(e)
	waitFor(t, "b to store the record", func() bool { return b.replica.Has(e.ID) })
	if n := links[[2]string{"a", "b"}].sent(ActionIHave); n != 0 {
		t.Errorf("a sent %d ihaves to a peer without gossip", n)
	}
}

// gossipRaw handshakes a raw peer that offers gossip with n.
func gossipRaw(t *testing.T, n *node, name string) (*rawPeer, *pipeLink) {
	t.Helper()
	r := newRawPeer(t, testRoom)
	r.gossip = true
	link, err := r.dial(t, n, name)
	if err != nil {
		t.Fatal(err)
	}
	r.handshake(t, link)
	waitState(t, n, name, StateAuthenticated, StateSyncing, StateIdle)
	return r, link
}

func randomIDs(n int) [][32]byte {
	ids := make([][32]byte, n)
	for i := range ids {
		_, _ = rand.Read(ids[i][:])
	}
	return ids
}

// TestIWantForUnannouncedIDsIsStruck: an iwant may only name ids announced to
// that peer. A peer that asks for records it was never told about (here real
// records the node holds: scraping the store through gossip) gets nothing and
// a strike.
func TestIWantForUnannouncedIDsIsStruck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, "victim", quickConfig())
		held := bubbleRecords(t, 5)
		seed(t, n, held)
		r, link := gossipRaw(t, n, "scraper")
		send(t, link, ActionIWant, encodeIDsMsg(idsMsg{IDs: [][32]byte{held[0].ID, held[1].ID}}))
		key := moderation.KeySubject(r.key.Public())
		waitFor(t, "a strike", func() bool { return len(n.m.Ledger().Strikes(key)) > 0 })
		time.Sleep(50 * time.Millisecond)
		for {
			select {
			case ev := <-r.in:
				if ev.action == ActionRecords {
					t.Fatal("the node answered an iwant for ids it never announced with records")
				}
				continue
			default:
			}
			break
		}
	})
}

// TestIWantAnsweredOncePerLink: the node announces a new record; the peer's
// iwant gets it, a second iwant for it gets nothing but a flood strike.
func TestIWantAnsweredOncePerLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNode(t, "node", quickConfig())
		r, link := gossipRaw(t, n, "asker")
		e := bubbleRecords(t, 1)[0]
		if err := n.replica.addTrusted(e); err != nil {
			t.Fatal(err)
		}
		n.m.Push(e)
		ih := r.next(t, ActionIHave)
		msg, err := decodeIDsMsg(ActionIHave, ih.payload, MaxIHaveIDs)
		if err != nil || len(msg.IDs) != 1 || msg.IDs[0] != e.ID {
			t.Fatalf("ihave = %+v (%v), want the new record's id", msg, err)
		}
		send(t, link, ActionIWant, encodeIDsMsg(idsMsg{IDs: msg.IDs}))
		rec := r.next(t, ActionRecords)
		got, err := decodeRecords(rec.payload, Config{}.mustDefaults().limits())
		if err != nil || len(got.Events) != 1 {
			t.Fatalf("records = %d events (%v), want 1", len(got.Events), err)
		}
		// Asked again (an honest peer does, when the record also reached it by
		// a reconciliation's want over this link): no answer, and no strike —
		// striking it banned honest tabs in a burst of 300 records.
		send(t, link, ActionIWant, encodeIDsMsg(idsMsg{IDs: msg.IDs}))
		waitFor(t, "the repeated iwant to be counted", func() bool {
			for _, info := range n.m.Sessions() {
				if info.IWantsRepeated == 1 {
					return true
				}
			}
			return false
		})
		select {
		case ev := <-r.in:
			if ev.action == ActionRecords {
				t.Fatal("the record crossed the link twice")
			}
		case <-time.After(50 * time.Millisecond):
		}
		if s := n.m.Ledger().Strikes(moderation.KeySubject(r.key.Public())); len(s) > 0 {
			t.Errorf("a repeated iwant was struck: %v", s)
		}
	})
}

// TestIHaveFloodIsBounded: a peer announces far more ids than the budget
// allows, none of which exist. The node asks for at most MaxInFlightWants
// batches at a time, keeps at most maxPendingIDs, strikes the flood, and a
// malformed ihave (a duplicate id) is a violation.
func TestIHaveFloodIsBounded(t *testing.T) {
	tests := []struct {
		name    string
		payload func() [][]byte
	}{
		{"over the id budget", func() [][]byte {
			var out [][]byte
			for range 2 * ihaveBurst / MaxIHaveIDs {
				out = append(out, encodeIDsMsg(idsMsg{IDs: randomIDs(MaxIHaveIDs)}))
			}
			return out
		}},
		{"duplicate ids", func() [][]byte {
			id := randomIDs(1)[0]
			return [][]byte{encodeIDsMsg(idsMsg{IDs: [][32]byte{id, id}})}
		}},
		{"too many ids", func() [][]byte {
			return [][]byte{encodeIDsMsg(idsMsg{IDs: randomIDs(MaxIHaveIDs + 1)})}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := quickConfig()
				cfg.FloodBurst = 10000 // the id budget is what is tested, not the message rate
				n := newNode(t, "victim", cfg)
				r, link := gossipRaw(t, n, "flooder")
				for _, p := range tc.payload() {
					if err := link.Send(t.Context(), ActionIHave, p); err != nil {
						break // the session ended
					}
				}
				key := moderation.KeySubject(r.key.Public())
				waitFor(t, "a strike", func() bool { return len(n.m.Ledger().Strikes(key)) > 0 })
				if info, ok := n.m.Session("flooder"); ok {
					if info.Pending > maxPendingIDs || info.WantsInFlight > cfg.mustDefaults().MaxInFlightWants*MaxWantIDs {
						t.Errorf("pending %d, in flight %d: unbounded", info.Pending, info.WantsInFlight)
					}
				}
				iwants := 0
				for {
					select {
					case ev := <-r.in:
						if ev.action == ActionIWant {
							iwants++
						}
						continue
					case <-time.After(100 * time.Millisecond):
					}
					break
				}
				if limit := (Config{}).mustDefaults().MaxInFlightWants; iwants > limit {
					t.Errorf("%d iwants for ids nobody answered, want at most %d in flight", iwants, limit)
				}
			})
		})
	}
}

// TestGossipCodecs: ihave and iwant decode what they encode and refuse what
// is malformed.
func TestGossipCodecs(t *testing.T) {
	ids := randomIDs(3)
	got, err := decodeIDsMsg(ActionIHave, encodeIDsMsg(idsMsg{IDs: ids}), MaxIHaveIDs)
	if err != nil || len(got.IDs) != 3 || got.IDs[2] != ids[2] {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	dup := encodeIDsMsg(idsMsg{IDs: [][32]byte{ids[0], ids[1], ids[0]}})
	for name, bad := range map[string][]byte{
		"empty":              {},
		"not a multiple":     make([]byte, 33),
		"short":              make([]byte, 31),
		"duplicate":          dup,
		"the JSON of a want": []byte(`{"ids":"` + encodeIDs(ids) + `"}`),
	} {
		if _, err := decodeIDsMsg(ActionIWant, bad, 8); !errors.Is(err, ErrProtocolViolation) {
			t.Errorf("%s: %v, want ErrProtocolViolation", name, err)
		}
	}
	if got := len(encodeIDsMsg(idsMsg{IDs: ids})); got != 3*32 {
		t.Errorf("an ihave of 3 ids is %d bytes, want 96 (the ids alone)", got)
	}
	if _, err := decodeIDsMsg(ActionIWant, encodeIDsMsg(idsMsg{IDs: randomIDs(9)}), 8); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("9 ids with a limit of 8: %v, want ErrMessageTooLarge", err)
	}
}

// TestGossipBurstStaysWithinTheReceiversBudget: a node that writes a burst
// of records (an import) announces no more than the peer accepts and is never
// struck; what the push queue or the budget leaves out reaches the peer
// through the repair path.
func TestGossipBurstStaysWithinTheReceiversBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2200 // the whole record pool
		pool := bubbleRecords(t, n)
		a, b := newNode(t, "a", quickConfig()), newNode(t, "b", quickConfig())
		links := gossipReady(t, [][2]*node{{a, b}})
		seed(t, a, pool)
		start := time.Now()
		// 4,400 pushes at once (each record twice, as a page that writes in a
		// loop and retries might), more than MaxPushQueue.
		for range 2 {
			for i := 0; i < n; i += 200 {
				a.m.Push(pool[i : i+200]...)
			}
		}
		waitConverged(t, n, a, b)
		elapsed := time.Since(start)
		if info, _ := b.m.Session("a"); info.Strikes != 0 {
			t.Errorf("b struck a %d times for an honest burst", info.Strikes)
		}
		// Each id is 32 bytes in base64 (about 43 characters) in the payload.
		ids := links[[2]string{"a", "b"}].byActionBytes(ActionIHave) * 3 / 4 / 32
		if limit := int64(ihaveBurst + ihaveRate*elapsed.Seconds()); ids > limit {
			t.Errorf("about %d ids announced in %v, over the receiver's budget of %d", ids, elapsed, limit)
		}
		t.Logf("%d records converged in %v; about %d announced by gossip, the rest by reconciliation", n, elapsed, ids)
	})
}
