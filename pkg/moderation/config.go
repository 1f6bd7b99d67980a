package moderation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Defaults of the Config knobs whose zero value means "the default".
const (
	DefaultMaxFutureSkew = 10 * time.Minute
	DefaultRetention     = 90 * 24 * time.Hour
	DefaultMaxLinkBytes  = 1024
	DefaultAuthorQuota   = 5  // used by the standard preset
	DefaultDeletionQuota = 20 // used by the standard preset
)

// Preset names, for selecting a preset from configuration or JavaScript.
const (
	PresetNameOpen     = "open"
	PresetNameStandard = "standard"
	PresetNameStrict   = "strict"
)

// Config holds every knob of a pipeline. Rule switches (bool fields,
// AuthorQuota, PoWDifficulty) are off at their zero value; the other knobs
// take the documented default at their zero value. The rules integrity,
// schema and timestamp are always on. Start from a preset and adjust.
type Config struct {
	// Preset is the name of the preset the config came from, for display.
	Preset string
	// RoomID is the room records must belong to (record.RoomID). Required.
	RoomID string
	// Limits bound the event's size (zero fields: record.DefaultLimits).
	Limits record.Limits
	// MaxTextRunes bounds the characters of a plain-text record (0: only
	// the size limits apply).
	MaxTextRunes int
	// MaxFutureSkew is how far past now created_at may be (0: 10 minutes).
	MaxFutureSkew time.Duration
	// Retention is how long records are kept; older ones are refused and
	// collected (0: 90 days).
	Retention time.Duration

	// Duplicates turns on the duplicate rule (the same id, a stale version,
	// a deleted version) and keeps one live record per author and content:
	// the newest (Policy.Duplicates).
	Duplicates bool
	// AuthorQuota is the number of live records an author may hold: the
	// newest win, older ones are evicted (0: no quota). A node's own new
	// record over the quota is refused instead.
	AuthorQuota int
	// DeletionQuota is the number of deletions (NIP-09 tombstones) an author
	// may hold: the newest win (0: no quota). Deletions are never refused to
	// their author, but each one keeps a tombstone for the retention period,
	// so without a quota one key can fill every peer's store with deletions
	// of records that never existed.
	DeletionQuota int

	// BadWords turns on the bad-words rule.
	BadWords bool
	// BadWordList replaces the embedded English list when not nil.
	BadWordList []string
	// ExtraBadWords are added to the list; AllowedWords are removed from it.
	ExtraBadWords, AllowedWords []string

	// NoLinkInText turns on the no-link-in-text rule.
	NoLinkInText bool
	// LinkTLDs replaces the embedded list of top-level domains that make a
	// bare name like "example.com" a link, when not nil.
	LinkTLDs []string

	// LinkPolicy turns on the link-policy rule for the record's link field:
	// https only, no user info, at most MaxLinkBytes.
	LinkPolicy bool
	// LinkAllowHosts, when not empty, limits links to these hosts and their
	// subdomains.
	LinkAllowHosts []string
	// RequireLinkAllowList makes an empty LinkAllowHosts refuse every link.
	RequireLinkAllowList bool
	// MaxLinkBytes bounds the link's length (0: 1024).
	MaxLinkBytes int

	// PoWDifficulty is the NIP-13 proof of work required, in leading zero
	// bits of the id (0: none).
	PoWDifficulty int

	// Clock is the time source of Pipeline.Check (nil: time.Now).
	Clock func() time.Time
}

// PresetOpen ("let it fly") checks only what every stored event must pass:
// integrity, schema and the timestamp window.
func PresetOpen() Config {
	return Config{Preset: PresetNameOpen}
}

// PresetStandard is the default: the open checks, plus duplicates, a quota
// of 5 live records and 20 deletions per author, bad words, no links in
// text, https links of at most 1024 bytes, and texts of at most 2000
// characters.
func PresetStandard() Config {
	return Config{
		Preset:        PresetNameStandard,
		MaxTextRunes:  2000,
		Duplicates:    true,
		AuthorQuota:   DefaultAuthorQuota,
		DeletionQuota: DefaultDeletionQuota,
		BadWords:      true,
		NoLinkInText:  true,
		LinkPolicy:    true,
	}
}

// PresetStrict ("Fort Knox") is the standard preset with 16 KiB records of
// at most 8 tags, texts of at most 500 characters, 5 minutes of clock skew,
// 3 live records and 10 deletions per author, links only to hosts in
// LinkAllowHosts (none until configured) of at most 512 bytes, and a NIP-13
// proof of work of 16 bits on every record and deletion (which a node's own
// writes mine: see Mine).
func PresetStrict() Config {
	c := PresetStandard()
	c.Preset = PresetNameStrict
	c.Limits = record.Limits{MaxRecordBytes: 16 << 10, MaxTags: 8, MaxTagFields: 4, MaxTagValueBytes: 1024}
	c.MaxTextRunes = 500
	c.MaxFutureSkew = 5 * time.Minute
	c.AuthorQuota = 3
	c.DeletionQuota = 10
	c.RequireLinkAllowList = true
	c.MaxLinkBytes = 512
	c.PoWDifficulty = 16
	return c
}

// DefaultConfig returns the standard preset.
func DefaultConfig() Config { return PresetStandard() }

// PresetNames lists the presets from open to strict.
func PresetNames() []string {
	return []string{PresetNameOpen, PresetNameStandard, PresetNameStrict}
}

// Preset returns the preset called name ("open", "standard" or "strict").
func Preset(name string) (Config, error) {
	switch name {
	case PresetNameOpen:
		return PresetOpen(), nil
	case PresetNameStandard:
		return PresetStandard(), nil
	case PresetNameStrict:
		return PresetStrict(), nil
	}
	return Config{}, fmt.Errorf("failed to select preset: unknown preset %q (want one of %q)", name, PresetNames())
}

// withDefaults fills the knobs left at zero.
func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.MaxLinkBytes == 0 {
		c.MaxLinkBytes = DefaultMaxLinkBytes
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.BadWordList = slices.Clone(c.BadWordList)
	c.ExtraBadWords = slices.Clone(c.ExtraBadWords)
	c.AllowedWords = slices.Clone(c.AllowedWords)
	c.LinkTLDs = slices.Clone(c.LinkTLDs)
	c.LinkAllowHosts = slices.Clone(c.LinkAllowHosts)
	return c
}

func (c Config) validate() error {
	switch {
	case c.RoomID == "":
		return fmt.Errorf("no RoomID")
	case c.MaxTextRunes < 0:
		return fmt.Errorf("MaxTextRunes %d is negative", c.MaxTextRunes)
	case c.MaxFutureSkew < 0:
		return fmt.Errorf("MaxFutureSkew %v is negative", c.MaxFutureSkew)
	case c.Retention < 0:
		return fmt.Errorf("retention %v is negative", c.Retention)
	case c.AuthorQuota < 0:
		return fmt.Errorf("AuthorQuota %d is negative", c.AuthorQuota)
	case c.DeletionQuota < 0:
		return fmt.Errorf("DeletionQuota %d is negative", c.DeletionQuota)
	case c.MaxLinkBytes < 0:
		return fmt.Errorf("MaxLinkBytes %d is negative", c.MaxLinkBytes)
	case c.PoWDifficulty < 0 || c.PoWDifficulty > 256:
		return fmt.Errorf("PoWDifficulty %d is outside 0..256", c.PoWDifficulty)
	}
	return nil
}

// NewPipeline builds the pipeline a Config describes, followed by the
// custom rules. Integrity runs first, so that nothing judges an event by an
// id, a time or an author it merely claims; then the cheap rules:
//
//	integrity, schema, timestamp, proof-of-work, duplicate,
//	bad-words, no-link-in-text, link-policy, custom rules...
//
// Rules that are switched off are left out. The choices among events that
// each pass (an author's quota, duplicate content, deletions) are not rules
// but the Policy that the store's index applies (Config.Policy).
func NewPipeline(cfg Config, custom ...Rule) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to build pipeline: %w", err)
	}
	rules := []Rule{
		IntegrityRule(cfg.RoomID),
		SchemaRule(cfg.Limits, cfg.MaxTextRunes),
		TimestampRule(cfg.MaxFutureSkew, cfg.Retention),
	}
	if cfg.PoWDifficulty > 0 {
		rules = append(rules, ProofOfWorkRule(cfg.PoWDifficulty))
	}
	if cfg.Duplicates {
		rules = append(rules, DuplicateRule())
	}
	if cfg.BadWords {
		list := cfg.BadWordList
		if list == nil {
			list = DefaultBadWords()
		}
		rules = append(rules, BadWordsRule(NewWordFilter(list, cfg.ExtraBadWords, cfg.AllowedWords)))
	}
	if cfg.NoLinkInText {
		tlds := cfg.LinkTLDs
		if tlds == nil {
			tlds = DefaultTLDs()
		}
		rules = append(rules, NoLinkInTextRule(NewLinkScanner(tlds)))
	}
	if cfg.LinkPolicy {
		policy := LinkPolicy{AllowHosts: cfg.LinkAllowHosts, RequireAllowList: cfg.RequireLinkAllowList, MaxBytes: cfg.MaxLinkBytes}
		if err := policy.validate(); err != nil {
			return nil, fmt.Errorf("failed to build pipeline: %w", err)
		}
		rules = append(rules, LinkPolicyRule(policy))
	}
	builtin := len(rules)
	for _, r := range custom {
		if r == nil || r.Name() == "" {
			return nil, fmt.Errorf("failed to build pipeline: a custom rule has no name")
		}
		if slices.Contains(names(rules), r.Name()) {
			return nil, fmt.Errorf("failed to build pipeline: two rules are named %q", r.Name())
		}
		rules = append(rules, customRule{r})
	}
	return &Pipeline{rules: rules, builtin: builtin, cfg: cfg, clock: cfg.Clock}, nil
}

// Policy returns the choices among competing events that a store's index
// applies under this config.
func (c Config) Policy() Policy {
	return Policy{Duplicates: c.Duplicates, AuthorQuota: c.AuthorQuota, DeletionQuota: c.DeletionQuota}
}

// Digest identifies the rules a Config describes (every knob that decides what
// is stored, with defaults filled in; not the preset's name or the clock),
// and the names of custom rules: two peers with equal digests keep the same
// set from the same events. It is 32 hex digits. Custom rules are identified
// only by name, so that rules which differ under one name go unnoticed.
func (c Config) Digest(customRuleNames ...string) string {
	c = c.withDefaults()
	norm := func(list []string) []string {
		out := slices.Clone(list)
		slices.Sort(out)
		return out
	}
	type digested struct {
		Room                                     string
		Limits                                   record.Limits
		MaxTextRunes                             int
		MaxFutureSkew, Retention                 time.Duration
		Duplicates                               bool
		AuthorQuota, DeletionQuota               int
		BadWords                                 bool
		BadWordList, ExtraBadWords, AllowedWords []string
		DefaultWords                             bool
		NoLinkInText                             bool
		LinkTLDs                                 []string
		DefaultTLDs                              bool
		LinkPolicy, RequireLinkAllowList         bool
		LinkAllowHosts                           []string
		MaxLinkBytes, PoWDifficulty              int
		Custom                                   []string
	}
	b, _ := json.Marshal(digested{
		Room: c.RoomID, Limits: c.Limits, MaxTextRunes: c.MaxTextRunes, MaxFutureSkew: c.MaxFutureSkew, Retention: c.Retention,
		Duplicates: c.Duplicates, AuthorQuota: c.AuthorQuota, DeletionQuota: c.DeletionQuota,
		BadWords: c.BadWords, BadWordList: norm(c.BadWordList), ExtraBadWords: norm(c.ExtraBadWords), AllowedWords: norm(c.AllowedWords),
		DefaultWords: c.BadWordList == nil, NoLinkInText: c.NoLinkInText, LinkTLDs: norm(c.LinkTLDs), DefaultTLDs: c.LinkTLDs == nil,
		LinkPolicy: c.LinkPolicy, RequireLinkAllowList: c.RequireLinkAllowList, LinkAllowHosts: norm(c.LinkAllowHosts),
		MaxLinkBytes: c.MaxLinkBytes, PoWDifficulty: c.PoWDifficulty, Custom: customRuleNames,
	})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func names(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.Name()
	}
	return out
}

// Digest returns the Config.Digest of the pipeline's rules, custom rules
// included.
func (p *Pipeline) Digest() string {
	var custom []string
	for _, r := range p.rules[p.builtin:] {
		custom = append(custom, r.Name())
	}
	return p.cfg.Digest(custom...)
}

// Policy returns the pipeline's Config.Policy.
func (p *Pipeline) Policy() Policy { return p.cfg.Policy() }

// Retention returns how long the pipeline keeps records.
func (p *Pipeline) Retention() time.Duration {
	if p.cfg.Retention > 0 {
		return p.cfg.Retention
	}
	return DefaultRetention
}
