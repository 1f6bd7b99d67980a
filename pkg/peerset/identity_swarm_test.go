//go:build !js

package peerset

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/tracker/trackertest"
)

// authenticatedKeys returns the keys p's authenticated sessions proved.
func authenticatedKeys(p *netPeer) []record.PublicKey {
	var keys []record.PublicKey
	for _, s := range p.Sessions() {
		if s.State.Authenticated() {
			keys = append(keys, s.PubKey)
		}
	}
	return keys
}

// An ephemeral peer, with a key to write, and a signer-backed peer sync with
// an ordinary peer; the ordinary peer's sessions show neither the ephemeral
// peer's key nor the signer's, and the signer is asked nothing when peers
// connect. After leaving and joining again, the ephemeral peer proves
// another key.
func TestEphemeralAndSignerPeersHideTheirKeys(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	open := moderation.PresetOpen()
	plain := openNetPeer(t, "plain", nil, "anon")
	fill(t, plain, 20)

	writerKey, _ := record.GenerateKey()
	anonDB := openTest(t, Config{Room: "anon", Identity: IdentityEphemeral, Key: writerKey, Moderation: &open})
	anon := &netPeer{DB: anonDB, name: "ephemeral"}
	fill(t, anon, 5)

	signer := newFakeSigner(t)
	signedDB := openTest(t, Config{Room: "anon", Signer: signer, Moderation: &open})
	signed := &netPeer{DB: signedDB, name: "signer"}
	fill(t, signed, 5)
	asked := signer.asked.Load()

	for _, p := range []*netPeer{plain, anon, signed} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 30, plain, anon, signed)
	testwait.For(t, "two authenticated sessions at the plain peer", 20*time.Second, func() bool {
		return len(authenticatedKeys(plain)) == 2
	})
	first := map[record.PublicKey]bool{}
	for _, k := range authenticatedKeys(plain) {
		if k == writerKey.Public() || k == signer.sk.Public() {
			t.Fatalf("the plain peer's sessions show a long-term key: %s", k.Npub())
		}
		first[k] = true
	}
	if got := signer.asked.Load(); got != asked {
		t.Fatalf("the signer was asked %d times while peers connected", got-asked)
	}

	// Rejoining draws a fresh key for the ephemeral peer's connections.
	if err := anon.Leave(); err != nil {
		t.Fatal(err)
	}
	if err := anon.Join(ctx, testJoinOptions(trk.URL())); err != nil {
		t.Fatal(err)
	}
	var again record.PublicKey
	testwait.For(t, "the ephemeral peer back", 30*time.Second, func() bool {
		for _, s := range plain.Sessions() {
			if s.State.Authenticated() && !first[s.PubKey] {
				again = s.PubKey
				return true
			}
		}
		return false
	})
	if again == writerKey.Public() {
		t.Fatal("the rejoined ephemeral peer proved its long-term key")
	}
	if _, err := anon.Put(ctx, record.Draft{Text: "after rejoining"}); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, 30*time.Second, 31, plain, anon, signed)
}

// Holders: a record written before joining is held by both other peers once
// the room converges (they were sent it, or announced the same root), a
// record received from a peer names that peer at once, the record event
// says who holds it, and Stats.Held counts own records' holders.
func TestHoldersReachEveryPeer(t *testing.T) {
	trk := trackertest.Start(t)
	ctx := context.Background()
	a := openNetPeer(t, "a", nil, "holders")
	b := openNetPeer(t, "b", nil, "holders")
	c := openNetPeer(t, "c", nil, "holders")
	mine, err := a.Put(ctx, record.Draft{Text: "who has this?"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Holders(mine.UUID); err != nil || len(got) != 0 {
		t.Fatalf("before joining: %v %v", got, err)
	}
	if held := a.Stats().Held; held[mine.UUID] != 0 {
		t.Fatalf("before joining, Stats.Held = %v", held)
	}
	heldBy := make(chan int, 10)
	b.Subscribe(func(ch Change) {
		if !ch.Removed && ch.Event.ID == mine.Event.ID {
			heldBy <- ch.HeldBy
		}
	})
	fill(t, c, 3)
	for _, p := range []*netPeer{a, b, c} {
		if err := p.Join(ctx, testJoinOptions(trk.URL())); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, 60*time.Second, 4, a, b, c)
	testwait.For(t, "two holders of a's record", 30*time.Second, func() bool {
		got, err := a.Holders(mine.UUID)
		return err == nil && len(got) == 2
	})
	got, _ := a.Holders(mine.UUID)
	for _, k := range got {
		if k != b.Key() && k != c.Key() {
			t.Fatalf("a holder that is neither b nor c: %s", k.Npub())
		}
	}
	if n := a.Stats().Held[mine.UUID]; n != 2 {
		t.Fatalf("Stats.Held[%s] = %d, want 2", mine.UUID, n)
	}
	select {
	case n := <-heldBy:
		if n < 1 {
			t.Fatalf("b's record event says %d holders; the sender holds it", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b got no record event for a's record")
	}
	// A new version is held by nobody until it spreads.
	edited, err := a.Put(ctx, record.Draft{UUID: mine.UUID, Text: "edited"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Holders(edited.UUID); len(got) > 2 {
		t.Fatalf("the new version has %d holders", len(got))
	}
	waitConverged(t, 30*time.Second, 4, a, b, c)
	testwait.For(t, "two holders of the new version", 30*time.Second, func() bool {
		got, err := a.Holders(edited.UUID)
		return err == nil && len(got) == 2
	})
	if _, err := a.Holders("not-a-uuid"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a bad uuid: %v", err)
	}
}
