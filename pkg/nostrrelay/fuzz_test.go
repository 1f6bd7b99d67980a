package nostrrelay

import (
	"errors"
	"testing"
)

// FuzzParseClientMessage: any input decodes or fails with ErrMalformed,
// never panics, and a decoded message respects the decoder's bounds.
func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{
		`["EVENT",{"kind":22658,"tags":[["x","44634a4k3w236h6p71312cx55681t2y3k21511q"]],"created_at":1796070185,"content":"{\"peerId\":\"GQ0gnFdPRtVq2EFEEvm6\"}","pubkey":"f7ea819243cba6958cb9e5697e6077278ebf4780f489263f5b6df0568e5fd5cb","id":"c7af1f9afd49ff78ae2cebaab9a4ef46e03aaae58a2172974328cdeb0be8e725","sig":"4002c3e9339a8fcc6898c2e49f2a8753e1967cde4a468633f2bb324ff7ad00066bc3e3db8d2ecb03f6f2a04aeac80f86f8632c79cd832ee15bfa1311d28beca7"}]`,
		`["REQ","sub1",{"kinds":[22658],"since":1796070185,"#x":["44634a4k3w236h6p71312cx55681t2y3k21511q"]}]`,
		`["REQ","s",{"ids":["c7af1f9afd49ff78ae2cebaab9a4ef46e03aaae58a2172974328cdeb0be8e725"],"limit":3,"until":5}]`,
		`["CLOSE","sub1"]`, `[]`, `["EVENT"]`, `["REQ","s",null]`, `["REQ","s",{"#x":null}]`, `{}`, `null`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseClientMessage(data, 0)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		switch m.Type {
		case TypeEvent:
			if m.Event == nil {
				t.Fatal("EVENT without event")
			}
		case TypeReq:
			if m.SubID == "" || len(m.SubID) > MaxSubIDLength || len(m.Filters) == 0 || len(m.Filters) > MaxFiltersPerReq {
				t.Fatalf("REQ out of bounds: %q, %d filters", m.SubID, len(m.Filters))
			}
			for _, f := range m.Filters {
				if len(f.IDs) > MaxFilterValues || len(f.Authors) > MaxFilterValues || len(f.Kinds) > MaxFilterValues {
					t.Fatal("filter list over bound")
				}
			}
		case TypeClose:
			if m.SubID == "" || len(m.SubID) > MaxSubIDLength {
				t.Fatalf("CLOSE sub id %q", m.SubID)
			}
		default:
			t.Fatalf("decoded unknown type %q", m.Type)
		}
	})
}
