package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

func TestParseOpenOptionsDefaults(t *testing.T) {
	o, err := parseOpenOptions(`{"room":" lobby "}`)
	if err != nil {
		t.Fatal(err)
	}
	if o.Room != "lobby" || o.AppID != peerset.DefaultAppID || o.Moderation.Preset != moderation.PresetNameStandard || o.Storage != storageIndexedDB {
		t.Errorf("defaults: %+v", o)
	}
	if o.granularity() != merkle.GranularityDay {
		t.Errorf("default granularity %v, want day", o.granularity())
	}
	join := o.joinOptions()
	if len(join.Trackers) == 0 || strings.Join(join.Trackers, ",") != strings.Join(swarm.DefaultTrackers(), ",") {
		t.Errorf("default trackers %v", join.Trackers)
	}
	if join.ICEServers != nil {
		t.Errorf("ICE servers without the option: %v, want nil (the defaults)", join.ICEServers)
	}
}

func TestParseOpenOptionsRefusesWhatCannotWork(t *testing.T) {
	tests := []struct{ json, want string }{
		{`{}`, "needs a room name"},
		{`{"room":"   "}`, "needs a room name"},
		{`{"room":"r","moderation":"lax"}`, `unknown moderation preset "lax"`},
		{`{"room":"r","moderation":{"preset":"lax"}}`, `unknown moderation preset "lax"`},
		{`{"room":"r","moderation":{"quota":-1}}`, `moderation.quota must be between 0`},
		{`{"room":"r","moderation":{"proofOfWork":40}}`, `moderation.proofOfWork must be between 0 and 32`},
		{`{"room":"r","moderation":{"pow":8}}`, `unknown field "pow"`},
		{`{"room":"r","session":{"ingestRate":-1}}`, `must not be negative`},
		{`{"room":"r","granularity":"week"}`, `unknown granularity "week"`},
		{`{"room":"r","storage":"localStorage"}`, `unknown storage "localStorage"`},
		{`{"room":"r","trackers":["https://tracker.example"]}`, "not a WebSocket URL"},
		{`{"room":"r","relays":["https://relay.example"]}`, `relay "https://relay.example" is not a WebSocket URL`},
		{`{"room":"r","relays":["wss://"]}`, `relay "wss://" is not a WebSocket URL`},
		{`{"room":"r","relays":"wss://relay.example"}`, "failed to read the options"},
		{`{"room":"r","iceServers":[{"urls":5}]}`, "urls must be"},
		{`not json`, "failed to read the options"},
	}
	for _, tc := range tests {
		_, err := parseOpenOptions(tc.json)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOpenOptions(%s) = %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
}

func TestDatabaseNameSeparatesAppAndRoom(t *testing.T) {
	a := openOptions{AppID: "a:b", Room: "c"}
	b := openOptions{AppID: "a", Room: "b:c"}
	if a.databaseName() == b.databaseName() {
		t.Fatalf("both are %q", a.databaseName())
	}
	if got := (openOptions{AppID: "x", Room: "y", DatabaseName: "mine"}).databaseName(); got != "mine" {
		t.Errorf("databaseName with an explicit name = %q", got)
	}
}

// TestRelaysFromJavaScript: open({ relays }) reaches the join options; relays
// alone mean no tracker; with trackers both are used.
func TestRelaysFromJavaScript(t *testing.T) {
	tests := []struct {
		json             string
		trackers, relays string
	}{
		{`{"room":"r","relays":["ws://127.0.0.1:7000","wss://relay.example"]}`, "", "ws://127.0.0.1:7000,wss://relay.example"},
		{`{"room":"r","relays":["ws://127.0.0.1:7000"],"trackers":["ws://127.0.0.1:8000"]}`, "ws://127.0.0.1:8000", "ws://127.0.0.1:7000"},
		{`{"room":"r","relays":[]}`, strings.Join(swarm.DefaultTrackers(), ","), ""},
	}
	for _, tc := range tests {
		o, err := parseOpenOptions(tc.json)
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		j := o.joinOptions()
		if got := strings.Join(j.Trackers, ","); got != tc.trackers {
			t.Errorf("%s: trackers %q, want %q", tc.json, got, tc.trackers)
		}
		if got := strings.Join(j.Relays, ","); got != tc.relays {
			t.Errorf("%s: relays %q, want %q", tc.json, got, tc.relays)
		}
	}
}

func TestJoinOptionsFromJavaScript(t *testing.T) {
	o, err := parseOpenOptions(`{"room":"r","trackers":["ws://127.0.0.1:8000/"],"password":"pw","maxPeers":3,
		"iceServers":[{"urls":"stun:127.0.0.1:3478"},{"urls":["turn:127.0.0.1:3478","turn:127.0.0.1:3479"],"username":"u","credential":"c"}],
		"session":{"handshakeTimeout":1500,"challengeTimeout":2000,"idleRootInterval":250,"maxPeerSessionTime":-1,"maxPeers":4}}`)
	if err != nil {
		t.Fatal(err)
	}
	j := o.joinOptions()
	if len(j.Trackers) != 1 || j.Trackers[0] != "ws://127.0.0.1:8000/" || j.Password != "pw" || j.MaxPeers != 3 {
		t.Errorf("join options %+v", j)
	}
	if len(j.ICEServers) != 2 || len(j.ICEServers[0].URLs) != 1 || len(j.ICEServers[1].URLs) != 2 || j.ICEServers[1].Username != "u" || j.ICEServers[1].Credential != "c" {
		t.Errorf("ICE servers %+v", j.ICEServers)
	}
	s := j.Session
	if s.HandshakeTimeout != 1500*time.Millisecond || s.ChallengeTimeout != 2*time.Second || s.IdleRootInterval != 250*time.Millisecond || s.MaxPeerSessionTime >= 0 || s.MaxPeers != 4 {
		t.Errorf("session config %+v", s)
	}

	none, err := parseOpenOptions(`{"room":"r","iceServers":[]}`)
	if err != nil {
		t.Fatal(err)
	}
	if ice := none.joinOptions().ICEServers; ice == nil || len(ice) != 0 {
		t.Errorf("iceServers: [] gave %#v, want an empty non-nil list (no STUN at all)", ice)
	}
}

func TestModerationObject(t *testing.T) {
	o, err := parseOpenOptions(`{"room":"r","moderation":{"preset":"strict","quota":7,"deletionQuota":0,"proofOfWork":12},
		"session":{"ingestBurst":100,"ingestRate":5,"uploadBurst":65536,"uploadRate":1024}}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Moderation
	if m.Preset != moderation.PresetNameStrict || m.AuthorQuota != 7 || m.DeletionQuota != 0 || m.PoWDifficulty != 12 || m.MaxTextRunes != 500 {
		t.Errorf("moderation %+v", m)
	}
	s := o.joinOptions().Session
	if s.IngestBurst != 100 || s.IngestRate != 5 || s.UploadBurst != 65536 || s.UploadRate != 1024 {
		t.Errorf("session budgets %+v", s)
	}
	plain, err := parseOpenOptions(`{"room":"r","moderation":{}}`)
	if err != nil || plain.Moderation.Preset != moderation.PresetNameStandard {
		t.Errorf("an empty moderation object: %+v, %v", plain.Moderation, err)
	}
}

func TestConfigKeyAndPreset(t *testing.T) {
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOpenOptions(fmt.Sprintf(`{"room":"r","nsec":%q,"passphrase":"p","moderation":"open","granularity":"hour"}`, sk.Nsec()))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Key == nil || cfg.Key.Public() != sk.Public() || cfg.KeyPassphrase != "p" || cfg.Moderation.Preset != moderation.PresetNameOpen || cfg.Granularity != merkle.GranularityHour {
		t.Errorf("config %+v", cfg)
	}

	o.Nsec = sk.Public().Npub() // a common mistake: the public key
	if _, err := o.config(); err == nil || !strings.Contains(err.Error(), "not a valid secret key") {
		t.Errorf("config with an npub as nsec: %v", err)
	}
}

func TestParseDraft(t *testing.T) {
	d, err := parseDraft(`{"text":"hi","link":"https://example.org/","geo":{"lat":1.5,"lon":-2},"uuid":"3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"}`)
	if err != nil {
		t.Fatal(err)
	}
	if d.Text != "hi" || d.Link != "https://example.org/" || d.Geo == nil || d.Geo.Lat != 1.5 || d.Geo.Lon != -2 || d.UUID == "" || d.Data != nil {
		t.Errorf("draft %+v", d)
	}
	d, err = parseDraft(`{"dataJSON":"{\"a\":1}"}`)
	if err != nil || string(d.Data) != `{"a":1}` || d.MediaType != record.MediaTypeJSON {
		t.Errorf("JSON data: %+v, %v", d, err)
	}
	d, err = parseDraft(`{"dataBase64":"AQL/"}`)
	if err != nil || string(d.Data) != "\x01\x02\xff" || d.MediaType != record.MediaTypeBinary {
		t.Errorf("binary data: %+v, %v", d, err)
	}
	d, err = parseDraft(`{"dataBase64":"AQL/","mediaType":"image/png"}`)
	if err != nil || d.MediaType != "image/png" {
		t.Errorf("binary data with a media type: %+v, %v", d, err)
	}
	for _, bad := range []string{`{}`, `{"text":""}`, `{"text":"a","dataJSON":"1"}`, `{"dataJSON":"1","dataBase64":"AA=="}`, `{"dataBase64":"%%"}`, `[1]`} {
		if _, err := parseDraft(bad); err == nil {
			t.Errorf("parseDraft(%s) succeeded", bad)
		}
	}
}

func TestParseQueryConvertsMilliseconds(t *testing.T) {
	sk, _ := record.GenerateKey()
	q, err := parseQuery(fmt.Sprintf(`{"author":%q,"since":1700000000001,"until":1700000009999,"limit":5,"oldest":true}`, sk.Public().Npub()))
	if err != nil {
		t.Fatal(err)
	}
	// Records have whole seconds: since rounds up, until rounds down.
	if q.Author == nil || *q.Author != sk.Public() || q.Since != 1700000001 || q.Until != 1700000009 || q.Limit != 5 || !q.Oldest {
		t.Errorf("query %+v", q)
	}
	if q, err := parseQuery(""); err != nil || q.Author != nil || q.Since != 0 || q.Until != 0 || q.Limit != 0 {
		t.Errorf("empty query: %+v, %v", q, err)
	}
	for _, bad := range []string{`{"author":"npub1nope"}`, `{"limit":-1}`, `{"since":"yesterday"}`} {
		if _, err := parseQuery(bad); err == nil {
			t.Errorf("parseQuery(%s) succeeded", bad)
		}
	}
}

// newRecord signs a record for the tests.
func newRecord(t *testing.T, sk *record.SecretKey, d record.Draft) *record.Record {
	t.Helper()
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Unix(1700000000, 0)
	}
	e, err := record.New(d, sk, record.RoomID("peerset", "r"), record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := record.Parse(e)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecordJSONIsTheFriendlyView(t *testing.T) {
	sk, _ := record.GenerateKey()
	r := newRecord(t, sk, record.Draft{Text: "hello\u2028there", Link: "https://example.org/", Geo: &record.Geo{Lat: 48.8566, Lon: 2.3522}})
	b, err := json.Marshal(toRecordJSON(r))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["uuid"] != r.UUID || got["author"] != sk.Public().Npub() || got["createdAt"] != float64(1700000000000) ||
		got["text"] != "hello\u2028there" || got["link"] != "https://example.org/" || got["id"] != r.Event.IDHex() {
		t.Errorf("record JSON %s", b)
	}
	if geo, ok := got["geo"].(map[string]any); !ok || geo["lat"] != 48.8566 || geo["lon"] != 2.3522 {
		t.Errorf("geo %v", got["geo"])
	}
	var ev record.Event
	raw, _ := json.Marshal(got["event"])
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Verify() != nil || ev.ID != r.Event.ID {
		t.Errorf("the raw event does not verify: %v / %v", err, ev.Verify())
	}
	if _, ok := got["data"]; ok {
		t.Errorf("a text record has data: %s", b)
	}

	j := newRecord(t, sk, record.Draft{Data: []byte(`{"n":[1,2]}`), MediaType: record.MediaTypeJSON})
	if b, _ := json.Marshal(toRecordJSON(j)); !strings.Contains(string(b), `"data":{"n":[1,2]}`) || strings.Contains(string(b), `"text"`) {
		t.Errorf("JSON record: %s", b)
	}
	bin := newRecord(t, sk, record.Draft{Data: []byte{0, 1, 255}, MediaType: record.MediaTypeBinary})
	if b, _ := json.Marshal(toRecordJSON(bin)); !strings.Contains(string(b), `"dataBase64":"AAH/"`) || !strings.Contains(string(b), `"mediaType":"application/octet-stream"`) {
		t.Errorf("binary record: %s", b)
	}
}

func TestMarshalChangesLeavesDeletionsOut(t *testing.T) {
	sk, _ := record.GenerateKey()
	r := newRecord(t, sk, record.Draft{Text: "x"})
	del, err := record.NewDeletion(sk, record.RoomID("peerset", "r"), r.UUID, time.Unix(1700000001, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, n, err := marshalChanges([]peerset.Change{
		{Event: r.Event, Origin: peerset.Origin{PeerID: "peer-a"}},
		{Event: del},
		{Event: r.Event, Removed: true},
	}, 0)
	if err != nil || n != 2 {
		t.Fatalf("marshalChanges: %d, %v", n, err)
	}
	var got []recordEventJSON
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got[0].Origin != "peer-a" || got[0].Removed || got[0].UUID != r.UUID || got[1].Origin != "local" || !got[1].Removed {
		t.Errorf("changes %+v", got)
	}
	if _, n, _ := marshalChanges([]peerset.Change{{Event: del}}, 0); n != 0 {
		t.Errorf("a lone deletion gave %d record events", n)
	}
}

func TestPeerTrackerReportsChanges(t *testing.T) {
	var pt peerTracker
	noRTT := func(string) time.Duration { return 0 }
	a := session.SessionInfo{PeerID: "a", State: session.StateOpen}
	b := session.SessionInfo{PeerID: "b", State: session.StateIdle}
	ids := func(vs []sessionJSONView) string {
		var s []string
		for _, v := range vs {
			s = append(s, v.PeerID+":"+v.State)
		}
		return strings.Join(s, ",")
	}
	if got := ids(pt.update([]session.SessionInfo{a, b}, noRTT)); got != "a:open,b:idle" {
		t.Errorf("first snapshot: %s", got)
	}
	if got := pt.update([]session.SessionInfo{a, b}, noRTT); len(got) != 0 {
		t.Errorf("unchanged snapshot: %s", ids(got))
	}
	a.State = session.StateAuthenticated
	if got := ids(pt.update([]session.SessionInfo{a, b}, noRTT)); got != "a:authenticated" {
		t.Errorf("state change: %s", got)
	}
	got := pt.update([]session.SessionInfo{a}, noRTT)
	if ids(got) != "b:closed" || !got[0].Closed {
		t.Errorf("vanished session: %+v", got)
	}
	a.State = session.StateClosed
	pt.update([]session.SessionInfo{a}, noRTT)
	if got := pt.update(nil, noRTT); len(got) != 0 {
		t.Errorf("a closed session that vanishes is reported twice: %s", ids(got))
	}
}

func TestMergeMissingRanges(t *testing.T) {
	got := mergeMissingRanges([]session.SessionInfo{
		{State: session.StateIdle, MissingRanges: []merkle.TimeRange{{Start: 100, End: 200}, {Start: 500, End: 600}}},
		{State: session.StateSyncing, MissingRanges: []merkle.TimeRange{{Start: 150, End: 300}, {Start: 900, End: merkle.MaxTimestamp}}},
		{State: session.StateClosed, MissingRanges: []merkle.TimeRange{{Start: 0, End: 50}}},
	})
	b, _ := json.Marshal(got)
	if string(b) != `[{"start":100000,"end":300000},{"start":500000,"end":600000},{"start":900000,"end":null}]` {
		t.Errorf("merged %s", b)
	}
}

func TestDescribeErrorForJavaScript(t *testing.T) {
	rej := &moderation.Rejection{Rule: "no-link-in-text", Reason: `text contains a link ("example.com")`}
	info := describeError(fmt.Errorf("failed to put: %w", rej))
	if info.Code != codeRejected || info.Rule != "no-link-in-text" || info.Reason != rej.Reason {
		t.Errorf("rejection: %+v", info)
	}
	if want := `peerset: record refused by rule no-link-in-text: text contains a link ("example.com")`; info.Message != want {
		t.Errorf("rejection message %q, want %q", info.Message, want)
	}
	// The whole message each code carries: "peerset: " once, at this edge.
	tests := []struct {
		err  error
		code string
		msg  string
	}{
		{peerset.ErrClosed, codeClosed, "peerset: this database is closed: open it again with peerset.open()"},
		{peerset.ErrKeyPassphrase, codeKeyPassphrase, "peerset: the key stored for this room is encrypted and the passphrase is missing or wrong: pass the one it was saved with, open({ room, passphrase })"},
		{peerset.ErrNotFound, codeNotFound, "peerset: record not found"},
		{fmt.Errorf("failed to delete: %w: no record u1 by this node's key", peerset.ErrNotFound), codeNotFound, "peerset: failed to delete: record not found: no record u1 by this node's key"},
		{fmt.Errorf("%w: the user said no", peerset.ErrSigner), codeSigner, "peerset: the signer did not sign: the user said no"},
		{&unsupportedError{"no WebRTC"}, codeUnsupported, "peerset: no WebRTC"},
		{invalidInput(errors.New("bad")), codeInvalid, "peerset: bad"},
		{fmt.Errorf("x: %w", record.ErrInvalidUUID), codeInvalid, "peerset: x: " + record.ErrInvalidUUID.Error()},
		{errors.New("disk on fire"), "", "peerset: disk on fire"},
	}
	for _, tc := range tests {
		info := describeError(tc.err)
		if info.Code != tc.code || info.Message != tc.msg {
			t.Errorf("describeError(%v) = code %q, message %q; want %q, %q", tc.err, info.Code, info.Message, tc.code, tc.msg)
		}
	}
}

// TestDeleteMissingSaysPeersetOnce goes through the facade: the page reads
// one "peerset: " (issue 12: it once read "peerset: failed to delete:
// peerset: record not found").
func TestDeleteMissingSaysPeersetOnce(t *testing.T) {
	db, err := peerset.Open(context.Background(), peerset.Config{Room: "errors"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Delete(context.Background(), "3f2b8c1e-7d4a-4b6e-9c2d-1a5e8f7b3c90")
	info := describeError(err)
	want := "peerset: failed to delete: record not found: no record 3f2b8c1e-7d4a-4b6e-9c2d-1a5e8f7b3c90 by this node's key"
	if info.Code != codeNotFound || info.Message != want {
		t.Errorf("delete of a missing record: code %q, message %q; want %q, %q", info.Code, info.Message, codeNotFound, want)
	}
}

func TestHandWrittenRecordJSONMatchesTheStruct(t *testing.T) {
	sk, _ := record.GenerateKey()
	records := []*record.Record{
		newRecord(t, sk, record.Draft{Text: "quote \" backslash \\ newline \n tab \t nul \x00 bell \x07 \u2028 é 😀 </script>"}),
		newRecord(t, sk, record.Draft{Text: "t", Link: "https://example.org/?a=1&b=\"2\"", Geo: &record.Geo{Lat: -33.8688, Lon: 151.2093}}),
		newRecord(t, sk, record.Draft{Data: []byte(`{"n":[1,2],"s":"x\u0000"}`), MediaType: record.MediaTypeJSON}),
		newRecord(t, sk, record.Draft{Data: []byte{0, 1, 255}, MediaType: "image/png"}),
		newRecord(t, sk, record.Draft{Geo: &record.Geo{Lat: 90, Lon: -180}}),
	}
	for _, r := range records {
		fast := appendRecordJSON(nil, r)
		slow, err := json.Marshal(toRecordJSON(r))
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(fast, &a); err != nil {
			t.Fatalf("hand-written JSON does not parse: %v\n%s", err, fast)
		}
		if err := json.Unmarshal(slow, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("hand-written JSON differs:\n%s\nwant\n%s", fast, slow)
		}
	}
	all, err := marshalRecords(records)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(all, &list); err != nil || len(list) != len(records) {
		t.Fatalf("marshalRecords: %d records, %v", len(list), err)
	}
	if empty, _ := marshalRecords(nil); string(empty) != "[]" {
		t.Errorf("no records: %s", empty)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x01\x1f\x7f", "\n\r\t\b\f", "é😀\u2028\u2029", "bad \xff utf-8 \xe2\x82", "\xed\xa0\x80"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q gave invalid JSON %s: %v", s, b, err)
			continue
		}
		// encoding/json also replaces each invalid byte with U+FFFD.
		std, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%q round-tripped to %q, want %q", s, got, want)
		}
	}
}

// L1: a flood of rejections crosses to JavaScript in a few batches, one
// emit per interval at most, each bounded; when a batch is full the
// facade's subscriber waits (and the facade counts the rest in summaries).
func TestRejectsCrossInBatches(t *testing.T) {
	const n, max, interval = 1000, 64, 20 * time.Millisecond
	b := newRejectBatcher(max)
	done := make(chan struct{})
	defer close(done)
	type call struct {
		at   time.Time
		size int
	}
	calls := make(chan call, n)
	go b.run(done, interval, func(batch []peerset.Rejection) { calls <- call{time.Now(), len(batch)} })

	added := make(chan int)
	go func() {
		for i := range n {
			if !b.add(peerset.Rejection{Rule: "bad-words", Origin: peerset.Origin{PeerID: fmt.Sprint("p", i%7)}}, done) {
				break
			}
		}
		added <- n
	}()
	var got []call
	total := 0
	timeout := time.After(10 * time.Second)
	for total < n {
		select {
		case c := <-calls:
			got = append(got, c)
			total += c.size
		case <-timeout:
			t.Fatalf("%d of %d rejections crossed in %d calls", total, n, len(got))
		}
	}
	<-added
	for i, c := range got {
		if c.size > max {
			t.Errorf("call %d carries %d rejections, over the batch bound %d", i, c.size, max)
		}
		if i > 0 && c.at.Sub(got[i-1].at) < interval*9/10 {
			t.Errorf("calls %d and %d are %v apart, want one per %v at most", i-1, i, c.at.Sub(got[i-1].at), interval)
		}
	}
	if want := (n + max - 1) / max; len(got) > want+1 {
		t.Errorf("%d rejections in %d calls, want about %d", n, len(got), want)
	}
	t.Logf("%d rejections in %d calls", n, len(got))

	// A closed page does not keep the facade's subscriber waiting.
	full := newRejectBatcher(1)
	stop := make(chan struct{})
	full.add(peerset.Rejection{}, stop)
	close(stop)
	if full.add(peerset.Rejection{}, stop) {
		t.Error("add into a full batch after close succeeded")
	}
}

// The 'reject' payload: a verified refusal names the event, an unverified
// one only the peer and the rule, a summary carries the count.
func TestRejectEventJSON(t *testing.T) {
	sk, _ := record.GenerateKey()
	peer, _ := record.GenerateKey()
	r := newRecord(t, sk, record.Draft{Text: "what an asshole"})
	origin := peerset.Origin{PeerID: "peer-a", PubKey: peer.Public()}
	b, err := marshalRejects([]peerset.Rejection{
		{Event: r.Event, Origin: origin, Rule: "bad-words", Reason: "a bad word"},
		{Origin: origin, Rule: "integrity", Reason: "event id does not match its content", Unverified: true},
		{Event: r.Event, Origin: origin, Rule: "integrity", Reason: "bad signature", Unverified: true},
		{Origin: origin, Rule: "integrity", Reason: "1234 more", Suppressed: 1234},
		{Reason: "7 more from several peers", Suppressed: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil || len(got) != 5 {
		t.Fatalf("%s: %v", b, err)
	}
	verified, unverified, unverifiedWithEvent, summary, several := got[0], got[1], got[2], got[3], got[4]
	if verified["id"] != r.Event.IDHex() || verified["author"] != sk.Public().Npub() || verified["uuid"] != r.UUID ||
		verified["peer"] != peer.Public().Npub() || verified["peerId"] != "peer-a" || verified["rule"] != "bad-words" || verified["unverified"] != nil {
		t.Errorf("verified: %v", verified)
	}
	for _, u := range []map[string]any{unverified, unverifiedWithEvent} {
		if u["unverified"] != true || u["id"] != nil || u["author"] != nil || u["uuid"] != nil || u["peerId"] != "peer-a" || u["rule"] != "integrity" {
			t.Errorf("unverified: %v", u)
		}
	}
	if summary["suppressed"] != float64(1234) || summary["peerId"] != "peer-a" || summary["rule"] != "integrity" || summary["id"] != nil {
		t.Errorf("summary: %v", summary)
	}
	if several["suppressed"] != float64(7) || several["peerId"] != "" || several["rule"] != "" {
		t.Errorf("summary over several peers: %v", several)
	}
}

// The record changes waiting for the page are bounded in count and bytes:
// past a bound the queue is dropped and the next batch starts with one
// overflow item counting what was dropped; later changes queue as usual.
func TestRecordQueueOverflowsIntoOneSignal(t *testing.T) {
	sk, _ := record.GenerateKey()
	change := func(i int, text string) peerset.Change {
		r := newRecord(t, sk, record.Draft{Text: text, UUID: uuidOf(i)})
		return peerset.Change{Event: r.Event}
	}
	q := newRecordQueue(5, 1<<20)
	for i := range 5 {
		q.add(change(i, "fits"))
	}
	if n, _ := q.len(); n != 5 {
		t.Fatalf("%d queued, want 5", n)
	}
	q.add(change(5, "one too many")) // the count bound: all six are dropped
	if n, bytes := q.len(); n != 0 || bytes != 0 {
		t.Fatalf("after the overflow %d changes (%d bytes) queued, want none", n, bytes)
	}
	q.add(change(6, "after"))
	batch, missed, more := q.take(200)
	if missed != 6 || len(batch) != 1 || more {
		t.Fatalf("take = %d changes, missed %d, more %v; want 1, 6, false", len(batch), missed, more)
	}
	b, n, err := marshalChanges(batch, missed)
	if err != nil || n != 2 {
		t.Fatalf("marshalChanges: %d items, %v", n, err)
	}
	var items []map[string]any
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	if items[0]["overflow"] != true || items[0]["missed"] != float64(6) || items[0]["record"] != nil {
		t.Errorf("first item %v, want the overflow signal", items[0])
	}
	if items[1]["uuid"] != uuidOf(6) {
		t.Errorf("second item %v, want the change queued after the overflow", items[1])
	}
	if _, missed, _ := q.take(200); missed != 0 {
		t.Errorf("the overflow was reported twice (missed %d)", missed)
	}

	// The byte bound: big records pass it before the count bound.
	big := strings.Repeat("x", 40_000)
	qb := newRecordQueue(1000, 100_000)
	qb.add(change(1, big))
	qb.add(change(2, big))
	if n, bytes := qb.len(); n != 2 || bytes > 100_000 {
		t.Fatalf("%d queued (%d bytes), want 2 within the bound", n, bytes)
	}
	qb.add(change(3, big))
	if n, _ := qb.len(); n != 0 {
		t.Errorf("%d queued past the byte bound, want none", n)
	}
	if _, missed, _ := qb.take(200); missed != 3 {
		t.Errorf("missed %d, want 3", missed)
	}

	// Deletion events never become 'record' events, so they take no room.
	del, err := record.NewDeletion(sk, record.RoomID("peerset", "r"), uuidOf(1), time.Unix(1700000001, 0))
	if err != nil {
		t.Fatal(err)
	}
	qd := newRecordQueue(1, 1<<20)
	qd.add(peerset.Change{Event: del})
	qd.add(change(1, "kept"))
	if batch, missed, _ := qd.take(10); len(batch) != 1 || missed != 0 {
		t.Errorf("take = %d, missed %d; want the record alone", len(batch), missed)
	}

	// Pages of a long queue come out in order, and the bytes go back to 0.
	ql := newRecordQueue(1000, 1<<30)
	for i := range 450 {
		ql.add(change(i, "page"))
	}
	var uuids []string
	for {
		batch, _, more := ql.take(200)
		for _, c := range batch {
			r, err := record.Parse(c.Event)
			if err != nil {
				t.Fatal(err)
			}
			uuids = append(uuids, r.UUID)
		}
		if !more {
			break
		}
	}
	if len(uuids) != 450 || uuids[0] != uuidOf(0) || uuids[449] != uuidOf(449) {
		t.Errorf("%d changes taken, first %v last %v", len(uuids), uuids[:1], uuids[len(uuids)-1:])
	}
	if n, bytes := ql.len(); n != 0 || bytes != 0 {
		t.Errorf("after taking all: %d changes, %d bytes", n, bytes)
	}
}

// uuidOf is a valid record UUID numbered i.
func uuidOf(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }
