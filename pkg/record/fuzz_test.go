package record

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParseEvent: decoding arbitrary bytes as an event never panics, and an
// event that decodes re-encodes to JSON that decodes to the same event.
func FuzzParseEvent(f *testing.F) {
	if b, err := os.ReadFile("testdata/nostr_tools_events.json"); err == nil {
		f.Add(b)
	}
	var v nostrToolsVectors
	if b, err := os.ReadFile("testdata/nostr_tools_events.json"); err == nil {
		_ = json.Unmarshal(b, &v)
		for _, e := range v.Events {
			f.Add([]byte(e))
		}
	}
	for _, s := range []string{"", "{}", "null", `{"id":1}`, "\xff", `{"tags":[[]]}`, `{"kind":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data, 0)
		if err != nil {
			return
		}
		_ = e.Verify()
		_ = CheckStructure(e, "room")
		if e.Kind == KindRecord {
			_, _ = Parse(e)
		}
		b, _ := e.MarshalJSON()
		if len(b) != JSONSize(e) {
			t.Fatalf("JSONSize %d != %d", JSONSize(e), len(b))
		}
		back, err := ParseEvent(b, len(b))
		if err != nil {
			t.Fatalf("re-encoded event does not parse: %v\n%s", err, b)
		}
		if string(back.Serialize()) != string(e.Serialize()) || back.Sig != e.Sig || back.ID != e.ID {
			t.Fatalf("round trip changed the event")
		}
	})
}

// FuzzDecodeEventFast: whenever the fast decoder accepts input, the
// encoding/json reference accepts it too and reads the same fields.
func FuzzDecodeEventFast(f *testing.F) {
	var v nostrToolsVectors
	if b, err := os.ReadFile("testdata/nostr_tools_events.json"); err == nil {
		_ = json.Unmarshal(b, &v)
		for _, e := range v.Events {
			f.Add([]byte(e))
		}
	}
	for _, s := range []string{
		`{"id":"a","pubkey":"b","created_at":-0,"kind":1,"tags":[],"content":"\u00e9\ud83d\ude00\/","sig":"c"}`,
		`{"id":"a","pubkey":"b","created_at":01,"kind":1,"tags":[[]],"content":"","sig":"c"}`,
		`{"ID":"a","pubkey":"b","created_at":1,"kind":1,"tags":[],"content":"","sig":"c"}`,
		` {"sig":"c","content":"x\ud800","tags":[["a","b"]],"kind":1e2,"created_at":1,"pubkey":"b","id":"a"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // ParseEvent rejects it before either decoder runs
		}
		fast, ok := decodeEventFast(data)
		if !ok {
			return
		}
		slow, err := decodeEventSlow(data)
		if err != nil {
			t.Fatalf("fast accepted what encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decoders disagree on %q:\nfast %+v\nslow %+v", data, fast, slow)
		}
	})
}
