//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
)

// Event types a page can listen to (db.on(type, cb)).
const (
	eventRecord = "record"
	eventPeer   = "peer"
	eventSync   = "sync"
	eventReject = "reject"
	eventBlob   = "blob"
)

var eventTypes = []string{eventRecord, eventPeer, eventSync, eventReject, eventBlob}

// sessionPollInterval is how often sessions are polled for 'peer' and 'sync'
// events.
const sessionPollInterval = 500 * time.Millisecond

// yieldEvery and yieldPause: during a long ingest on the page's main thread
// (initialize({ worker: false })) the facade calls Yield every yieldEvery
// events; sleeping hands the thread back to the page (a Go goroutine keeps
// the thread until it blocks). In a worker there is no page to hand it
// to: the engine yields only every workerYieldEvery events, so that the
// worker's event loop (IndexedDB completions, incoming messages) keeps
// turning during a long ingest.
const (
	yieldEvery       = 16
	workerYieldEvery = 512
	yieldPause       = time.Millisecond
)

// inWorker reports whether the engine runs in a worker (no document).
var inWorker = js.Global().Get("document").IsUndefined()

// importChunk bounds one Import call of import and _importEvents.
const importChunk = 512

// maxRecordEventBatch bounds the record changes sent in one emit: the JSON
// is built and parsed on the main thread, so a long sync goes out in slices
// with the event loop running in between.
const maxRecordEventBatch = 200

// handle is one open DB as JavaScript holds it.
type handle struct {
	db     *peerset.DB
	opts   openOptions
	online bool
	ctx    context.Context
	cancel context.CancelFunc
	emit   js.Value // emit(type, jsonArrayText)

	listening sync.Map // event type → *atomic.Bool
	funcs     []js.Func
	closeOnce sync.Once
	closeErr  error
	stops     []func()

	records    *recordQueue // bounded: see recordQueue
	recordWake chan struct{}

	rejects *rejectBatcher
}

// openHandle opens the DB described by the options JSON, joins the room
// unless offline, and returns the JavaScript handle object.
func openHandle(parent context.Context, optionsJSON string, emit, page js.Value) (any, error) {
	o, err := parseOpenOptions(optionsJSON)
	if err != nil {
		return nil, invalidInput(err)
	}
	if !o.Offline && !swarm.WebRTCAvailable() {
		return nil, &unsupportedError{"this browser offers no WebRTC (RTCPeerConnection), so peerset cannot reach peers: use a current browser with WebRTC enabled, or open({ offline: true }) to work locally"}
	}
	cfg, err := o.config()
	if err != nil {
		return nil, invalidInput(err)
	}
	if o.Debug {
		cfg.Logger = slog.New(slog.NewTextHandler(consoleWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Yield = func() { time.Sleep(yieldPause) }
	cfg.YieldEvery = yieldEvery
	if inWorker {
		cfg.YieldEvery = workerYieldEvery
	}
	// Ready once the tree is rebuilt from the stored keys; the moderation
	// index follows in the background (writes wait for it).
	cfg.LoadInBackground = true
	// Reopening reads one snapshot of the index and the journal of changes
	// since it was saved (pkg/store/idb).
	cfg.IndexSnapshot = true
	st, err := openStore(parent, o)
	if err != nil {
		return nil, err
	}
	cfg.Store = st
	pageCtx, stopPage := context.WithCancel(parent)
	if err := attachPage(pageCtx, &cfg, o, page); err != nil {
		stopPage()
		_ = st.Close()
		return nil, invalidInput(err)
	}
	db, err := peerset.Open(parent, cfg)
	if err != nil {
		stopPage()
		_ = st.Close()
		return nil, fmt.Errorf("failed to open room %q: %w", o.Room, err)
	}
	ctx, cancel := pageCtx, stopPage
	h := &handle{db: db, opts: o, ctx: ctx, cancel: cancel, emit: emit, recordWake: make(chan struct{}, 1),
		records: newRecordQueue(maxQueuedRecordChanges, maxQueuedRecordBytes), rejects: newRejectBatcher(rejectBatchMax)}
	for _, t := range eventTypes {
		h.listening.Store(t, new(atomic.Bool))
	}
	h.stops = append(h.stops, db.Subscribe(h.onChange), db.OnReject(h.onReject), db.OnBlob(h.onBlob))
	go h.pumpRecords()
	go h.rejects.run(ctx.Done(), rejectBatchInterval, h.sendRejects)
	if !o.Offline {
		if err := db.Join(ctx, o.joinOptions()); err != nil {
			h.close()
			return nil, fmt.Errorf("failed to join room %q: %w", o.Room, err)
		}
		h.online = true
		go h.pollSessions()
	}
	return h.object(), nil
}

// object builds the JavaScript side of the handle.
func (h *handle) object() js.Value {
	obj := js.Global().Get("Object").New()
	add := func(name string, f js.Func) {
		h.funcs = append(h.funcs, f)
		obj.Set(name, f)
	}
	info, _ := json.Marshal(map[string]any{
		"key": keyOf(h.db), "readOnly": h.db.ReadOnly(), "peerId": h.db.SelfID(), "roomId": h.db.RoomID(),
		"appId": h.opts.AppID, "room": h.opts.Room, "storage": h.opts.Storage,
		"online": h.online, "databaseName": h.opts.databaseName(), "keyStorage": string(h.db.KeyStorage()),
	})
	obj.Set("info", string(info))
	add("put", asyncFunc(h.put))
	add("putFile", asyncFunc(h.putFile))
	add("blob", asyncFunc(h.blob))
	add("get", asyncFunc(h.get))
	add("delete", asyncFunc(h.delete))
	add("query", asyncFunc(h.query))
	add("stats", asyncFunc(h.stats))
	add("close", asyncFunc(func([]js.Value) (any, error) { return nil, h.close() }))
	add("listen", syncFunc(h.listen))
	add("holders", asyncFunc(h.holders))
	add("import", asyncFunc(func(args []js.Value) (any, error) { return h.importEvents(stringArg(args, 0), true) }))
	add("exportPage", asyncFunc(h.exportPage))
	add("_importEvents", asyncFunc(func(args []js.Value) (any, error) { return h.importEvents(stringArg(args, 0), false) }))
	add("_exportEvents", asyncFunc(h.exportEvents))
	return obj
}

func (h *handle) put(args []js.Value) (any, error) {
	draft, err := parseDraft(stringArg(args, 0))
	if err != nil {
		return nil, invalidInput(err)
	}
	r, err := h.db.Put(h.ctx, draft)
	if err != nil {
		return nil, err
	}
	return string(appendRecordJSON(nil, r)), nil
}

// holders(uuid) → {count, peers}: the peers known to hold the current
// version of a record (npubs of the keys they proved in handshakes).
func (h *handle) holders(args []js.Value) (any, error) {
	uuid := stringArg(args, 0)
	if err := record.CheckUUID(uuid); err != nil {
		return nil, invalidInput(fmt.Errorf("holders() needs the uuid of a record: %w", err))
	}
	keys, err := h.db.Holders(uuid)
	if err != nil {
		return nil, err
	}
	peers := make([]string, 0, len(keys))
	for _, k := range keys {
		peers = append(peers, npubs.npub(k))
	}
	return jsonString(holdersJSON{Count: len(peers), Peers: peers})
}

func (h *handle) get(args []js.Value) (any, error) {
	uuid := stringArg(args, 0)
	r, err := h.db.Get(h.ctx, uuid)
	if errors.Is(err, peerset.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return string(appendRecordJSON(nil, r)), nil
}

func (h *handle) delete(args []js.Value) (any, error) {
	uuid := stringArg(args, 0)
	if err := record.CheckUUID(uuid); err != nil {
		return nil, invalidInput(fmt.Errorf("delete() needs the uuid of one of your records: %w", err))
	}
	return nil, h.db.Delete(h.ctx, uuid)
}

func (h *handle) query(args []js.Value) (any, error) {
	q, err := parseQuery(stringArg(args, 0))
	if err != nil {
		return nil, invalidInput(err)
	}
	rs, err := h.db.Query(h.ctx, q)
	if err != nil {
		return nil, err
	}
	b, err := marshalRecords(rs)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the records: %w", err)
	}
	return string(b), nil
}

func (h *handle) stats([]js.Value) (any, error) {
	if err := h.ctx.Err(); err != nil {
		return nil, peerset.ErrClosed
	}
	return jsonString(snapshotStats(h.db, h.opts, h.online, h.peerRTT))
}

// peerRTT is the round-trip time to a peer, 0 while unknown.
func (h *handle) peerRTT(peerID string) time.Duration { return h.db.PeerRTT(peerID) }

// listen(type, on) turns the emission of one event type on or off, so that
// no work is spent on events nobody listens to.
func (h *handle) listen(args []js.Value) any {
	if len(args) < 2 {
		return false
	}
	v, ok := h.listening.Load(args[0].String())
	if !ok {
		return false
	}
	v.(*atomic.Bool).Store(args[1].Truthy())
	return true
}

func (h *handle) isListening(t string) bool {
	v, _ := h.listening.Load(t)
	return v.(*atomic.Bool).Load()
}

// send calls emit(type, payload); a listener's exception must not take the
// goroutine down (the shim dispatches asynchronously, so it should not
// throw at all). When the page has too many events in flight emit returns
// a promise (js/engine.js, eventFlow), and send waits for it: the sender's
// own queue (records, rejections) is bounded, the page's would not be.
func (h *handle) send(t string, payload []byte) {
	if h.ctx.Err() != nil {
		return
	}
	var credit js.Value
	func() {
		defer func() { _ = recover() }()
		credit = h.emit.Invoke(t, string(payload))
	}()
	if credit.Type() == js.TypeObject && credit.Get("then").Type() == js.TypeFunction {
		_, _ = awaitPromise(h.ctx, credit)
	}
}

// onChange queues a record change for the record pump (bounded: past the
// bounds the queue is dropped and the page told to query again).
func (h *handle) onChange(c peerset.Change) {
	if !h.isListening(eventRecord) {
		return
	}
	h.records.add(c)
	select {
	case h.recordWake <- struct{}{}:
	default:
	}
}

// pumpRecords sends queued changes in batches: one call across the boundary
// for however many changes arrived since the last one.
func (h *handle) pumpRecords() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.recordWake:
		}
		for {
			batch, missed, more := h.records.take(maxRecordEventBatch)
			if b, count, err := marshalChanges(batch, missed); err == nil && count > 0 {
				h.send(eventRecord, b)
			}
			if !more || h.ctx.Err() != nil {
				break
			}
			time.Sleep(yieldPause) // let the page handle this slice first
		}
	}
}

// onReject queues a rejection for the next batch (see rejectBatcher); it
// waits while the batch is full.
func (h *handle) onReject(r peerset.Rejection) {
	if !h.isListening(eventReject) {
		return
	}
	h.rejects.add(r, h.ctx.Done())
}

// sendRejects emits one batch of rejections: one call across the boundary.
func (h *handle) sendRejects(batch []peerset.Rejection) {
	if b, err := marshalRejects(batch); err == nil {
		h.send(eventReject, b)
	}
}

// pollSessions emits 'peer' diffs and 'sync' progress from session snapshots.
func (h *handle) pollSessions() {
	tick := time.NewTicker(sessionPollInterval)
	defer tick.Stop()
	var peers peerTracker
	var lastSync peerset.SyncProgress // the last 'sync' event sent
	sentSync := false
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		}
		wantPeers, wantSync := h.isListening(eventPeer), h.isListening(eventSync)
		if !wantPeers && !wantSync {
			continue
		}
		sessions := h.db.Sessions()
		if wantPeers {
			if diff := peers.update(sessions, h.peerRTT); len(diff) > 0 {
				if b, err := json.Marshal(diff); err == nil {
					h.send(eventPeer, b)
				}
			}
		}
		if wantSync {
			if p := h.db.SyncProgress(); !sentSync || p != lastSync {
				sentSync, lastSync = true, p
				if b, err := json.Marshal([]peerset.SyncProgress{p}); err == nil {
					h.send(eventSync, b)
				}
			}
		}
	}
}

// importEvents is db.import()'s engine side, one chunk per call: it
// verifies, moderates and stores NIP-01 events exactly as if a peer named
// "import" had sent them (peerset.DB.Import) and counts the outcomes. The
// text is JSON lines (one event per line: what the shim sends, at most
// maxImportCall bytes) or a JSON array (the _importEvents test hook, with
// no bound: benchmarks hand it a whole room at once). A piece that is not
// an event counts as invalid (rule "parse"); only a closed database or a
// failing store is an error.
func (h *handle) importEvents(text string, bounded bool) (any, error) {
	if bounded && len(text) > maxImportCall {
		return nil, invalidInput(fmt.Errorf("import takes at most %d bytes of events per call, got %d: use db.import(), which sends them in chunks", maxImportCall, len(text)))
	}
	result := peerset.ImportResult{ByRule: map[string]int{}}
	// The importer checks a chunk's signatures while IndexedDB commits the
	// chunk before it; it keeps the last chunk, so each is a new slice.
	imp := h.db.NewImporter(h.ctx)
	closed := func(err error) error {
		if err != nil && h.ctx.Err() != nil {
			return peerset.ErrClosed
		}
		return err
	}
	events := make([]*record.Event, 0, importChunk)
	flush := func() error {
		err := imp.Add(events)
		events = make([]*record.Event, 0, importChunk)
		return closed(err)
	}
	add := func(raw []byte) error {
		e, err := record.ParseEvent(raw, 0)
		if err != nil {
			result.NotAnEvent()
			return nil
		}
		events = append(events, e)
		if len(events) == importChunk {
			return flush()
		}
		return nil
	}
	trimmed := strings.TrimSpace(text)
	if strings.HasPrefix(trimmed, "[") {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(trimmed), &raw); err != nil {
			return nil, invalidInput(fmt.Errorf("import needs NIP-01 events: a JSON array of them, or one per line: %w", err))
		}
		for i, r := range raw {
			if i%importChunk == importChunk-1 {
				time.Sleep(yieldPause) // let the page breathe while parsing
			}
			if err := add(r); err != nil {
				return nil, err
			}
		}
	} else {
		for line := range strings.Lines(trimmed) {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if err := add([]byte(line)); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		_, _ = imp.Close()
		return nil, err
	}
	r, err := imp.Close()
	if err != nil {
		return nil, closed(err)
	}
	result.Add(r)
	return jsonString(result)
}

// exportPage is db.export()'s engine side: one page of live events
// (records and kept deletions) after the cursor args[0] ("" for the first),
// at most args[1] events (bounded by maxExportPage) and about
// maxExportBytes of JSON, as {"next":cursor,"events":[...]}; next is ""
// after the last page. The cursor is "created_at:id" in hex.
func (h *handle) exportPage(args []js.Value) (any, error) {
	after, err := parseExportCursor(stringArg(args, 0))
	if err != nil {
		return nil, invalidInput(err)
	}
	limit := maxExportPage
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		limit = max(1, min(args[1].Int(), maxExportPage))
	}
	events, next, err := h.db.ExportPage(h.ctx, after, limit, maxExportBytes)
	if err != nil {
		if h.ctx.Err() != nil {
			return nil, peerset.ErrClosed
		}
		return nil, err
	}
	b := append([]byte(`{"next":"`), formatExportCursor(next)...)
	b = append(b, `","events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.AppendJSON(b)
	}
	return string(append(b, "]}"...)), nil
}

// exportEvents is the test hook _exportEvents(): every live event (records
// and deletions) as a JSON array. Not part of the public API.
func (h *handle) exportEvents([]js.Value) (any, error) {
	events, err := h.db.Export(h.ctx)
	if err != nil {
		return nil, err
	}
	b := []byte{'['}
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.AppendJSON(b)
	}
	return string(append(b, ']')), nil
}

// close stops the pumps, leaves the room and closes the DB (and its store).
func (h *handle) close() error {
	h.closeOnce.Do(func() {
		h.cancel()
		for _, stop := range h.stops {
			stop()
		}
		h.closeErr = h.db.Close()
		funcs := h.funcs
		h.funcs = nil
		// Release after the current call has returned to JavaScript; the
		// shim never calls a closed handle.
		time.AfterFunc(time.Second, func() {
			for _, f := range funcs {
				f.Release()
			}
		})
	})
	return h.closeErr
}

// consoleWriter writes the engine's debug log to the console, a line per
// call (open({ debug: true })).
type consoleWriter struct{}

func (consoleWriter) Write(p []byte) (int, error) {
	js.Global().Get("console").Call("log", "peerset: "+string(p))
	return len(p), nil
}
