package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peersetdb/peerset/internal/ratelimit"
	"github.com/peersetdb/peerset/pkg/record"
)

// Blobs (issue 13; docs/protocol.md 4.10): a record may refer to a file kept
// beside it (record.BlobRef). Peers whose hello says "blobs" serve the blobs
// they hold whole and fetch the ones they want in chunks:
//
//   - peerset/blob-want: the blob's SHA-256 (32 bytes), the layout the
//     record that names it gives (its list hash, 32 bytes; its size, 8;
//     its chunk size, 4), then zero to MaxBlobWantChunks chunk indexes (4
//     bytes each). No index asks for the hash list. A server answers only
//     for a blob it holds whole in that very layout (another record may
//     name the same bytes in other chunks, or name them wrongly).
//   - peerset/blob-data: the SHA-256, the index (4 bytes; BlobListIndex for
//     the hash list), then the bytes.
//   - peerset/blob-none: the SHA-256: the sender does not serve this blob
//     (it does not hold it whole under that list hash). The asker stops
//     asking it.
//
// Each answer is one message. A receiver accepts data only for what it asked
// that peer, once per request (anything else is a violation: a strike; an
// answer that comes after the request timed out is still taken); a hash
// list that does
// not hash to the record's list hash, or a chunk that does not hash to its
// entry in the list, is an integrity failure (a strike; the fetch goes on
// with the other peers). A peer may have at most MaxBlobRequests chunk
// requests waiting at a server: more are dropped with a flood strike. What a
// server sends passes its own byte budget (BlobUploadRate), and each data
// channel's backpressure (Link.Send blocks while its buffer is full).
const (
	ActionBlobWant = "peerset/blob-want"
	ActionBlobData = "peerset/blob-data"
	ActionBlobNone = "peerset/blob-none"

	// MaxBlobWantChunks bounds the indexes of one blob-want.
	MaxBlobWantChunks = 16
	// MaxBlobRequests bounds the chunk requests (a hash list counts as
	// one) one peer may have waiting at a server.
	MaxBlobRequests = 64
	// MaxBlobListChunks bounds the chunks of a blob that can travel: its
	// hash list must fit one message (16,384 chunks: 1 GiB in 64 KiB chunks).
	MaxBlobListChunks = 16384
	// BlobListIndex is the index of a blob-data that carries the hash list.
	BlobListIndex = 0xFFFFFFFF

	blobHeader      = 32 + 4
	blobWantHeader  = 32 + 32 + 8 + 4
	blobWantCap     = blobWantHeader + 4*MaxBlobWantChunks
	blobDataCap     = blobHeader + 32*MaxBlobListChunks // the hash list is the largest (512 KiB)
	blobNoneCap     = 32
	blobWindow      = 8 // chunks asked of one source at a time
	blobListSources = 8 // peers asked for the hash list at once
	// blobLateMemory: data for a fetch that ended this recently is dropped
	// without a strike (it was in flight when the fetch ended).
	blobLateMemory = time.Minute
	// blobMaxOwed bounds the requests one session may owe our fetches,
	// all fetches together, under the server's MaxBlobRequests.
	blobMaxOwed = MaxBlobRequests * 3 / 4
	// blobSourceTimeouts: a source that let this many chunks time out
	// without delivering one since is asked no more (no strike).
	blobSourceTimeouts = 2
	// blobQuietFor: a source that let a hash list time out is asked
	// nothing by any fetch for this long (no strike: it may be slow or
	// congested). Else a peer that never answers would make every fetch
	// of a blob nobody holds wait blobChunkTimeout for it: a prefetch queue
	// of such blobs, one after the other, would stall. Short, because a
	// blob that only this peer holds is unavailable meanwhile; chunk
	// timeouts only drop the source from its fetch (a slow link's).
	blobQuietFor = 2 * time.Minute
)

// blobChunkTimeout: a chunk (or a hash list) not answered by then is asked
// elsewhere; a fetch that received no chunk for twice as long ends. A
// variable so that tests can shorten it.
var blobChunkTimeout = 30 * time.Second

// Defaults of the blob settings of Config.
const (
	DefaultBlobUploadRate  = 16 << 20 // bytes per second served to one peer
	DefaultBlobUploadBurst = 4 << 20
)

// Blob errors.
var (
	// ErrBlobUnavailable: no authenticated peer serves the blob now.
	ErrBlobUnavailable = errors.New("no connected peer holds the blob")
	// ErrBlobFetching: a fetch of this blob runs already on this Manager.
	ErrBlobFetching = errors.New("the blob is being fetched already")
)

// BlobSource is what a Manager serves blobs from (Config.Blobs).
type BlobSource interface {
	// ServedBlob returns the reference and hash list of a blob the node
	// holds whole and serves, or ok false.
	ServedBlob(ctx context.Context, sha [32]byte) (ref record.BlobRef, hashes []byte, ok bool)
	// BlobChunk returns chunk i of a blob ServedBlob reported.
	BlobChunk(ctx context.Context, sha [32]byte, i int) ([]byte, error)
}

// blobRequest is one request waiting at a server: a chunk or the list.
type blobRequest struct {
	layout record.BlobRef // SHA256, ListHash, Size and ChunkSize asked for
	index  uint32
}

// encodeBlobWant writes a blob-want for the blob ref names, in its layout.
func encodeBlobWant(ref record.BlobRef, indexes []int) []byte {
	b := make([]byte, blobWantHeader, blobWantHeader+4*len(indexes))
	copy(b, ref.SHA256[:])
	copy(b[32:], ref.ListHash[:])
	binary.BigEndian.PutUint64(b[64:], uint64(ref.Size))
	binary.BigEndian.PutUint32(b[72:], uint32(ref.ChunkSize))
	for _, i := range indexes {
		b = binary.BigEndian.AppendUint32(b, uint32(i))
	}
	return b
}

// DecodeBlobWant reads a blob-want: the blob and layout asked for (a
// BlobRef without its Type) and the chunk indexes (none: the hash list).
// Errors wrap ErrProtocolViolation.
func DecodeBlobWant(p []byte) (layout record.BlobRef, indexes []uint32, err error) {
	if len(p) < blobWantHeader || (len(p)-blobWantHeader)%4 != 0 || len(p) > blobWantCap {
		return layout, nil, fmt.Errorf("%w: blob-want of %d bytes (%d + 4 × 0..%d)", ErrProtocolViolation, len(p), blobWantHeader, MaxBlobWantChunks)
	}
	copy(layout.SHA256[:], p)
	copy(layout.ListHash[:], p[32:])
	size, chunk := binary.BigEndian.Uint64(p[64:]), binary.BigEndian.Uint32(p[72:])
	if size > record.MaxBlobBytes || chunk > record.MaxBlobChunkSize {
		return layout, nil, fmt.Errorf("%w: blob-want for %d bytes in chunks of %d", ErrProtocolViolation, size, chunk)
	}
	layout.Size, layout.ChunkSize = int64(size), int(chunk)
	for o := blobWantHeader; o < len(p); o += 4 {
		i := binary.BigEndian.Uint32(p[o:])
		if i >= MaxBlobListChunks || slices.Contains(indexes, i) {
			return layout, nil, fmt.Errorf("%w: blob-want index %d out of range or repeated", ErrProtocolViolation, i)
		}
		indexes = append(indexes, i)
	}
	return layout, indexes, nil
}

// DecodeBlobData reads a blob-data (the bytes alias p). Errors wrap
// ErrProtocolViolation.
func DecodeBlobData(p []byte) (sha [32]byte, index uint32, data []byte, err error) {
	if len(p) < blobHeader {
		return sha, 0, nil, fmt.Errorf("%w: blob-data of %d bytes, under its %d-byte header", ErrProtocolViolation, len(p), blobHeader)
	}
	copy(sha[:], p)
	index = binary.BigEndian.Uint32(p[32:])
	if index != BlobListIndex && index >= MaxBlobListChunks {
		return sha, 0, nil, fmt.Errorf("%w: blob-data index %d out of range", ErrProtocolViolation, index)
	}
	return sha, index, p[blobHeader:], nil
}

func encodeBlobData(sha [32]byte, index uint32, data []byte) []byte {
	b := make([]byte, blobHeader, blobHeader+len(data))
	copy(b, sha[:])
	binary.BigEndian.PutUint32(b[32:], index)
	return append(b, data...)
}

// deliverBlob handles a blob message outside the inbox: requests go to the
// session's server, answers to the fetch that asked. It never blocks.
func (s *session) deliverBlob(action string, payload []byte, now time.Time) error {
	s.mu.Lock()
	ok := s.authenticated && s.blobsOn
	s.mu.Unlock()
	if !ok {
		err := fmt.Errorf("%w: %s before authentication or without blobs in our hello", ErrProtocolViolation, action)
		s.violation(err)
		return err
	}
	switch action {
	case ActionBlobWant:
		layout, indexes, err := DecodeBlobWant(payload)
		if err != nil {
			s.violation(err)
			return err
		}
		reqs := make([]blobRequest, 0, max(1, len(indexes)))
		if len(indexes) == 0 {
			reqs = append(reqs, blobRequest{layout: layout, index: BlobListIndex})
		}
		for _, i := range indexes {
			reqs = append(reqs, blobRequest{layout: layout, index: i})
		}
		return s.queueBlobRequests(reqs, now)
	case ActionBlobData:
		sha, index, data, err := DecodeBlobData(payload)
		if err != nil {
			s.violation(err)
			return err
		}
		return s.m.blobAnswer(s, sha, index, data, false, now)
	case ActionBlobNone:
		if len(payload) != 32 {
			err := fmt.Errorf("%w: blob-none of %d bytes, want 32", ErrProtocolViolation, len(payload))
			s.violation(err)
			return err
		}
		return s.m.blobAnswer(s, [32]byte(payload), 0, nil, true, now)
	}
	return nil
}

// queueBlobRequests queues requests for the session's server, starting it.
func (s *session) queueBlobRequests(reqs []blobRequest, now time.Time) error {
	s.mu.Lock()
	if s.blobWaiting+len(reqs) > MaxBlobRequests {
		s.mu.Unlock()
		s.floodStrike(now, fmt.Sprintf("more than %d blob requests waiting", MaxBlobRequests))
		return fmt.Errorf("failed to take blob requests: %w", ErrFlood)
	}
	s.blobWaiting += len(reqs)
	s.blobQueue = append(s.blobQueue, reqs...)
	start := !s.blobServing
	s.blobServing = true
	s.mu.Unlock()
	if start {
		go s.serveBlobs()
	}
	return nil
}

// serveBlobs answers the queued blob requests, one at a time, within the
// upload budget, until the queue is empty or the session ends.
func (s *session) serveBlobs() {
	for {
		s.mu.Lock()
		if len(s.blobQueue) == 0 || s.closing {
			s.blobServing = false
			s.blobQueue, s.blobWaiting = nil, 0
			s.mu.Unlock()
			return
		}
		req := s.blobQueue[0]
		s.blobQueue = s.blobQueue[1:]
		s.mu.Unlock()
		s.serveBlob(req)
		s.mu.Lock()
		s.blobWaiting--
		s.mu.Unlock()
	}
}

func (s *session) serveBlob(req blobRequest) {
	src := s.cfg.Blobs
	ctx := s.ctx
	ref, hashes, ok := src.ServedBlob(ctx, req.layout.SHA256)
	var data []byte
	switch {
	case !ok || ref.ListHash != req.layout.ListHash || ref.Size != req.layout.Size || ref.ChunkSize != req.layout.ChunkSize:
		ok = false
	case req.index == BlobListIndex:
		if ref.Chunks() > MaxBlobListChunks {
			ok = false
		} else {
			data = hashes
		}
	case int(req.index) >= ref.Chunks():
		ok = false
	default:
		var err error
		if data, err = src.BlobChunk(ctx, req.layout.SHA256, int(req.index)); err != nil {
			s.log.Debug("blob chunk not served", "sha", shortHex(fmt.Sprintf("%x", req.layout.SHA256)), "index", req.index, "err", err)
			ok = false
		}
	}
	if !ok {
		_ = s.link.Send(ctx, ActionBlobNone, req.layout.SHA256[:])
		return
	}
	// The byte budget: wait until it allows this message.
	for {
		now := time.Now()
		s.mu.Lock()
		at := s.blobUpload.ReadyAt(now)
		if !at.After(now) {
			s.blobUpload.Charge(now, float64(len(data)+blobHeader))
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(at.Sub(now)):
		}
	}
	if err := s.link.Send(ctx, ActionBlobData, encodeBlobData(req.layout.SHA256, req.index, data)); err != nil {
		s.log.Debug("blob data not sent", "err", err)
		return
	}
	s.update(func(info *SessionInfo) { info.BlobBytesOut += int64(len(data)) })
}

// blobFetches is the Manager's registry of running fetches.
type blobFetches struct {
	mu      sync.Mutex
	running map[[32]byte]*blobFetch
	ended   map[[32]byte]endedFetch // fetches that ended lately (late answers are dropped)
}

// blobAnswer routes a blob-data or blob-none to the fetch that asked,
// once it checked that the session owes us an answer and that the bytes
// fit what was asked (before copying them).
func (m *Manager) blobAnswer(s *session, sha [32]byte, index uint32, data []byte, none bool, now time.Time) error {
	s.mu.Lock()
	owed := s.blobOwed > 0
	if owed {
		s.blobOwed--
	}
	s.mu.Unlock()
	if !owed {
		err := fmt.Errorf("%w: a blob answer we did not ask for", ErrProtocolViolation)
		s.violation(err)
		return err
	}
	m.blobs.mu.Lock()
	f := m.blobs.running[sha]
	e, ended := m.blobs.ended[sha]
	m.blobs.mu.Unlock()
	late := ended && now.Sub(e.at) < blobLateMemory
	if (f != nil || late) && !none {
		ref := e.ref
		if f != nil {
			ref = f.ref
		}
		want := ref.ChunkLen(int(index))
		if index == BlobListIndex {
			want = 32 * ref.Chunks()
		}
		if len(data) != want && (f == nil || !late || f.ref == e.ref) {
			s.strike(fmt.Sprintf("integrity: blob %x: %d bytes for index %d, want %d", sha[:8], len(data), index, want))
			return fmt.Errorf("failed to take blob data: %w: wrong length", ErrProtocolViolation)
		}
	}
	if f == nil {
		if late {
			// In flight when the fetch ended: dropped, but within the
			// message budget (blob data is otherwise exempt from it).
			s.mu.Lock()
			ok := s.bucket.Allow(now)
			s.mu.Unlock()
			if !ok {
				s.floodStrike(now, "blob data after the fetch ended")
				return fmt.Errorf("failed to take blob data: %w", ErrFlood)
			}
			return nil
		}
		err := fmt.Errorf("%w: blob answer for a blob we are not fetching", ErrProtocolViolation)
		s.violation(err)
		return err
	}
	select {
	case f.answers <- blobAnswer{s: s, index: index, data: bytes.Clone(data), none: none, late: late}:
		return nil
	default:
		// The fetch is behind: the chunk is asked again after its timeout,
		// and the message counts against the peer's message budget.
		s.mu.Lock()
		ok := s.bucket.Allow(now)
		s.mu.Unlock()
		if !ok {
			s.floodStrike(now, "blob data while the fetch's queue is full")
		}
		return fmt.Errorf("failed to take blob data: %w: the fetch's queue is full", ErrFlood)
	}
}

// endedFetch is a fetch that ended lately: what its late answers are
// checked against.
type endedFetch struct {
	at  time.Time
	ref record.BlobRef
}

type blobAnswer struct {
	s     *session
	index uint32
	data  []byte
	none  bool
	late  bool // a fetch of this blob ended lately: it may answer that one
}

// blobFetch is one running FetchBlob.
type blobFetch struct {
	ref     record.BlobRef
	answers chan blobAnswer
}

// blobSource is what a fetch knows of one peer.
type blobSource struct {
	s         *session
	listAsked bool      // the hash list was asked (queued for its sender)
	askedAt   time.Time // when that want went out (zero until its Send returned)
	listOwed  bool      // the list was asked and not answered
	has       bool      // it sent the list or a chunk
	done      bool      // it said none, failed a check, went away or did not answer
	inflight  map[int]time.Time
	timeouts  int         // chunks that timed out since it last delivered one
	owed      map[int]int // answers owed per chunk (asks not answered, also after a timeout)
	wants     chan []int  // to its sender (sendWants), from the first ask; nil before
	stop      atomic.Bool // dropped: its sender sends nothing more
}

// sentWant is a sender's report: a want went out, at; or, failed, its
// Send failed (the source is asked no more).
type sentWant struct {
	src     *blobSource
	indexes []int
	at      time.Time
	failed  bool
}

// unowe gives back the answers a want not sent would have been owed.
func (src *blobSource) unowe(indexes []int) {
	src.s.mu.Lock()
	src.s.blobOwed = max(0, src.s.blobOwed-max(1, len(indexes)))
	src.s.mu.Unlock()
}

// blobQueuedWants bounds the wants waiting for one source's sender.
const blobQueuedWants = 4

// sendWants sends the source's wants, in order, each within
// blobChunkTimeout, and reports each on sent: that it went out (its
// timeout runs from then), or that its Send failed, after which it sends
// nothing more. It runs until the fetch closes src.wants; a want it does
// not send (after a failure, once the source is dropped or the fetch
// ended) gives back the answers it counted (unowe).
func (src *blobSource) sendWants(ctx context.Context, ref record.BlobRef, sent chan<- sentWant) {
	failed := false
	for indexes := range src.wants {
		if failed || src.stop.Load() || ctx.Err() != nil {
			src.unowe(indexes)
			continue // drained until the fetch ends
		}
		sctx, cancel := context.WithTimeout(ctx, blobChunkTimeout)
		err := src.s.link.Send(sctx, ActionBlobWant, encodeBlobWant(ref, indexes))
		cancel()
		w := sentWant{src: src, indexes: indexes, at: time.Now()}
		if err != nil {
			src.unowe(indexes)
			failed, w.failed = true, true
		}
		select {
		case sent <- w:
		case <-ctx.Done():
		}
	}
}

// quiet keeps every fetch from asking the source anything for
// blobQuietFor.
func (src *blobSource) quiet(now time.Time) {
	src.s.mu.Lock()
	src.s.blobQuietUntil = now.Add(blobQuietFor)
	src.s.mu.Unlock()
}

// BlobFetch describes a fetch for FetchBlob.
type BlobFetch struct {
	Ref record.BlobRef
	// Hashes is the hash list when known already (checked against
	// Ref.ListHash), else nil.
	Hashes []byte
	// Have lists the chunks already held: they are not asked for.
	Have []int
	// Put stores one checked chunk (any order); an error ends the fetch.
	Put func(i int, data []byte) error
	// List, if set, is called once with the checked hash list when it
	// was not given.
	List func(hashes []byte) error
	// Progress, if set, is called after each chunk with the bytes held.
	Progress func(received int64)
}

// FetchBlob gets the chunks of a blob that Have lacks from the
// authenticated peers that serve it: first the hash list (unless given),
// checked against the record's list hash, then every chunk, checked against
// the list, blobWindow at a time per peer. A peer that sends what does not
// match is struck and asked no more; chunks a peer leaves with, or does not
// answer within blobChunkTimeout, are asked of another. It returns nil once
// every chunk went to Put, ErrBlobUnavailable when no connected peer serves
// the blob, or ctx's error.
func (m *Manager) FetchBlob(ctx context.Context, f BlobFetch) error {
	ref := f.Ref
	if err := ref.Check(); err != nil {
		return fmt.Errorf("failed to fetch blob: %w", err)
	}
	if ref.Chunks() > MaxBlobListChunks {
		return fmt.Errorf("failed to fetch blob: %w: %d chunks, at most %d travel", record.ErrInvalidBlob, ref.Chunks(), MaxBlobListChunks)
	}
	if f.Hashes != nil {
		if err := ref.CheckHashList(f.Hashes); err != nil {
			return fmt.Errorf("failed to fetch blob: %w", err)
		}
	}
	fetch := &blobFetch{ref: ref, answers: make(chan blobAnswer, 4*blobWindow*blobListSources)}
	m.blobs.mu.Lock()
	if m.blobs.running == nil {
		m.blobs.running = make(map[[32]byte]*blobFetch)
		m.blobs.ended = make(map[[32]byte]endedFetch)
	}
	if m.blobs.running[ref.SHA256] != nil {
		m.blobs.mu.Unlock()
		return ErrBlobFetching
	}
	m.blobs.running[ref.SHA256] = fetch
	m.blobs.mu.Unlock()
	defer func() {
		now := time.Now()
		m.blobs.mu.Lock()
		delete(m.blobs.running, ref.SHA256)
		for sha, e := range m.blobs.ended {
			if now.Sub(e.at) >= blobLateMemory {
				delete(m.blobs.ended, sha)
			}
		}
		m.blobs.ended[ref.SHA256] = endedFetch{at: now, ref: ref}
		m.blobs.mu.Unlock()
	}()

	hashes := f.Hashes
	missing := make(map[int]bool, ref.Chunks())
	for i := range ref.Chunks() {
		missing[i] = true
	}
	var received int64
	for _, i := range f.Have {
		if missing[i] {
			delete(missing, i)
			received += int64(ref.ChunkLen(i))
		}
	}
	if len(missing) == 0 && hashes != nil {
		return nil
	}
	queued := make([]int, 0, len(missing)) // missing chunks not in flight
	for i := range missing {
		queued = append(queued, i)
	}
	slices.Sort(queued)
	sources := map[*session]*blobSource{}
	progressAt := time.Now() // the last chunk stored (or the start)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	// Wants go out through a sender per source, so that a peer that stops
	// reading (its Send waits for back-pressure, up to blobChunkTimeout)
	// delays only what is asked of it, never this loop: the answers of the
	// others are handled meanwhile. The senders report on sent.
	sendCtx, stopSenders := context.WithCancel(ctx)
	sent := make(chan sentWant, blobQueuedWants*blobListSources)
	// noteSent starts the timeouts of a want that went out, or drops the
	// source whose Send failed.
	noteSent := func(w sentWant) {
		switch {
		case w.failed:
			w.src.done = true
		case w.indexes == nil:
			w.src.askedAt = w.at
		default:
			for _, i := range w.indexes {
				if at, ok := w.src.inflight[i]; ok && at.IsZero() {
					w.src.inflight[i] = w.at
				}
			}
		}
	}
	defer func() {
		stopSenders()
		for _, src := range sources {
			if src.wants != nil {
				close(src.wants)
			}
		}
	}()

	send := func(src *blobSource, indexes []int) bool {
		n := max(1, len(indexes))
		src.s.mu.Lock()
		room := src.s.blobOwed+n <= blobMaxOwed
		if room {
			src.s.blobOwed += n
		}
		src.s.mu.Unlock()
		if !room {
			return false // it owes our fetches enough already: later
		}
		if src.wants == nil {
			src.wants = make(chan []int, blobQueuedWants)
			go src.sendWants(sendCtx, ref, sent)
		}
		select {
		case src.wants <- indexes:
			return true
		default: // its sender is behind: later
			src.unowe(indexes)
			return false
		}
	}
	requeue := func(src *blobSource) {
		for i := range src.inflight {
			if missing[i] {
				queued = append(queued, i)
			}
		}
		clear(src.inflight)
		slices.Sort(queued)
	}
	for {
		now := time.Now()
		// Wants that went out start their timeouts; sources whose Send
		// failed are asked no more.
	drain:
		for {
			select {
			case w := <-sent:
				noteSent(w)
			default:
				break drain
			}
		}
		// Peers: new ones are asked for the list; gone ones give back
		// their chunks.
		live := map[*session]bool{}
		for _, s := range m.snapshot() {
			s.mu.Lock()
			ok := s.authenticated && s.peerBlobs && !s.closing
			quiet := now.Before(s.blobQuietUntil)
			s.mu.Unlock()
			if ok {
				live[s] = true
				if sources[s] == nil && !quiet {
					sources[s] = &blobSource{s: s, inflight: map[int]time.Time{}, owed: map[int]int{}}
				}
			}
		}
		asking, serving := 0, 0
		for s, src := range sources {
			if !live[s] && !src.done {
				src.done = true
			}
			if src.done {
				src.stop.Store(true) // its queued wants are not sent
				requeue(src)
				continue
			}
			if src.has {
				serving++
			} else if src.listAsked {
				asking++
			}
		}
		for _, src := range sources {
			if src.done || src.listAsked || asking >= blobListSources {
				continue
			}
			if send(src, nil) {
				// Its timeout runs once it went (noteSent): its Send may
				// wait for backpressure.
				src.listAsked, src.listOwed = true, true
				asking++
			}
		}
		// A peer that never answers the list is asked no more; chunks that
		// took too long are asked elsewhere.
		for _, src := range sources {
			if !src.done && !src.has && src.listOwed && !src.askedAt.IsZero() && now.Sub(src.askedAt) >= blobChunkTimeout {
				src.done = true
				src.quiet(now)
			}
			for i, at := range src.inflight {
				if !at.IsZero() && now.Sub(at) >= blobChunkTimeout { // zero: not sent yet
					delete(src.inflight, i)
					src.timeouts++
					if missing[i] {
						queued = append(queued, i)
					}
				}
			}
			if !src.done && src.timeouts >= blobSourceTimeouts {
				src.done = true // it answers the list, then not: asked no more
				requeue(src)
			}
		}
		if hashes != nil && now.Sub(progressAt) >= 2*blobChunkTimeout {
			return fmt.Errorf("failed to fetch blob %x: %w: no chunk arrived for %v", ref.SHA256[:8], ErrBlobUnavailable, 2*blobChunkTimeout)
		}
		// Hand out the queued chunks.
		if hashes != nil {
			for _, src := range sources {
				if src.done || !src.has || len(queued) == 0 {
					continue
				}
				room := blobWindow - len(src.inflight)
				if room <= 0 {
					continue
				}
				// Up to room distinct missing chunks (the queue may hold
				// repeats: a chunk requeued twice, or received meanwhile).
				var batch []int
				for len(queued) > 0 && len(batch) < min(room, MaxBlobWantChunks) {
					i := queued[0]
					queued = queued[1:]
					if missing[i] && !slices.Contains(batch, i) {
						batch = append(batch, i)
					}
				}
				if len(batch) == 0 {
					continue
				}
				if !send(src, batch) {
					queued = append(queued, batch...)
					continue
				}
				for _, i := range batch {
					src.inflight[i] = time.Time{} // in flight; its timeout runs once sent (noteSent)
					src.owed[i]++
				}
			}
		}
		if hashes != nil && len(missing) == 0 {
			return nil
		}
		if asking == 0 && serving == 0 {
			return fmt.Errorf("failed to fetch blob %x: %w", ref.SHA256[:8], ErrBlobUnavailable)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("failed to fetch blob: %w", ctx.Err())
		case <-tick.C:
		case w := <-sent:
			noteSent(w)
		case a := <-fetch.answers:
			src := sources[a.s]
			if src == nil {
				src = &blobSource{s: a.s, inflight: map[int]time.Time{}, owed: map[int]int{}}
				sources[a.s] = src
			}
			switch {
			case a.none:
				if !src.done {
					src.done = true
					requeue(src)
				}
			case a.index == BlobListIndex:
				if !src.listOwed {
					if !a.late {
						a.s.violation(fmt.Errorf("%w: a blob hash list we did not ask for", ErrProtocolViolation))
					}
					break
				}
				src.listOwed = false
				if src.done {
					break // it timed out
				}
				if err := ref.CheckHashList(a.data); err != nil {
					a.s.strike(fmt.Sprintf("integrity: blob %x: %v", ref.SHA256[:8], err))
					src.done = true
					break
				}
				src.has = true
				if hashes == nil {
					hashes = a.data
					if f.List != nil {
						if err := f.List(hashes); err != nil {
							return fmt.Errorf("failed to fetch blob: %w", err)
						}
					}
				}
			default:
				i := int(a.index)
				if src.owed[i] == 0 {
					if !a.late { // an answer to a fetch of this blob that ended lately
						a.s.violation(fmt.Errorf("%w: blob chunk %d we did not ask for", ErrProtocolViolation, i))
					}
					break
				}
				if src.owed[i]--; src.owed[i] == 0 {
					delete(src.owed, i)
				}
				delete(src.inflight, i) // absent when it timed out: a late answer still counts
				if hashes == nil {
					break // cannot happen: chunks are asked once the list is known
				}
				if src.done {
					break // a source dropped already: its late answers are not used
				}
				if sum := sha256.Sum256(a.data); len(a.data) != ref.ChunkLen(i) || !bytes.Equal(sum[:], hashes[32*i:32*i+32]) {
					a.s.strike(fmt.Sprintf("integrity: blob %x: chunk %d does not match its hash", ref.SHA256[:8], i))
					src.done = true
					if missing[i] {
						queued = append(queued, i)
					}
					requeue(src)
					break
				}
				if !missing[i] {
					break
				}
				if err := f.Put(i, a.data); err != nil {
					return fmt.Errorf("failed to fetch blob: %w", err)
				}
				delete(missing, i)
				src.timeouts = 0
				progressAt = time.Now()
				received += int64(len(a.data))
				if f.Progress != nil {
					f.Progress(received)
				}
			}
		}
	}
}

func newBlobUpload(cfg *Config) ratelimit.Bucket {
	return ratelimit.New(cfg.BlobUploadRate, cfg.BlobUploadBurst)
}
