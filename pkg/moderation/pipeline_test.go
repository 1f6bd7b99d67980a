package moderation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

func TestRejectionError(t *testing.T) {
	var err error = &Rejection{Rule: RuleNoLinkInText, Reason: `text contains a link ("example.com/x")`, Err: record.ErrBadSignature}
	want := `rejected by rule "no-link-in-text": text contains a link ("example.com/x")`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, ErrRejected) || !errors.Is(wrapped, record.ErrBadSignature) {
		t.Error("errors.Is does not see ErrRejected and the cause")
	}
	if rej, ok := AsRejection(wrapped); !ok || rej.Rule != RuleNoLinkInText {
		t.Errorf("AsRejection = %v, %v", rej, ok)
	}
	if _, ok := AsRejection(errors.New("other")); ok {
		t.Error("AsRejection accepted a plain error")
	}
}

func TestPipelineOrderAndCustomRules(t *testing.T) {
	a := newAuthor(t)
	var ran []string
	rule := func(name string, accept bool) Rule {
		return RuleFunc(name, func(c *Context, e *record.Event) Verdict {
			ran = append(ran, name)
			if accept {
				return Accept()
			}
			return Reject("said no")
		})
	}
	p := NewPipelineOf(rule("one", true), rule("two", false), rule("three", false))
	if got := p.Rules(); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("Rules() = %q", got)
	}
	err := p.Check(a.text("x"), nil)
	wantRejection(t, err, "two")
	if !slices.Equal(ran, []string{"one", "two"}) {
		t.Errorf("ran %q, want the pipeline to stop at the first rejection", ran)
	}
	ran = nil
	if err := NewPipelineOf(rule("one", true)).Check(a.text("x"), nil); err != nil || len(ran) != 1 {
		t.Errorf("accepting pipeline: %v, ran %q", err, ran)
	}
	if err := NewPipelineOf().Check(nil, nil); err == nil {
		t.Error("a nil event was accepted")
	}
	silent := RuleFunc("silent", func(*Context, *record.Event) Verdict { return Verdict{} })
	rej := wantRejection(t, NewPipelineOf(silent).Check(a.text("x"), nil), "silent")
	if rej.Reason == "" {
		t.Error("empty reason")
	}

	// Custom rules run after the built-in ones and see the parsed record.
	noShouting := RuleFunc("no-shouting", func(c *Context, e *record.Event) Verdict {
		if r := c.Record(e); r != nil && len(r.Text) > 3 && r.Text == upper(r.Text) {
			return Reject("text is all capitals")
		}
		return Accept()
	})
	std := mustPipeline(t, PresetStandard(), noShouting)
	if got := std.Rules(); got[len(got)-1] != "no-shouting" {
		t.Errorf("custom rule not last: %q", got)
	}
	wantRejection(t, std.Check(a.text("HELLO THERE"), nil), "no-shouting")
	if err := std.Check(a.text("hello there"), nil); err != nil {
		t.Errorf("custom rule refused a quiet text: %v", err)
	}
	if _, err := NewPipeline(Config{RoomID: testRoom}, RuleFunc("", nil)); err == nil {
		t.Error("a custom rule without a name was accepted")
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestNewPipelineValidation(t *testing.T) {
	bad := []struct {
		name string
		cfg  Config
	}{
		{"no room", Config{}},
		{"negative text limit", Config{RoomID: testRoom, MaxTextRunes: -1}},
		{"negative skew", Config{RoomID: testRoom, MaxFutureSkew: -time.Second}},
		{"negative retention", Config{RoomID: testRoom, Retention: -time.Hour}},
		{"negative quota", Config{RoomID: testRoom, AuthorQuota: -1}},
		{"negative link size", Config{RoomID: testRoom, MaxLinkBytes: -1}},
		{"PoW too hard", Config{RoomID: testRoom, PoWDifficulty: 257}},
		{"bad allowed host", Config{RoomID: testRoom, LinkPolicy: true, LinkAllowHosts: []string{"https://x.com/"}}},
	}
	for _, tc := range bad {
		if _, err := NewPipeline(tc.cfg); err == nil {
			t.Errorf("%s: NewPipeline accepted %+v", tc.name, tc.cfg)
		}
	}
	p, err := NewPipeline(Config{RoomID: testRoom})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config()
	if c.MaxFutureSkew != DefaultMaxFutureSkew || c.Retention != DefaultRetention || c.MaxLinkBytes != DefaultMaxLinkBytes ||
		c.Limits != record.DefaultLimits() || p.Retention() != DefaultRetention {
		t.Errorf("defaults not filled in: %+v", c)
	}
}

func TestPresets(t *testing.T) {
	if got := PresetNames(); !slices.Equal(got, []string{"open", "standard", "strict"}) {
		t.Errorf("PresetNames() = %q", got)
	}
	for _, name := range PresetNames() {
		c, err := Preset(name)
		if err != nil || c.Preset != name {
			t.Errorf("Preset(%q) = %+v, %v", name, c, err)
		}
	}
	if _, err := Preset("fort-knox"); err == nil {
		t.Error("an unknown preset was accepted")
	}
	if DefaultConfig().Preset != PresetNameStandard {
		t.Error("the default is not the standard preset")
	}
	// Presets are fresh values: changing one does not change the next.
	s := PresetStrict()
	s.LinkAllowHosts = append(s.LinkAllowHosts, "x.com")
	if len(PresetStrict().LinkAllowHosts) != 0 {
		t.Error("presets share state")
	}

	wantRules := map[string][]string{
		"open":     {RuleIntegrity, RuleSchema, RuleTimestamp},
		"standard": {RuleIntegrity, RuleSchema, RuleTimestamp, RuleDuplicate, RuleBadWords, RuleNoLinkInText, RuleLinkPolicy},
		"strict":   {RuleIntegrity, RuleSchema, RuleTimestamp, RuleProofOfWork, RuleDuplicate, RuleBadWords, RuleNoLinkInText, RuleLinkPolicy},
	}
	for name, want := range wantRules {
		c, _ := Preset(name)
		if got := mustPipeline(t, c).Rules(); !slices.Equal(got, want) {
			t.Errorf("%s rules = %q, want %q", name, got, want)
		}
	}
}

// TestPresetBehaviour runs the same events through the three presets.
func TestPresetBehaviour(t *testing.T) {
	a := newAuthor(t)
	idx := NewMemoryIndex(PresetStandard().Policy())
	stored := a.text("already here")
	idx.Add(stored)
	for range 4 {
		idx.Add(a.text("filler " + repeat("x", idx.Len())))
	}
	b := newAuthor(t)
	forged := clone(b.text("forged"))
	forged.Content = "changed"

	type outcome struct{ open, standard, strict string } // "" accepts, else the rule
	cases := []struct {
		name  string
		event *record.Event
		want  outcome
	}{
		{"plain text", b.text("hello, pi is 3.14"), outcome{"", "", RuleProofOfWork}},
		{"forged", forged, outcome{RuleIntegrity, RuleIntegrity, RuleIntegrity}},
		{"another room", b.recordIn(otherRoom, record.Draft{Text: "x"}), outcome{RuleIntegrity, RuleIntegrity, RuleIntegrity}},
		{"from the future", b.record(record.Draft{Text: "x", CreatedAt: testNow.Add(time.Hour)}), outcome{RuleTimestamp, RuleTimestamp, RuleTimestamp}},
		{"bad word", b.text("shit happens"), outcome{"", RuleBadWords, RuleProofOfWork}},
		{"link in text", b.text("see example.com"), outcome{"", RuleNoLinkInText, RuleProofOfWork}},
		{"http link", b.record(record.Draft{Text: "x", Link: "http://example.com/"}), outcome{"", RuleLinkPolicy, RuleProofOfWork}},
		{"long text", b.text(repeat("a", 2001)), outcome{"", RuleSchema, RuleSchema}},
		{"medium text", b.text(repeat("a ", 300)), outcome{"", "", RuleSchema}},
		{"already stored", stored, outcome{RuleDuplicate, RuleDuplicate, RuleDuplicate}},
		{"sixth record (the index's choice)", a.text("one more"), outcome{"", "", RuleProofOfWork}},
	}
	for _, tc := range cases {
		for _, p := range []struct{ preset, want string }{{"open", tc.want.open}, {"standard", tc.want.standard}, {"strict", tc.want.strict}} {
			c, _ := Preset(p.preset)
			err := mustPipeline(t, c).Check(tc.event, idx)
			if p.want == "" {
				if err != nil {
					t.Errorf("%s under %s: %v", tc.name, p.preset, err)
				}
				continue
			}
			if rej, ok := AsRejection(err); !ok || rej.Rule != p.want {
				t.Errorf("%s under %s: got %v, want a rejection by %q", tc.name, p.preset, err, p.want)
			}
		}
	}
}

func TestStrictPreset(t *testing.T) {
	a := newAuthor(t)
	mine := func(e *record.Event, bits int) *record.Event {
		if err := Mine(context.Background(), e, a.sk, bits); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The real preset wants 16 bits: mine once for it.
	strict := mustPipeline(t, PresetStrict())
	if err := strict.Check(mine(a.text("worked hard"), 16), nil); err != nil {
		t.Fatalf("a record mined for 16 bits: %v", err)
	}
	rej := wantRejection(t, strict.Check(mine(a.text("worked a little"), 12), nil), RuleProofOfWork)
	if !strings.Contains(rej.Reason, "16") {
		t.Errorf("reason %q does not name the required 16 bits", rej.Reason)
	}

	// The preset's other knobs, with an easier proof of work to keep the
	// test fast.
	easy := PresetStrict()
	easy.PoWDifficulty = 8
	p := mustPipeline(t, easy)
	withLink := mine(a.record(record.Draft{Text: "x", Link: "https://allowed.com/page"}), 8)
	wantRejection(t, p.Check(withLink, nil), RuleLinkPolicy)
	easy.LinkAllowHosts = []string{"allowed.com"}
	if err := mustPipeline(t, easy).Check(withLink, nil); err != nil {
		t.Errorf("a link to an allowed host: %v", err)
	}
	big := a.record(record.Draft{Data: []byte(`"` + repeat("x", 17<<10) + `"`)})
	wantRejection(t, p.Check(big, nil), RuleSchema)

	idx := NewMemoryIndex(easy.Policy())
	for i := range 3 {
		idx.Add(a.text("slot " + string(rune('a'+i))))
	}
	fourth := mine(a.text("fourth"), 8)
	if err := p.Check(fourth, idx); err != nil {
		t.Fatalf("a fourth record passes the rules (the quota is the index's): %v", err)
	}
	_, err := addOwn(idx, fourth)
	wantRejection(t, err, RuleAuthorQuota)

	// Deletions cost work too, and are never held back by the quota.
	del := a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", testNow)
	wantRejection(t, p.Check(del, idx), RuleProofOfWork)
	if err := p.Check(mine(del, 8), idx); err != nil {
		t.Errorf("a mined deletion: %v", err)
	}
}

// TestSyncScenario feeds events through the standard pipeline into a
// MemoryIndex in the order sync might deliver them.
func TestSyncScenario(t *testing.T) {
	a := newAuthor(t)
	p := mustPipeline(t, PresetStandard())
	idx := NewMemoryIndex(PresetStandard().Policy())
	admit := func(e *record.Event) error {
		if err := p.Check(e, idx); err != nil {
			return err
		}
		_, err := idx.Add(e)
		return err
	}
	var notes []*record.Event
	var uuids []string
	for i := range 5 {
		e := a.record(record.Draft{Text: "note " + string(rune('a'+i)), CreatedAt: testNow.Add(time.Duration(i-10) * time.Minute)})
		if err := admit(e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		notes = append(notes, e)
		uuids = append(uuids, uuidOf(e))
	}
	// An older sixth record loses to the five newer ones.
	older := a.record(record.Draft{Text: "older", CreatedAt: testNow.Add(-time.Hour)})
	if rej := wantRejection(t, admit(older), RuleAuthorQuota); !rej.Harmless {
		t.Error("a quota rejection should be harmless")
	}
	// A newer sixth record wins and evicts the oldest.
	if err := admit(a.text("sixth")); err != nil {
		t.Fatalf("a newer sixth record: %v", err)
	}
	if idx.Has(notes[0].ID) || idx.LiveCount(a.pk()) != 5 {
		t.Errorf("the oldest note is still held (live %d)", idx.LiveCount(a.pk()))
	}
	edit := a.record(record.Draft{UUID: uuids[2], Text: "note c, edited"})
	if err := admit(edit); err != nil {
		t.Fatalf("edit: %v", err)
	}
	if idx.LiveCount(a.pk()) != 5 {
		t.Errorf("live count %d after an edit, want 5", idx.LiveCount(a.pk()))
	}
	if err := admit(a.deletion(uuids[1], testNow)); err != nil {
		t.Fatalf("deletion: %v", err)
	}
	if idx.LiveCount(a.pk()) != 4 {
		t.Errorf("live count %d after a deletion, want 4", idx.LiveCount(a.pk()))
	}
	late := a.record(record.Draft{UUID: uuids[1], Text: "late copy", CreatedAt: testNow.Add(-time.Hour)})
	rej := wantRejection(t, admit(late), RuleDuplicate)
	if !rej.Harmless {
		t.Error("a stale version should be harmless")
	}
}
