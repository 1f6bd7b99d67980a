package session

// Attacks on blobs found by a hostile review: each test reproduces one and
// asserts the defence (the comments describe the attack).

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Review reproductions (blob security review). Each test asserts the
// behaviour one would want; a failure demonstrates the finding.

// TestBlobOtherLayoutDoesNotStrikeHolder: a hostile author publishes
// a record naming the SHA-256 of a blob honest peers hold, with another list
// hash (or chunk size, or size). Fetching it asks peers by SHA-256 only, so
// an honest holder answers its own (correct) hash list, which does not match
// the hostile record: the honest holder gets an integrity strike, and after
// five fetches (the prefetch retries every 15 s and at every peer join) it is
// banned.
func TestBlobOtherLayoutDoesNotStrikeHolder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alter func(*record.BlobRef)
	}{
		{"other list hash", func(r *record.BlobRef) { r.ListHash[0] ^= 1 }},
		{"other chunk size", func(r *record.BlobRef) { r.ChunkSize = record.MinBlobChunkSize }},
		{"other size", func(r *record.BlobRef) { r.Size = 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBlob(3 * record.BlobChunkSize)
			srcB := newMemBlobs()
			honest := srcB.add(data, record.BlobChunkSize)
			a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
			connect(t, a, b, time.Millisecond)
			waitState(t, a, "b", StateIdle, StateSyncing)
			hostile := honest
			tc.alter(&hostile)
			for i := range 5 {
				_, _, err := fetchInto(t.Context(), a.m, hostile)
				st := a.m.Ledger().Status(moderation.KeySubject(b.key.Public()))
				t.Logf("fetch %d of the hostile record: %v; honest holder: strikes %d, bans %d (%s)", i, err, len(st.Strikes), st.Bans, st.BanReason)
			}
			st := a.m.Ledger().Status(moderation.KeySubject(b.key.Public()))
			if len(st.Strikes) > 0 || st.Bans > 0 {
				t.Fatalf("the honest holder of the blob: %d strikes, %d bans (%s)", len(st.Strikes), st.Bans, st.BanReason)
			}
		})
	}
}

// TestBlobSilentSourceEndsTheFetch: a source answers the hash list
// (the author of the record can), then never answers a chunk. The chunks
// time out every 30 s and are asked again, of the same silent source; the
// fetch never ends (FetchBlob has no deadline of its own, and the prefetch
// loop and the JS blob() call pass a context that never ends).
func TestBlobSilentSourceEndsTheFetch(t *testing.T) {
	shortBlobTimeout(t)
	srcB := newMemBlobs()
	ref := srcB.add(randomBlob(3*record.MinBlobChunkSize), record.MinBlobChunkSize)
	srcB.gate = make(chan struct{}) // chunks are never served
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	ctx, cancel := context.WithTimeout(t.Context(), 15*blobChunkTimeout)
	defer cancel()
	start := time.Now()
	_, _, err := fetchInto(ctx, a.m, ref)
	if !errors.Is(err, ErrBlobUnavailable) {
		t.Errorf("the fetch from a silent source ended with %v; want ErrBlobUnavailable", err)
	}
	info, _ := b.m.Session("a")
	t.Logf("after %v: %v; b got %d messages from a", time.Since(start).Round(time.Second), err, info.MessagesIn)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the fetch was still running after %v with one silent source (re-asked after the chunk timeout)", time.Since(start).Round(time.Second))
	}
}

// TestBlobLateAnswersToARestartedFetch: a fetch ends (its context ends,
// here; likewise ErrBlobUnavailable after a slow list, a Put error …) while
// an honest peer still owes it answers, and a new fetch of the same blob
// starts. The late answers reach the new fetch, which owes them nothing:
// protocol violations against the honest peer, enough to ban it.
func TestBlobLateAnswersToARestartedFetch(t *testing.T) {
	srcB := newMemBlobs()
	ref := srcB.add(randomBlob(20*record.MinBlobChunkSize), record.MinBlobChunkSize)
	srcB.gate = make(chan struct{}) // a slow honest server
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)

	ctx1, cancel1 := context.WithCancel(t.Context())
	done1 := make(chan error, 1)
	go func() { _, _, err := fetchInto(ctx1, a.m, ref); done1 <- err }()
	waitFor(t, "chunks asked of b", func() bool { return len(slowWaiting(b)) > 0 })
	cancel1()
	t.Logf("first fetch: %v", <-done1)

	done2 := make(chan error, 1)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel2()
	go func() { _, _, err := fetchInto(ctx2, a.m, ref); done2 <- err }()
	waitFor(t, "the list asked again", func() bool { return len(slowWaiting(b)) >= 8 })
	close(srcB.gate) // b catches up and answers everything it was asked, in order
	err := <-done2
	t.Logf("second fetch: %v", err)
	st := a.m.Ledger().Status(moderation.KeySubject(b.key.Public()))
	for _, s := range st.Strikes {
		t.Logf("strike on the honest peer: %s", s.Reason)
	}
	if len(st.Strikes) > 0 || st.Bans > 0 {
		t.Fatalf("the honest peer got %d strikes and %d bans (%s) for answering what it was asked", len(st.Strikes), st.Bans, st.BanReason)
	}
}

var _ = strings.Contains

// TestBlobConcurrentFetchesStayUnderTheServersQueue: an honest node fetches ten
// blobs at once (a page showing a gallery calls blob() for each) from one
// peer. Each fetch asks up to blobWindow (8) chunks of each source, but the
// server takes at most MaxBlobRequests (64) waiting requests per peer, over
// every blob: the honest fetcher is flood-struck by the honest server (and
// banned after five seconds of it).
func TestBlobConcurrentFetchesStayUnderTheServersQueue(t *testing.T) {
	srcB := newMemBlobs()
	var refs []record.BlobRef
	for i := range 10 {
		refs = append(refs, srcB.add(randomBlob(20*record.MinBlobChunkSize+i), record.MinBlobChunkSize))
	}
	srcB.gate = make(chan struct{}) // a busy server: chunks wait (as behind its upload budget)
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	errs := make(chan error, len(refs))
	for _, ref := range refs {
		go func() { _, _, err := fetchInto(ctx, a.m, ref); errs <- err }()
	}
	time.Sleep(6 * time.Second)
	close(srcB.gate)
	for range refs {
		<-errs
	}
	st := b.m.Ledger().Status(moderation.KeySubject(a.key.Public()))
	for _, s := range st.Strikes {
		t.Logf("strike on the honest fetcher: %s", s.Reason)
	}
	if len(st.Strikes) > 0 || st.Bans > 0 {
		t.Fatalf("the honest fetcher got %d strikes and %d bans (%s) from the honest server", len(st.Strikes), st.Bans, st.BanReason)
	}
}

// TestBlobUnaskedAnswersHoldNoMemory: blob-data bypasses the flood bucket and
// is copied into the fetch's answers channel (4 × 8 × 8 = 256 slots) before
// any check of who asked or of its length. While the fetch loop is busy (a
// slow store write in Put or List, or a blocked Send of a want, up to 30 s),
// a peer that was never asked anything fills it with 512 KiB hash lists:
// 128 MiB held per running fetch; past the 256 slots the messages are
// dropped with neither a strike nor a message-budget charge.
func TestBlobUnaskedAnswersHoldNoMemory(t *testing.T) {
	srcB := newMemBlobs()
	ref := srcB.add(randomBlob(4*record.MinBlobChunkSize), record.MinBlobChunkSize)
	a, b, h := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB), blobNode(t, "h", newMemBlobs())
	connect(t, a, b, time.Millisecond)
	_, ha := connect(t, a, h, 0)
	waitState(t, a, "b", StateIdle, StateSyncing)
	waitState(t, a, "h", StateIdle, StateSyncing)
	slow := make(chan struct{})
	inList := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.m.FetchBlob(t.Context(), BlobFetch{Ref: ref,
			List: func([]byte) error { close(inList); <-slow; return nil }, // a slow store write
			Put:  func(int, []byte) error { return nil }})
	}()
	<-inList
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	junk := encodeBlobData(ref.SHA256, BlobListIndex, make([]byte, 32*MaxBlobListChunks))
	for range 300 {
		if err := ha.Send(t.Context(), ActionBlobData, junk); err != nil {
			break // struck and banned: the connection is gone
		}
	}
	time.Sleep(time.Second)
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapInuse) - int64(before.HeapInuse)
	st := a.m.Ledger().Status(moderation.KeySubject(h.key.Public()))
	t.Logf("held by the fetch's queue: %d MiB; strikes on the sender so far: %d", held>>20, len(st.Strikes))
	close(slow)
	<-done
	if held > 32<<20 {
		t.Fatalf("a peer nobody asked made one fetch hold %d MiB", held>>20)
	}
}

// TestBlobSlowSourceIsNotFlooded: one fetch, one slow honest source
// (its chunks wait, as behind its upload budget on a slow uplink). Every
// blobChunkTimeout the fetch asks the same source blobWindow more chunks,
// while the earlier requests still wait there; after eight timeouts the
// server holds more than MaxBlobRequests and flood-strikes the honest
// fetcher (once per timeout round: banned after five). Run with
// blobChunkTimeout lowered (REVIEW_FAST_TIMEOUT) to see it in seconds.
func TestBlobSlowSourceIsNotFlooded(t *testing.T) {
	shortBlobTimeout(t)
	srcB := newMemBlobs()
	ref := srcB.add(randomBlob(200*record.MinBlobChunkSize), record.MinBlobChunkSize)
	srcB.gate = make(chan struct{})
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	ctx, cancel := context.WithTimeout(t.Context(), 15*blobChunkTimeout)
	defer cancel()
	_, _, err := fetchInto(ctx, a.m, ref)
	t.Logf("fetch: %v; requests waiting at b: %d", err, len(slowWaiting(b)))
	st := b.m.Ledger().Status(moderation.KeySubject(a.key.Public()))
	if len(st.Strikes) > 0 || st.Bans > 0 {
		t.Fatalf("the honest fetcher got %d strikes and %d bans (%s) from its slow honest source", len(st.Strikes), st.Bans, st.BanReason)
	}
}

// shortBlobTimeout lowers blobChunkTimeout to 1 s for one test.
func shortBlobTimeout(t *testing.T) {
	old := blobChunkTimeout
	blobChunkTimeout = time.Second
	t.Cleanup(func() { blobChunkTimeout = old })
}
