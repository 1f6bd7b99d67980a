package main

import (
	"math"
	"slices"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// stats() and the 'peer' events: sessions, trackers, buckets and missing
// ranges as JavaScript sees them.

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

// relayJSON is one Nostr relay connection in stats().
type relayJSON struct {
	URL               string `json:"url"`
	State             string `json:"state"`
	LastError         string `json:"lastError,omitempty"`
	ReconnectAttempts int    `json:"reconnectAttempts"`
	Announces         uint64 `json:"announces"`
	LastAnnounce      int64  `json:"lastAnnounce,omitempty"`
	Received          uint64 `json:"received"`
	Dropped           uint64 `json:"dropped"`
}

func toRelayJSON(r swarm.RelayStatus) relayJSON {
	return relayJSON{
		URL:               r.URL,
		State:             string(r.State),
		LastError:         r.LastError,
		ReconnectAttempts: r.ReconnectAttempts,
		Announces:         r.Announces,
		LastAnnounce:      unixMilli(r.LastAnnounce),
		Received:          r.Received,
		Dropped:           r.Dropped,
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
	Loading       bool              `json:"loading"`   // the index is still being rebuilt; records counts every stored event
	IndexFrom     string            `json:"indexFrom"` // "snapshot" or "store": how the open built the index
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
	Relays        []relayJSON       `json:"relays"`
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
		IndexFrom:   st.IndexFrom,
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
		Relays:      []relayJSON{},
		Sessions:    []sessionJSONView{},
	}
	for _, t := range db.Trackers() {
		out.Trackers = append(out.Trackers, toTrackerJSON(t))
	}
	for _, r := range db.Relays() {
		out.Relays = append(out.Relays, toRelayJSON(r))
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
