package record

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKey(t *testing.T) *SecretKey {
	t.Helper()
	sk, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestNewAndParse(t *testing.T) {
	sk := testKey(t)
	room := RoomID("peerset", "lobby")
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		draft Draft
		check func(t *testing.T, r *Record)
	}{
		{"text only", Draft{Text: "hello", CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.Text != "hello" || r.MediaType != MediaTypeText || r.Data != nil || r.Geo != nil || r.Link != "" {
				t.Fatalf("%+v", r)
			}
		}},
		{"text, link and place", Draft{Text: "meet here", Link: "https://example.org/x", Geo: &Geo{Lat: 57.64911, Lon: 10.40744}, CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.Link != "https://example.org/x" || r.Geo == nil || r.Geo.Lat != 57.64911 || r.Geo.Lon != 10.40744 || r.Geohash != "u4pruydqq" {
				t.Fatalf("%+v %+v", r, r.Geo)
			}
		}},
		{"given uuid", Draft{UUID: "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", Text: "x", CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.UUID != "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b" {
				t.Fatal(r.UUID)
			}
		}},
		{"JSON data", Draft{Data: []byte(`{"n":1,"s":"x"}`), CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.MediaType != MediaTypeJSON || string(r.Data) != `{"n":1,"s":"x"}` || r.Event.Content != `{"n":1,"s":"x"}` {
				t.Fatalf("%+v", r)
			}
		}},
		{"binary data", Draft{Data: []byte{0, 1, 2, 0xff}, MediaType: "image/png", CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.MediaType != "image/png" || !bytes.Equal(r.Data, []byte{0, 1, 2, 0xff}) || r.Event.Content != "AAEC/w==" {
				t.Fatalf("%+v", r)
			}
		}},
		{"empty record", Draft{CreatedAt: at}, func(t *testing.T, r *Record) {
			if r.Text != "" || r.UUID == "" {
				t.Fatalf("%+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.draft, sk, room, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckRecord(e, room, Limits{}); err != nil {
				t.Fatalf("CheckRecord: %v", err)
			}
			r, err := Parse(e)
			if err != nil {
				t.Fatal(err)
			}
			if r.Room != room || r.Author != sk.Public() || !r.CreatedAt.Equal(at) || CheckUUID(r.UUID) != nil {
				t.Fatalf("common fields: %+v", r)
			}
			tt.check(t, r)
		})
	}
}

func TestNewErrors(t *testing.T) {
	sk := testKey(t)
	room := RoomID("peerset", "lobby")
	tests := []struct {
		name   string
		draft  Draft
		limits Limits
		want   error
	}{
		{"uppercase uuid", Draft{UUID: "3F2B8C1E-9D4A-4B6F-8E2A-1C0D9E8F7A6B"}, Limits{}, ErrInvalidUUID},
		{"uuid v1", Draft{UUID: "3f2b8c1e-9d4a-1b6f-8e2a-1c0d9e8f7a6b"}, Limits{}, ErrInvalidUUID},
		{"not a uuid", Draft{UUID: "hello"}, Limits{}, ErrInvalidUUID},
		{"text and data", Draft{Text: "a", Data: []byte("{}")}, Limits{}, ErrInvalidRecord},
		{"invalid JSON data", Draft{Data: []byte("{")}, Limits{}, ErrInvalidRecord},
		{"bad media type", Draft{Data: []byte("x"), MediaType: "nonsense"}, Limits{}, ErrInvalidRecord},
		{"latitude out of range", Draft{Geo: &Geo{Lat: 91}}, Limits{}, ErrInvalidGeo},
		{"invalid UTF-8 text", Draft{Text: "\xff"}, Limits{}, ErrInvalidUTF8},
		{"text over 64 KiB", Draft{Text: strings.Repeat("x", 64<<10)}, Limits{}, ErrRecordTooLarge},
		{"link over the tag limit", Draft{Link: "https://x.org/" + strings.Repeat("a", 3000)}, Limits{}, ErrRecordTooLarge},
		{"small custom limit", Draft{Text: strings.Repeat("x", 2000)}, Limits{MaxRecordBytes: 1000}, ErrRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.draft, sk, room, tt.limits)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLimitErrorNamesTheLimit(t *testing.T) {
	sk := testKey(t)
	_, err := New(Draft{Text: strings.Repeat("x", 70000)}, sk, RoomID("a", "b"), Limits{})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxRecordBytes" || le.Max != 64<<10 || le.Got <= 70000 {
		t.Fatalf("error = %v", err)
	}
	if !strings.Contains(err.Error(), "MaxRecordBytes = 65536") {
		t.Fatalf("message does not name the limit: %v", err)
	}
	e := &Event{Kind: KindRecord, Tags: make([][]string, 20)}
	for i := range e.Tags {
		e.Tags[i] = []string{"t", "x"}
	}
	if err := CheckLimits(e, Limits{}); !errors.As(err, &le) || le.Limit != "MaxTags" {
		t.Fatalf("tag count: %v", err)
	}
	e.Tags = [][]string{{"t", "1", "2", "3", "4"}}
	if err := CheckLimits(e, Limits{}); !errors.As(err, &le) || le.Limit != "MaxTagFields" {
		t.Fatalf("tag fields: %v", err)
	}
}

func TestCheckRecordErrors(t *testing.T) {
	sk := testKey(t)
	room := RoomID("peerset", "lobby")
	good, err := New(Draft{Text: "hi"}, sk, room, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	resign := func(e *Event) *Event { _ = e.Sign(sk); return e }
	tests := []struct {
		name string
		make func() *Event
		room string
		want error
	}{
		{"another room", func() *Event { return good }, RoomID("peerset", "other"), ErrWrongRoom},
		{"another app", func() *Event { return good }, RoomID("other-app", "lobby"), ErrWrongRoom},
		{"bad signature", func() *Event { e := cloneEvent(good); e.Sig[5] ^= 1; return e }, room, ErrBadSignature},
		{"edited text", func() *Event { e := cloneEvent(good); e.Content = "bye"; return e }, room, ErrIDMismatch},
		{"other kind", func() *Event { e := cloneEvent(good); e.Kind = 1; return resign(e) }, room, ErrNotARecord},
		{"no uuid", func() *Event { e := cloneEvent(good); e.Tags = e.Tags[1:]; return resign(e) }, room, ErrInvalidRecord},
		{"no room tag", func() *Event { e := cloneEvent(good); e.Tags = e.Tags[:1]; return resign(e) }, room, ErrInvalidRecord},
		{"two uuids", func() *Event {
			e := cloneEvent(good)
			e.Tags = append(e.Tags, []string{"d", "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"})
			return resign(e)
		}, room, ErrInvalidRecord},
		{"geohash does not match", func() *Event {
			e := cloneEvent(good)
			e.Tags = append(e.Tags, []string{"g", "u4pruydqq"}, []string{"geo", "10", "10"})
			return resign(e)
		}, room, ErrInvalidGeo},
		{"content not base64", func() *Event {
			e := cloneEvent(good)
			e.Tags = append(e.Tags, []string{"m", "image/png", "base64"})
			e.Content = "!!"
			return resign(e)
		}, room, ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckRecord(tt.make(), tt.room, Limits{}); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSupersedes(t *testing.T) {
	a := &Event{CreatedAt: 100, ID: [32]byte{1}}
	b := &Event{CreatedAt: 100, ID: [32]byte{2}}
	c := &Event{CreatedAt: 101, ID: [32]byte{9}}
	tests := []struct {
		name string
		x, y *Event
		want bool
	}{
		{"newer wins", c, a, true},
		{"older loses", a, c, false},
		{"equal time: lower id wins", a, b, true},
		{"equal time: higher id loses", b, a, false},
		{"same event does not supersede itself", a, a, false},
	}
	for _, tt := range tests {
		if got := Supersedes(tt.x, tt.y); got != tt.want {
			t.Errorf("%s: Supersedes = %v", tt.name, got)
		}
	}
}

func TestDeletion(t *testing.T) {
	sk, other := testKey(t), testKey(t)
	room := RoomID("peerset", "lobby")
	at := time.Unix(1700000000, 0)
	rec, _ := New(Draft{Text: "v1", CreatedAt: at}, sk, room, Limits{})
	uuid := rec.TagValue(TagUUID)
	later, _ := New(Draft{UUID: uuid, Text: "v2", CreatedAt: at.Add(time.Hour)}, sk, room, Limits{})
	othersRec, _ := New(Draft{UUID: uuid, Text: "same uuid, other author", CreatedAt: at}, other, room, Limits{})

	del, err := NewDeletion(sk, room, uuid, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRecord(del, room, Limits{}); err != nil {
		t.Fatalf("CheckRecord(deletion): %v", err)
	}
	if err := CheckRecord(del, RoomID("peerset", "x"), Limits{}); !errors.Is(err, ErrWrongRoom) {
		t.Fatalf("deletion replayed into another room: %v", err)
	}
	if !Deletes(del, rec) {
		t.Error("deletion does not delete the earlier version")
	}
	if Deletes(del, later) {
		t.Error("deletion deletes a version created after it")
	}
	if Deletes(del, othersRec) {
		t.Error("deletion deletes another author's record with the same uuid")
	}
	// A deletion that names someone else's record is invalid.
	forged := &Event{CreatedAt: at.Unix(), Kind: KindDeletion, Tags: [][]string{
		{TagAddress, AddressOf(othersRec).String()}, {TagRoom, room}}}
	_ = forged.Sign(sk)
	if err := CheckRecord(forged, room, Limits{}); !errors.Is(err, ErrInvalidDeletion) {
		t.Fatalf("forged deletion: %v", err)
	}
	if Deletes(forged, othersRec) {
		t.Fatal("forged deletion deletes")
	}
}

func TestGeohashVectors(t *testing.T) {
	tests := []struct {
		geo       Geo
		precision int
		want      string
	}{
		{Geo{57.64911, 10.40744}, 11, "u4pruydqqvj"},
		{Geo{48.8566, 2.3522}, 6, "u09tvw"},
		{Geo{-33.8688, 151.2093}, 5, "r3gx2"},
		{Geo{0, 0}, 4, "s000"},
		{Geo{90, 180}, 3, "zzz"},
		{Geo{-90, -180}, 3, "000"},
	}
	for _, tt := range tests {
		if got := Geohash(tt.geo, tt.precision); got != tt.want {
			t.Errorf("Geohash(%v, %d) = %s, want %s", tt.geo, tt.precision, got, tt.want)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u, err := NewUUID()
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckUUID(u); err != nil {
			t.Fatalf("NewUUID() = %s: %v", u, err)
		}
		if seen[u] {
			t.Fatal("duplicate UUID")
		}
		seen[u] = true
	}
}

func TestRoomIDSeparatesAppsAndRooms(t *testing.T) {
	ids := map[string]bool{}
	for _, p := range [][2]string{{"peerset", "lobby"}, {"peerset", "lobby2"}, {"peerset2", "lobby"}, {"peerset:x", "y"}, {"peerset", "x:y"}} {
		id := RoomID(p[0], p[1])
		if len(id) != 64 || ids[id] {
			t.Fatalf("RoomID(%q, %q) = %s", p[0], p[1], id)
		}
		ids[id] = true
	}
}

// Parse, DeletionTarget and Deletes must not trust that CheckWellFormed ran.
func TestEmptyTagDoesNotPanic(t *testing.T) {
	for _, kind := range []int{KindRecord, KindDeletion} {
		e := &Event{Kind: kind, Tags: [][]string{{}, {"d", "x"}}}
		if _, err := Parse(e); err == nil {
			t.Errorf("kind %d: Parse accepted an empty tag", kind)
		}
		if _, err := DeletionTarget(e); err == nil {
			t.Errorf("kind %d: DeletionTarget accepted an empty tag", kind)
		}
		if Deletes(e, e) {
			t.Errorf("kind %d: Deletes with an empty tag", kind)
		}
	}
}
