package moderation

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

type ruleCase struct {
	name     string
	event    *record.Event
	index    Index
	accept   bool
	harmless bool
	cause    error // an error the verdict must wrap, if set
}

func runRuleCases(t *testing.T, r Rule, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := runRule(r, tc.event, tc.index)
			if v.Accept != tc.accept {
				t.Fatalf("Accept = %v (%s), want %v", v.Accept, v.Reason, tc.accept)
			}
			if !v.Accept && v.Reason == "" {
				t.Error("rejection without a reason")
			}
			if v.Harmless != tc.harmless {
				t.Errorf("Harmless = %v, want %v (%s)", v.Harmless, tc.harmless, v.Reason)
			}
			if tc.cause != nil && !errors.Is(v.Err, tc.cause) {
				t.Errorf("Err = %v, want it to wrap %v", v.Err, tc.cause)
			}
		})
	}
}

func TestSchemaRule(t *testing.T) {
	a := newAuthor(t)
	rec := a.text("hello")
	long := a.text(repeat("é", 101))
	other := a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: 1, Content: "a note"})
	noUUID := a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindRecord,
		Tags: [][]string{{record.TagRoom, testRoom}}, Content: "x"})
	badUUID := a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindRecord,
		Tags: [][]string{{record.TagUUID, "not-a-uuid"}, {record.TagRoom, testRoom}}})
	emptyTag := clone(rec)
	emptyTag.Tags = append(emptyTag.Tags, []string{})
	tooManyTags := clone(rec)
	for range 20 {
		tooManyTags.Tags = append(tooManyTags.Tags, []string{"t", "x"})
	}
	big := a.record(record.Draft{Data: []byte(`"` + repeat("x", 60000) + `"`)})
	foreign := a.recordIn(otherRoom, record.Draft{Text: "elsewhere"})
	badDeletion := a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindDeletion,
		Tags: [][]string{{record.TagRoom, testRoom}}})

	runRuleCases(t, SchemaRule(record.Limits{}, 100), []ruleCase{
		{name: "record", event: rec, accept: true},
		{name: "deletion", event: a.deletion(uuidOf(rec), testNow), accept: true},
		{name: "another room is integrity's business", event: foreign, accept: true},
		{name: "text at the limit", event: a.text(repeat("é", 100)), accept: true},
		{name: "JSON data is not text", event: a.record(record.Draft{Data: []byte(`"` + repeat("x", 200) + `"`)}), accept: true},
		{name: "text over the limit", event: long},
		{name: "another kind", event: other, cause: record.ErrNotARecord},
		{name: "no uuid", event: noUUID, cause: record.ErrInvalidRecord},
		{name: "bad uuid", event: badUUID, cause: record.ErrInvalidUUID},
		{name: "empty tag", event: emptyTag, cause: record.ErrEmptyTag},
		{name: "too many tags", event: tooManyTags, cause: record.ErrRecordTooLarge},
		{name: "deletion without target", event: badDeletion, cause: record.ErrInvalidDeletion},
	})
	runRuleCases(t, SchemaRule(record.Limits{MaxRecordBytes: 32 << 10}, 0), []ruleCase{
		{name: "no text limit", event: long, accept: true},
		{name: "record too large", event: big, cause: record.ErrRecordTooLarge},
	})
}

func TestTimestampRule(t *testing.T) {
	a := newAuthor(t)
	at := func(d time.Duration) *record.Event {
		return a.record(record.Draft{Text: "t", CreatedAt: testNow.Add(d)})
	}
	day := 24 * time.Hour
	runRuleCases(t, TimestampRule(10*time.Minute, 90*day), []ruleCase{
		{name: "now", event: at(0), accept: true},
		{name: "9 minutes ahead", event: at(9 * time.Minute), accept: true},
		{name: "exactly the skew ahead", event: at(10 * time.Minute), accept: true},
		{name: "11 minutes ahead", event: at(11 * time.Minute)},
		{name: "a year ahead", event: at(365 * day)},
		{name: "89 days old", event: at(-89 * day), accept: true},
		{name: "exactly the retention old", event: at(-90 * day), accept: true},
		{name: "90 days and a second old", event: at(-90*day - time.Second), harmless: true},
		{name: "a deletion past retention", event: a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", testNow.Add(-91*day)), harmless: true},
	})
	runRuleCases(t, TimestampRule(time.Minute, 7*day), []ruleCase{
		{name: "custom skew", event: at(2 * time.Minute)},
		{name: "custom retention", event: at(-8 * day), harmless: true},
	})
}

func TestIntegrityRule(t *testing.T) {
	a := newAuthor(t)
	rec := a.text("hello")
	tamperedContent := clone(rec)
	tamperedContent.Content = "goodbye"
	reID := clone(tamperedContent)
	reID.ID = reID.ComputeID()
	badSig := clone(rec)
	badSig.Sig[10] ^= 1
	otherKey := clone(rec)
	otherKey.PubKey = newAuthor(t).pk()
	otherKey.ID = otherKey.ComputeID()
	held := NewMemoryIndex(Policy{})
	held.Add(rec)
	runRuleCases(t, IntegrityRule(testRoom), []ruleCase{
		{name: "signed record", event: rec, accept: true},
		{name: "the stored event itself", event: rec, index: held, harmless: true},
		{name: "a forged copy claiming a stored id", event: tamperedContent, index: held, cause: record.ErrIDMismatch},
		{name: "signed deletion", event: a.deletion(uuidOf(rec), testNow), accept: true},
		{name: "tampered content", event: tamperedContent, cause: record.ErrIDMismatch},
		{name: "tampered content with a new id", event: reID, cause: record.ErrBadSignature},
		{name: "tampered signature", event: badSig, cause: record.ErrBadSignature},
		{name: "claimed by another key", event: otherKey, cause: record.ErrBadSignature},
		{name: "another room", event: a.recordIn(otherRoom, record.Draft{Text: "x"}), cause: record.ErrWrongRoom},
	})
}

func TestDuplicateRule(t *testing.T) {
	a, b := newAuthor(t), newAuthor(t)
	idx := NewMemoryIndex(Policy{})
	v1 := a.record(record.Draft{Text: "first version", CreatedAt: testNow.Add(-time.Hour)})
	uuid := uuidOf(v1)
	idx.Add(v1)
	other := a.text("another record")
	idx.Add(other)
	deleted := a.record(record.Draft{Text: "to be deleted", CreatedAt: testNow.Add(-2 * time.Hour)})
	idx.Add(deleted)
	tomb := a.deletion(uuidOf(deleted), testNow.Add(-time.Hour))
	idx.Add(tomb)
	linkOnly := a.record(record.Draft{Link: "https://example.com/"})
	idx.Add(linkOnly)

	runRuleCases(t, DuplicateRule(), []ruleCase{
		{name: "new record", event: a.text("something new"), index: idx, accept: true},
		{name: "empty index", event: v1, accept: true},
		{name: "same id", event: v1, index: idx, harmless: true},
		{name: "same id of a tombstone", event: tomb, index: idx, harmless: true},
		{name: "newer version", event: a.record(record.Draft{UUID: uuid, Text: "second version"}), index: idx, accept: true},
		{name: "newer version with the same text", event: a.record(record.Draft{UUID: uuid, Text: "First  VERSION", Link: "https://example.com/"}), index: idx, accept: true},
		{name: "older version", event: a.record(record.Draft{UUID: uuid, Text: "zeroth", CreatedAt: testNow.Add(-2 * time.Hour)}), index: idx, harmless: true},
		{name: "version covered by a tombstone", event: a.record(record.Draft{UUID: uuidOf(deleted), Text: "zombie", CreatedAt: testNow.Add(-90 * time.Minute)}), index: idx, harmless: true},
		{name: "version newer than the tombstone", event: a.record(record.Draft{UUID: uuidOf(deleted), Text: "reborn"}), index: idx, accept: true},
		{name: "same text in another record (the index's choice)", event: a.text("another record"), index: idx, accept: true},
		{name: "same text by another author", event: b.text("another record"), index: idx, accept: true},
		{name: "two records without text", event: a.record(record.Draft{Link: "https://example.com/"}), index: idx, accept: true},
		{name: "older deletion", event: a.deletion(uuidOf(deleted), testNow.Add(-3*time.Hour)), index: idx, harmless: true},
		{name: "newer deletion", event: a.deletion(uuidOf(deleted), testNow), index: idx, accept: true},
		{name: "deletion of a live record", event: a.deletion(uuid, testNow), index: idx, accept: true},
	})
}

func TestBadWordsRule(t *testing.T) {
	a := newAuthor(t)
	rule := BadWordsRule(NewWordFilter(DefaultBadWords(), []string{"frack"}, []string{"ass"}))
	runRuleCases(t, rule, []ruleCase{
		{name: "clean text", event: a.text("a class assessment in Scunthorpe"), accept: true},
		{name: "profanity", event: a.text("holy shit")},
		{name: "extra word", event: a.text("Frack it")},
		{name: "allowed word", event: a.text("a stubborn ass"), accept: true},
		{name: "in a JSON payload", event: a.record(record.Draft{Data: []byte(`{"msg":"fuck"}`)})},
		{name: "in another text type", event: a.record(record.Draft{Data: []byte("shit"), MediaType: "text/markdown"})},
		{name: "binary payload is not read", event: a.record(record.Draft{Data: []byte("shit"), MediaType: record.MediaTypeBinary}), accept: true},
		{name: "in the link", event: a.record(record.Draft{Text: "ok", Link: "https://example.com/fuck"})},
		{name: "deletion", event: a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindDeletion, Content: "shit",
			Tags: [][]string{{record.TagAddress, record.Address{Kind: record.KindRecord, PubKey: a.pk(), UUID: "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"}.String()}, {record.TagRoom, testRoom}}}), accept: true},
	})
}

func TestNoLinkInTextRule(t *testing.T) {
	a := newAuthor(t)
	rule := NoLinkInTextRule(NewLinkScanner(DefaultTLDs()))
	runRuleCases(t, rule, []ruleCase{
		{name: "prose", event: a.text("pi is 3.14, e.g. v1.2.3. The end.Next one"), accept: true},
		{name: "link in the link field", event: a.record(record.Draft{Text: "see the link", Link: "https://example.com/"}), accept: true},
		{name: "bare domain", event: a.text("go to example.com")},
		{name: "URL", event: a.text("go to https://example.org/x")},
		{name: "in a JSON payload", event: a.record(record.Draft{Data: []byte(`{"u":"www.example.org"}`)})},
		{name: "binary payload", event: a.record(record.Draft{Data: []byte("www.example.org"), MediaType: "image/png"}), accept: true},
	})
	v := runRule(rule, a.text("look: example.com/x!"), nil)
	want := `text contains a link ("example.com/x")`
	if v.Reason != want {
		t.Errorf("reason %q, want %q", v.Reason, want)
	}
}

func TestLinkPolicyRule(t *testing.T) {
	a := newAuthor(t)
	withLink := func(l string) *record.Event { return a.record(record.Draft{Text: "x", Link: l}) }
	runRuleCases(t, LinkPolicyRule(LinkPolicy{}), []ruleCase{
		{name: "no link", event: a.text("plain"), accept: true},
		{name: "https", event: withLink("https://example.com/"), accept: true},
		{name: "http", event: withLink("http://example.com/"), cause: ErrLinkRefused},
		{name: "user info", event: withLink("https://good.com@evil.com/"), cause: ErrLinkRefused},
		{name: "not a URL", event: withLink("hello there"), cause: ErrLinkRefused},
		{name: "too long", event: withLink("https://example.com/" + repeat("a", 1100)), cause: ErrLinkRefused},
	})
	runRuleCases(t, LinkPolicyRule(LinkPolicy{AllowHosts: []string{"allowed.com"}}), []ruleCase{
		{name: "allowed host", event: withLink("https://allowed.com/x"), accept: true},
		{name: "allowed subdomain", event: withLink("https://www.allowed.com/x"), accept: true},
		{name: "user info trick", event: withLink("https://allowed.com@evil.com/"), cause: ErrLinkRefused},
		{name: "other host", event: withLink("https://evil.com/allowed.com"), cause: ErrLinkRefused},
	})
}

func TestProofOfWorkRule(t *testing.T) {
	a := newAuthor(t)
	mined := func(d int) *record.Event {
		e := a.text("worked for it")
		if err := Mine(context.Background(), e, a.sk, d); err != nil {
			t.Fatalf("failed to mine: %v", err)
		}
		if err := record.CheckRecord(e, testRoom, record.Limits{}); err != nil {
			t.Fatalf("mined record does not verify: %v", err)
		}
		if got := LeadingZeroBits(e.ID); got < d {
			t.Fatalf("mined %d bits, want %d", got, d)
		}
		return e
	}
	m8, m12 := mined(8), mined(12)
	// A lucky id: leading zero bits without committing to them.
	lucky := a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindRecord, Content: "lucky",
		Tags: [][]string{{record.TagUUID, "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"}, {record.TagRoom, testRoom}, {TagNonce, "1", "2"}}})
	// An id that claims 200 bits and has fewer than 8. The id does not depend
	// on the signature, so a lucky id (1 in 256 with a random key) is
	// skipped by changing the nonce, never by signing again.
	var overclaimed *record.Event
	for n := 1; overclaimed == nil || LeadingZeroBits(overclaimed.ID) >= 8; n++ {
		if n > 64 {
			t.Fatalf("64 nonces all gave ids with 8 leading zero bits")
		}
		overclaimed = a.signed(&record.Event{CreatedAt: testNow.Unix(), Kind: record.KindRecord, Content: "claims a lot",
			Tags: [][]string{{record.TagUUID, "3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b"}, {record.TagRoom, testRoom}, {TagNonce, strconv.Itoa(n), "200"}}})
	}
	runRuleCases(t, ProofOfWorkRule(8), []ruleCase{
		{name: "mined for 8", event: m8, accept: true},
		{name: "mined for 12", event: m12, accept: true},
		{name: "no nonce", event: a.text("lazy")},
		{name: "committed target too low", event: lucky},
		{name: "claims a target it did not reach", event: overclaimed},
	})
	runRuleCases(t, ProofOfWorkRule(12), []ruleCase{
		{name: "mined for 8 only", event: m8},
		{name: "mined for 12", event: m12, accept: true},
	})
}

func TestMine(t *testing.T) {
	a := newAuthor(t)
	e := a.text("x")
	e.Tags = append(e.Tags, []string{TagNonce, "5", "1"}) // replaced, not duplicated
	if err := Mine(context.Background(), e, a.sk, 4); err != nil {
		t.Fatal(err)
	}
	var nonces int
	for _, tag := range e.Tags {
		if tag[0] == TagNonce {
			nonces++
		}
	}
	if d, ok := CommittedDifficulty(e); nonces != 1 || !ok || d != 4 {
		t.Errorf("nonce tags %d, committed %d %v; want one committing to 4", nonces, d, ok)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Mine(ctx, a.text("y"), a.sk, 60); !errors.Is(err, context.Canceled) {
		t.Errorf("Mine with a cancelled context = %v", err)
	}
	for _, d := range []int{-1, 65} {
		if err := Mine(context.Background(), a.text("z"), a.sk, d); err == nil {
			t.Errorf("Mine with difficulty %d succeeded", d)
		}
	}
}

func TestLeadingZeroBits(t *testing.T) {
	tests := []struct {
		id   [32]byte
		want int
	}{
		{[32]byte{0x80}, 0},
		{[32]byte{0x01}, 7},
		{[32]byte{0x00, 0x00, 0x0f}, 20},
		{[32]byte{}, 256},
	}
	for _, tc := range tests {
		if got := LeadingZeroBits(tc.id); got != tc.want {
			t.Errorf("LeadingZeroBits(%x) = %d, want %d", tc.id[:3], got, tc.want)
		}
	}
}

func TestContentKeyOf(t *testing.T) {
	a := newAuthor(t)
	k1, ok1 := ContentKeyOf(a.text("Hello   World"))
	k2, ok2 := ContentKeyOf(a.text("hello world"))
	k3, _ := ContentKeyOf(a.record(record.Draft{Data: []byte(`"hello world"`)}))
	_, okEmpty := ContentKeyOf(a.record(record.Draft{Link: "https://example.com/"}))
	_, okDel := ContentKeyOf(a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", testNow))
	switch {
	case !ok1 || !ok2 || k1 != k2:
		t.Error("texts differing in case and spacing have different keys")
	case k1 == k3:
		t.Error("a text and a JSON payload share a key")
	case okEmpty || okDel:
		t.Error("an empty record or a deletion has a content key")
	}
}
