package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// Storage backends a page can choose with open({storage}).
const (
	storageIndexedDB = "indexeddb" // the default: records and key survive reloads
	storageMemory    = "memory"    // nothing survives close or reload
)

// defaultGranularity is the JavaScript API's default: day buckets give the
// Network UI a readable per-bucket view and missing ranges.
const defaultGranularity = merkle.GranularityDay

// openOptions is the JSON form of the options of peerset.open() (see
// js/peerset.d.ts). Durations are milliseconds, as everywhere in JavaScript.
type openOptions struct {
	Room        string          `json:"room"`
	AppID       string          `json:"appId"`
	Trackers    []string        `json:"trackers"`
	Relays      []string        `json:"relays"` // Nostr relays; given alone, no tracker
	Password    string          `json:"password"`
	Nsec        string          `json:"nsec"`
	Passphrase  string          `json:"passphrase"`
	Moderation  moderationJSON  `json:"moderation"`
	ICEServers  []iceServerJSON `json:"iceServers"` // nil: the default STUN servers; []: none
	Granularity string          `json:"granularity"`
	Session     sessionJSON     `json:"session"`
	Offline     bool            `json:"offline"`
	Debug       bool            `json:"debug"` // debug logs of the engine on the console
	MaxPeers    int             `json:"maxPeers"`
	// Blobs (files records refer to): the largest blob, the quotas per
	// author and per room in bytes, and the size at or under which a blob
	// is fetched as soon as its record arrives (negative: never). 0: the
	// defaults (peerset.Config).
	MaxBlobBytes    int   `json:"maxBlobBytes"`
	BlobQuotaAuthor int64 `json:"blobQuotaAuthor"`
	BlobQuotaRoom   int64 `json:"blobQuotaRoom"`
	PrefetchBelow   int   `json:"prefetchBelow"`

	// Storage and DatabaseName choose where records and the key are kept.
	Storage      string `json:"storage"`
	DatabaseName string `json:"databaseName"`

	// Signer: records are signed by a NIP-07 signer on the page (the
	// shim sends true for open({ signer })); Identity: "ephemeral" or ""
	// (see identity.go).
	Signer   bool   `json:"signer"`
	Identity string `json:"identity"`
}

// moderationJSON is open()'s moderation option: a preset name, or an object
// { preset, quota, deletionQuota, proofOfWork, badWords, allowLinkHosts,
// retentionDays, rules, ruleTimeout } that adjusts one (see moderation.go).
type moderationJSON struct {
	Preset        string `json:"preset"`
	Quota         *int   `json:"quota"`         // live records per author (0: none)
	DeletionQuota *int   `json:"deletionQuota"` // deletions kept per author (0: none)
	ProofOfWork   *int   `json:"proofOfWork"`   // NIP-13 bits required (0: none)

	BadWords       []string   `json:"badWords"`       // words refused besides the preset's list
	AllowLinkHosts []string   `json:"allowLinkHosts"` // links only to these hosts (and subdomains)
	RetentionDays  *float64   `json:"retentionDays"`  // records older than this are refused and collected
	Rules          []ruleJSON `json:"rules"`          // custom rules judged on the page
	RuleTimeout    float64    `json:"ruleTimeout"`    // ms the page has to judge a batch (0: 5 s)
}

func (m *moderationJSON) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err == nil {
		*m = moderationJSON{Preset: name}
		return nil
	}
	type plain moderationJSON
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("moderation must be a preset name or { preset, quota, deletionQuota, proofOfWork, badWords, allowLinkHosts, retentionDays, rules }: %w", err)
	}
	*m = moderationJSON(p)
	return nil
}

// config returns the moderation configuration the option describes.
func (m moderationJSON) config() (moderation.Config, error) {
	cfg, err := moderation.Preset(m.Preset)
	if err != nil {
		return cfg, fmt.Errorf("unknown moderation preset %q: use one of %s", m.Preset, strings.Join(moderation.PresetNames(), ", "))
	}
	set := func(name string, v *int, dst *int, hi int) error {
		if v == nil {
			return nil
		}
		if *v < 0 || *v > hi {
			return fmt.Errorf("moderation.%s must be between 0 and %d, not %d", name, hi, *v)
		}
		*dst = *v
		return nil
	}
	if err := set("quota", m.Quota, &cfg.AuthorQuota, 1<<20); err != nil {
		return cfg, err
	}
	if err := set("deletionQuota", m.DeletionQuota, &cfg.DeletionQuota, 1<<20); err != nil {
		return cfg, err
	}
	if err := set("proofOfWork", m.ProofOfWork, &cfg.PoWDifficulty, 32); err != nil {
		return cfg, err
	}
	if err := m.applyExtras(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// sessionJSON holds the session limits a page may tune, in milliseconds.
type sessionJSON struct {
	HandshakeTimeout     float64 `json:"handshakeTimeout"`
	ChallengeTimeout     float64 `json:"challengeTimeout"`
	MaxPeerSessionTime   float64 `json:"maxPeerSessionTime"`
	MaxClientSessionTime float64 `json:"maxClientSessionTime"`
	IdleRootInterval     float64 `json:"idleRootInterval"`
	RoundTimeout         float64 `json:"roundTimeout"`
	WantTimeout          float64 `json:"wantTimeout"`
	MaxPeers             int     `json:"maxPeers"`
	// The budgets of one peer (see session.Config): records it may add, at
	// once and per second; bytes it may make us send, at once and per second.
	IngestBurst int     `json:"ingestBurst"`
	IngestRate  float64 `json:"ingestRate"`
	UploadBurst int     `json:"uploadBurst"`
	UploadRate  float64 `json:"uploadRate"`
}

// iceServerJSON is an RTCIceServer: urls is a string or a list of strings.
type iceServerJSON struct {
	URLs       stringOrList `json:"urls"`
	Username   string       `json:"username"`
	Credential string       `json:"credential"`
}

type stringOrList []string

func (l *stringOrList) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return errors.New("iceServers[].urls must be a URL string or a list of them")
	}
	*l = many
	return nil
}

// parseOpenOptions reads and checks open()'s options.
func parseOpenOptions(data string) (openOptions, error) {
	var o openOptions
	if err := json.Unmarshal([]byte(data), &o); err != nil {
		return o, fmt.Errorf("failed to read the options of open(): %w", err)
	}
	o.Room = strings.TrimSpace(o.Room)
	if o.Room == "" {
		return o, errors.New("open() needs a room name: peerset.open({ room: 'my-room' })")
	}
	if o.AppID == "" {
		o.AppID = peerset.DefaultAppID
	}
	if o.Moderation.Preset == "" {
		o.Moderation.Preset = moderation.PresetNameStandard
	}
	if _, err := o.Moderation.config(); err != nil {
		return o, err
	}
	s := o.Session
	if s.IngestBurst < 0 || s.IngestRate < 0 || s.UploadBurst < 0 || s.UploadRate < 0 {
		return o, errors.New("session.ingestBurst, ingestRate, uploadBurst and uploadRate must not be negative (0: the default)")
	}
	if o.Granularity != "" {
		if _, err := merkle.ParseGranularity(o.Granularity); err != nil {
			return o, fmt.Errorf("unknown granularity %q: use none, day, quarter-day or hour", o.Granularity)
		}
	}
	switch o.Storage {
	case "":
		o.Storage = storageIndexedDB
	case storageIndexedDB, storageMemory:
	default:
		return o, fmt.Errorf("unknown storage %q: use %q (the default) or %q", o.Storage, storageIndexedDB, storageMemory)
	}
	for _, u := range o.Trackers {
		if !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
			return o, fmt.Errorf("tracker %q is not a WebSocket URL: trackers look like wss://tracker.example/announce", u)
		}
	}
	for _, u := range o.Relays {
		if !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") || len(u) <= len("wss://") {
			return o, fmt.Errorf("relay %q is not a WebSocket URL: Nostr relays look like wss://relay.example", u)
		}
	}
	return o, nil
}

// databaseName is the IndexedDB database that keeps one room of one app:
// the appId's length keeps ("a:b", "c") and ("a", "b:c") apart.
func (o openOptions) databaseName() string {
	if o.DatabaseName != "" {
		return o.DatabaseName
	}
	return "peerset:" + strconv.Itoa(len(o.AppID)) + ":" + o.AppID + ":" + o.Room
}

func (o openOptions) granularity() merkle.Granularity {
	if o.Granularity == "" {
		return defaultGranularity
	}
	g, _ := merkle.ParseGranularity(o.Granularity) // checked by parseOpenOptions
	return g
}

// config is the facade configuration without its store, which depends on
// the platform.
func (o openOptions) config() (peerset.Config, error) {
	mod, err := o.Moderation.config()
	if err != nil {
		return peerset.Config{}, err
	}
	cfg := peerset.Config{
		AppID:         o.AppID,
		Room:          o.Room,
		KeyPassphrase: o.Passphrase,
		Moderation:    &mod,
		Granularity:   o.granularity(),

		MaxBlobBytes:    o.MaxBlobBytes,
		BlobQuotaAuthor: o.BlobQuotaAuthor,
		BlobQuotaRoom:   o.BlobQuotaRoom,
		PrefetchBelow:   o.PrefetchBelow,
	}
	if err := o.applyIdentity(&cfg); err != nil {
		return peerset.Config{}, err
	}
	if strings.HasPrefix(strings.TrimSpace(o.Nsec), record.PrefixNcryptsec+"1") {
		key, err := decryptNcryptsec(strings.TrimSpace(o.Nsec), o.Passphrase)
		if err != nil {
			return peerset.Config{}, err
		}
		cfg.Key, cfg.KeyPassphrase = key, ""
		return cfg, nil
	}
	if o.Nsec != "" {
		key, err := record.DecodeNsec(strings.TrimSpace(o.Nsec))
		if err != nil {
			return peerset.Config{}, fmt.Errorf("the nsec given to open() is not a valid secret key (%w): pass the nsec1… text generateKey() returned", err)
		}
		cfg.Key = key
	}
	return cfg, nil
}

// joinOptions is how the DB joins its room when not offline.
func (o openOptions) joinOptions() peerset.JoinOptions {
	opts := peerset.JoinOptions{
		Trackers: o.Trackers,
		Relays:   o.Relays,
		Password: o.Password,
		MaxPeers: o.MaxPeers,
		Session:  o.Session.config(),
	}
	if opts.Trackers == nil && len(o.Relays) == 0 {
		opts.Trackers = swarm.DefaultTrackers()
	}
	if o.ICEServers != nil {
		opts.ICEServers = make([]swarm.ICEServer, 0, len(o.ICEServers))
		for _, s := range o.ICEServers {
			opts.ICEServers = append(opts.ICEServers, swarm.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	return opts
}

func (s sessionJSON) config() session.Config {
	return session.Config{
		HandshakeTimeout:     millis(s.HandshakeTimeout),
		ChallengeTimeout:     millis(s.ChallengeTimeout),
		MaxPeerSessionTime:   millis(s.MaxPeerSessionTime),
		MaxClientSessionTime: millis(s.MaxClientSessionTime),
		IdleRootInterval:     millis(s.IdleRootInterval),
		RoundTimeout:         millis(s.RoundTimeout),
		WantTimeout:          millis(s.WantTimeout),
		MaxPeers:             s.MaxPeers,
		IngestBurst:          s.IngestBurst,
		IngestRate:           s.IngestRate,
		UploadBurst:          s.UploadBurst,
		UploadRate:           s.UploadRate,
	}
}

// millis converts JavaScript milliseconds to a Duration (0 stays 0: the
// default; negative stays negative: off, where a limit allows it).
func millis(ms float64) time.Duration {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// draftJSON is the JSON form of put()'s argument after the shim has turned
// data into text (JSON) or base64 (bytes).
type draftJSON struct {
	UUID       string      `json:"uuid"`
	Text       *string     `json:"text"`
	Link       string      `json:"link"`
	Geo        *record.Geo `json:"geo"`
	DataJSON   *string     `json:"dataJSON"`   // JSON text of data
	DataBase64 *string     `json:"dataBase64"` // bytes of a Uint8Array or ArrayBuffer
	MediaType  string      `json:"mediaType"`
}

func parseDraft(data string) (record.Draft, error) { return parseDraftFor(data, false) }

// parseDraftFor reads put()'s record; withFile: it comes with a file (then
// the record may hold nothing else, and no data).
func parseDraftFor(data string, withFile bool) (record.Draft, error) {
	var d draftJSON
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return record.Draft{}, fmt.Errorf("failed to read the record given to put(): %w", err)
	}
	draft := record.Draft{UUID: d.UUID, Link: d.Link, Geo: d.Geo}
	if d.Text != nil {
		draft.Text = *d.Text
	}
	switch {
	case d.DataJSON != nil && d.DataBase64 != nil:
		return record.Draft{}, errors.New("put() got data both as JSON and as bytes")
	case d.DataJSON != nil:
		draft.Data = []byte(*d.DataJSON)
		draft.MediaType = record.MediaTypeJSON
	case d.DataBase64 != nil:
		b, err := decodeBase64(*d.DataBase64)
		if err != nil {
			return record.Draft{}, fmt.Errorf("failed to read put()'s binary data: %w", err)
		}
		draft.Data = b
		draft.MediaType = record.MediaTypeBinary
	}
	if d.MediaType != "" && draft.Data != nil {
		draft.MediaType = d.MediaType
	}
	if draft.Data != nil && draft.Text != "" {
		return record.Draft{}, errors.New("a record holds text or data, not both: put({ text }) or put({ data })")
	}
	if withFile && draft.Data != nil {
		return record.Draft{}, errors.New("a record holds a file or data, not both: put({ file, text }) or put({ data })")
	}
	if !withFile && draft.Data == nil && draft.Text == "" && draft.Link == "" && draft.Geo == nil {
		return record.Draft{}, errors.New("put() needs something to store: text, link, geo or data")
	}
	return draft, nil
}

// queryJSON is the JSON form of query()'s argument; since and until are
// milliseconds like createdAt.
type queryJSON struct {
	Author string  `json:"author"`
	Since  float64 `json:"since"`
	Until  float64 `json:"until"`
	Limit  int     `json:"limit"`
	Oldest bool    `json:"oldest"`
}

func parseQuery(data string) (peerset.Query, error) {
	var q queryJSON
	if data != "" {
		if err := json.Unmarshal([]byte(data), &q); err != nil {
			return peerset.Query{}, fmt.Errorf("failed to read the query: %w", err)
		}
	}
	out := peerset.Query{Limit: q.Limit, Oldest: q.Oldest}
	if q.Limit < 0 {
		return out, errors.New("query limit must be 0 (no limit) or more")
	}
	if q.Author != "" {
		pk, err := record.DecodeNpub(strings.TrimSpace(q.Author))
		if err != nil {
			return out, fmt.Errorf("query author must be an npub1… key (%w)", err)
		}
		out.Author = &pk
	}
	// Records have one-second resolution: createdAt = created_at × 1000.
	if q.Since > 0 {
		out.Since = int64(math.Ceil(q.Since / 1000))
	}
	if q.Until > 0 {
		out.Until = max(1, int64(math.Floor(q.Until/1000)))
	}
	return out, nil
}
