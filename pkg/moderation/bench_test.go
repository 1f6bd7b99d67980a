package moderation

import (
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
)

// BenchmarkStandardPipeline checks a typical record (a sentence, a link and
// a location) against an index holding a few hundred records.
func BenchmarkStandardPipeline(b *testing.B) {
	a := newAuthor(b)
	p := mustPipeline(b, PresetStandard())
	idx := NewMemoryIndex(Policy{})
	for range 300 {
		idx.Add(newAuthor(b).text("an earlier note about the weather in the park"))
	}
	e := a.record(record.Draft{
		Text: "Meet at the fountain at 3.30 p.m. today, e.g. near the café. Bring water!",
		Link: "https://example.com/events/fountain",
		Geo:  &record.Geo{Lat: 52.52, Lon: 13.405},
	})
	if err := p.Check(e, idx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(e, idx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanners measures the text rules alone on a 2000-character text.
func BenchmarkScanners(b *testing.B) {
	text := string([]rune(repeat("Meet at the fountain at 3.30 p.m. today, e.g. near the café. ", 40))[:2000])
	links := NewLinkScanner(DefaultTLDs())
	words := NewWordFilter(DefaultBadWords(), nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := links.Find(text); ok {
			b.Fatal("link found")
		}
		if _, ok := words.Find(text); ok {
			b.Fatal("word found")
		}
	}
}
