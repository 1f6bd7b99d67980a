package main

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// Bounds of the moderation options a page may pass.
const (
	maxBadWords       = 10_000
	maxBadWordBytes   = 100
	maxLinkHosts      = 1_000
	maxLinkHostBytes  = 253
	maxRetentionDays  = 3650
	minRetentionHours = 1
)

// applyExtras adds badWords, allowLinkHosts and retentionDays to cfg, and
// checks the custom rules' names and timeout.
func (m moderationJSON) applyExtras(cfg *moderation.Config) error {
	if len(m.BadWords) > maxBadWords {
		return fmt.Errorf("moderation.badWords has %d words: at most %d", len(m.BadWords), maxBadWords)
	}
	for _, w := range m.BadWords {
		if w = strings.TrimSpace(w); w == "" || len(w) > maxBadWordBytes {
			return fmt.Errorf("moderation.badWords: %q is not a word (1 to %d bytes)", w, maxBadWordBytes)
		}
	}
	if len(m.BadWords) > 0 {
		cfg.BadWords = true
		cfg.ExtraBadWords = append(cfg.ExtraBadWords, m.BadWords...)
	}
	if len(m.AllowLinkHosts) > maxLinkHosts {
		return fmt.Errorf("moderation.allowLinkHosts has %d hosts: at most %d", len(m.AllowLinkHosts), maxLinkHosts)
	}
	for _, h := range m.AllowLinkHosts {
		if h == "" || len(h) > maxLinkHostBytes || strings.ContainsAny(h, "/:@ \t\r\n?#") {
			return fmt.Errorf("moderation.allowLinkHosts: %q is not a host name: give names like \"example.org\" (no scheme, port or path)", h)
		}
	}
	if len(m.AllowLinkHosts) > 0 {
		cfg.LinkPolicy = true
		cfg.LinkAllowHosts = append(cfg.LinkAllowHosts, m.AllowLinkHosts...)
	}
	if m.RetentionDays != nil {
		d := *m.RetentionDays
		if math.IsNaN(d) || d*24 < minRetentionHours || d > maxRetentionDays {
			return fmt.Errorf("moderation.retentionDays must be between %g and %d days, not %g", float64(minRetentionHours)/24, maxRetentionDays, d)
		}
		cfg.Retention = time.Duration(d * float64(24*time.Hour))
	}
	if err := checkRuleNames(m.Rules); err != nil {
		return err
	}
	if t := millis(m.RuleTimeout); t < 0 || t > maxRuleTimeout {
		return fmt.Errorf("moderation.ruleTimeout must be between 0 (the default, %v) and %d ms", defaultRuleTimeout, maxRuleTimeout.Milliseconds())
	}
	return nil
}

// Identities a page may pass as open({ identity }).
const (
	identityAuthor    = "author"
	identityEphemeral = "ephemeral"
)

// applyIdentity sets who signs (open({ signer })) and which key the
// handshake proves (open({ identity })). The signer itself is attached by
// the handle (it lives on the page).
func (o openOptions) applyIdentity(cfg *peerset.Config) error {
	switch o.Identity {
	case "", identityAuthor:
	case identityEphemeral:
		cfg.Identity = peerset.IdentityEphemeral
	default:
		return fmt.Errorf("unknown identity %q: use %q (the default: handshakes prove this node's key) or %q (a fresh key per connection)", o.Identity, identityAuthor, identityEphemeral)
	}
	if o.Signer && (o.Nsec != "" || o.Passphrase != "") {
		return fmt.Errorf("open({ signer }) signs with the signer's key: pass no nsec and no passphrase with it")
	}
	return nil
}

// keyOf is what db.key says: the npub records are signed with, or "" for
// a read-only node (an ephemeral identity without a key or signer).
func keyOf(db *peerset.DB) string {
	if db.ReadOnly() {
		return ""
	}
	return db.Key().Npub()
}

// decryptNcryptsec opens an ncryptsec (NIP-49) given as open({ nsec }) with
// the passphrase: the key is then used as an nsec would be (kept nowhere).
func decryptNcryptsec(ncryptsec, passphrase string) (*record.SecretKey, error) {
	if passphrase == "" {
		return nil, fmt.Errorf("%w: an ncryptsec needs its passphrase: open({ nsec: 'ncryptsec1…', passphrase })", peerset.ErrKeyPassphrase)
	}
	sk, _, err := record.DecryptKey(ncryptsec, passphrase)
	switch {
	case errors.Is(err, record.ErrWrongPassword):
		return nil, fmt.Errorf("%w: the passphrase does not open this ncryptsec", peerset.ErrKeyPassphrase)
	case err != nil:
		return nil, fmt.Errorf("the ncryptsec given to open() cannot be read (%w): pass the ncryptsec1… text as it was exported", err)
	}
	return sk, nil
}
