//go:build !js

package bolt

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

func BenchmarkBolt(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	})
}

// BenchmarkOpen100k measures what a native peer pays at startup: open a file
// of 100,000 events and read them back, either only the (created_at, id)
// items the facade rebuilds its tree from, or every full event.
func BenchmarkOpen100k(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	storetest.Fill(b, s, storetest.NewGenerator(b, 10, 41), n)
	if err := s.Close(); err != nil {
		b.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		read func(s *Store) (int, error)
	}{
		{"Items", func(s *Store) (int, error) {
			count := 0
			err := s.Items(ctx, func(int64, [32]byte) error { count++; return nil })
			return count, err
		}},
		{"Scan", func(s *Store) (int, error) {
			count := 0
			err := s.Scan(ctx, func(*record.Event) error { count++; return nil })
			return count, err
		}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s, err := Open(path, Options{})
				if err != nil {
					b.Fatalf("Open: %v", err)
				}
				count, err := tt.read(s)
				if err != nil || count != n {
					b.Fatalf("read %d events, %v; want %d", count, err, n)
				}
				if err := s.Close(); err != nil {
					b.Fatalf("Close: %v", err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
