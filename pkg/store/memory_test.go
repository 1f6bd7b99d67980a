package store_test

import (
	"context"
	"testing"

	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestMemoryBlobs(t *testing.T) {
	storetest.RunBlobs(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func BenchmarkMemory(b *testing.B) {
	storetest.Benchmark(b, func(*testing.B) store.Store { return store.NewMemory() })
}

// TestCacheConformance runs the conformance suite on the cache, with room
// for a few events only, so that hits, misses and evictions all happen.
func TestCacheConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewCache(store.NewMemory(), 8<<10) })
}

func TestCacheEvictsAndServesHits(t *testing.T) {
	ctx := context.Background()
	g := storetest.NewGenerator(t, 2, 3)
	events := g.Records(200, 1000, 100)
	c := store.NewCache(store.NewMemory(), 20<<10)
	if err := c.Put(ctx, events...); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Bytes > st.MaxBytes || st.Events == 0 || st.Events == len(events) {
		t.Fatalf("after 200 puts: %+v", st)
	}
	last := events[len(events)-1]
	got, err := c.Get(ctx, last.ID)
	if err != nil || got.ID != last.ID {
		t.Fatalf("Get: %v", err)
	}
	got.Content = "changed by the caller"
	again, _ := c.Get(ctx, last.ID)
	if again.Content == got.Content {
		t.Fatal("the cache shares its events with callers")
	}
	if st := c.Stats(); st.Hits < 2 {
		t.Errorf("the newest event was not served from the cache: %+v", st)
	}
	all, err := c.GetMany(ctx, []([32]byte){events[0].ID, last.ID, events[1].ID})
	if err != nil || len(all) != 3 || all[0].ID != events[0].ID || all[2].ID != events[1].ID {
		t.Fatalf("GetMany mixing hits and misses: %d events, %v", len(all), err)
	}
	if err := c.Delete(ctx, last.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, last.ID); err == nil {
		t.Fatal("a deleted event is still served")
	}
}
