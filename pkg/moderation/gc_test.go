package moderation

import (
	"slices"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

func TestExpired(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name      string
		age       time.Duration
		retention time.Duration
		want      bool
	}{
		{"new", 0, 0, false},
		{"89 days, default retention", 89 * day, 0, false},
		{"exactly 90 days", 90 * day, 0, false},
		{"90 days and a second", 90*day + time.Second, 0, true},
		{"a year", 365 * day, 0, true},
		{"custom retention", 2 * day, day, true},
		{"future", -time.Hour, 0, false},
	}
	for _, tc := range tests {
		if got := Expired(testNow, testNow.Add(-tc.age).Unix(), tc.retention); got != tc.want {
			t.Errorf("%s: Expired = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSelectGarbage(t *testing.T) {
	a := newAuthor(t)
	day := 24 * time.Hour
	at := func(d time.Duration) time.Time { return testNow.Add(-d) }

	fresh := a.record(record.Draft{Text: "fresh", CreatedAt: at(time.Hour)})
	old := a.record(record.Draft{Text: "old", CreatedAt: at(91 * day)})
	oldTomb := a.deletion(uuidOf(old), at(91*day-time.Hour))
	v1 := a.record(record.Draft{Text: "v1", CreatedAt: at(3 * day)})
	v2 := a.record(record.Draft{UUID: uuidOf(v1), Text: "v2", CreatedAt: at(2 * day)})
	deleted := a.record(record.Draft{Text: "deleted", CreatedAt: at(5 * day)})
	tomb := a.deletion(uuidOf(deleted), at(4*day))
	tombOlder := a.deletion(uuidOf(deleted), at(4*day+time.Hour))
	undeleted := a.record(record.Draft{UUID: uuidOf(deleted), Text: "after the deletion", CreatedAt: at(day)})

	all := []*record.Event{fresh, old, oldTomb, v1, v2, deleted, tomb, tombOlder, undeleted}
	got := map[*record.Event]string{}
	for _, g := range SelectGarbage(testNow, 0, slices.Values(all)) {
		if _, dup := got[g.Event]; dup {
			t.Errorf("event selected twice")
		}
		got[g.Event] = g.Reason
	}
	want := map[*record.Event]string{
		old:       GarbageExpired,
		oldTomb:   GarbageExpired,
		v1:        GarbageSuperseded,
		deleted:   GarbageDeleted,
		tombOlder: GarbageSuperseded,
	}
	for e, reason := range want {
		if got[e] != reason {
			t.Errorf("%q (kind %d): reason %q, want %q", e.Content, e.Kind, got[e], reason)
		}
	}
	for _, keep := range []*record.Event{fresh, v2, tomb, undeleted} {
		if r, ok := got[keep]; ok {
			t.Errorf("%q (kind %d) selected as %q", keep.Content, keep.Kind, r)
		}
	}

	expired := SelectExpired(testNow, 0, slices.Values(all))
	if len(expired) != 2 || !slices.Contains(expired, old) || !slices.Contains(expired, oldTomb) {
		t.Errorf("SelectExpired = %d events", len(expired))
	}
	if n := len(SelectExpired(testNow, 10*day, slices.Values(all))); n != 2 {
		t.Errorf("SelectExpired with 10 days: %d", n)
	}
	if n := len(SelectExpired(testNow, 36*time.Hour, slices.Values(all))); n != 7 {
		t.Errorf("SelectExpired with 36 hours: %d, want all but the two newest", n)
	}
}

// TestGCWithMemoryIndex: what GC selects can be removed from the index,
// and the timestamp rule then refuses the expired events if they come back.
func TestGCWithMemoryIndex(t *testing.T) {
	a := newAuthor(t)
	p := mustPipeline(t, PresetStandard())
	m := NewMemoryIndex(Policy{})
	e := a.record(record.Draft{Text: "soon gone", CreatedAt: testNow.Add(-89 * 24 * time.Hour)})
	if err := p.Check(e, m); err != nil {
		t.Fatal(err)
	}
	m.Add(e)
	later := testNow.Add(2 * 24 * time.Hour)
	var expired [][32]byte
	m.Each(func(s record.Summary) bool {
		if Expired(later, s.CreatedAt, p.Retention()) {
			expired = append(expired, s.ID)
		}
		return true
	})
	for _, id := range expired {
		m.Remove(id)
	}
	if m.Len() != 0 {
		t.Fatalf("%d events left after GC", m.Len())
	}
	rej := wantRejection(t, p.CheckAt(later, e, m), RuleTimestamp)
	if !rej.Harmless {
		t.Error("an expired record coming back should be harmless")
	}
}
