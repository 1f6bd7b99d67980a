package nostrsignal

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// vectors were produced by the published Trystero 0.25.4 Nostr strategy
// itself (its exported createEvent and subscribe, and core's sha1 and
// strToNum), so they pin our reading of the wire to the real library.
type vectors struct {
	AppID     string          `json:"appId"`
	Room      string          `json:"room"`
	PeerID    string          `json:"peerId"`
	RootTopic string          `json:"rootTopic"`
	RootKind  int             `json:"rootKind"`
	PeerTopic string          `json:"peerTopic"`
	PeerKind  int             `json:"peerKind"`
	Announce  json.RawMessage `json:"announce"`
	Offer     json.RawMessage `json:"offer"`
	Req       string          `json:"req"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/trystero-0.25.4-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTopicsAndKindsMatchTrystero(t *testing.T) {
	v := loadVectors(t)
	if got := RootTopic(v.AppID, v.Room); got != v.RootTopic {
		t.Errorf("RootTopic = %q, Trystero %q", got, v.RootTopic)
	}
	if got := PeerTopic(v.AppID, v.Room, v.PeerID); got != v.PeerTopic {
		t.Errorf("PeerTopic = %q, Trystero %q", got, v.PeerTopic)
	}
	if got := TopicKind(v.RootTopic); got != v.RootKind {
		t.Errorf("TopicKind(root) = %d, Trystero %d", got, v.RootKind)
	}
	if got := TopicKind(v.PeerTopic); got != v.PeerKind {
		t.Errorf("TopicKind(peer) = %d, Trystero %d", got, v.PeerKind)
	}
	// By hand: the sum of the root topic's bytes mod 10000, plus 20000.
	sum := 0
	for i := 0; i < len(v.RootTopic); i++ {
		sum += int(v.RootTopic[i])
	}
	if 20000+sum%10000 != v.RootKind {
		t.Errorf("hand-computed kind %d, Trystero %d", 20000+sum%10000, v.RootKind)
	}
	// Kinds of non-ASCII topics count UTF-16 code units, as JavaScript does.
	if got, want := TopicKind("é😀"), 20000+(0xE9+0xD83D+0xDE00)%10000; got != want {
		t.Errorf("TopicKind(non-ASCII) = %d, want %d", got, want)
	}
}

func TestTrysteroEventsVerifyAndDecode(t *testing.T) {
	v := loadVectors(t)
	for _, tc := range []struct {
		name   string
		raw    json.RawMessage
		topic  string
		direct bool
		kind   SignalKind
	}{
		{"announce", v.Announce, v.RootTopic, false, Announce},
		{"offer", v.Offer, v.PeerTopic, true, Offer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := record.ParseEvent(tc.raw, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := ev.Verify(); err != nil {
				t.Fatalf("Trystero's event does not verify: %v", err)
			}
			if ev.TagValue("x") != tc.topic || ev.Kind != TopicKind(tc.topic) {
				t.Fatalf("tag %q kind %d", ev.TagValue("x"), ev.Kind)
			}
			c, err := New(Config{Relays: []string{"ws://127.0.0.1:1"}, AppID: v.AppID, Room: v.Room, PeerID: v.PeerID,
				OnSignal: func(Signal) {}, Now: func() time.Time { return time.Unix(ev.CreatedAt, 0) }})
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.verify(tc.raw)
			if err != nil || s == nil {
				t.Fatalf("verify: %v %v", s, err)
			}
			if s.Kind != tc.kind || s.Direct != tc.direct || s.PeerID != "ZyXwVuTsRqPoNmLkJiHg" {
				t.Fatalf("signal %+v", s)
			}
			if tc.kind == Offer && (s.OfferID != "Ab12Cd34Ef56" || s.Sealed != "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16$c2VhbGVk") {
				t.Fatalf("offer fields %+v", s)
			}
			// The content we write for the same payload is byte-identical.
			p, _ := DecodePayload(ev.Content)
			if p.Encode() != ev.Content {
				t.Fatalf("Encode = %s, Trystero wrote %s", p.Encode(), ev.Content)
			}
		})
	}
}

func TestEncodeReqMatchesTrystero(t *testing.T) {
	v := loadVectors(t)
	var want []any
	if err := json.Unmarshal([]byte(v.Req), &want); err != nil {
		t.Fatal(err)
	}
	since := int64(want[2].(map[string]any)["since"].(float64))
	if got := string(EncodeReq("sub1", since, v.RootTopic)); got != v.Req {
		t.Fatalf("EncodeReq = %s\nTrystero     %s", got, v.Req)
	}
	// Two topics: both kinds, both tags.
	got := string(EncodeReq("s", 5, v.RootTopic, v.PeerTopic))
	wantTwo := `["REQ","s",{"kinds":[22658,22830],"since":5,"#x":["` + v.RootTopic + `","` + v.PeerTopic + `"]}]`
	if got != wantTwo {
		t.Fatalf("EncodeReq two topics = %s", got)
	}
}

func TestOurEventsHaveTrysterosShape(t *testing.T) {
	v := loadVectors(t)
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvent(sk, v.RootTopic, Payload{PeerID: "p"}.Encode(), 1796070478)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Verify(); err != nil {
		t.Fatal(err)
	}
	var msg []json.RawMessage
	if err := json.Unmarshal(EncodeEventMessage(ev), &msg); err != nil || len(msg) != 2 || string(msg[0]) != `"EVENT"` {
		t.Fatalf("EVENT message %s: %v", EncodeEventMessage(ev), err)
	}
	var got, ref map[string]any
	json.Unmarshal(msg[1], &got)
	json.Unmarshal(v.Announce, &ref)
	for k := range ref {
		if _, ok := got[k]; !ok {
			t.Errorf("our event lacks field %q", k)
		}
	}
	if len(got) != len(ref) || got["kind"] != ref["kind"] {
		t.Errorf("our event %v, Trystero's %v", got, ref)
	}
}

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    Payload
		ok      bool
	}{
		{"announce", `{"peerId":"a"}`, Payload{PeerID: "a"}, true},
		{"passive announce", `{"peerId":"a","passive":true}`, Payload{PeerID: "a", Passive: true}, true},
		{"passive not true", `{"peerId":"a","passive":"yes"}`, Payload{PeerID: "a"}, true},
		{"offer", `{"peerId":"a","offerId":"o","offer":"s"}`, Payload{PeerID: "a", OfferID: "o", Offer: "s"}, true},
		{"answer", `{"peerId":"a","answer":"s","offerId":"o"}`, Payload{PeerID: "a", OfferID: "o", Answer: "s"}, true},
		{"candidate", `{"peerId":"a","offerId":"o","candidate":"c"}`, Payload{PeerID: "a", OfferID: "o", Candidate: "c"}, true},
		{"offerId not a string is ignored", `{"peerId":"a","offerId":5}`, Payload{PeerID: "a"}, true},
		{"no peerId", `{"offer":"s"}`, Payload{}, false},
		{"empty peerId", `{"peerId":""}`, Payload{}, false},
		{"peerId not a string", `{"peerId":1}`, Payload{}, false},
		{"empty offer", `{"peerId":"a","offer":""}`, Payload{}, false},
		{"answer not a string", `{"peerId":"a","answer":{}}`, Payload{}, false},
		{"null candidate", `{"peerId":"a","candidate":null}`, Payload{}, false},
		{"not an object", `["peerId"]`, Payload{}, false},
		{"not JSON", `peerId`, Payload{}, false},
		{"null", `null`, Payload{}, false},
		{"peerId too long", `{"peerId":"` + string(make([]byte, 65)) + `"}`, Payload{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePayload(tc.content)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error %v does not wrap ErrBadPayload", err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{`{"peerId":"a"}`, `{"peerId":"a","offerId":"o","offer":"s","passive":true}`, `{"peerId":"a","candidate":""}`, `[]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		p, err := DecodePayload(content)
		if err != nil {
			if !errors.Is(err, ErrBadPayload) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if p.PeerID == "" || len(p.PeerID) > MaxIDLength || len(p.OfferID) > MaxIDLength {
			t.Fatalf("accepted %+v", p)
		}
		// What we decode, we re-encode to something that decodes the same.
		q, err := DecodePayload(p.Encode())
		if err != nil || q != p {
			t.Fatalf("round trip %+v -> %q -> %+v (%v)", p, p.Encode(), q, err)
		}
	})
}

func FuzzParseRelayMessage(f *testing.F) {
	for _, s := range []string{`["EVENT","s",{}]`, `["OK","id",true,""]`, `["OK","id",false,"rate-limited: x"]`, `["EOSE","s"]`, `["CLOSED","s","why"]`, `["NOTICE","hi"]`, `[]`, `{}`, `["AUTH","c"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseRelayMessage(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedRelayMessage) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		switch m.Type {
		case "EVENT", "OK", "EOSE", "CLOSED", "NOTICE":
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
		if m.Type == "EVENT" && m.Event == nil {
			t.Fatal("EVENT without event")
		}
	})
}
