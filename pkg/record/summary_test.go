package record

import (
	"errors"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	sk, _ := GenerateKey()
	room := RoomID("peerset", "summary")
	rec, err := New(Draft{Text: "Hello  World", CreatedAt: time.Unix(1_700_000_000, 0)}, sk, room, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	same, _ := New(Draft{Text: "hello world"}, sk, room, Limits{})
	empty, _ := New(Draft{Link: "https://example.org/"}, sk, room, Limits{})
	uuid := rec.TagValue(TagUUID)
	del, err := NewDeletion(sk, room, uuid, time.Unix(1_700_000_100, 0))
	if err != nil {
		t.Fatal(err)
	}

	s, err := Summarize(rec)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != rec.ID || s.CreatedAt != rec.CreatedAt || s.Kind != KindRecord || s.PubKey != sk.Public() || FormatUUID(s.UUID) != uuid || !s.HasContent {
		t.Fatalf("summary %+v", s)
	}
	if s.Address() != AddressOf(rec) {
		t.Errorf("address %v, want %v", s.Address(), AddressOf(rec))
	}
	if t2, _ := Summarize(same); t2.Content != s.Content {
		t.Error("texts equal up to case and spacing have different content keys")
	}
	if e, _ := Summarize(empty); e.HasContent || e.Content != ([16]byte{}) {
		t.Errorf("a record without content has a content key: %+v", e)
	}
	d, err := Summarize(del)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindDeletion || d.UUID != s.UUID || d.HasContent || !d.Deletes(s) || s.Deletes(d) {
		t.Fatalf("deletion summary %+v", d)
	}
	if d.Supersedes(s) != Supersedes(del, rec) || s.Supersedes(d) != Supersedes(rec, del) {
		t.Error("Summary.Supersedes disagrees with Supersedes")
	}
	note := &Event{Kind: 1, PubKey: sk.Public(), CreatedAt: 1}
	if _, err := Summarize(note); !errors.Is(err, ErrInvalidSummary) {
		t.Errorf("a kind-1 note: %v", err)
	}

	for _, sum := range []Summary{s, d} {
		b := AppendSummary(nil, sum)
		if len(b) != SummaryBytes {
			t.Fatalf("%d bytes, want %d", len(b), SummaryBytes)
		}
		if kind := int(b[0])<<8 | int(b[1]); kind != sum.Kind {
			t.Errorf("the first two bytes read %d, want the kind %d", kind, sum.Kind)
		}
		back, err := ParseSummary(sum.ID, sum.CreatedAt, b)
		if err != nil || back != sum {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, sum)
		}
	}
}

func TestParseSummaryRefuses(t *testing.T) {
	good := AppendSummary(nil, Summary{Kind: KindRecord, HasContent: true, Content: [16]byte{1}})
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":                    nil,
		"a bare kind (old format)": good[:2],
		"too long":                 append(append([]byte(nil), good...), 0),
		"unknown format":           mutate(func(b []byte) []byte { b[2] = 9; return b }),
		"kind 1":                   mutate(func(b []byte) []byte { b[1] = 1; return b }),
		"unknown flags":            mutate(func(b []byte) []byte { b[51] = 2; return b }),
		"content without its flag": mutate(func(b []byte) []byte { b[51] = 0; return b }),
	}
	for name, b := range cases {
		if _, err := ParseSummary([32]byte{}, 0, b); !errors.Is(err, ErrInvalidSummary) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	for range 100 {
		s, err := NewUUID()
		if err != nil {
			t.Fatal(err)
		}
		u, err := ParseUUID(s)
		if err != nil || FormatUUID(u) != s {
			t.Fatalf("ParseUUID(%q) = %x, %v", s, u, err)
		}
	}
	for _, bad := range []string{"", "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6", "3F2B8C1E-9D4A-4B6F-8E2A-1C0D9E8F7A6B", "3f2b8c1e-9d4a-1b6f-8e2a-1c0d9e8f7a6b"} {
		if _, err := ParseUUID(bad); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("ParseUUID(%q): %v", bad, err)
		}
	}
}

func FuzzParseSummary(f *testing.F) {
	f.Add(AppendSummary(nil, Summary{Kind: KindRecord}))
	f.Add(AppendSummary(nil, Summary{Kind: KindDeletion, HasContent: false}))
	f.Add([]byte{0x75, 0x8e})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSummary([32]byte{7}, 42, b)
		if err != nil {
			return
		}
		if again := AppendSummary(nil, s); string(again) != string(b) {
			t.Fatalf("re-encoding differs: %x vs %x", again, b)
		}
	})
}
