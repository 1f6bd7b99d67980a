package record

import (
	"encoding/hex"
	"testing"
)

func TestAppendJSONStringMatchesJSONStringify(t *testing.T) {
	var v struct {
		Vectors []struct {
			Name     string `json:"name"`
			InputHex string `json:"input_hex"`
			WantHex  string `json:"want_hex"`
		} `json:"vectors"`
	}
	loadJSON(t, "json_stringify.json", &v)
	if len(v.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(v.Vectors))
	}
	for _, c := range v.Vectors {
		t.Run(c.Name, func(t *testing.T) {
			in, _ := hex.DecodeString(c.InputHex)
			want, _ := hex.DecodeString(c.WantHex)
			got := appendJSONString(nil, string(in))
			if string(got) != string(want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			if n := jsonStringLen(string(in)); n != len(want) {
				t.Fatalf("jsonStringLen = %d, want %d", n, len(want))
			}
		})
	}
}

// Invalid UTF-8 has no JSON.stringify form; the event layer rejects it.
func TestInvalidUTF8IsRejected(t *testing.T) {
	for _, s := range []string{"\xff", "a\xc3", "\xed\xa0\x80" /* UTF-8 of a lone surrogate */} {
		e := &Event{Kind: KindRecord, Content: s, Tags: [][]string{}}
		if err := e.CheckWellFormed(); err == nil {
			t.Errorf("content %q accepted", s)
		}
		e = &Event{Kind: KindRecord, Tags: [][]string{{"d", s}}}
		if err := e.CheckWellFormed(); err == nil {
			t.Errorf("tag %q accepted", s)
		}
	}
}
