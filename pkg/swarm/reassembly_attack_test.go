//go:build !js

package swarm_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/peersetdb/peerset/internal/testwait"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/wire"
)

// heapInUse returns the live heap after two collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestPartialMessageFloodStaysWithinBudgetAndExpires is the reassembly
// attack (security review M1): a peer that has only opened a data channel
// (no Trystero or peerset authentication) starts 64 messages of 64 action
// types, each one byte short of the receiver's message limit, and never
// sends their last chunk. The receiver must hold no more than its per-peer
// reassembly budget, and drop what it holds once the partial messages make
// no progress for PartialTimeout.
func TestPartialMessageFloodStaysWithinBudgetAndExpires(t *testing.T) {
	const (
		types = 64
		// margin covers what is not reassembly: pion's SCTP and DTLS
		// buffers, the inbox, the sender's in-flight frames.
		margin = 8 << 20
	)
	tr := startTracker(t)
	cfgA := testConfig(t, tr.URL(), roomName(t))
	cfgB := cfgA
	cfgB.PartialTimeout = 2 * time.Second
	a := newTestPeer(t, cfgA)
	b := newTestPeer(t, cfgB, "chat")
	pb := a.waitJoin(t) // a's view of b
	pa := b.waitJoin(t) // b's view of a
	token := swarm.RoomTokenOf(a.room)

	limit := swarm.DefaultMaxMessageBytes
	budget := swarm.DefaultMaxPartialBytes
	size := limit - 1
	chunks := (size + wire.ChunkPayloadSize - 1) / wire.ChunkPayloadSize
	payload := make([]byte, wire.ChunkPayloadSize)

	before := heapInUse()
	bytesIn := pa.Stats().BytesIn
	var sent uint64
	for i := range types {
		typ := "park-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		for c := range chunks - 1 { // every chunk but the last
			chunk, err := wire.AppendChunk(nil, wire.Chunk{Type: typ, Flags: wire.FlagBinary | wire.FlagJSON, Progress: uint8(c), Payload: payload})
			if err != nil {
				t.Fatal(err)
			}
			frame, err := wire.EncodeRoomFrame(token, chunk)
			if err != nil {
				t.Fatal(err)
			}
			if err := swarm.SendRawForTest(t.Context(), pb, frame); err != nil {
				t.Fatalf("type %d chunk %d: %v", i, c, err)
			}
			sent += uint64(len(frame))
		}
	}
	testwait.ForState(t, fmt.Sprintf("b to receive the %d bytes sent", sent), 60*time.Second, func() bool {
		return pa.Stats().BytesIn-bytesIn >= sent
	}, func() string { return fmt.Sprintf("%d received", pa.Stats().BytesIn-bytesIn) })
	held := swarm.PartialBytesForTest(pa)
	grown := int64(heapInUse()) - int64(before)
	t.Logf("sent %d MiB of unfinished messages; b holds %d partial bytes, heap grew %.1f MiB (budget %d KiB, limit %d KiB)",
		sent>>20, held, float64(grown)/(1<<20), budget>>10, limit>>10)
	if held > budget {
		t.Errorf("b holds %d bytes of partial messages, budget %d", held, budget)
	}
	if grown > int64(budget+margin) {
		t.Errorf("heap grew by %d bytes, more than the budget %d plus %d", grown, budget, margin)
	}

	// The parked messages make no progress: they are dropped after
	// PartialTimeout, and the heap comes back down.
	testwait.ForState(t, "the partial messages to be dropped", cfgB.PartialTimeout+10*time.Second, func() bool {
		return swarm.PartialBytesForTest(pa) == 0
	}, func() string { return fmt.Sprintf("%d partial bytes held", swarm.PartialBytesForTest(pa)) })
	if after := int64(heapInUse()) - int64(before); after > margin {
		t.Errorf("heap still %d bytes above the start after the partials expired", after)
	}

	// The connection still works.
	if err := pb.Send(t.Context(), swarm.StringMessage("chat", "still here")); err != nil {
		t.Fatal(err)
	}
	if got := b.waitMessage(t); string(got.msg.Payload) != "still here" {
		t.Fatalf("got %q", got.msg.Payload)
	}
}
