package main

// Custom moderation rules written in JavaScript (open({ moderation: { rules:
// [{ name, check }] } })). A rule's check is a function, and functions
// cannot cross from the page to the engine's worker: the engine asks the
// page to judge records, a batch per round trip (moderation.Preparer: the
// facade calls Prepare with each ingest batch before it takes its lock), and
// answers each rule's Check from the verdicts the page gave. Every round
// trip is bounded in records, bytes and time: a page that does not answer
// within the rule timeout refuses the batch's records for now (see
// pageJudge.prepare).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// Bounds of the custom rules and of the page's judging.
const (
	maxCustomRules     = 32
	maxRuleNameBytes   = 64
	judgeBatchMax      = 256     // records per round trip to the page
	judgeBatchBytes    = 1 << 20 // JSON bytes per round trip (a larger record goes alone)
	judgeCacheSize     = 16384   // verdicts remembered by record id
	maxReasonBytes     = 500     // a rule's reason is cut to this
	defaultRuleTimeout = 5 * time.Second
	// maxRuleTimeout stays below the session's round and want timeouts
	// (15 s): while the page judges a batch, the session with the peer that
	// sent it waits.
	maxRuleTimeout = 10 * time.Second
	// signerTimeout bounds one request to a NIP-07 signer: it may ask the
	// user, who may take a while to answer.
	signerTimeout = 2 * time.Minute
)

// builtinRuleNames are the names custom rules may not take.
var builtinRuleNames = []string{
	moderation.RuleSchema, moderation.RuleTimestamp, moderation.RuleProofOfWork, moderation.RuleDuplicate,
	moderation.RuleIntegrity, moderation.RuleAuthorQuota, moderation.RuleBadWords, moderation.RuleNoLinkInText,
	moderation.RuleLinkPolicy,
}

// ruleJSON is a custom rule as the engine sees it: its name (the check
// stays on the page).
type ruleJSON struct {
	Name string `json:"name"`
}

// checkRuleNames checks the custom rules' names: non-empty, at most
// maxRuleNameBytes of printable text, unique, and not a built-in rule's.
func checkRuleNames(rules []ruleJSON) error {
	if len(rules) > maxCustomRules {
		return fmt.Errorf("moderation.rules has %d rules: at most %d", len(rules), maxCustomRules)
	}
	seen := map[string]bool{}
	for i, r := range rules {
		switch {
		case strings.TrimSpace(r.Name) == "":
			return fmt.Errorf("moderation.rules[%d] needs a name: { name: 'no-shouting', check }", i)
		case len(r.Name) > maxRuleNameBytes || !utf8.ValidString(r.Name) || strings.ContainsFunc(r.Name, func(c rune) bool { return c < 0x20 || c == 0x7f }):
			return fmt.Errorf("moderation.rules[%d]: the name %q must be printable text of at most %d bytes", i, r.Name, maxRuleNameBytes)
		case slices.Contains(builtinRuleNames, r.Name):
			return fmt.Errorf("moderation.rules[%d]: %q is the name of a built-in rule: pick another name", i, r.Name)
		case seen[r.Name]:
			return fmt.Errorf("moderation.rules: two rules are named %q: names must be unique (a refusal names its rule)", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// pageCall asks the page to run op with a JSON argument and returns its
// JSON answer; the page's side gives up after timeout.
type pageCall func(ctx context.Context, op, arg string, timeout time.Duration) (string, error)

// judged is the page's verdict on one record: refused by rules[rule] for
// reason, accepted (rule < 0), or not judged (transient: the page did not
// answer, its answer was unreadable).
type judged struct {
	rule      int
	reason    string
	transient bool
}

// pageJudge asks the page to judge records and remembers the verdicts by
// record id: a rule must be a pure function of the record, so a record sent
// again by another peer is not judged again.
type pageJudge struct {
	ctx     context.Context
	call    pageCall
	names   []string
	timeout time.Duration

	mu    sync.Mutex
	cache map[[32]byte]judged
	order [][32]byte // FIFO of cache's keys
}

func newPageJudge(ctx context.Context, call pageCall, rules []ruleJSON, timeout time.Duration) *pageJudge {
	j := &pageJudge{ctx: ctx, call: call, timeout: timeout, cache: map[[32]byte]judged{}}
	if j.timeout <= 0 {
		j.timeout = defaultRuleTimeout
	}
	for _, r := range rules {
		j.names = append(j.names, r.Name)
	}
	return j
}

// rules returns one moderation rule per custom rule, in order.
func (j *pageJudge) rules() []moderation.Rule {
	out := make([]moderation.Rule, len(j.names))
	for i := range j.names {
		out[i] = pageRule{j: j, i: i}
	}
	return out
}

func (j *pageJudge) lookup(id [32]byte) (judged, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.cache[id]
	return v, ok
}

func (j *pageJudge) remember(id [32]byte, v judged) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.cache[id]; !ok {
		if len(j.order) >= judgeCacheSize {
			delete(j.cache, j.order[0])
			j.order = j.order[1:]
		}
		j.order = append(j.order, id)
	}
	j.cache[id] = v
}

// prepare has the page judge the records among events that it has not
// judged yet (deletions and malformed events are not its business: the
// built-in rules handle them), in round trips of at most judgeBatchMax
// records and judgeBatchBytes of JSON, each bounded by the timeout. A round
// trip that fails leaves its records judged transiently: refused for now.
func (j *pageJudge) prepare(events []*record.Event) {
	var batch []*record.Event
	body := []byte{'['}
	flush := func() {
		if len(batch) == 0 {
			return
		}
		j.ask(batch, append(body, ']'))
		batch, body = batch[:0], append(body[:0], '[')
	}
	for _, e := range events {
		if e == nil || e.Kind != record.KindRecord {
			continue
		}
		if v, ok := j.lookup(e.ID); ok && !v.transient {
			continue
		}
		r, err := record.Parse(e)
		if err != nil {
			continue
		}
		rec := appendRecordJSON(nil, r)
		if len(batch) > 0 && (len(batch) >= judgeBatchMax || len(body)+len(rec) > judgeBatchBytes) {
			flush()
		}
		if len(batch) > 0 {
			body = append(body, ',')
		}
		body = append(body, rec...)
		batch = append(batch, e)
	}
	flush()
}

// ask sends one batch to the page and remembers its verdicts. The page
// answers an array with one item per record: null (accepted by every rule)
// or [ruleIndex, reason].
func (j *pageJudge) ask(batch []*record.Event, body []byte) {
	fail := func(why string) {
		for _, e := range batch {
			j.remember(e.ID, judged{rule: 0, transient: true, reason: why})
		}
	}
	ctx, cancel := context.WithTimeout(j.ctx, j.timeout+time.Second) // the page's side times out first
	defer cancel()
	answer, err := j.call(ctx, "judge", string(body), j.timeout)
	if err != nil {
		fail(fmt.Sprintf("the page's custom rules did not judge the record (%v): refused for now; a peer offers it again later", err))
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(answer), &items); err != nil || len(items) != len(batch) {
		fail("the page's custom rules gave an unreadable answer: refused for now")
		return
	}
	for i, raw := range items {
		v := judged{rule: -1}
		if string(raw) != "null" {
			var pair []json.RawMessage
			var idx int
			var reason string
			if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[0], &idx) != nil ||
				json.Unmarshal(pair[1], &reason) != nil || idx < 0 || idx >= len(j.names) {
				v = judged{rule: 0, transient: true, reason: "the page's custom rules gave an unreadable verdict: refused for now"}
			} else {
				v = judged{rule: idx, reason: cutReason(reason)}
			}
		}
		j.remember(batch[i].ID, v)
	}
}

func cutReason(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s == "" {
		return "refused"
	}
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// pageRule is one custom rule: its Check reads the page's verdict.
type pageRule struct {
	j *pageJudge
	i int
}

func (r pageRule) Name() string { return r.j.names[r.i] }

// Prepare judges a batch. Every rule of the page shares one judge and one
// round trip judges a record by all of them: the first rule asks, the
// others have nothing to do (so a page that does not answer costs one
// timeout per batch, not one per rule).
func (r pageRule) Prepare(events []*record.Event) {
	if r.i == 0 {
		r.j.prepare(events)
	}
}

func (r pageRule) Check(c *moderation.Context, e *record.Event) moderation.Verdict {
	if e.Kind != record.KindRecord || c.Record(e) == nil {
		return moderation.Accept()
	}
	v, ok := r.j.lookup(e.ID)
	switch {
	case !ok:
		if r.i != 0 {
			return moderation.Accept() // the first rule refused it already
		}
		// Not prepared (a verdict forgotten under pressure): never a round
		// trip under the facade's lock.
		return moderation.Verdict{Reason: "not judged by the page's custom rules yet: refused for now", Harmless: true}
	case v.transient:
		if r.i != 0 {
			return moderation.Accept()
		}
		return moderation.Verdict{Reason: v.reason, Harmless: true}
	case v.rule == r.i:
		return moderation.Reject(v.reason)
	}
	return moderation.Accept()
}

// pageSigner is a NIP-07 signer that lives on the page (window.nostr or
// any object with getPublicKey and signEvent): the engine asks the page,
// which asks the signer.
type pageSigner struct {
	call pageCall
}

// nip07Template is the event a NIP-07 signer is asked to sign.
type nip07Template struct {
	Kind      int        `json:"kind"`
	CreatedAt int64      `json:"created_at"`
	Tags      [][]string `json:"tags"`
	Content   string     `json:"content"`
	PubKey    string     `json:"pubkey"`
}

func (s pageSigner) PublicKey(ctx context.Context) (record.PublicKey, error) {
	answer, err := s.call(ctx, "publicKey", "", signerTimeout)
	if err != nil {
		return record.PublicKey{}, err
	}
	var key string
	if err := json.Unmarshal([]byte(answer), &key); err != nil {
		return record.PublicKey{}, errors.New("getPublicKey() did not return a string")
	}
	key = strings.TrimSpace(key)
	if strings.HasPrefix(key, "npub1") {
		return record.DecodeNpub(key)
	}
	pk, err := record.ParsePublicKeyHex(key)
	if err != nil {
		return record.PublicKey{}, fmt.Errorf("getPublicKey() returned %q, not a public key in hex: %w", shorten(key), err)
	}
	return pk, nil
}

func (s pageSigner) SignEvent(ctx context.Context, e *record.Event) (*record.Event, error) {
	tags := e.Tags
	if tags == nil {
		tags = [][]string{}
	}
	tmpl, err := json.Marshal(nip07Template{Kind: e.Kind, CreatedAt: e.CreatedAt, Tags: tags, Content: e.Content, PubKey: e.PubKey.Hex()})
	if err != nil {
		return nil, err
	}
	answer, err := s.call(ctx, "signEvent", string(tmpl), signerTimeout)
	if err != nil {
		return nil, err
	}
	signed, err := record.ParseEvent([]byte(answer), 2*len(tmpl)+4096)
	if err != nil {
		return nil, fmt.Errorf("signEvent() returned something other than a signed event: %w", err)
	}
	return signed, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
