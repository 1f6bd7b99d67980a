package moderation

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

var (
	testRoom  = record.RoomID("peerset", "moderation-test")
	otherRoom = record.RoomID("peerset", "another-room")
	testNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// author signs records for tests.
type author struct {
	t  testing.TB
	sk *record.SecretKey
}

func newAuthor(t testing.TB) *author {
	t.Helper()
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatalf("failed to generate key: %v", err)
	}
	return &author{t: t, sk: sk}
}

func (a *author) pk() record.PublicKey { return a.sk.Public() }

// record signs a record for testRoom; a zero CreatedAt means testNow.
func (a *author) record(d record.Draft) *record.Event {
	a.t.Helper()
	return a.recordIn(testRoom, d)
}

func (a *author) recordIn(room string, d record.Draft) *record.Event {
	a.t.Helper()
	if d.CreatedAt.IsZero() {
		d.CreatedAt = testNow
	}
	e, err := record.New(d, a.sk, room, record.Limits{})
	if err != nil {
		a.t.Fatalf("failed to create record: %v", err)
	}
	return e
}

func (a *author) text(s string) *record.Event {
	a.t.Helper()
	return a.record(record.Draft{Text: s})
}

func (a *author) deletion(uuid string, at time.Time) *record.Event {
	a.t.Helper()
	e, err := record.NewDeletion(a.sk, testRoom, uuid, at)
	if err != nil {
		a.t.Fatalf("failed to create deletion: %v", err)
	}
	return e
}

// signed signs a hand-built event (for shapes record.New refuses to make).
func (a *author) signed(e *record.Event) *record.Event {
	a.t.Helper()
	if err := e.Sign(a.sk); err != nil {
		a.t.Fatalf("failed to sign: %v", err)
	}
	return e
}

func uuidOf(e *record.Event) string { return e.TagValue(record.TagUUID) }

// mustPipeline builds a pipeline with a fixed clock at testNow.
func mustPipeline(t testing.TB, cfg Config, custom ...Rule) *Pipeline {
	t.Helper()
	cfg.RoomID = testRoom
	cfg.Clock = func() time.Time { return testNow }
	p, err := NewPipeline(cfg, custom...)
	if err != nil {
		t.Fatalf("failed to build pipeline: %v", err)
	}
	return p
}

// runRule runs one rule at testNow against idx (nil: empty).
func runRule(r Rule, e *record.Event, idx Index) Verdict {
	return r.Check(NewContext(testNow, idx), e)
}

// wantRejection checks that err is a Rejection by rule.
func wantRejection(t *testing.T, err error, rule string) *Rejection {
	t.Helper()
	rej, ok := AsRejection(err)
	if !ok {
		t.Fatalf("got %v, want a rejection by %q", err, rule)
	}
	if rej.Rule != rule {
		t.Fatalf("rejected by %q (%s), want %q", rej.Rule, rej.Reason, rule)
	}
	return rej
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("failed to read %s: %v", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("failed to parse %s: %v", path, err)
	}
}

func clone(e *record.Event) *record.Event {
	c := *e
	c.Tags = make([][]string, len(e.Tags))
	for i, t := range e.Tags {
		c.Tags[i] = append([]string(nil), t...)
	}
	return &c
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// addOwn admits e as one of the node's own writes.
func addOwn(m *MemoryIndex, e *record.Event) ([]record.Summary, error) {
	s, err := record.Summarize(e)
	if err != nil {
		return nil, err
	}
	return m.Admit(s, true)
}
