package moderation

import (
	"sync"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

func TestMemoryIndex(t *testing.T) {
	a := newAuthor(t)
	m := NewMemoryIndex()
	v1 := a.record(record.Draft{Text: "v1", CreatedAt: testNow.Add(-time.Hour)})
	addr := record.AddressOf(v1)
	if kept, removed := m.Add(v1); !kept || len(removed) != 0 {
		t.Fatalf("Add(v1) = %v, %v", kept, removed)
	}
	if kept, _ := m.Add(v1); kept {
		t.Error("the same event was added twice")
	}
	v0 := a.record(record.Draft{UUID: addr.UUID, Text: "v0", CreatedAt: testNow.Add(-2 * time.Hour)})
	if kept, _ := m.Add(v0); kept || m.Live(addr) != v1 {
		t.Error("an older version replaced a newer one")
	}
	v2 := a.record(record.Draft{UUID: addr.UUID, Text: "v2"})
	if kept, removed := m.Add(v2); !kept || len(removed) != 1 || removed[0] != v1 {
		t.Fatalf("Add(v2) = %v, %v; want v1 removed", kept, removed)
	}
	if m.Has(v1.ID) || !m.Has(v2.ID) || m.LiveCount(a.pk()) != 1 || m.Len() != 1 {
		t.Error("replacement left the index inconsistent")
	}
	k2, _ := ContentKeyOf(v2)
	if m.HasContent(a.pk(), k2, addr) || !m.HasContent(a.pk(), k2, record.Address{}) {
		t.Error("HasContent does not honour except")
	}

	del := a.deletion(addr.UUID, testNow.Add(time.Minute))
	if kept, removed := m.Add(del); !kept || len(removed) != 1 || removed[0] != v2 {
		t.Fatalf("Add(deletion) = %v, %v; want v2 removed", kept, removed)
	}
	if m.Live(addr) != nil || m.Tombstone(addr) != del || m.LiveCount(a.pk()) != 0 || m.HasContent(a.pk(), k2, record.Address{}) {
		t.Error("deletion left the record live")
	}
	if kept, _ := m.Add(v2); kept {
		t.Error("a deleted version came back")
	}
	oldDel := a.deletion(addr.UUID, testNow)
	if kept, _ := m.Add(oldDel); kept {
		t.Error("an older deletion replaced a newer one")
	}
	reborn := a.record(record.Draft{UUID: addr.UUID, Text: "reborn", CreatedAt: testNow.Add(2 * time.Minute)})
	if kept, _ := m.Add(reborn); !kept || m.Live(addr) != reborn {
		t.Error("a version newer than the deletion was not kept")
	}
	count := 0
	for range m.Events() {
		count++
	}
	if count != 2 || m.Len() != 2 {
		t.Errorf("Events() yields %d, Len() %d; want the tombstone and the record", count, m.Len())
	}
	if !m.Remove(del.ID) || m.Tombstone(addr) != nil || m.Remove(del.ID) {
		t.Error("Remove(tombstone) misbehaved")
	}
	if !m.Remove(reborn.ID) || m.Live(addr) != nil || m.LiveCount(a.pk()) != 0 || m.Len() != 0 {
		t.Error("Remove(record) misbehaved")
	}
	if kept, _ := m.Add(a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: 1})); kept {
		t.Error("another kind was kept")
	}
}

func TestMemoryIndexConcurrent(t *testing.T) {
	a := newAuthor(t)
	events := make([]*record.Event, 20)
	for i := range events {
		events[i] = a.text("concurrent " + repeat("x", i))
	}
	m := NewMemoryIndex()
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
