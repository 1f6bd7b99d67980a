package session

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// memBlobs is a BlobSource over blobs in memory; spoil, when set, changes
// what it serves (a hostile peer), and gate, when set, holds every chunk
// until it is closed.
type memBlobs struct {
	mu     sync.Mutex
	blobs  map[[32]byte][]byte
	hashes map[[32]byte][]byte
	refs   map[[32]byte]record.BlobRef
	spoil  func(index uint32, data []byte) []byte
	gate   chan struct{}
	served int
	// listGate, when set, holds every hash-list request (and so the
	// server's queue behind it) until it is closed: a peer that never
	// answers.
	listGate chan struct{}
}

func newMemBlobs() *memBlobs {
	return &memBlobs{blobs: map[[32]byte][]byte{}, hashes: map[[32]byte][]byte{}, refs: map[[32]byte]record.BlobRef{}}
}

func (m *memBlobs) add(data []byte, chunkSize int) record.BlobRef {
	h := record.NewBlobHasher(chunkSize)
	h.Write(data)
	ref, list := h.Sum("application/octet-stream")
	m.mu.Lock()
	m.blobs[ref.SHA256], m.hashes[ref.SHA256], m.refs[ref.SHA256] = data, list, ref
	m.mu.Unlock()
	return ref
}

func (m *memBlobs) ServedBlob(ctx context.Context, sha [32]byte) (record.BlobRef, []byte, bool) {
	if m.listGate != nil {
		select {
		case <-m.listGate:
		case <-ctx.Done():
			return record.BlobRef{}, nil, false
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.refs[sha]
	list := m.hashes[sha]
	if ok && m.spoil != nil {
		list = m.spoil(BlobListIndex, slices.Clone(list))
	}
	return ref, list, ok
}

func (m *memBlobs) BlobChunk(ctx context.Context, sha [32]byte, i int) ([]byte, error) {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ref := m.refs[sha]
	data := slices.Clone(m.blobs[sha][i*ref.ChunkSize : i*ref.ChunkSize+ref.ChunkLen(i)])
	m.served++
	if m.spoil != nil {
		data = m.spoil(uint32(i), data)
	}
	return data, nil
}

func (m *memBlobs) servedChunks() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.served
}

// blobNode is a node whose Manager serves src.
func blobNode(t *testing.T, name string, src *memBlobs) *node {
	t.Helper()
	cfg := quickConfig()
	cfg.Blobs = src
	return newNode(t, name, cfg)
}

// fetcherOfTwo is a node "a" (holding no blob) with authenticated
// sessions to two blob servers; it returns a and its link to the first.
func fetcherOfTwo(t *testing.T, first string, firstBlobs *memBlobs, second string, secondBlobs *memBlobs) (*node, *pipeLink) {
	t.Helper()
	a := blobNode(t, "a", newMemBlobs())
	toFirst, _ := connect(t, a, blobNode(t, first, firstBlobs), time.Millisecond)
	connect(t, a, blobNode(t, second, secondBlobs), time.Millisecond)
	waitState(t, a, first, StateIdle, StateSyncing)
	waitState(t, a, second, StateIdle, StateSyncing)
	return a, toFirst
}

// fetchInto runs FetchBlob into a buffer and returns it.
func fetchInto(ctx context.Context, m *Manager, ref record.BlobRef) ([]byte, []int64, error) {
	out := make([]byte, ref.Size)
	var mu sync.Mutex
	var progress []int64
	err := m.FetchBlob(ctx, BlobFetch{
		Ref: ref,
		Put: func(i int, data []byte) error {
			copy(out[i*ref.ChunkSize:], data)
			return nil
		},
		Progress: func(received int64) {
			mu.Lock()
			progress = append(progress, received)
			mu.Unlock()
		},
	})
	return out, progress, err
}

func randomBlob(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func blobStrikes(n *node, key *record.SecretKey) []moderation.Strike {
	return n.m.Ledger().Strikes(moderation.KeySubject(key.Public()))
}

// struckOrBanned reports whether n struck the key's peer: its strikes, or
// a ban (which clears them: a source serving a window of spoiled chunks
// reaches the threshold at once).
func struckOrBanned(n *node, key *record.SecretKey) bool {
	return len(blobStrikes(n, key)) > 0 || n.m.Ledger().Status(moderation.KeySubject(key.Public())).Bans > 0
}

// TestBlobFetch: a 5 MiB blob held by two peers arrives whole, with
// progress up to its size, from both.
func TestBlobFetch(t *testing.T) {
	data := randomBlob(5 << 20)
	srcB, srcC := newMemBlobs(), newMemBlobs()
	ref := srcB.add(data, record.BlobChunkSize)
	srcC.add(data, record.BlobChunkSize)
	a := blobNode(t, "a", newMemBlobs())
	b, c := blobNode(t, "b", srcB), blobNode(t, "c", srcC)
	connect(t, a, b, time.Millisecond)
	connect(t, a, c, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	waitState(t, a, "c", StateIdle, StateSyncing)
	got, progress, err := fetchInto(t.Context(), a.m, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the fetched blob differs")
	}
	if len(progress) != ref.Chunks() || progress[len(progress)-1] != ref.Size || !slices.IsSorted(progress) {
		t.Fatalf("progress %d reports, last %d; want %d ascending to %d", len(progress), progress[len(progress)-1], ref.Chunks(), ref.Size)
	}
	if srcB.servedChunks() == 0 || srcC.servedChunks() == 0 || srcB.servedChunks()+srcC.servedChunks() != ref.Chunks() {
		t.Errorf("b served %d chunks and c %d; want both, %d in all", srcB.servedChunks(), srcC.servedChunks(), ref.Chunks())
	}
	if len(blobStrikes(a, b.key))+len(blobStrikes(a, c.key)) != 0 {
		t.Error("honest peers were struck")
	}
}

// TestBlobFetchIsNotHeldUpByAPeerThatStopsReading: a source whose Send
// blocks (it stopped reading: back-pressure) holds up only what is asked of
// it; the fetch takes the blob from the other source meanwhile. Before,
// the fetch's loop waited in that Send, up to blobChunkTimeout per ask,
// and handled no answer.
func TestBlobFetchIsNotHeldUpByAPeerThatStopsReading(t *testing.T) {
	old := blobChunkTimeout
	blobChunkTimeout = 10 * time.Minute // far beyond waitTimeout: a blocked Send never ends by itself here
	t.Cleanup(func() { blobChunkTimeout = old })
	data := randomBlob(6 * record.MinBlobChunkSize)
	srcStuck, srcHonest := newMemBlobs(), newMemBlobs()
	ref := srcHonest.add(data, record.MinBlobChunkSize)
	srcStuck.add(data, record.MinBlobChunkSize)
	a, toStuck := fetcherOfTwo(t, "stuck", srcStuck, "honest", srcHonest)
	var blocked atomic.Int64
	release := make(chan struct{})
	toStuck.setBlock(func(ctx context.Context, action string, _ []byte) error {
		if action != ActionBlobWant {
			return nil
		}
		blocked.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	defer close(release)
	done := make(chan error, 1)
	var got []byte
	go func() {
		var err error
		got, _, err = fetchInto(t.Context(), a.m, ref)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the fetch did not end within %v while a Send to the peer that stopped reading waits", waitTimeout)
	}
	if !bytes.Equal(got, data) || srcHonest.servedChunks() != ref.Chunks() {
		t.Fatalf("the honest peer served %d of %d chunks (same bytes: %v)", srcHonest.servedChunks(), ref.Chunks(), bytes.Equal(got, data))
	}
	if blocked.Load() == 0 {
		t.Fatal("nothing was asked of the peer that stopped reading: the test proves nothing")
	}
}

// TestBlobSlowSendsOweNothingAfterTheFetch: wants queued for a source
// whose Sends are slow, and not sent when the fetch ends (the blob came
// from another source), give back the answers they counted: the slow peer
// owes nothing afterwards, so later fetches may still ask it (a peer owing
// blobMaxOwed is asked nothing).
func TestBlobSlowSendsOweNothingAfterTheFetch(t *testing.T) {
	srcSlow, srcFast := newMemBlobs(), newMemBlobs()
	var refs []record.BlobRef
	for i := range 5 {
		data := randomBlob(4*record.MinBlobChunkSize + i)
		refs = append(refs, srcFast.add(data, record.MinBlobChunkSize))
		srcSlow.add(data, record.MinBlobChunkSize)
	}
	a, toSlow := fetcherOfTwo(t, "slow", srcSlow, "fast", srcFast)
	toSlow.setBlock(func(ctx context.Context, action string, _ []byte) error {
		if action != ActionBlobWant {
			return nil
		}
		select { // a Send that waits for backpressure
		case <-time.After(300 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	for i, ref := range refs {
		if _, _, err := fetchInto(t.Context(), a.m, ref); err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
	}
	// Wants that did go out are answered (late answers count too).
	waitFor(t, "the slow peer to owe nothing", func() bool { return owedBy(a, "slow") == 0 })
}

// TestBlobListTimeoutRunsFromTheSend: the time a source has to answer the
// hash list runs from when the want went out, not from when the fetch
// queued it: a Send that waited for backpressure does not eat into it.
func TestBlobListTimeoutRunsFromTheSend(t *testing.T) {
	old := blobChunkTimeout
	blobChunkTimeout = 4 * time.Second
	t.Cleanup(func() { blobChunkTimeout = old })
	data := randomBlob(3 * record.MinBlobChunkSize)
	src := newMemBlobs()
	ref := src.add(data, record.MinBlobChunkSize)
	a := blobNode(t, "a", newMemBlobs())
	b := blobNode(t, "b", src)
	toB, _ := connect(t, a, b, 750*time.Millisecond) // an answer comes 1.5 s after its want went out
	waitState(t, a, "b", StateIdle, StateSyncing)
	toB.setBlock(func(ctx context.Context, action string, payload []byte) error {
		if action != ActionBlobWant || len(payload) != blobWantHeader {
			return nil // only the list's want waits
		}
		select { // 3 s: with the 1.5 s round trip, past blobChunkTimeout from the queueing
		case <-time.After(3 * time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	got, _, err := fetchInto(t.Context(), a.m, ref)
	if err != nil {
		t.Fatalf("fetch from a peer whose list want waited 3 s to go out: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the fetched blob differs")
	}
}

// TestBlobFetchSkipsHeldChunks: chunks the caller has are not asked for.
func TestBlobFetchSkipsHeldChunks(t *testing.T) {
	data := randomBlob(20 * record.MinBlobChunkSize)
	srcB := newMemBlobs()
	ref := srcB.add(data, record.MinBlobChunkSize)
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", srcB)
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	var got []int
	err := a.m.FetchBlob(t.Context(), BlobFetch{Ref: ref, Have: []int{0, 5, 19}, Put: func(i int, _ []byte) error {
		got = append(got, i)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if len(got) != 17 || slices.Contains(got, 0) || slices.Contains(got, 5) || slices.Contains(got, 19) {
		t.Fatalf("put chunks %v; want the 17 not held", got)
	}
}

// TestBlobHostileSourceIsStruck is issue 13's attack: a peer serves chunks
// (or a hash list) that do not match. It is struck, and the blob still
// arrives whole from the honest peer.
func TestBlobHostileSourceIsStruck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(index uint32, data []byte) []byte
	}{
		{"wrong chunks", func(index uint32, data []byte) []byte {
			if index != BlobListIndex {
				data[len(data)/2] ^= 0xff
			}
			return data
		}},
		{"short chunks", func(index uint32, data []byte) []byte {
			if index != BlobListIndex {
				return data[:len(data)-1]
			}
			return data
		}},
		{"wrong hash list", func(index uint32, data []byte) []byte {
			if index == BlobListIndex {
				data[0] ^= 1
			}
			return data
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBlob(40 * record.MinBlobChunkSize)
			hostile, honest := newMemBlobs(), newMemBlobs()
			ref := hostile.add(data, record.MinBlobChunkSize)
			honest.add(data, record.MinBlobChunkSize)
			hostile.spoil = tc.spoil
			// The honest peer serves no chunk until the hostile one is
			// struck: under load it could otherwise serve the whole blob
			// before the hostile one was asked for anything.
			honest.gate = make(chan struct{})
			a := blobNode(t, "a", newMemBlobs())
			h, g := blobNode(t, "hostile", hostile), blobNode(t, "honest", honest)
			connect(t, a, h, time.Millisecond)
			connect(t, a, g, 20*time.Millisecond)
			waitState(t, a, "hostile", StateIdle, StateSyncing)
			waitState(t, a, "honest", StateIdle, StateSyncing)
			go func() {
				defer close(honest.gate)
				for !struckOrBanned(a, h.key) {
					select {
					case <-t.Context().Done():
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			got, _, err := fetchInto(t.Context(), a.m, ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the fetched blob differs")
			}
			strikes := blobStrikes(a, h.key)
			banned := a.m.Ledger().Status(moderation.KeySubject(h.key.Public())).Bans > 0
			if !banned && (len(strikes) == 0 || !strings.Contains(strikes[0].Reason, "integrity")) {
				t.Fatalf("the hostile peer's strikes: %+v, not banned; want an integrity strike or a ban", strikes)
			}
			if len(blobStrikes(a, g.key)) != 0 {
				t.Error("the honest peer was struck")
			}
		})
	}
}

// TestBlobSourceLeavesMidFetch: the chunks a leaving peer held in flight
// are asked of another, and the blob arrives whole.
func TestBlobSourceLeavesMidFetch(t *testing.T) {
	data := randomBlob(30 * record.MinBlobChunkSize)
	slow, other := newMemBlobs(), newMemBlobs()
	ref := slow.add(data, record.MinBlobChunkSize)
	other.add(data, record.MinBlobChunkSize)
	slow.gate = make(chan struct{}) // never opened: it holds its chunks
	a := blobNode(t, "a", newMemBlobs())
	s := blobNode(t, "slow", slow)
	as, _ := connect(t, a, s, time.Millisecond)
	waitState(t, a, "slow", StateIdle, StateSyncing)
	done := make(chan error, 1)
	var got []byte
	go func() {
		var err error
		got, _, err = fetchInto(t.Context(), a.m, ref)
		done <- err
	}()
	waitFor(t, "the slow peer to be asked for chunks", func() bool {
		info, _ := s.m.Session("a")
		return info.MessagesIn > 0 && len(slowWaiting(s)) > 0
	})
	o := blobNode(t, "other", other)
	connect(t, a, o, time.Millisecond)
	as.Close(errors.New("the slow peer leaves"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the fetched blob differs")
	}
}

// slowWaiting returns the blob requests queued at n's session with a.
func slowWaiting(n *node) []blobRequest {
	s := n.m.session("a")
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.blobQueue)
}

// TestBlobUnavailable: when no peer serves the blob, FetchBlob says so.
func TestBlobUnavailable(t *testing.T) {
	a, b := blobNode(t, "a", newMemBlobs()), blobNode(t, "b", newMemBlobs())
	connect(t, a, b, time.Millisecond)
	waitState(t, a, "b", StateIdle, StateSyncing)
	ref, _ := record.HashBlob(randomBlob(1000), "")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if _, _, err := fetchInto(ctx, a.m, ref); !errors.Is(err, ErrBlobUnavailable) {
		t.Fatalf("fetch: %v; want ErrBlobUnavailable", err)
	}
	if len(blobStrikes(a, b.key)) != 0 {
		t.Error("a peer that said none was struck")
	}
}

// TestBlobHostileMessages: blob messages nobody asked for, malformed ones,
// and more requests than a server queues, each earn a strike.
func TestBlobHostileMessages(t *testing.T) {
	var sha [32]byte
	sha[1] = 9
	tests := []struct {
		name   string
		action string
		send   [][]byte
		reason string
	}{
		{"unsolicited chunk", ActionBlobData, [][]byte{encodeBlobData(sha, 0, []byte("x"))}, "did not ask for"},
		{"unsolicited none", ActionBlobNone, [][]byte{sha[:]}, "did not ask for"},
		{"bad want", ActionBlobWant, [][]byte{sha[:31]}, "blob-want of 31 bytes"},
		{"want without a layout", ActionBlobWant, [][]byte{sha[:]}, "blob-want of 32 bytes"},
		{"repeated index", ActionBlobWant, [][]byte{encodeBlobWant(record.BlobRef{SHA256: sha, Size: 1 << 20, ChunkSize: record.MinBlobChunkSize}, []int{1, 1})}, "repeated"},
		{"request flood", ActionBlobWant, func() [][]byte {
			var out [][]byte
			for range 6 {
				out = append(out, encodeBlobWant(record.BlobRef{SHA256: sha, Size: 1 << 20, ChunkSize: record.MinBlobChunkSize}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}))
			}
			return out
		}(), "blob requests waiting"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newMemBlobs()
			src.gate = make(chan struct{}) // the server answers nothing: requests stay queued
			ref := src.add(randomBlob(20*record.MinBlobChunkSize), record.MinBlobChunkSize)
			if tc.action == ActionBlobWant && tc.reason == "blob requests waiting" {
				sha = ref.SHA256
				for i := range tc.send {
					copy(tc.send[i], encodeBlobWant(ref, nil))
				}
			}
			a, b := blobNode(t, "a", src), blobNode(t, "b", newMemBlobs())
			_, ba := connect(t, a, b, 0)
			waitState(t, a, "b", StateIdle, StateSyncing)
			for _, p := range tc.send {
				if err := ba.Send(t.Context(), tc.action, p); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "a strike", func() bool { return len(blobStrikes(a, b.key)) > 0 })
			if r := blobStrikes(a, b.key)[0].Reason; !strings.Contains(r, tc.reason) {
				t.Fatalf("strike %q; want one naming %q", r, tc.reason)
			}
		})
	}
}

// TestBlobMessagesNeedBlobs: a node whose hello offered no blobs takes no
// blob message.
func TestBlobMessagesNeedBlobs(t *testing.T) {
	a, b := newNode(t, "a", quickConfig()), blobNode(t, "b", newMemBlobs())
	_, ba := connect(t, a, b, 0)
	waitState(t, a, "b", StateIdle, StateSyncing)
	var sha [32]byte
	if err := ba.Send(t.Context(), ActionBlobWant, sha[:]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a strike", func() bool { return len(blobStrikes(a, b.key)) > 0 })
}

// owedBy is how many blob requests n's session with peer has not had
// answered.
func owedBy(n *node, peer string) int {
	for _, s := range n.m.snapshot() {
		if s.link.ID() == peer {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.blobOwed
		}
	}
	return -1
}

// TestBlobSilentPeerIsAskedNoMore: a peer that never answers a hash-list
// request made every fetch of a blob nobody holds wait blobChunkTimeout
// for it, one fetch after the other (a prefetch queue of such blobs, or an
// author's records of blobs it never shares, stalled for hours). After its
// first timeout no fetch asks it anything for blobQuietFor.
func TestBlobSilentPeerIsAskedNoMore(t *testing.T) {
	old := blobChunkTimeout
	blobChunkTimeout = 2 * time.Second // the honest peer's "none" comes well within it
	t.Cleanup(func() { blobChunkTimeout = old })
	silent := newMemBlobs()
	silent.listGate = make(chan struct{}) // never opened
	a := blobNode(t, "a", newMemBlobs())
	s, h := blobNode(t, "silent", silent), blobNode(t, "honest", newMemBlobs())
	connect(t, a, s, time.Millisecond)
	connect(t, a, h, time.Millisecond)
	waitState(t, a, "silent", StateIdle, StateSyncing)
	waitState(t, a, "honest", StateIdle, StateSyncing)
	for i := range 3 {
		ref := newMemBlobs().add(randomBlob(3*record.MinBlobChunkSize+i), record.MinBlobChunkSize) // held by nobody
		if _, _, err := fetchInto(t.Context(), a.m, ref); !errors.Is(err, ErrBlobUnavailable) {
			t.Fatalf("fetch %d of a blob nobody holds: %v; want ErrBlobUnavailable", i, err)
		}
	}
	if n := owedBy(a, "silent"); n != 1 {
		t.Fatalf("the silent peer owes %d answers; want 1: asked once, then no more", n)
	}
	if len(blobStrikes(a, s.key)) != 0 {
		t.Error("the silent peer was struck (slow is not hostile)")
	}
	if n := owedBy(a, "honest"); n != 0 {
		t.Errorf("the honest peer owes %d answers; want 0 (it answers none)", n)
	}
}
