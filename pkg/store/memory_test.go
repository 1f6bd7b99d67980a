package store_test

import (
	"testing"

	"github.com/peersetdb/peerset/pkg/store"
	"github.com/peersetdb/peerset/pkg/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func BenchmarkMemory(b *testing.B) {
	storetest.Benchmark(b, func(*testing.B) store.Store { return store.NewMemory() })
}
