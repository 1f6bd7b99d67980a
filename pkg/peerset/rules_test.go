package peerset

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// noShouting refuses records written in capitals.
var noShouting = moderation.RuleFunc("no-shouting", func(c *moderation.Context, e *record.Event) moderation.Verdict {
	if r := c.Record(e); r != nil && len(r.Text) > 3 && strings.ToUpper(r.Text) == r.Text {
		return moderation.Rejectf("no shouting")
	}
	return moderation.Accept()
})

// batchRule judges a batch at once (as a JavaScript rule does) and counts
// the batches and single checks it was asked.
type batchRule struct {
	mu       sync.Mutex
	verdicts map[[32]byte]bool
	batches  int
	singles  int
}

func (b *batchRule) Name() string { return "no-sevens" }

func (b *batchRule) judge(e *record.Event) bool { return !strings.Contains(e.Content, "7") }

func (b *batchRule) Prepare(events []*record.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches++
	for _, e := range events {
		b.verdicts[e.ID] = b.judge(e)
	}
}

func (b *batchRule) Check(_ *moderation.Context, e *record.Event) moderation.Verdict {
	b.mu.Lock()
	ok, known := b.verdicts[e.ID]
	delete(b.verdicts, e.ID)
	if !known {
		b.singles++
		ok = b.judge(e)
	}
	b.mu.Unlock()
	if !ok {
		return moderation.Rejectf("a seven")
	}
	return moderation.Accept()
}

// Custom rules refuse local writes and peers' records by name; a rule that
// panics refuses with its message; a Preparer judges each batch once;
// custom rules change the rules digest.
func TestCustomRules(t *testing.T) {
	ctx := context.Background()
	panicky := moderation.RuleFunc("panicky", func(c *moderation.Context, e *record.Event) moderation.Verdict {
		if strings.Contains(e.Content, "boom") {
			panic("cannot handle boom")
		}
		return moderation.Accept()
	})
	batch := &batchRule{verdicts: map[[32]byte]bool{}}
	db := openTest(t, Config{Rules: []moderation.Rule{noShouting, panicky, batch}})
	rejects := make(chan Rejection, 10)
	db.OnReject(func(r Rejection) { rejects <- r })

	cases := []struct{ text, rule, reason string }{
		{"HELLO THERE", "no-shouting", "no shouting"},
		{"boom", "panicky", "cannot handle boom"},
		{"room 7", "no-sevens", "a seven"},
		{"hello there", "", ""},
	}
	for _, c := range cases {
		_, err := db.Put(ctx, record.Draft{Text: c.text})
		rej, _ := moderation.AsRejection(err)
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%q: %v", c.text, err)
		case c.rule != "" && (rej == nil || rej.Rule != c.rule || !strings.Contains(rej.Reason, c.reason)):
			t.Errorf("%q: %v, want a refusal by %s saying %q", c.text, err, c.rule, c.reason)
		}
	}

	// A peer's records go through the same rules, in one batch.
	peer, _ := record.GenerateKey()
	var events []*record.Event
	for _, text := range []string{"QUIET PLEASE", "fine", "7 up"} {
		e, err := record.New(record.Draft{Text: text}, peer, db.RoomID(), record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	batch.mu.Lock()
	batch.batches, batch.singles = 0, 0
	batch.mu.Unlock()
	out := db.Ingest(ctx, Origin{PeerID: "p", PubKey: peer.Public()}, events)
	for i, want := range []string{"no-shouting", "", "no-sevens"} {
		rej, _ := moderation.AsRejection(out[i].Err)
		if got := ""; rej != nil {
			got = rej.Rule
			if got != want {
				t.Errorf("peer record %d refused by %q, want %q", i, got, want)
			}
		} else if want != "" || !out[i].Stored {
			t.Errorf("peer record %d: %+v, want a refusal by %q", i, out[i], want)
		}
	}
	if batch.batches != 1 || batch.singles != 0 {
		t.Errorf("the batch rule saw %d batches and %d single checks, want 1 and 0", batch.batches, batch.singles)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		r := <-rejects
		seen[r.Rule] = true
	}
	if !seen["no-shouting"] || !seen["no-sevens"] {
		t.Errorf("reject events: %v", seen)
	}

	plain := openTest(t, Config{})
	renamed := openTest(t, Config{Rules: []moderation.Rule{moderation.RuleFunc("other", noShouting.Check)}})
	if d := db.pipeline.Digest(); d == plain.pipeline.Digest() || d == renamed.pipeline.Digest() {
		t.Error("custom rules do not change the rules digest")
	}
	if _, err := Open(ctx, Config{Room: "r", Rules: []moderation.Rule{noShouting, noShouting}}); err == nil {
		t.Error("two rules of one name accepted")
	}
}

// cachingRule keeps verdicts by id across batches and judges only ids it
// has not judged yet, as the page's JavaScript rules do (cmd/wasm
// pageJudge); prepared counts the events Prepare was given.
type cachingRule struct {
	mu       sync.Mutex
	verdicts map[[32]byte]bool
	prepared int
}

func (c *cachingRule) Name() string { return "no-sevens-cached" }

func (c *cachingRule) Prepare(events []*record.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		c.prepared++
		if _, known := c.verdicts[e.ID]; !known {
			c.verdicts[e.ID] = !strings.Contains(e.Content, "7")
		}
	}
}

func (c *cachingRule) Check(_ *moderation.Context, e *record.Event) moderation.Verdict {
	c.mu.Lock()
	ok, known := c.verdicts[e.ID]
	c.mu.Unlock()
	if known && ok {
		return moderation.Accept()
	}
	return moderation.Rejectf("a seven (or not judged)")
}

// A forgery that claims a real record's id (harmless content, junk
// signature) must not reach a batch-judging rule: its verdict, kept by id,
// would then be the real record's (accepted past the rule, or an honest
// record refused by someone else's content).
func TestForgeriesDoNotReachBatchRules(t *testing.T) {
	ctx := context.Background()
	rule := &cachingRule{verdicts: map[[32]byte]bool{}}
	db := openTest(t, Config{Rules: []moderation.Rule{rule}})
	peer, _ := record.GenerateKey()
	real, err := record.New(record.Draft{Text: "7 up"}, peer, db.RoomID(), record.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	forged := *real
	forged.Content = strings.Replace(real.Content, "7 up", "fine", 1)
	origin := Origin{PeerID: "p", PubKey: peer.Public()}

	out := db.Ingest(ctx, origin, []*record.Event{&forged})
	if out[0].Stored || out[0].Harmless() {
		t.Fatalf("the forgery: %+v, want a refusal that strikes", out[0])
	}
	if rule.prepared != 0 {
		t.Fatalf("the batch rule was given %d unverified events", rule.prepared)
	}
	out = db.Ingest(ctx, origin, []*record.Event{real})
	rej, _ := moderation.AsRejection(out[0].Err)
	if out[0].Stored || rej == nil || rej.Rule != rule.Name() {
		t.Fatalf("the real record after the forgery: %+v, want a refusal by %s", out[0], rule.Name())
	}
}
