package moderation

import (
	"math/rand/v2"
	"runtime"
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

// BenchmarkIndexMemory measures the heap an index of 100,000 events needs
// (90,000 live records of 22,500 authors, 4 each, and 10,000 deletions),
// under the standard preset's policy: bytes per event after a GC, as the
// custom metric heap-B/event.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 1))
	summaries := make([]record.Summary, n)
	var pk record.PublicKey
	for i := range summaries {
		if i%4 == 0 {
			fillRandom(rng, pk[:])
		}
		s := record.Summary{CreatedAt: 1_700_000_000 + int64(i), Kind: record.KindRecord, PubKey: pk, HasContent: true}
		if i%10 == 9 {
			s.Kind, s.HasContent = record.KindDeletion, false
		}
		fillRandom(rng, s.ID[:])
		fillRandom(rng, s.UUID[:])
		if s.HasContent {
			fillRandom(rng, s.Content[:])
		}
		summaries[i] = s
	}
	b.ReportAllocs()
	var perEvent float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		idx := NewMemoryIndex(PresetStandard().Policy())
		for _, s := range summaries {
			if _, err := idx.AddSummary(s); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if idx.Len() != n {
			b.Fatalf("%d events held", idx.Len())
		}
		perEvent = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(idx)
	}
	b.ReportMetric(perEvent, "heap-B/event")
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}
