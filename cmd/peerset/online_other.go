//go:build !js

package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
	"github.com/peersetdb/peerset/pkg/swarm"
	"github.com/peersetdb/peerset/pkg/swarm/session"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// dbFlags are the flags shared by the commands that open a database.
type dbFlags struct {
	path, app, room, nsec, preset string
	quota, deletionQuota, pow     int // -1: the preset's
	badWords                      string
	linkHosts                     stringList
	identity                      peerset.Identity
	prefetchBelow                 int // join --prefetch-below (0: the default)
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	f.registerFile(fs)
	fs.StringVar(&f.nsec, "nsec", "", "the key to sign with (nsec1...); default: the key kept in the database")
	fs.StringVar(&f.preset, "moderation", moderation.PresetNameStandard, "moderation preset: "+strings.Join(moderation.PresetNames(), ", "))
	fs.IntVar(&f.quota, "quota", -1, "live records kept per author, the newest (0: no quota; default: the preset's, 5 for standard)")
	fs.IntVar(&f.deletionQuota, "deletion-quota", -1, "deletions kept per author, the newest (0: no quota; default: the preset's, 20 for standard)")
	fs.IntVar(&f.pow, "pow", -1, "NIP-13 proof of work required of every record and deletion, in bits (0: none; default: the preset's, 16 for strict); this node mines its own")
	fs.StringVar(&f.badWords, "bad-words", "", "a file of words to refuse besides the preset's list, one per line (# starts a comment); turns the bad-words rule on")
	fs.Var(&f.linkHosts, "allow-link-host", "allow links to this host and its subdomains only (repeatable); turns the link policy on")
}

// registerFile registers the flags that name the file and its room.
func (f *dbFlags) registerFile(fs *flag.FlagSet) {
	fs.StringVar(&f.path, "db", "", "the database file (bbolt); created if missing")
	fs.StringVar(&f.app, "app", defaultAppID, "the appId")
	fs.StringVar(&f.room, "room", "", "the room name")
	f.preset, f.quota, f.deletionQuota, f.pow = moderation.PresetNameStandard, -1, -1, -1
}

// moderation returns the preset with the flags' changes.
func (f *dbFlags) moderation() (moderation.Config, error) {
	mod, err := moderation.Preset(f.preset)
	if err != nil {
		return mod, fmt.Errorf("%w: %v", errUsage, err)
	}
	for _, n := range []struct {
		name string
		v    int
		dst  *int
		max  int
	}{
		{"--quota", f.quota, &mod.AuthorQuota, 1 << 20},
		{"--deletion-quota", f.deletionQuota, &mod.DeletionQuota, 1 << 20},
		{"--pow", f.pow, &mod.PoWDifficulty, 32},
	} {
		switch {
		case n.v == -1:
		case n.v < 0 || n.v > n.max:
			return mod, fmt.Errorf("%w: %s %d is outside 0..%d", errUsage, n.name, n.v, n.max)
		default:
			*n.dst = n.v
		}
	}
	if f.badWords != "" {
		words, err := readWordList(f.badWords)
		if err != nil {
			return mod, err
		}
		mod.BadWords = true
		mod.ExtraBadWords = append(mod.ExtraBadWords, words...)
	}
	if len(f.linkHosts) > 0 {
		mod.LinkPolicy = true
		mod.LinkAllowHosts = append(mod.LinkAllowHosts, f.linkHosts...)
	}
	return mod, nil
}

// readWordList reads a word list: one word per line, blank lines and lines
// starting with # ignored.
func readWordList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the bad-words file: %w", err)
	}
	var words []string
	for line := range strings.Lines(string(b)) {
		if w := strings.TrimSpace(line); w != "" && !strings.HasPrefix(w, "#") {
			words = append(words, w)
		}
	}
	return words, nil
}

func (f *dbFlags) open(ctx context.Context) (*peerset.DB, error) {
	if f.path == "" || f.room == "" {
		return nil, fmt.Errorf("%w: --db and --room are required", errUsage)
	}
	mod, err := f.moderation()
	if err != nil {
		return nil, err
	}
	cfg := peerset.Config{AppID: f.app, Room: f.room, Moderation: &mod, Identity: f.identity, PrefetchBelow: f.prefetchBelow}
	if f.nsec != "" {
		if cfg.Key, err = record.DecodeNsec(f.nsec); err != nil {
			return nil, err
		}
	}
	st, err := bolt.Open(f.path, bolt.Options{})
	if err != nil {
		return nil, err
	}
	cfg.Store = st
	db, err := peerset.Open(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, err
	}
	return db, nil
}

// cmdPut adds one record to a database without going online; with --file,
// a record referring to the file, stored beside it as a blob.
func cmdPut(args []string, stdout io.Writer) error {
	fs := newFlagSet("put")
	var f dbFlags
	f.register(fs)
	var df draftFlags
	df.register(fs, "the record UUID; an existing one of yours to update it")
	var bf blobFlags
	bf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	draft, err := df.draft()
	if err != nil {
		return err
	}
	mediaType, err := bf.mediaType()
	if err != nil {
		return err
	}
	var file *os.File
	if bf.file != "" {
		if file, err = os.Open(bf.file); err != nil {
			return fmt.Errorf("failed to open --file: %w", err)
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && st.IsDir() {
			return fmt.Errorf("%w: --file %s is a directory: give a file", errUsage, bf.file)
		}
	}
	ctx := context.Background()
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if file == nil {
		r, err := db.Put(ctx, draft)
		if err != nil {
			return err
		}
		_, err = stdout.Write(append(r.Event.AppendJSON(nil), '\n'))
		return err
	}
	r, err := db.PutBlob(ctx, draft, file, mediaType)
	if err != nil {
		return err
	}
	if _, err := stdout.Write(append(r.Event.AppendJSON(nil), '\n')); err != nil {
		return err
	}
	return writeJSON(stdout, putBlobLine{SHA256: r.Blob.Hex(), Size: r.Blob.Size, Type: r.Blob.Type})
}

// joinStatus is the line `join --json` prints every second.
type joinStatus struct {
	Peers   int    `json:"peers"`
	Records int    `json:"records"`
	Root    string `json:"root"`
	// Blobs counts the files held whole (see BlobUsage).
	Blobs int `json:"blobs"`
	// RulesDiffer counts the peers whose moderation rules differ from ours
	// (our sets never become equal); omitted when none.
	RulesDiffer int `json:"rulesDiffer,omitempty"`
	// Sync is the catch-up with the peers, as the JavaScript 'sync' event
	// reports it (peerset.SyncProgress).
	Sync peerset.SyncProgress `json:"sync"`
}

// joinEvent is an event line of `join --json`.
type joinEvent struct {
	Event  string `json:"event"` // "joined", "record", "removed", "blob", "left"
	ID     string `json:"id,omitempty"`
	UUID   string `json:"uuid,omitempty"`
	Author string `json:"author,omitempty"`
	From   string `json:"from,omitempty"` // peer id, or "" for local
	Peer   string `json:"peer,omitempty"`
	Error  string `json:"error,omitempty"`
	SHA256 string `json:"sha256,omitempty"` // "blob": a file stored or fetched whole (or Error)
	Size   int64  `json:"size,omitempty"`
}

// joinFlags are the flags of join beyond the database's.
type joinFlags struct {
	trackers    stringList
	relays      stringList
	password    string
	jsonOut     bool
	ephemeral   bool
	loopback    bool
	ingestBurst int
	ingestRate  float64
	maxPeers    int
	meshHigh    int
	uploadRate  float64
	prefetch    int
}

func (j *joinFlags) register(fs *flag.FlagSet) {
	fs.Var(&j.trackers, "tracker", "a ws:// or wss:// tracker URL (repeatable); default: public trackers, unless --relay is given")
	fs.Var(&j.relays, "relay", "a ws:// or wss:// Nostr relay URL to signal through, Trystero's Nostr strategy (repeatable); with no --tracker, relays only")
	fs.StringVar(&j.password, "password", "", "the room password")
	fs.BoolVar(&j.jsonOut, "json", false, "print a status line every second and one line per event, as JSON")
	fs.BoolVar(&j.ephemeral, "ephemeral", false, "prove a fresh key on every connection, so that peers learn no long-term key (records this node wrote keep their author)")
	fs.IntVar(&j.prefetch, "prefetch-below", 0, fmt.Sprintf("fetch the files (blobs) of arriving records at or under this many bytes as they arrive (default %d; -1: never; at most the largest blob, 16 MiB)", peerset.DefaultPrefetchBelow))
	fs.BoolVar(&j.loopback, "ice-loopback", false, "gather ICE candidates on loopback only, with no STUN servers (for tests in loopback-only namespaces)")
	fs.IntVar(&j.ingestBurst, "ingest-burst", 0, fmt.Sprintf("records one peer may add at once (default %d)", session.DefaultIngestBurst))
	fs.Float64Var(&j.ingestRate, "ingest-rate", 0, fmt.Sprintf("records per second one peer may add after --ingest-burst (default %d)", session.DefaultIngestRate))
	fs.IntVar(&j.maxPeers, "max-peers", 0, fmt.Sprintf("open connections and authenticated sessions at most, the hard cap (default %d)", swarm.DefaultMaxPeers))
	fs.IntVar(&j.meshHigh, "mesh-high", 0, fmt.Sprintf("mesh peers at which this node answers no more offers, and above which it prunes (default %d, and at most --max-peers; -1: no bound but --max-peers, a full mesh, e.g. for a seeder serving many peers)", swarm.DefaultMeshHigh))
	fs.Float64Var(&j.uploadRate, "upload-rate", 0, fmt.Sprintf("bytes per second this node sends one peer on its requests, after a burst of %d MiB (default %d MiB/s)", session.DefaultUploadBurst>>20, session.DefaultUploadRate>>20))
}

// options checks the flags and returns the JoinOptions they describe.
func (j *joinFlags) options() (peerset.JoinOptions, error) {
	var opts peerset.JoinOptions
	switch {
	case j.ingestBurst < 0 || j.ingestRate < 0:
		return opts, fmt.Errorf("%w: --ingest-burst and --ingest-rate must not be negative", errUsage)
	case j.maxPeers < 0:
		return opts, fmt.Errorf("%w: --max-peers %d is negative", errUsage, j.maxPeers)
	case j.meshHigh < -1:
		return opts, fmt.Errorf("%w: --mesh-high %d: want a positive number, or -1 for no bound", errUsage, j.meshHigh)
	case j.uploadRate < 0:
		return opts, fmt.Errorf("%w: --upload-rate must not be negative", errUsage)
	}
	for _, flagURLs := range []struct {
		name string
		urls []string
	}{{"tracker", j.trackers}, {"relay", j.relays}} {
		for _, raw := range flagURLs.urls {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				return opts, fmt.Errorf("%w: --%s %q: want a ws:// or wss:// URL", errUsage, flagURLs.name, raw)
			}
		}
	}
	if maxPeers := cmp.Or(j.maxPeers, swarm.DefaultMaxPeers); j.meshHigh > maxPeers {
		return opts, fmt.Errorf("%w: --mesh-high %d is above --max-peers %d", errUsage, j.meshHigh, maxPeers)
	}
	opts = peerset.JoinOptions{Trackers: j.trackers, Relays: j.relays, Password: j.password, LoopbackCandidates: j.loopback, MaxPeers: j.maxPeers,
		Session: session.Config{IngestBurst: j.ingestBurst, IngestRate: j.ingestRate, UploadRate: j.uploadRate}}
	if j.meshHigh != 0 {
		opts.Swarm = &swarm.Config{MeshHigh: j.meshHigh}
	}
	if j.loopback {
		opts.ICEServers = []webrtc.ICEServer{}
	}
	if len(j.trackers) == 0 && len(j.relays) == 0 {
		opts.Trackers = swarm.DefaultTrackers()
	}
	return opts, nil
}

// cmdJoin is an always-on peer until SIGINT or SIGTERM.
func cmdJoin(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("join")
	var f dbFlags
	f.register(fs)
	var j joinFlags
	j.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts, err := j.options()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if j.ephemeral {
		f.identity = peerset.IdentityEphemeral
	}
	f.prefetchBelow = j.prefetch
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	var mu sync.Mutex // serialises output lines
	emit := func(v any) {
		if !j.jsonOut {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		_ = writeJSON(stdout, v)
	}
	unsubscribe := db.Subscribe(func(c peerset.Change) {
		ev := joinEvent{Event: "record", ID: c.Event.IDHex(), UUID: c.Event.TagValue(record.TagUUID), Author: c.Event.PubKey.Npub(), From: c.Origin.PeerID}
		if c.Removed {
			ev.Event = "removed"
		}
		emit(ev)
	})
	defer unsubscribe()
	stopBlobs := db.OnBlob(func(p peerset.BlobProgress) {
		if !p.Done {
			return // only the end of each fetch: progress comes often
		}
		ev := joinEvent{Event: "blob", SHA256: p.SHA256, Size: p.Size}
		if p.Err != nil {
			ev.Error = p.Err.Error()
		}
		emit(ev)
	})
	defer stopBlobs()

	if err := db.Join(ctx, opts); err != nil {
		return err
	}
	emit(joinEvent{Event: "joined", Peer: db.SelfID()})
	if !j.jsonOut {
		who := "key " + db.Key().Npub()
		if j.ephemeral {
			who = "a fresh key per connection"
		}
		fmt.Fprintf(stderr, "peerset: joined %s/%s as %s (%s); Ctrl-C to stop\n", f.app, f.room, db.SelfID(), who)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			emit(joinEvent{Event: "left"})
			if err := db.Close(); err != nil {
				return fmt.Errorf("failed to close cleanly: %w", err)
			}
			return nil
		case <-tick.C:
			st := db.Stats()
			status := joinStatus{Records: st.Records, Root: st.Root, Sync: db.SyncProgress()}
			if u, err := db.BlobUsage(ctx); err == nil {
				status.Blobs = u.Whole
			}
			for _, s := range db.Sessions() {
				if s.State.Authenticated() {
					status.Peers++
					if s.RulesDiffer {
						status.RulesDiffer++
					}
				}
			}
			emit(status)
		}
	}
}
