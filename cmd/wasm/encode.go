package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// recordJSON is the friendly view of a record that JavaScript sees
// (PeersetRecord in js/peerset.d.ts). The shim turns dataBase64 into a
// Uint8Array.
type recordJSON struct {
	UUID       string          `json:"uuid"`
	Author     string          `json:"author"`
	CreatedAt  int64           `json:"createdAt"` // milliseconds
	Text       string          `json:"text,omitempty"`
	Link       string          `json:"link,omitempty"`
	Geo        *record.Geo     `json:"geo,omitempty"`
	Geohash    string          `json:"geohash,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 string          `json:"dataBase64,omitempty"`
	MediaType  string          `json:"mediaType,omitempty"`
	ID         string          `json:"id"`
	Event      json.RawMessage `json:"event"`
}

// npubCache remembers the npub of recent authors: bech32 per record adds up
// when a query returns thousands of records by a few authors.
type npubCache struct {
	mu sync.Mutex
	m  map[record.PublicKey]string
}

const npubCacheSize = 4096

func (c *npubCache) npub(pk record.PublicKey) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[pk]; ok {
		return s
	}
	if c.m == nil || len(c.m) >= npubCacheSize {
		c.m = make(map[record.PublicKey]string)
	}
	s := pk.Npub()
	c.m[pk] = s
	return s
}

var npubs npubCache

// toRecordJSON builds the friendly view of r.
func toRecordJSON(r *record.Record) recordJSON {
	out := recordJSON{
		UUID:      r.UUID,
		Author:    npubs.npub(r.Author),
		CreatedAt: r.CreatedAt.UnixMilli(),
		Link:      r.Link,
		Geo:       r.Geo,
		Geohash:   r.Geohash,
		ID:        r.Event.IDHex(),
		Event:     r.Event.AppendJSON(nil),
	}
	switch {
	case r.MediaType == "" || r.MediaType == record.MediaTypeText:
		out.Text = r.Text
	case r.MediaType == record.MediaTypeJSON && json.Valid(r.Data):
		out.Data = r.Data
		out.MediaType = r.MediaType
	case record.IsTextMediaType(r.MediaType) && r.Data == nil:
		out.Text = r.Text
		out.MediaType = r.MediaType
	default:
		out.DataBase64 = base64.StdEncoding.EncodeToString(r.Data)
		out.MediaType = r.MediaType
	}
	return out
}

// appendRecordJSON appends the JSON of toRecordJSON(r), written by hand:
// query() and 'record' events carry thousands of records, and reflection
// costs about three times as much (BenchmarkMarshalRecords).
func appendRecordJSON(b []byte, r *record.Record) []byte {
	v := toRecordJSON(r)
	b = append(b, `{"uuid":`...)
	b = appendJSONString(b, v.UUID)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, v.Author)
	b = append(b, `,"createdAt":`...)
	b = strconv.AppendInt(b, v.CreatedAt, 10)
	if v.Text != "" {
		b = append(b, `,"text":`...)
		b = appendJSONString(b, v.Text)
	}
	if v.Link != "" {
		b = append(b, `,"link":`...)
		b = appendJSONString(b, v.Link)
	}
	if v.Geo != nil {
		b = append(b, `,"geo":{"lat":`...)
		b = strconv.AppendFloat(b, v.Geo.Lat, 'f', -1, 64)
		b = append(b, `,"lon":`...)
		b = strconv.AppendFloat(b, v.Geo.Lon, 'f', -1, 64)
		b = append(b, '}')
	}
	if v.Geohash != "" {
		b = append(b, `,"geohash":`...)
		b = appendJSONString(b, v.Geohash)
	}
	if v.Data != nil {
		b = append(b, `,"data":`...)
		b = append(b, v.Data...) // checked by json.Valid in toRecordJSON
	}
	if v.DataBase64 != "" {
		b = append(b, `,"dataBase64":`...)
		b = appendJSONString(b, v.DataBase64)
	}
	if v.MediaType != "" {
		b = append(b, `,"mediaType":`...)
		b = appendJSONString(b, v.MediaType)
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"event":`...)
	b = append(b, v.Event...)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; each byte of invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		var v []byte
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				v = append(v, "\uFFFD"...)
			} else {
				v = append(v, s[i:i+size]...)
			}
			i += size
		}
		s = string(v)
	}
	return record.AppendJSONString(b, s)
}

func marshalRecords(rs []*record.Record) ([]byte, error) {
	b := make([]byte, 0, 1024*len(rs)+2)
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordJSON(b, r)
	}
	return append(b, ']'), nil
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}

// originName is how JavaScript sees where a change came from.
func originName(o peerset.Origin) string {
	if o.Local() {
		return "local"
	}
	return o.PeerID
}

// recordEventJSON is the payload of a 'record' event.
type recordEventJSON struct {
	Record  recordJSON `json:"record"`
	UUID    string     `json:"uuid"`
	Removed bool       `json:"removed"`
	Origin  string     `json:"origin"`
}

// marshalChanges encodes the record changes of a batch as 'record' events
// (recordEventJSON); deletion events themselves are left out: what they
// remove is reported as removed.
func marshalChanges(changes []peerset.Change) ([]byte, int, error) {
	b := make([]byte, 0, 1024*len(changes)+2)
	b = append(b, '[')
	n := 0
	for _, c := range changes {
		if c.Event == nil || c.Event.Kind != record.KindRecord {
			continue
		}
		r, err := record.Parse(c.Event)
		if err != nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"record":`...)
		b = appendRecordJSON(b, r)
		b = append(b, `,"uuid":`...)
		b = appendJSONString(b, r.UUID)
		b = append(b, `,"removed":`...)
		b = strconv.AppendBool(b, c.Removed)
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, originName(c.Origin))
		if !c.Removed {
			b = append(b, `,"heldBy":`...)
			b = strconv.AppendInt(b, int64(c.HeldBy), 10)
		}
		b = append(b, '}')
	}
	if n == 0 {
		return nil, 0, nil
	}
	return append(b, ']'), n, nil
}

// sessionJSONView is one peer session as stats() and 'peer' events show it.
type sessionJSONView struct {
	PeerID          string   `json:"peerId"`
	State           string   `json:"state"`
	Pubkey          string   `json:"pubkey,omitempty"` // npub, proven once authenticated
	Authenticated   bool     `json:"authenticated"`
	Initiator       bool     `json:"initiator"`
	RTT             *float64 `json:"rtt"` // milliseconds, null while unknown
	AttachedAt      int64    `json:"attachedAt,omitempty"`
	AuthenticatedAt int64    `json:"authenticatedAt,omitempty"`
	LocalRoot       string   `json:"localRoot"`
	LocalCount      int      `json:"localCount"`
	RemoteRoot      string   `json:"remoteRoot"`
	RemoteCount     int      `json:"remoteCount"`
	MessagesIn      int      `json:"messagesIn"`
	MessagesOut     int      `json:"messagesOut"`
	BytesIn         int64    `json:"bytesIn"`
	BytesOut        int64    `json:"bytesOut"`
	RecordsIn       int      `json:"recordsIn"`
	RecordsStored   int      `json:"recordsStored"`
	RecordsRefused  int      `json:"recordsRefused"`
	RecordsOut      int      `json:"recordsOut"`
	Reconciliations int      `json:"reconciliations"`
	Rounds          int      `json:"rounds"`
	Pending         int      `json:"pending"`
	WantsInFlight   int      `json:"wantsInFlight"`
	Strikes         int      `json:"strikes"`
	LastSyncMs      float64  `json:"lastSyncMs"`
	LastSyncAt      int64    `json:"lastSyncAt,omitempty"`
	RootsEqual      bool     `json:"rootsEqual"` // the peer's last announced root equals ours
	// RulesDiffer: the peer's moderation rules differ from ours, so the two
	// never reach equal roots; sync backs off (syncBackoffMs) instead.
	RulesDiffer      bool        `json:"rulesDiffer"`
	SyncBackoffMs    float64     `json:"syncBackoffMs"`
	RecordsThrottled int         `json:"recordsThrottled"` // over the peer's ingest budget, asked for again later
	UploadDeferred   int         `json:"uploadDeferred"`   // requests that waited for the peer's upload budget
	MissingRanges    []rangeJSON `json:"missingRanges"`
	CloseReason      string      `json:"closeReason,omitempty"`
	Closed           bool        `json:"closed"`
}

// rangeJSON is a time range in milliseconds; end is null when open-ended.
type rangeJSON struct {
	Start int64  `json:"start"`
	End   *int64 `json:"end"`
}

func toRangeJSON(r merkle.TimeRange) rangeJSON {
	out := rangeJSON{Start: secondsToMillis(r.Start)}
	if r.End != merkle.MaxTimestamp {
		end := secondsToMillis(r.End)
		out.End = &end
	}
	return out
}

func secondsToMillis(s uint64) int64 {
	if s > math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return int64(s) * 1000
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func toSessionJSON(s session.SessionInfo, rtt time.Duration) sessionJSONView {
	v := sessionJSONView{
		PeerID:           s.PeerID,
		State:            s.State.String(),
		Authenticated:    s.State.Authenticated(),
		Initiator:        s.Initiator,
		AttachedAt:       unixMilli(s.AttachedAt),
		AuthenticatedAt:  unixMilli(s.AuthenticatedAt),
		LocalRoot:        s.LocalRoot.String(),
		LocalCount:       s.LocalCount,
		RemoteRoot:       s.RemoteRoot.String(),
		RemoteCount:      s.RemoteCount,
		MessagesIn:       s.MessagesIn,
		MessagesOut:      s.MessagesOut,
		BytesIn:          s.BytesIn,
		BytesOut:         s.BytesOut,
		RecordsIn:        s.RecordsIn,
		RecordsStored:    s.RecordsStored,
		RecordsRefused:   s.RecordsRefused,
		RecordsOut:       s.RecordsOut,
		Reconciliations:  s.Reconciliations,
		Rounds:           s.Rounds,
		Pending:          s.Pending,
		WantsInFlight:    s.WantsInFlight,
		Strikes:          s.Strikes,
		LastSyncMs:       float64(s.LastSyncDuration) / float64(time.Millisecond),
		LastSyncAt:       unixMilli(s.LastSyncAt),
		RootsEqual:       s.RemoteRoot != (merkle.Fingerprint{}) && s.RemoteRoot == s.LocalRoot,
		RulesDiffer:      s.RulesDiffer,
		SyncBackoffMs:    float64(s.SyncBackoff) / float64(time.Millisecond),
		RecordsThrottled: s.RecordsThrottled,
		UploadDeferred:   s.UploadDeferred,
		MissingRanges:    make([]rangeJSON, 0, len(s.MissingRanges)),
		Closed:           s.State == session.StateClosed,
	}
	if s.PubKey != (record.PublicKey{}) {
		v.Pubkey = npubs.npub(s.PubKey)
	}
	if rtt > 0 {
		ms := float64(rtt) / float64(time.Millisecond)
		v.RTT = &ms
	}
	for _, r := range s.MissingRanges {
		v.MissingRanges = append(v.MissingRanges, toRangeJSON(r))
	}
	if s.CloseReason != nil {
		v.CloseReason = s.CloseReason.Error()
	}
	return v
}

// trackerJSON is one tracker connection in stats().
type trackerJSON struct {
	URL               string `json:"url"`
	State             string `json:"state"`
	LastError         string `json:"lastError,omitempty"`
	ReconnectAttempts int    `json:"reconnectAttempts"`
	Phase             string `json:"phase"`
	IntervalMs        int64  `json:"intervalMs"`
	Announces         uint64 `json:"announces"`
	LastAnnounce      int64  `json:"lastAnnounce,omitempty"`
}

func toTrackerJSON(t swarm.TrackerStatus) trackerJSON {
	return trackerJSON{
		URL:               t.URL,
		State:             string(t.State),
		LastError:         t.LastError,
		ReconnectAttempts: t.ReconnectAttempts,
		Phase:             string(t.Phase),
		IntervalMs:        t.Interval.Milliseconds(),
		Announces:         t.Announces,
		LastAnnounce:      unixMilli(t.LastAnnounce),
	}
}

// bucketJSON is one time bucket of the per-bucket view.
type bucketJSON struct {
	Start       int64  `json:"start"`
	End         *int64 `json:"end"`
	Count       int    `json:"count"`
	Fingerprint string `json:"fingerprint"`
}

// statsJSON is the result of stats().
type statsJSON struct {
	Peers         int               `json:"peers"` // authenticated sessions
	Records       int               `json:"records"`
	Deletions     int               `json:"deletions"`
	Loading       bool              `json:"loading"` // the index is still being rebuilt; records counts every stored event
	Root          string            `json:"root"`
	Key           string            `json:"key"`
	PeerID        string            `json:"peerId"`
	AppID         string            `json:"appId"`
	Room          string            `json:"room"`
	RoomID        string            `json:"roomId"`
	Moderation    string            `json:"moderation"`
	Granularity   string            `json:"granularity"`
	Online        bool              `json:"online"`
	Storage       string            `json:"storage"`
	KeyStorage    string            `json:"keyStorage"` // peerset.KeyStorage: "clear" means readable by any script of the origin
	Trackers      []trackerJSON     `json:"trackers"`
	Sessions      []sessionJSONView `json:"sessions"`
	Buckets       []bucketJSON      `json:"buckets"`
	MissingRanges []rangeJSON       `json:"missingRanges"`
	// Held: for each of this node's live records (by uuid) whose current
	// version is tracked, how many peers are known to hold it.
	Held     map[string]int `json:"held"`
	ReadOnly bool           `json:"readOnly"`
}

// snapshotStats gathers stats() from the facade. rtt looks up a peer's
// round-trip time (0: unknown).
func snapshotStats(db *peerset.DB, o openOptions, online bool, rtt func(peerID string) time.Duration) statsJSON {
	st := db.Stats()
	out := statsJSON{
		Records:     st.Records,
		Deletions:   st.Deletions,
		Loading:     st.Loading,
		Root:        st.Root,
		Key:         keyOf(db),
		Held:        st.Held,
		ReadOnly:    db.ReadOnly(),
		PeerID:      db.SelfID(),
		AppID:       o.AppID,
		Room:        o.Room,
		RoomID:      st.RoomID,
		Moderation:  st.Moderation,
		Granularity: o.granularity().String(),
		Online:      online,
		Storage:     o.Storage,
		KeyStorage:  string(db.KeyStorage()),
		Trackers:    []trackerJSON{},
		Sessions:    []sessionJSONView{},
	}
	for _, t := range db.Trackers() {
		out.Trackers = append(out.Trackers, toTrackerJSON(t))
	}
	sessions := db.Sessions()
	for _, s := range sessions {
		if s.State.Authenticated() {
			out.Peers++
		}
		out.Sessions = append(out.Sessions, toSessionJSON(s, rtt(s.PeerID)))
	}
	g := o.granularity()
	if g == merkle.GranularityNone {
		g = merkle.GranularityDay // one bucket for everything says little
	}
	buckets := db.Buckets(g)
	out.Buckets = make([]bucketJSON, 0, len(buckets))
	for _, b := range buckets {
		r := toRangeJSON(b.TimeRange)
		out.Buckets = append(out.Buckets, bucketJSON{Start: r.Start, End: r.End, Count: b.Count, Fingerprint: b.Fingerprint.String()})
	}
	out.MissingRanges = mergeMissingRanges(sessions)
	if out.Held == nil {
		out.Held = map[string]int{}
	}
	return out
}

// mergeMissingRanges is the union of the sessions' missing ranges, sorted
// and with overlapping or touching ranges merged.
func mergeMissingRanges(sessions []session.SessionInfo) []rangeJSON {
	var all []merkle.TimeRange
	for _, s := range sessions {
		if s.State == session.StateClosed {
			continue
		}
		all = append(all, s.MissingRanges...)
	}
	slices.SortFunc(all, func(a, b merkle.TimeRange) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	var merged []merkle.TimeRange
	for _, r := range all {
		if n := len(merged); n > 0 && r.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	out := make([]rangeJSON, 0, len(merged))
	for _, r := range merged {
		out = append(out, toRangeJSON(r))
	}
	return out
}

// peerTracker diffs session snapshots into 'peer' events: a session that
// appeared, changed state or key, or closed (or vanished from the list).
type peerTracker struct {
	known map[string]peerKey
}

type peerKey struct {
	state  session.State
	pubkey record.PublicKey
}

func (t *peerTracker) update(sessions []session.SessionInfo, rtt func(string) time.Duration) []sessionJSONView {
	if t.known == nil {
		t.known = make(map[string]peerKey)
	}
	var out []sessionJSONView
	seen := make(map[string]bool, len(sessions))
	for _, s := range sessions {
		seen[s.PeerID] = true
		k := peerKey{state: s.State, pubkey: s.PubKey}
		if old, ok := t.known[s.PeerID]; ok && old == k {
			continue
		}
		t.known[s.PeerID] = k
		out = append(out, toSessionJSON(s, rtt(s.PeerID)))
	}
	for id, k := range t.known {
		if seen[id] {
			continue
		}
		delete(t.known, id)
		if k.state == session.StateClosed {
			continue // already reported closed
		}
		gone := session.SessionInfo{PeerID: id, PubKey: k.pubkey, State: session.StateClosed}
		out = append(out, toSessionJSON(gone, 0))
	}
	slices.SortFunc(out, func(a, b sessionJSONView) int {
		switch {
		case a.PeerID < b.PeerID:
			return -1
		case a.PeerID > b.PeerID:
			return 1
		}
		return 0
	})
	return out
}

// errorInfo is what the shim needs to build a JavaScript Error: the message,
// and for a moderation refusal the rule and reason; code names errors a
// page may handle.
type errorInfo struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Error codes for JavaScript (err.code).
const (
	codeRejected      = "rejected"
	codeClosed        = "closed"
	codeNotFound      = "not-found"
	codeKeyPassphrase = "key-passphrase"
	codeUnsupported   = "unsupported"
	codeInvalid       = "invalid"
	codeSigner        = "signer"    // the NIP-07 signer refused or failed
	codeReadOnly      = "read-only" // an ephemeral identity without a key or signer
)

// holdersJSON is the result of holders(uuid).
type holdersJSON struct {
	Count int      `json:"count"`
	Peers []string `json:"peers"` // npubs
}

// invalidInputError marks arguments a page passed that cannot be used.
type invalidInputError struct{ err error }

func (e *invalidInputError) Error() string { return e.err.Error() }
func (e *invalidInputError) Unwrap() error { return e.err }

func invalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &invalidInputError{err}
}

// unsupportedError marks a browser that lacks something peerset needs.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string { return e.msg }

func describeError(err error) errorInfo {
	info := errorInfo{Message: "peerset: " + err.Error()}
	var unsupported *unsupportedError
	var invalid *invalidInputError
	if rej, ok := moderation.AsRejection(err); ok {
		info.Code, info.Rule, info.Reason = codeRejected, rej.Rule, rej.Reason
		info.Message = "peerset: record refused by rule " + rej.Rule + ": " + rej.Reason
		return info
	}
	switch {
	case errors.Is(err, peerset.ErrClosed):
		info.Code = codeClosed
		info.Message = "peerset: this database is closed: open it again with peerset.open()"
	case errors.Is(err, peerset.ErrNotFound):
		info.Code = codeNotFound
	case errors.Is(err, peerset.ErrSigner):
		info.Code = codeSigner
	case errors.Is(err, peerset.ErrReadOnly):
		info.Code = codeReadOnly
		info.Message = "peerset: read-only: this database joined with identity 'ephemeral' and has no key to sign with: open it with an nsec or a signer to write"
	case errors.Is(err, peerset.ErrKeyPassphrase):
		info.Code = codeKeyPassphrase
		info.Message = "peerset: the key stored for this room is encrypted and the passphrase is missing or wrong: pass the one it was saved with, open({ room, passphrase })"
	case errors.As(err, &unsupported):
		info.Code = codeUnsupported
	case errors.As(err, &invalid), errors.Is(err, record.ErrInvalidUUID), errors.Is(err, record.ErrInvalidGeo),
		errors.Is(err, record.ErrRecordTooLarge), errors.Is(err, record.ErrInvalidRecord):
		info.Code = codeInvalid
	}
	return info
}
