package storetest

import (
	"context"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// Benchmark runs the benchmarks every backend shares: batched puts, queries
// by author and lookups by id. open must return a new, empty store; Benchmark
// closes it.
func Benchmark(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("PutBatch1000", func(b *testing.B) { benchPutBatch(b, open(b), 1000) })
	b.Run("QueryAuthorLimit100", func(b *testing.B) { benchQueryAuthor(b, open(b)) })
	b.Run("GetMany100", func(b *testing.B) { benchGetMany(b, open(b)) })
}

// Fill puts n generated records (authors of g, times spread over a day) in
// batches of 10,000 and returns them.
func Fill(tb testing.TB, s store.Store, g *Generator, n int) []*record.Event {
	tb.Helper()
	events := g.Records(n, 1_700_000_000, 86_400)
	for i := 0; i < n; i += 10_000 {
		if err := s.Put(context.Background(), events[i:min(i+10_000, n)]...); err != nil {
			tb.Fatalf("Put: %v", err)
		}
	}
	return events
}

func closeAfter(b *testing.B, s store.Store) {
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
}

func benchPutBatch(b *testing.B, s store.Store, size int) {
	closeAfter(b, s)
	ctx := context.Background()
	g := NewGenerator(b, 10, 31)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		batch := g.Records(size, 1_700_000_000, 86_400)
		b.StartTimer()
		if err := s.Put(ctx, batch...); err != nil {
			b.Fatalf("Put: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
}

func benchQueryAuthor(b *testing.B, s store.Store) {
	closeAfter(b, s)
	ctx := context.Background()
	g := NewGenerator(b, 10, 32)
	Fill(b, s, g, 20_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		author := g.Author(i % 10)
		events, err := s.Query(ctx, store.Query{Author: &author, Descending: true, Limit: 100})
		if err != nil || len(events) != 100 {
			b.Fatalf("Query = %d events, %v", len(events), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

func benchGetMany(b *testing.B, s store.Store) {
	closeAfter(b, s)
	ctx := context.Background()
	events := Fill(b, s, NewGenerator(b, 10, 33), 20_000)
	ids := make([][32]byte, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ids {
			ids[j] = events[(i*100+j*197)%len(events)].ID
		}
		got, err := s.GetMany(ctx, ids)
		if err != nil || len(got) != len(ids) {
			b.Fatalf("GetMany = %d events, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}
