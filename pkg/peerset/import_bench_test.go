//go:build !js

package peerset

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

// BenchmarkImport100k imports 100,000 signed records into a bbolt file in
// batches of 2,000, as `peerset import` does (each verified — on every core
// — moderated and stored); events/s is the custom metric. Sub-benchmarks:
// "Importer" (what `peerset import` uses: a batch's signatures are checked
// while the batch before it is stored) and "Import" (one batch after the
// other), alternately with -count.
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	now := time.Now()
	events := signedRecords(b, n, "import-bench", now)
	fresh := 0 // the oldest are past the 90 days of retention, and refused
	for _, e := range events {
		if !moderation.Expired(now, e.CreatedAt, moderation.DefaultRetention) {
			fresh++
		}
	}
	std := moderation.PresetStandard()
	for _, variant := range []string{"Importer", "Import"} {
		b.Run(variant, func(b *testing.B) {
			var perSecond float64
			for b.Loop() {
				b.StopTimer()
				st, err := bolt.Open(filepath.Join(b.TempDir(), "import.db"), bolt.Options{})
				if err != nil {
					b.Fatal(err)
				}
				db, err := Open(context.Background(), Config{Room: "import-bench", Store: st, Moderation: &std, GCInterval: -1, Clock: func() time.Time { return now }})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				var total ImportResult
				if variant == "Importer" {
					imp := db.NewImporter(context.Background())
					for i := 0; i < n; i += 2000 {
						if err := imp.Add(events[i : i+2000]); err != nil {
							b.Fatal(err)
						}
					}
					if total, err = imp.Close(); err != nil {
						b.Fatal(err)
					}
				} else {
					for i := 0; i < n; i += 2000 {
						r, err := db.Import(context.Background(), events[i:i+2000])
						if err != nil {
							b.Fatal(err)
						}
						total.Add(r)
					}
				}
				perSecond = n / time.Since(start).Seconds()
				b.StopTimer()
				if total.Stored != fresh {
					b.Fatalf("stored %d, want the %d within retention", total.Stored, fresh)
				}
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(perSecond, "events/s")
		})
	}
}
