package record

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type nostrToolsVectors struct {
	SecretKeyHex string            `json:"secret_key_hex"`
	PubKey       string            `json:"pubkey"`
	RoomID       string            `json:"room_id"`
	Events       []json.RawMessage `json:"events"`
}

func loadNostrToolsEvents(t *testing.T) (nostrToolsVectors, []*Event) {
	t.Helper()
	var v nostrToolsVectors
	loadJSON(t, "nostr_tools_events.json", &v)
	var events []*Event
	for i, raw := range v.Events {
		e, err := ParseEvent(raw, 0)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		events = append(events, e)
	}
	if len(events) < 5 {
		t.Fatalf("only %d events", len(events))
	}
	return v, events
}

// Events signed by nostr-tools verify here: same ids (JSON.stringify-exact
// serialisation) and compatible BIP-340 signatures.
func TestVerifyNostrToolsEvents(t *testing.T) {
	v, events := loadNostrToolsEvents(t)
	for i, e := range events {
		if err := e.Verify(); err != nil {
			t.Errorf("event %d (%q): %v", i, e.Content, err)
		}
		if e.PubKey.Hex() != v.PubKey {
			t.Errorf("event %d: pubkey %s", i, e.PubKey.Hex())
		}
		if err := CheckRecord(e, v.RoomID, Limits{}); err != nil {
			t.Errorf("event %d: CheckRecord: %v", i, err)
		}
	}
}

func TestTamperedEventsFail(t *testing.T) {
	_, events := loadNostrToolsEvents(t)
	other, _ := GenerateKey()
	tests := []struct {
		name   string
		tamper func(e *Event)
		want   error
	}{
		{"content changed", func(e *Event) { e.Content += "!" }, ErrIDMismatch},
		{"time changed", func(e *Event) { e.CreatedAt++ }, ErrIDMismatch},
		{"tag changed", func(e *Event) { e.Tags[0][1] = strings.Replace(e.Tags[0][1], "3f2b", "3f2c", 1) }, ErrIDMismatch},
		{"kind changed", func(e *Event) { e.Kind = 1 }, ErrIDMismatch},
		{"signature bit flipped", func(e *Event) { e.Sig[40] ^= 1 }, ErrBadSignature},
		{"pubkey swapped and id recomputed", func(e *Event) { e.PubKey = other.Public(); e.ID = e.ComputeID() }, ErrBadSignature},
		{"id and sig of another event", func(e *Event) { e.ID[0] ^= 0xff }, ErrIDMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cloneEvent(events[0])
			tt.tamper(e)
			if err := e.Verify(); !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

func cloneEvent(e *Event) *Event {
	c := *e
	c.Tags = make([][]string, len(e.Tags))
	for i, t := range e.Tags {
		c.Tags[i] = append([]string(nil), t...)
	}
	return &c
}

func TestSignVerifyRoundTrip(t *testing.T) {
	sk, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"", "x", "a\u2028b", "\x00\x1f", "emoji 🍐", strings.Repeat("long ", 1000)} {
		e := &Event{CreatedAt: 1700000000, Kind: 1, Tags: [][]string{{"t", "peerset"}}, Content: content}
		if err := e.Sign(sk); err != nil {
			t.Fatal(err)
		}
		if err := e.Verify(); err != nil {
			t.Fatalf("Verify(%q): %v", content, err)
		}
		b, _ := e.MarshalJSON()
		if len(b) != JSONSize(e) {
			t.Fatalf("JSONSize = %d, len(MarshalJSON) = %d", JSONSize(e), len(b))
		}
		back, err := ParseEvent(b, 1<<20)
		if err != nil {
			t.Fatalf("ParseEvent(MarshalJSON): %v", err)
		}
		if err := back.Verify(); err != nil || back.Content != content {
			t.Fatalf("round trip: %v %q", err, back.Content)
		}
	}
}

func TestParseEventErrors(t *testing.T) {
	_, events := loadNostrToolsEvents(t)
	good, _ := events[0].MarshalJSON()
	var fields map[string]any
	_ = json.Unmarshal(good, &fields)
	with := func(key string, value any) string {
		m := map[string]any{}
		for k, v := range fields {
			m[k] = v
		}
		if value == nil {
			delete(m, key)
		} else {
			m[key] = value
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"not JSON", "hello", ErrMalformedEvent},
		{"array", "[1,2]", ErrMalformedEvent},
		{"trailing data", string(good) + "{}", ErrMalformedEvent},
		{"missing id", with("id", nil), ErrMalformedEvent},
		{"missing sig", with("sig", nil), ErrMalformedEvent},
		{"missing tags", with("tags", nil), ErrMalformedEvent},
		{"missing content", with("content", nil), ErrMalformedEvent},
		{"uppercase id", with("id", strings.ToUpper(events[0].IDHex())), ErrMalformedEvent},
		{"short pubkey", with("pubkey", "abcd"), ErrMalformedEvent},
		{"fractional time", with("created_at", 1.5), ErrMalformedEvent},
		{"time as string", with("created_at", "1700000000"), ErrMalformedEvent},
		{"negative time", with("created_at", -1), ErrNegativeTime},
		{"kind too large", with("kind", 70000), ErrKindOutOfRange},
		{"empty tag", with("tags", [][]string{{}}), ErrEmptyTag},
		{"tag with a number", with("tags", [][]any{{"d", 1}}), ErrMalformedEvent},
		{"invalid UTF-8", strings.Replace(string(good), "hello", "hel\xfflo", 1), ErrInvalidUTF8},
		{"over the size limit", with("content", strings.Repeat("x", 70000)), ErrRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.input), 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// MarshalJSON prints exactly what JSON.stringify prints for the same event
// object (keys in the order id, pubkey, created_at, kind, tags, content, sig).
func TestMarshalJSONMatchesJSONStringify(t *testing.T) {
	var v struct {
		CanonicalJSON []string `json:"canonical_json"`
	}
	loadJSON(t, "nostr_tools_events.json", &v)
	_, events := loadNostrToolsEvents(t)
	if len(v.CanonicalJSON) != len(events) {
		t.Fatalf("%d canonical forms for %d events", len(v.CanonicalJSON), len(events))
	}
	for i, e := range events {
		b, _ := e.MarshalJSON()
		if string(b) != v.CanonicalJSON[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, b, v.CanonicalJSON[i])
		}
	}
}

// The fast decoder takes every ordinary event (else it would be dead code).
func TestFastDecoderTakesOrdinaryEvents(t *testing.T) {
	var v nostrToolsVectors
	loadJSON(t, "nostr_tools_events.json", &v)
	for i, raw := range v.Events {
		if _, ok := decodeEventFast(raw); !ok {
			t.Errorf("event %d fell back to encoding/json", i)
		}
	}
	sk, _ := GenerateKey()
	e, _ := New(Draft{Text: "x\u2028\"\\\n🍐", Link: "https://example.org", Geo: &Geo{Lat: 1, Lon: 2}}, sk, RoomID("a", "b"), Limits{})
	b, _ := e.MarshalJSON()
	if _, ok := decodeEventFast(b); !ok {
		t.Error("our own MarshalJSON output fell back to encoding/json")
	}
}
