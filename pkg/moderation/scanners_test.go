package moderation

import (
	"errors"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
)

type linkVectors struct {
	Links []struct {
		Text string `json:"text"`
		Link string `json:"link"`
	} `json:"links"`
	Prose []string `json:"prose"`
}

func TestLinkScannerVectors(t *testing.T) {
	var v linkVectors
	readJSON(t, "testdata/links.json", &v)
	if len(v.Links) == 0 || len(v.Prose) == 0 {
		t.Fatal("testdata/links.json has no cases")
	}
	s := NewLinkScanner(DefaultTLDs())
	for _, c := range v.Links {
		got, ok := s.Find(c.Text)
		if !ok || got != c.Link {
			t.Errorf("Find(%q) = %q, %v; want %q, true", c.Text, got, ok, c.Link)
		}
	}
	for _, text := range v.Prose {
		if got, ok := s.Find(text); ok {
			t.Errorf("Find(%q) = %q: prose taken for a link", text, got)
		}
	}
}

func TestLinkScannerTLDList(t *testing.T) {
	tlds := DefaultTLDs()
	if len(tlds) < 50 {
		t.Fatalf("embedded TLD list has %d entries", len(tlds))
	}
	for _, tld := range []string{"com", "org", "net", "io", "ru", "uk"} {
		if !NewLinkScanner(tlds).tlds[tld] {
			t.Errorf("embedded TLD list lacks %q", tld)
		}
	}
	custom := NewLinkScanner([]string{".Zz"})
	if _, ok := custom.Find("see example.zz today"); !ok {
		t.Error("custom TLD .zz not found")
	}
	if _, ok := custom.Find("see example.com today"); ok {
		t.Error("a replaced TLD list still finds .com")
	}
	if _, ok := custom.Find("see https://example.com today"); !ok {
		t.Error("a URL with a scheme is a link whatever the TLD list")
	}
}

type wordVectors struct {
	Blocked []struct {
		Text string `json:"text"`
		Word string `json:"word"`
	} `json:"blocked"`
	Clean []string `json:"clean"`
}

func TestWordFilterVectors(t *testing.T) {
	var v wordVectors
	readJSON(t, "testdata/words.json", &v)
	if len(v.Blocked) == 0 || len(v.Clean) == 0 {
		t.Fatal("testdata/words.json has no cases")
	}
	f := NewWordFilter(DefaultBadWords(), nil, nil)
	for _, c := range v.Blocked {
		got, ok := f.Find(c.Text)
		if !ok || got != c.Word {
			t.Errorf("Find(%q) = %q, %v; want %q, true", c.Text, got, ok, c.Word)
		}
	}
	for _, text := range v.Clean {
		if got, ok := f.Find(text); ok {
			t.Errorf("Find(%q) = %q: innocent text blocked", text, got)
		}
	}
}

func TestWordListData(t *testing.T) {
	words := DefaultBadWords()
	if len(words) < 50 {
		t.Fatalf("embedded word list has %d words", len(words))
	}
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			t.Errorf("duplicate word %q", w)
		}
		seen[w] = true
		if strings.ContainsFunc(w, func(r rune) bool { return !isWordRune(r) }) {
			t.Errorf("word %q has characters that can never be part of a matched word", w)
		}
	}
	for _, innocent := range []string{"class", "assess", "scunthorpe", "hell", "damn", "dick"} {
		if seen[innocent] {
			t.Errorf("the list holds %q", innocent)
		}
	}
}

func TestWordFilterCustomWords(t *testing.T) {
	tests := []struct {
		name                 string
		list, extra, allowed []string
		text                 string
		blocked              bool
	}{
		{"extra word", DefaultBadWords(), []string{"Frack"}, nil, "what the FRACK", true},
		{"extra word whole-word only", DefaultBadWords(), []string{"frack"}, nil, "fracking", false},
		{"allowed word removed", DefaultBadWords(), nil, []string{"ASS"}, "an ass", false},
		{"other words still blocked", DefaultBadWords(), nil, []string{"ass"}, "shit", true},
		{"empty list", nil, nil, nil, "fuck", false},
		{"replaced list", []string{"bother"}, nil, nil, "oh bother", true},
		{"replaced list drops the default", []string{"bother"}, nil, nil, "shit", false},
		{"blank entries ignored", []string{"", "  "}, nil, nil, "any text", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := NewWordFilter(tc.list, tc.extra, tc.allowed).Find(tc.text)
			if got != tc.blocked {
				t.Errorf("Find(%q) blocked = %v, want %v", tc.text, got, tc.blocked)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	got := ParseList("# header\n\n  Foo \nbar\r\n# more\nbaz")
	want := []string{"foo", "bar", "baz"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ParseList = %q, want %q", got, want)
	}
}

type linkPolicyVectors struct {
	Cases []struct {
		Link  string   `json:"link"`
		Allow []string `json:"allow"`
		OK    bool     `json:"ok"`
	} `json:"cases"`
}

func TestLinkPolicyVectors(t *testing.T) {
	var v linkPolicyVectors
	readJSON(t, "testdata/link_policy.json", &v)
	if len(v.Cases) == 0 {
		t.Fatal("testdata/link_policy.json has no cases")
	}
	for _, c := range v.Cases {
		err := LinkPolicy{AllowHosts: c.Allow}.Check(c.Link)
		if (err == nil) != c.OK {
			t.Errorf("Check(%q) with allow-list %q = %v, want ok %v", c.Link, c.Allow, err, c.OK)
		}
		if err != nil && !errors.Is(err, ErrLinkRefused) {
			t.Errorf("Check(%q) = %v, does not wrap ErrLinkRefused", c.Link, err)
		}
	}
}

func TestLinkPolicyLimits(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 1100)
	tests := []struct {
		name   string
		policy LinkPolicy
		link   string
		ok     bool
	}{
		{"default max 1024 bytes", LinkPolicy{}, long, false},
		{"raised max", LinkPolicy{MaxBytes: 2048}, long, true},
		{"lowered max", LinkPolicy{MaxBytes: 20}, "https://example.com/x", false},
		{"allow-list required but empty", LinkPolicy{RequireAllowList: true}, "https://example.com/", false},
		{"allow-list required and set", LinkPolicy{RequireAllowList: true, AllowHosts: []string{"example.com"}}, "https://example.com/", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Check(tc.link); (err == nil) != tc.ok {
				t.Errorf("Check = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestLinkPolicyValidate(t *testing.T) {
	for _, h := range []string{"example.com", "*.example.com", "Example.COM.", "192.0.2.1"} {
		if err := (LinkPolicy{AllowHosts: []string{h}}).validate(); err != nil {
			t.Errorf("allowed host %q refused: %v", h, err)
		}
	}
	for _, h := range []string{"https://example.com", "example.com/path", "", "exa mple.com"} {
		if err := (LinkPolicy{AllowHosts: []string{h}}).validate(); err == nil {
			t.Errorf("allowed host %q accepted", h)
		}
	}
}

// FuzzScanners: the link and word scanners never panic on arbitrary text,
// and what they report is part of the text.
func FuzzScanners(f *testing.F) {
	var lv linkVectors
	readJSON(f, "testdata/links.json", &lv)
	for _, c := range lv.Links {
		f.Add(c.Text)
	}
	for _, s := range lv.Prose {
		f.Add(s)
	}
	var wv wordVectors
	readJSON(f, "testdata/words.json", &wv)
	for _, c := range wv.Blocked {
		f.Add(c.Text)
	}
	for _, s := range []string{"\xff\xfe", "://", "a://", "@.", "www.", "..a.com", "$@$@", "ßſ.com", "İ.com/x", "x:/\x00"} {
		f.Add(s)
	}
	links := NewLinkScanner(DefaultTLDs())
	words := NewWordFilter(DefaultBadWords(), nil, nil)
	policy := LinkPolicy{AllowHosts: []string{"example.com"}}
	f.Fuzz(func(t *testing.T, text string) {
		if link, ok := links.Find(text); ok && !strings.Contains(text, link) {
			t.Fatalf("link %q is not in %q", link, text)
		}
		if w, ok := words.Find(text); ok && (w == "" || !strings.Contains(text, w)) {
			t.Fatalf("word %q is not in %q", w, text)
		}
		_ = policy.Check(text)
	})
}

// FuzzPipeline: the strict and standard pipelines never panic on any event
// that decodes, whatever its tags and content.
func FuzzPipeline(f *testing.F) {
	a := newAuthor(f)
	for _, e := range []*record.Event{
		a.text("hello example.com"),
		a.record(record.Draft{Text: "x", Link: "https://a.com@b.com/"}),
		a.record(record.Draft{Data: []byte(`{"k":"shit"}`)}),
		a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", testNow),
	} {
		b, err := e.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"` + repeat("0", 64) + `","pubkey":"` + repeat("1", 64) + `","created_at":1,"kind":5,"tags":[[],["a"]],"content":"","sig":"` + repeat("2", 128) + `"}`))
	idx := NewMemoryIndex(Policy{})
	idx.Add(a.text("stored"))
	idx.Add(a.deletion("3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b", testNow))
	var pipelines []*Pipeline
	for _, name := range PresetNames() {
		c, _ := Preset(name)
		pipelines = append(pipelines, mustPipeline(f, c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := record.ParseEvent(data, 0)
		if err != nil {
			return
		}
		for _, p := range pipelines {
			if err := p.Check(e, idx); err != nil && !errors.Is(err, ErrRejected) {
				t.Fatalf("Check returned a non-rejection error: %v", err)
			}
		}
		_ = SelectGarbage(testNow, 0, func(yield func(*record.Event) bool) { yield(e) })
	})
}
