//go:build !js

package nostrrelay_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/peersetdb/peerset/pkg/nostrrelay"
	"github.com/peersetdb/peerset/pkg/record"
)

// startRelay serves a relay on a loopback port and returns its ws:// URL.
func startRelay(t *testing.T, cfg nostrrelay.Config) (*nostrrelay.Relay, string) {
	t.Helper()
	r := nostrrelay.New(cfg)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		r.Close()
		srv.Close()
	})
	return r, "ws" + strings.TrimPrefix(srv.URL, "http")
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &client{t: t, ws: ws}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(v ...any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// recv returns the next message as a JSON array, failing after d.
func (c *client) recv(d time.Duration) []json.RawMessage {
	c.t.Helper()
	m, err := c.tryRecv(d)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) tryRecv(d time.Duration) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		c.t.Fatalf("relay sent non-array %q", data)
	}
	return parts, nil
}

// expectNone checks that nothing arrives within d. The read is abandoned
// by closing the connection, so call it last on c.
func (c *client) expectNone(d time.Duration) {
	c.t.Helper()
	if m, err := c.tryRecv(d); err == nil {
		c.t.Fatalf("unexpected message %s", joinRaw(m))
	}
}

func joinRaw(m []json.RawMessage) string {
	var s []string
	for _, p := range m {
		s = append(s, string(p))
	}
	return "[" + strings.Join(s, ",") + "]"
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("not a string: %s", raw)
	}
	return s
}

func newEvent(t *testing.T, sk *record.SecretKey, kind int, created int64, tags [][]string, content string) *record.Event {
	t.Helper()
	e := &record.Event{Kind: kind, CreatedAt: created, Tags: tags, Content: content}
	if err := e.Sign(sk); err != nil {
		t.Fatal(err)
	}
	return e
}

func key(t *testing.T) *record.SecretKey {
	t.Helper()
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func eventJSON(e *record.Event) json.RawMessage { return e.AppendJSON(nil) }

// expectOK reads an OK for id and checks accepted and the reason prefix.
func (c *client) expectOK(id string, accepted bool, prefix string) {
	c.t.Helper()
	m := c.recv(5 * time.Second)
	if len(m) != 4 || str(c.t, m[0]) != "OK" || str(c.t, m[1]) != id {
		c.t.Fatalf("want OK for %s, got %s", id[:8], joinRaw(m))
	}
	if got := string(m[2]) == "true"; got != accepted {
		c.t.Fatalf("OK accepted = %v, want %v: %s", got, accepted, joinRaw(m))
	}
	if reason := str(c.t, m[3]); !strings.HasPrefix(reason, prefix) {
		c.t.Fatalf("OK reason %q, want prefix %q", reason, prefix)
	}
}

func TestEventOKAndValidation(t *testing.T) {
	_, url := startRelay(t, nostrrelay.Config{})
	c := dial(t, url)
	sk := key(t)
	now := time.Now().Unix()

	good := newEvent(t, sk, 1, now, [][]string{{"t", "x"}}, "hello")
	tamperedContent := *good
	tamperedContent.Content = "changed"
	tamperedSig := *good
	tamperedSig.Sig[5] ^= 1
	future := newEvent(t, sk, 1, now+3600, nil, "later")

	tests := []struct {
		name     string
		ev       *record.Event
		accepted bool
		prefix   string
	}{
		{"valid", good, true, ""},
		{"duplicate", good, true, "duplicate:"},
		{"content changed after signing", &tamperedContent, false, "invalid:"},
		{"signature bit flipped", &tamperedSig, false, "invalid:"},
		{"dated an hour ahead", future, false, "invalid:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.send("EVENT", eventJSON(tc.ev))
			c.expectOK(tc.ev.IDHex(), tc.accepted, tc.prefix)
		})
	}
}

func TestReqStoredThenEOSEThenLive(t *testing.T) {
	_, url := startRelay(t, nostrrelay.Config{})
	pub := dial(t, url)
	sub := dial(t, url)
	sk, other := key(t), key(t)
	now := time.Now().Unix()

	old1 := newEvent(t, sk, 1, now-30, [][]string{{"x", "topic"}}, "old1")
	old2 := newEvent(t, sk, 1, now-20, [][]string{{"x", "topic"}}, "old2")
	wrongTag := newEvent(t, sk, 1, now-10, [][]string{{"x", "other"}}, "no")
	wrongAuthor := newEvent(t, other, 1, now-10, [][]string{{"x", "topic"}}, "no")
	for _, e := range []*record.Event{old1, old2, wrongTag, wrongAuthor} {
		pub.send("EVENT", eventJSON(e))
		pub.expectOK(e.IDHex(), true, "")
	}

	sub.send("REQ", "s1", map[string]any{"kinds": []int{1}, "#x": []string{"topic"}, "authors": []string{sk.Public().Hex()}})
	// Newest first, then EOSE.
	for _, want := range []*record.Event{old2, old1} {
		m := sub.recv(5 * time.Second)
		if str(t, m[0]) != "EVENT" || str(t, m[1]) != "s1" {
			t.Fatalf("want EVENT s1, got %s", joinRaw(m))
		}
		var got record.Event
		if err := got.UnmarshalJSON(m[2]); err != nil || got.ID != want.ID {
			t.Fatalf("want event %q, got %s (%v)", want.Content, m[2], err)
		}
	}
	if m := sub.recv(5 * time.Second); str(t, m[0]) != "EOSE" || str(t, m[1]) != "s1" {
		t.Fatalf("want EOSE, got %s", joinRaw(m))
	}

	// A live ephemeral event in the subscription's kinds arrives; one of
	// another kind does not.
	sub.send("REQ", "s2", map[string]any{"kinds": []int{22658}, "#x": []string{"room"}})
	if m := sub.recv(5 * time.Second); str(t, m[0]) != "EOSE" {
		t.Fatalf("want EOSE for s2, got %s", joinRaw(m))
	}
	eph := newEvent(t, sk, 22658, now, [][]string{{"x", "room"}}, `{"peerId":"a"}`)
	ephOtherKind := newEvent(t, sk, 22659, now, [][]string{{"x", "room"}}, `{"peerId":"a"}`)
	pub.send("EVENT", eventJSON(ephOtherKind))
	pub.expectOK(ephOtherKind.IDHex(), true, "")
	pub.send("EVENT", eventJSON(eph))
	pub.expectOK(eph.IDHex(), true, "")
	m := sub.recv(5 * time.Second)
	if str(t, m[0]) != "EVENT" || str(t, m[1]) != "s2" {
		t.Fatalf("want live EVENT s2, got %s", joinRaw(m))
	}
	var got record.Event
	if err := got.UnmarshalJSON(m[2]); err != nil || got.ID != eph.ID {
		t.Fatalf("live event: got %s (%v)", m[2], err)
	}

	// Ephemeral events are not stored: a new subscription gets only EOSE.
	late := dial(t, url)
	late.send("REQ", "s3", map[string]any{"kinds": []int{22658}})
	if m := late.recv(5 * time.Second); str(t, m[0]) != "EOSE" {
		t.Fatalf("ephemeral event was stored: %s", joinRaw(m))
	}

	// After CLOSE, nothing more arrives on s2.
	sub.send("CLOSE", "s2")
	sub.send("CLOSE", "s1")
	// The relay handles a connection's messages in order: once it answers
	// a later REQ (EOSE, or CLOSED if rate-limited) the CLOSEs are done.
	sub.send("REQ", "sync", map[string]any{"kinds": []int{1}, "#x": []string{"nothing"}})
	if m := sub.recv(5 * time.Second); (str(t, m[0]) != "EOSE" && str(t, m[0]) != "CLOSED") || str(t, m[1]) != "sync" {
		t.Fatalf("want EOSE or CLOSED for the sync REQ, got %s", joinRaw(m))
	}
	sub.send("CLOSE", "sync")
	eph2 := newEvent(t, sk, 22658, now+1, [][]string{{"x", "room"}}, `{"peerId":"b"}`)
	pub.send("EVENT", eventJSON(eph2))
	pub.expectOK(eph2.IDHex(), true, "")
	sub.expectNone(300 * time.Millisecond)
}

func TestFiltersSinceUntilLimitIDs(t *testing.T) {
	_, url := startRelay(t, nostrrelay.Config{})
	c := dial(t, url)
	sk := key(t)
	var evs []*record.Event
	for i := 0; i < 5; i++ {
		e := newEvent(t, sk, 1, 1000+int64(i), nil, string(rune('a'+i)))
		evs = append(evs, e)
		c.send("EVENT", eventJSON(e))
		c.expectOK(e.IDHex(), true, "")
	}
	tests := []struct {
		name   string
		filter map[string]any
		want   []string // contents, in order
	}{
		{"since and until", map[string]any{"since": 1001, "until": 1003}, []string{"d", "c", "b"}},
		{"limit keeps the newest", map[string]any{"limit": 2}, []string{"e", "d"}},
		{"ids", map[string]any{"ids": []string{evs[0].IDHex(), evs[4].IDHex()}}, []string{"e", "a"}},
		{"empty kinds matches nothing", map[string]any{"kinds": []int{}}, nil},
		{"other kind", map[string]any{"kinds": []int{7}}, nil},
		{"limit zero", map[string]any{"limit": 0}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := "f" + string(rune('0'+i))
			c.send("REQ", sub, tc.filter)
			var got []string
			for {
				m := c.recv(5 * time.Second)
				if str(t, m[0]) == "EOSE" {
					break
				}
				var e record.Event
				if err := e.UnmarshalJSON(m[2]); err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Content)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			c.send("CLOSE", sub)
		})
	}
}

func TestReplaceableKeepsNewest(t *testing.T) {
	_, url := startRelay(t, nostrrelay.Config{})
	c := dial(t, url)
	sk := key(t)
	v1 := newEvent(t, sk, 30078, 100, [][]string{{"d", "k"}}, "v1")
	v2 := newEvent(t, sk, 30078, 200, [][]string{{"d", "k"}}, "v2")
	for _, e := range []*record.Event{v2, v1} {
		c.send("EVENT", eventJSON(e))
	}
	c.expectOK(v2.IDHex(), true, "")
	c.expectOK(v1.IDHex(), true, "duplicate:")
	c.send("REQ", "r", map[string]any{"kinds": []int{30078}})
	m := c.recv(5 * time.Second)
	var e record.Event
	if str(t, m[0]) != "EVENT" || e.UnmarshalJSON(m[2]) != nil || e.Content != "v2" {
		t.Fatalf("want v2, got %s", joinRaw(m))
	}
	if m := c.recv(5 * time.Second); str(t, m[0]) != "EOSE" {
		t.Fatalf("want EOSE, got %s", joinRaw(m))
	}
}

func TestMalformedInputGetsNoticeAndConnectionSurvives(t *testing.T) {
	r, url := startRelay(t, nostrrelay.Config{})
	c := dial(t, url)
	sk := key(t)
	valid := newEvent(t, sk, 1, time.Now().Unix(), nil, "ok")
	badSigJSON := strings.Replace(string(eventJSON(valid)), `"content":"ok"`, `"content":"ko"`, 1)

	tests := []struct {
		name  string
		input string
		want  string // first element of the answer
		sub   string // second element, when fixed
	}{
		{"not JSON", `{{{`, "NOTICE", ""},
		{"not an array", `{"a":1}`, "NOTICE", ""},
		{"empty array", `[]`, "NOTICE", ""},
		{"type not a string", `[1,2]`, "NOTICE", ""},
		{"unknown type", `["HELLO"]`, "NOTICE", ""},
		{"COUNT unsupported", `["COUNT","c",{}]`, "NOTICE", ""},
		{"EVENT without event", `["EVENT"]`, "NOTICE", ""},
		{"EVENT with a string", `["EVENT","x"]`, "NOTICE", ""},
		{"EVENT missing sig, id known", `["EVENT",{"id":"` + valid.IDHex() + `"}]`, "OK", valid.IDHex()},
		{"EVENT content tampered", `["EVENT",` + badSigJSON + `]`, "OK", valid.IDHex()},
		{"EVENT tag not strings", `["EVENT",{"id":"` + valid.IDHex() + `","tags":[[1]]}]`, "OK", valid.IDHex()},
		{"REQ without filter", `["REQ","s"]`, "NOTICE", ""},
		{"REQ empty sub id", `["REQ","",{}]`, "NOTICE", ""},
		{"REQ sub id too long", `["REQ","` + strings.Repeat("a", 65) + `",{}]`, "NOTICE", ""},
		{"REQ filter not an object", `["REQ","s",[]]`, "CLOSED", "s"},
		{"REQ kinds not numbers", `["REQ","s",{"kinds":["a"]}]`, "CLOSED", "s"},
		{"REQ ids not hex", `["REQ","s",{"ids":["zz"]}]`, "CLOSED", "s"},
		{"REQ unknown field", `["REQ","s",{"search":"x"}]`, "CLOSED", "s"},
		{"REQ too many filters", `["REQ","s"` + strings.Repeat(",{}", 11) + `]`, "NOTICE", ""},
		{"CLOSE without id", `["CLOSE"]`, "NOTICE", ""},
		{"deep nesting", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), "NOTICE", ""},
		{"invalid UTF-8", "[\"EVENT\",\"\xff\"]", "NOTICE", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.sendRaw(tc.input)
			m := c.recv(5 * time.Second)
			if got := str(t, m[0]); got != tc.want {
				t.Fatalf("answer %s, want %s", joinRaw(m), tc.want)
			}
			if tc.sub != "" && str(t, m[1]) != tc.sub {
				t.Fatalf("answer %s, want id/sub %s", joinRaw(m), tc.sub)
			}
			if tc.want == "OK" && string(m[2]) != "false" {
				t.Fatalf("malformed event accepted: %s", joinRaw(m))
			}
		})
	}
	// The connection still works.
	c.send("EVENT", eventJSON(valid))
	c.expectOK(valid.IDHex(), true, "")
	if s := r.Stats(); s.Connections != 1 || s.StoredEvents != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBounds(t *testing.T) {
	t.Run("subscriptions per connection", func(t *testing.T) {
		_, url := startRelay(t, nostrrelay.Config{MaxSubscriptions: 2})
		c := dial(t, url)
		for _, s := range []string{"a", "b"} {
			c.send("REQ", s, map[string]any{})
			if m := c.recv(5 * time.Second); str(t, m[0]) != "EOSE" {
				t.Fatalf("want EOSE, got %s", joinRaw(m))
			}
		}
		c.send("REQ", "a", map[string]any{"kinds": []int{1}}) // replacing one is fine
		if m := c.recv(5 * time.Second); str(t, m[0]) != "EOSE" {
			t.Fatalf("want EOSE, got %s", joinRaw(m))
		}
		c.send("REQ", "c", map[string]any{})
		m := c.recv(5 * time.Second)
		if str(t, m[0]) != "CLOSED" || str(t, m[1]) != "c" || !strings.HasPrefix(str(t, m[2]), "blocked:") {
			t.Fatalf("want CLOSED c blocked, got %s", joinRaw(m))
		}
	})
	t.Run("rate per connection", func(t *testing.T) {
		_, url := startRelay(t, nostrrelay.Config{RatePerSecond: 0.001, Burst: 3})
		c := dial(t, url)
		sk := key(t)
		for i := 0; i < 4; i++ {
			e := newEvent(t, sk, 1, 1000+int64(i), nil, "r")
			c.send("EVENT", eventJSON(e))
			if i < 3 {
				c.expectOK(e.IDHex(), true, "")
			} else {
				c.expectOK(e.IDHex(), false, "rate-limited:")
			}
		}
	})
	t.Run("stored events", func(t *testing.T) {
		r, url := startRelay(t, nostrrelay.Config{MaxStoredEvents: 3})
		c := dial(t, url)
		sk := key(t)
		for i := 0; i < 10; i++ {
			e := newEvent(t, sk, 1, 1000+int64(i), nil, string(rune('a'+i)))
			c.send("EVENT", eventJSON(e))
			c.expectOK(e.IDHex(), true, "")
		}
		if s := r.Stats(); s.StoredEvents != 3 {
			t.Fatalf("stored %d events, bound 3", s.StoredEvents)
		}
		c.send("REQ", "s", map[string]any{})
		var got []string
		for {
			m := c.recv(5 * time.Second)
			if str(t, m[0]) == "EOSE" {
				break
			}
			var e record.Event
			if err := e.UnmarshalJSON(m[2]); err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Content)
		}
		if strings.Join(got, "") != "jih" {
			t.Fatalf("kept %v, want the newest three", got)
		}
	})
	t.Run("message size", func(t *testing.T) {
		_, url := startRelay(t, nostrrelay.Config{MaxMessageBytes: 1024})
		c := dial(t, url)
		c.sendRaw(`["NOTICE","` + strings.Repeat("a", 2000) + `"]`)
		if _, err := c.tryRecv(5 * time.Second); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("want close 1009, got %v", err)
		}
	})
	t.Run("connections", func(t *testing.T) {
		_, url := startRelay(t, nostrrelay.Config{MaxConnections: 1})
		dial(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, url, nil)
		if err == nil {
			ws.CloseNow()
			t.Fatal("second connection accepted over the bound of 1")
		}
		if resp == nil || resp.StatusCode != 503 {
			t.Fatalf("want HTTP 503, got %v %v", resp, err)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		_, url := startRelay(t, nostrrelay.Config{IdleTimeout: 200 * time.Millisecond})
		c := dial(t, url)
		if _, err := c.tryRecv(5 * time.Second); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("want close 1008 after idling, got %v", err)
		}
	})
}
