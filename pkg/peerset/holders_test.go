package peerset

import (
	"context"
	"testing"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

func peerKey(i int) record.PublicKey {
	var k record.PublicKey
	k[0], k[1], k[31] = byte(i), byte(i>>8), 1
	return k
}

func summaryOf(i int) record.Summary {
	s := record.Summary{Kind: record.KindRecord}
	s.ID[0], s.ID[1], s.ID[2] = byte(i), byte(i>>8), byte(i>>16)
	s.UUID[0] = byte(i)
	return s
}

// Each kind of evidence names a holder: sent to us, sent by us (of a
// tracked version only), and an equal root (once per root); bounds hold.
func TestHoldingsEvidence(t *testing.T) {
	own := func(record.Summary) bool { return false }
	always := func([32]byte) bool { return true }
	a, b, c := peerKey(1), peerKey(2), peerKey(3)
	x, y := summaryOf(1), summaryOf(2)

	h := newHoldings()
	h.held(a, own, x)
	h.held(a, own, x) // twice: one holder
	if got := h.holders(x.ID, nil); len(got) != 1 || got[0] != a {
		t.Fatalf("received from a: %v", got)
	}
	h.track(true, y)
	h.synced(b, merkle.Fingerprint{1}, always)
	if h.count(x.ID) != 2 || h.count(y.ID) != 1 {
		t.Fatalf("after b shared a root: x %d, y %d holders", h.count(x.ID), h.count(y.ID))
	}
	// A root seen equal twice is noted once: a version tracked in between
	// is not attributed to b until b shares a new root.
	z := summaryOf(3)
	h.track(false, z)
	h.synced(b, merkle.Fingerprint{1}, always)
	if h.count(z.ID) != 0 {
		t.Fatal("the same root noted twice")
	}
	h.synced(b, merkle.Fingerprint{2}, func(id [32]byte) bool { return id != z.ID })
	if h.count(z.ID) != 0 {
		t.Fatal("a version we do not hold was attributed by an equal root")
	}
	// Peers given by the caller (in sync now) count once.
	if got := h.holders(x.ID, []record.PublicKey{c, a}); len(got) != 3 {
		t.Fatalf("holders with peers in sync now: %v", got)
	}
	if ids := h.own(); len(ids) != 1 || ids[y.ID] != y.UUID {
		t.Fatalf("own: %v", ids)
	}

	// Bounds: versions tracked, holders per version, peers known.
	h = newHoldings()
	for i := range maxTrackedRecords + 10 {
		h.track(false, summaryOf(i))
	}
	if len(h.byID) != maxTrackedRecords || h.count(summaryOf(0).ID) != 0 {
		t.Fatalf("%d versions tracked", len(h.byID))
	}
	if _, ok := h.byID[summaryOf(maxTrackedRecords+9).ID]; !ok {
		t.Fatal("the newest version is not tracked")
	}
	for i := range maxHoldersPerRecord + 5 {
		h.held(peerKey(i), own, x)
	}
	if n := h.count(x.ID); n != maxHoldersPerRecord {
		t.Fatalf("%d holders of one version", n)
	}
	for i := range maxKnownHolders + 1 {
		h.held(peerKey(1000+i), own, y)
	}
	if len(h.peers) > maxKnownHolders {
		t.Fatalf("%d peers known", len(h.peers))
	}
}

// A record put before anyone holds it has no holders; the DB tracks its own
// records from the start (Stats.Held) and after a reopen.
func TestOwnRecordsAreTracked(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Config{})
	r, err := db.Put(ctx, record.Draft{Text: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	held := db.Stats().Held
	if n, ok := held[r.UUID]; !ok || n != 0 {
		t.Fatalf("Stats.Held = %v", held)
	}
	if got, err := db.Holders(r.UUID); err != nil || len(got) != 0 {
		t.Fatalf("Holders: %v %v", got, err)
	}
	// A peer that sends back the version we hold holds it.
	if out := db.Ingest(ctx, Origin{PeerID: "p", PubKey: peerKey(7)}, []*record.Event{r.Event}); out[0].Stored {
		t.Fatal("a duplicate was stored")
	}
	if got, _ := db.Holders(r.UUID); len(got) != 1 || got[0] != peerKey(7) {
		t.Fatalf("after the peer sent it: %v", got)
	}
	if n := db.Stats().Held[r.UUID]; n != 1 {
		t.Fatalf("Stats.Held after the peer sent it: %d", n)
	}
}
