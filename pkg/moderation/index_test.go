package moderation

import (
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

func TestMemoryIndex(t *testing.T) {
	a := newAuthor(t)
	m := NewMemoryIndex(Policy{})
	kept := func(removed []record.Summary, err error) bool { return err == nil }
	v1 := a.record(record.Draft{Text: "v1", CreatedAt: testNow.Add(-time.Hour)})
	addr := record.AddressOf(v1)
	if removed, err := m.Add(v1); err != nil || len(removed) != 0 {
		t.Fatalf("Add(v1) = %v, %v", removed, err)
	}
	if kept(m.Add(v1)) {
		t.Error("the same event was added twice")
	}
	v0 := a.record(record.Draft{UUID: addr.UUID, Text: "v0", CreatedAt: testNow.Add(-2 * time.Hour)})
	if live, _ := m.Live(addr); kept(m.Add(v0)) || live.ID != v1.ID {
		t.Error("an older version replaced a newer one")
	}
	v2 := a.record(record.Draft{UUID: addr.UUID, Text: "v2"})
	if removed, err := m.Add(v2); err != nil || len(removed) != 1 || removed[0].ID != v1.ID {
		t.Fatalf("Add(v2) = %v, %v; want v1 removed", removed, err)
	}
	if m.Has(v1.ID) || !m.Has(v2.ID) || m.LiveCount(a.pk()) != 1 || m.Len() != 1 {
		t.Error("replacement left the index inconsistent")
	}

	del := a.deletion(addr.UUID, testNow.Add(time.Minute))
	if removed, err := m.Add(del); err != nil || len(removed) != 1 || removed[0].ID != v2.ID {
		t.Fatalf("Add(deletion) = %v, %v; want v2 removed", removed, err)
	}
	if _, live := m.Live(addr); live || tombID(m, addr) != del.ID || m.LiveCount(a.pk()) != 0 || m.DeletionCount(a.pk()) != 1 {
		t.Error("deletion left the record live")
	}
	if kept(m.Add(v2)) {
		t.Error("a deleted version came back")
	}
	oldDel := a.deletion(addr.UUID, testNow)
	if kept(m.Add(oldDel)) {
		t.Error("an older deletion replaced a newer one")
	}
	reborn := a.record(record.Draft{UUID: addr.UUID, Text: "reborn", CreatedAt: testNow.Add(2 * time.Minute)})
	if !kept(m.Add(reborn)) || liveID(m, addr) != reborn.ID {
		t.Error("a version newer than the deletion was not kept")
	}
	count := 0
	m.Each(func(record.Summary) bool { count++; return true })
	if count != 2 || m.Len() != 2 {
		t.Errorf("Events() yields %d, Len() %d; want the tombstone and the record", count, m.Len())
	}
	if !m.Remove(del.ID) || tombID(m, addr) != ([32]byte{}) || m.Remove(del.ID) {
		t.Error("Remove(tombstone) misbehaved")
	}
	if !m.Remove(reborn.ID) || liveID(m, addr) != ([32]byte{}) || m.LiveCount(a.pk()) != 0 || m.Len() != 0 {
		t.Error("Remove(record) misbehaved")
	}
	if m.AuthorEpoch(a.pk()) != 0 {
		t.Error("an author with no events left still has an epoch")
	}
	if kept(m.Add(a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: 1}))) {
		t.Error("another kind was kept")
	}
}

// TestPolicyEvictsTheLosers checks each choice of a Policy: the winner is the
// newest event whatever the order, the losers are evicted, and a node's own
// write is refused instead of evicting.
func TestPolicyEvictsTheLosers(t *testing.T) {
	a, b := newAuthor(t), newAuthor(t)
	at := func(min int) time.Time { return testNow.Add(time.Duration(min) * time.Minute) }
	rec := func(min int, text string) *record.Event {
		return a.record(record.Draft{Text: text, CreatedAt: at(min)})
	}

	t.Run("quota keeps the newest", func(t *testing.T) {
		m := NewMemoryIndex(Policy{AuthorQuota: 3})
		r := []*record.Event{rec(-5, "a"), rec(-4, "b"), rec(-3, "c"), rec(-2, "d"), rec(-6, "e")}
		for _, e := range r[:3] {
			if _, err := m.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		removed, err := m.Add(r[3]) // newer than all: evicts the oldest
		if err != nil || len(removed) != 1 || removed[0].ID != r[0].ID {
			t.Fatalf("Add(newer) = %v, %v; want the oldest evicted", removed, err)
		}
		_, err = m.Add(r[4]) // older than all: loses at once
		if rej := wantRejection(t, err, RuleAuthorQuota); !rej.Harmless || !rej.DependsOnSet || !rej.Verified {
			t.Errorf("quota loser: %+v, want a harmless, set-dependent rejection", rej)
		}
		if m.LiveCount(a.pk()) != 3 || m.Has(r[0].ID) || m.Has(r[4].ID) {
			t.Error("the author does not hold exactly the 3 newest")
		}
		if _, err := m.Add(b.text("another author")); err != nil {
			t.Errorf("another author is held back: %v", err)
		}
		// A replacement does not count as a new record.
		edit := a.record(record.Draft{UUID: uuidOf(r[1]), Text: "b, edited", CreatedAt: at(-1)})
		if removed, err := m.Add(edit); err != nil || len(removed) != 1 || removed[0].ID != r[1].ID {
			t.Errorf("edit = %v, %v; want only the old version removed", removed, err)
		}
		// Own writes over the quota are refused, not evicting.
		_, err = addOwn(m, rec(0, "own"))
		if rej := wantRejection(t, err, RuleAuthorQuota); rej.Harmless {
			t.Error("an own write over the quota should be a real refusal")
		}
	})
	t.Run("ties go to the lower id", func(t *testing.T) {
		x, y := rec(0, "tie x"), rec(0, "tie y")
		lo, hi := x, y
		if Outranks(y, x) {
			lo, hi = y, x
		}
		for _, order := range [][]*record.Event{{x, y}, {y, x}} {
			m := NewMemoryIndex(Policy{AuthorQuota: 1})
			m.Add(order[0])
			m.Add(order[1])
			if !m.Has(lo.ID) || m.Has(hi.ID) {
				t.Errorf("order %s then %s: the lower id did not win", shortID(order[0].ID), shortID(order[1].ID))
			}
		}
	})
	t.Run("duplicates keep the newest", func(t *testing.T) {
		old, young := rec(-2, "Same  text"), rec(-1, "same text")
		for _, order := range [][]*record.Event{{old, young}, {young, old}} {
			m := NewMemoryIndex(Policy{Duplicates: true})
			m.Add(order[0])
			_, err := m.Add(order[1])
			if !m.Has(young.ID) || m.Has(old.ID) {
				t.Errorf("the newer duplicate is not the one held (second add: %v)", err)
			}
		}
		m := NewMemoryIndex(Policy{Duplicates: true})
		m.Add(old)
		if _, err := addOwn(m, rec(0, "SAME TEXT")); err == nil {
			t.Error("an own duplicate was not refused")
		}
		if _, err := m.Add(b.record(record.Draft{Text: "same text", CreatedAt: at(-3)})); err != nil {
			t.Errorf("the same text by another author: %v", err)
		}
	})
	t.Run("deletion quota keeps the newest deletions", func(t *testing.T) {
		m := NewMemoryIndex(Policy{DeletionQuota: 2})
		uuids := []string{"3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a60", "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a61", "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a62"}
		d := []*record.Event{a.deletion(uuids[0], at(-3)), a.deletion(uuids[1], at(-2)), a.deletion(uuids[2], at(-1))}
		for _, e := range d {
			m.Add(e)
		}
		if m.DeletionCount(a.pk()) != 2 || m.Has(d[0].ID) {
			t.Errorf("holds %d deletions (oldest held: %v), want the 2 newest", m.DeletionCount(a.pk()), m.Has(d[0].ID))
		}
		_, err := m.Add(a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a63", at(-9)))
		wantRejection(t, err, RuleAuthorQuota)
		// The record the evicted deletion covered may come back.
		back := a.record(record.Draft{UUID: uuids[0], Text: "back", CreatedAt: at(-4)})
		if _, err := m.Add(back); err != nil {
			t.Errorf("a record whose deletion was evicted: %v", err)
		}
	})
	t.Run("epoch changes with the author's events", func(t *testing.T) {
		m := NewMemoryIndex(Policy{AuthorQuota: 1})
		e := rec(0, "epoch")
		m.Add(e)
		before := m.AuthorEpoch(a.pk())
		m.Add(b.text("someone else"))
		if m.AuthorEpoch(a.pk()) != before {
			t.Error("another author's write changed this author's epoch")
		}
		m.Add(a.deletion(uuidOf(e), at(1)))
		if m.AuthorEpoch(a.pk()) == before {
			t.Error("a deletion did not change the author's epoch")
		}
	})
}

func TestMemoryIndexConcurrent(t *testing.T) {
	a := newAuthor(t)
	events := make([]*record.Event, 20)
	for i := range events {
		events[i] = a.text("concurrent " + repeat("x", i))
	}
	m := NewMemoryIndex(Policy{})
	p := mustPipeline(t, PresetOpen())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i, e := range events {
				if (i+w)%2 == 0 {
					m.Add(e)
				}
				_ = p.Check(e, m)
				m.LiveCount(a.pk())
			}
		})
	}
	wg.Wait()
	if m.Len() != len(events) || m.LiveCount(a.pk()) != len(events) {
		t.Errorf("Len %d, LiveCount %d, want %d", m.Len(), m.LiveCount(a.pk()), len(events))
	}
}

func liveID(m *MemoryIndex, addr record.Address) [32]byte {
	s, _ := m.Live(addr)
	return s.ID
}

func tombID(m *MemoryIndex, addr record.Address) [32]byte {
	s, _ := m.Tombstone(addr)
	return s.ID
}
