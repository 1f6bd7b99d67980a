package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
)

// fakePage judges records as a page's rules would: rule 0 refuses
// capitals, rule 1 "throws" on "boom"; it counts the round trips.
type fakePage struct {
	mu     sync.Mutex
	trips  int
	sizes  []int
	stall  bool
	signer *record.SecretKey
	refuse bool // the signer says no
}

func (p *fakePage) call(ctx context.Context, op, arg string, timeout time.Duration) (string, error) {
	p.mu.Lock()
	p.trips++
	stall := p.stall
	p.mu.Unlock()
	switch op {
	case "judge":
		if stall {
			select {
			case <-time.After(timeout):
				return "", fmt.Errorf("the page did not answer judge within %v", timeout)
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		var recs []struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal([]byte(arg), &recs); err != nil {
			return "", err
		}
		p.mu.Lock()
		p.sizes = append(p.sizes, len(recs))
		p.mu.Unlock()
		out := make([]any, len(recs))
		for i, r := range recs {
			switch {
			case len(r.Text) > 3 && strings.ToUpper(r.Text) == r.Text:
				out[i] = []any{0, "no shouting"}
			case strings.Contains(r.Text, "boom"):
				out[i] = []any{1, "cannot handle boom"}
			}
		}
		b, _ := json.Marshal(out)
		return string(b), nil
	case "publicKey":
		return fmt.Sprintf("%q", p.signer.Public().Hex()), nil
	case "signEvent":
		if p.refuse {
			return "", errors.New("the user said no")
		}
		var tmpl nip07Template
		if err := json.Unmarshal([]byte(arg), &tmpl); err != nil {
			return "", err
		}
		e := &record.Event{Kind: tmpl.Kind, CreatedAt: tmpl.CreatedAt, Tags: tmpl.Tags, Content: tmpl.Content}
		if err := e.Sign(p.signer); err != nil {
			return "", err
		}
		return string(e.AppendJSON(nil)), nil
	}
	return "", fmt.Errorf("unknown op %s", op)
}

func openWithPage(t *testing.T, p *fakePage, options string) *peerset.DB {
	t.Helper()
	o, err := parseOpenOptions(options)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Moderation.Rules) > 0 {
		cfg.Rules = newPageJudge(context.Background(), p.call, o.Moderation.Rules, millis(o.Moderation.RuleTimeout)).rules()
	}
	if o.Signer {
		cfg.Signer = pageSigner{call: p.call}
	}
	db, err := peerset.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

const twoRules = `{"room":"r","moderation":{"preset":"open","rules":[{"name":"no-shouting"},{"name":"throws"}]}}`

func TestPageRulesRefuseLocalAndPeersRecords(t *testing.T) {
	ctx := context.Background()
	p := &fakePage{}
	db := openWithPage(t, p, twoRules)
	for _, c := range []struct{ text, rule, reason string }{
		{"HELLO THERE", "no-shouting", "no shouting"},
		{"boom", "throws", "cannot handle boom"},
		{"hello", "", ""},
	} {
		_, err := db.Put(ctx, record.Draft{Text: c.text})
		if c.rule == "" {
			if err != nil {
				t.Fatalf("put %q: %v", c.text, err)
			}
			continue
		}
		info := describeError(err)
		if info.Code != codeRejected || info.Rule != c.rule || info.Reason != c.reason {
			t.Errorf("put %q: %+v, want rule %s reason %q", c.text, info, c.rule, c.reason)
		}
	}

	// A peer's batch of 600 records: judged in round trips of at most
	// judgeBatchMax, each record once.
	sk, _ := record.GenerateKey()
	var events []*record.Event
	for i := range 600 {
		text := fmt.Sprintf("peer record %d", i)
		if i%100 == 0 {
			text = fmt.Sprintf("PEER SHOUTS %d", i)
		}
		e, err := record.New(record.Draft{Text: text}, sk, db.RoomID(), record.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	p.mu.Lock()
	p.trips, p.sizes = 0, nil
	p.mu.Unlock()
	out := db.Ingest(ctx, peerset.Origin{PeerID: "peer"}, events)
	refused := 0
	for i, o := range out {
		if o.Err != nil {
			refused++
			if rej, ok := moderation.AsRejection(o.Err); !ok || rej.Rule != "no-shouting" || i%100 != 0 {
				t.Errorf("record %d: %v", i, o.Err)
			}
		}
	}
	if refused != 6 {
		t.Errorf("%d refused, want 6", refused)
	}
	p.mu.Lock()
	if p.trips != 3 || p.sizes[0] != judgeBatchMax {
		t.Errorf("%d round trips of %v records, want 3 of at most %d", p.trips, p.sizes, judgeBatchMax)
	}
	p.trips = 0
	p.mu.Unlock()
	db.Ingest(ctx, peerset.Origin{PeerID: "other"}, events) // the same records from another peer
	p.mu.Lock()
	if p.trips != 0 {
		t.Errorf("records judged before were judged again: %d round trips", p.trips)
	}
	p.mu.Unlock()
}

func TestPageRulesThatDoNotAnswerRefuseForNow(t *testing.T) {
	p := &fakePage{stall: true}
	db := openWithPage(t, p, `{"room":"r","moderation":{"preset":"open","ruleTimeout":50,"rules":[{"name":"slow"},{"name":"slower"}]}}`)
	done := make(chan error, 1)
	go func() { _, err := db.Put(context.Background(), record.Draft{Text: "hello"}); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a bound on a stall, not a speed claim
		t.Fatal("a rule that never answers stalled the put")
	}
	rej, ok := moderation.AsRejection(err)
	if !ok || rej.Rule != "slow" || !rej.Harmless || !strings.Contains(rej.Reason, "refused for now") {
		t.Fatalf("put with a stalled rule: %v", err)
	}
	p.mu.Lock()
	if p.trips != 1 {
		t.Errorf("a stalled page was asked %d times for one put, want once", p.trips)
	}
	p.stall = false
	p.mu.Unlock()
	if _, err := db.Put(context.Background(), record.Draft{Text: "hello again"}); err != nil {
		t.Fatalf("once the page answers: %v", err)
	}
}

func TestPageSigner(t *testing.T) {
	sk, _ := record.GenerateKey()
	p := &fakePage{signer: sk}
	db := openWithPage(t, p, `{"room":"r","signer":true,"moderation":"open"}`)
	if db.Key() != sk.Public() || db.KeyStorage() != peerset.KeySignerHeld {
		t.Fatalf("key %s storage %s", db.Key().Npub(), db.KeyStorage())
	}
	r, err := db.Put(context.Background(), record.Draft{Text: "signed on the page"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Author != sk.Public() || r.Event.Verify() != nil {
		t.Errorf("record %+v", r.Event)
	}
	p.refuse = true
	_, err = db.Put(context.Background(), record.Draft{Text: "refused"})
	if info := describeError(err); info.Code != codeSigner || !strings.Contains(info.Message, "the user said no") || strings.Contains(info.Message, "peerset: peerset:") {
		t.Errorf("a signer that says no: %+v", info)
	}
	// A signer that signs with another key is caught.
	p.refuse, p.signer = false, mustKey(t)
	if _, err := db.Put(context.Background(), record.Draft{Text: "wrong key"}); describeError(err).Code != codeSigner {
		t.Errorf("a signer that signs as another key: %v", err)
	}
}

func mustKey(t *testing.T) *record.SecretKey {
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestReadOnlyEphemeral(t *testing.T) {
	db := openWithPage(t, &fakePage{}, `{"room":"r","identity":"ephemeral"}`)
	if !db.ReadOnly() || keyOf(db) != "" {
		t.Fatalf("ephemeral without a key: read-only %v key %q", db.ReadOnly(), keyOf(db))
	}
	_, err := db.Put(context.Background(), record.Draft{Text: "x"})
	if info := describeError(err); info.Code != codeReadOnly {
		t.Errorf("put on a read-only node: %+v", info)
	}
}

func TestModerationOptionsRefuseBadInput(t *testing.T) {
	for _, opts := range []string{
		`{"room":"r","moderation":{"rules":[{"name":""}]}}`,
		`{"room":"r","moderation":{"rules":[{"name":"a"},{"name":"a"}]}}`,
		`{"room":"r","moderation":{"rules":[{"name":"bad-words"}]}}`,
		`{"room":"r","moderation":{"rules":[{"name":"a\nb"}]}}`,
		`{"room":"r","moderation":{"badWords":[""]}}`,
		`{"room":"r","moderation":{"allowLinkHosts":["https://example.org"]}}`,
		`{"room":"r","moderation":{"retentionDays":0}}`,
		`{"room":"r","moderation":{"retentionDays":100000}}`,
		`{"room":"r","moderation":{"ruleTimeout":-1}}`,
		`{"room":"r","moderation":{"ruleTimeout":10001}}`,
		`{"room":"r","moderation":{"colour":"red"}}`,
		`{"room":"r","identity":"anonymous"}`,
		`{"room":"r","signer":true,"passphrase":"p"}`,
	} {
		o, err := parseOpenOptions(opts)
		if err == nil {
			_, err = o.config()
		}
		if err == nil {
			t.Errorf("%s: accepted", opts)
		}
	}
	o, err := parseOpenOptions(`{"room":"r","moderation":{"preset":"open","badWords":["grapefruit"],"allowLinkHosts":["example.org"],"retentionDays":30,"quota":10}}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Moderation
	if !m.BadWords || m.ExtraBadWords[0] != "grapefruit" || !m.LinkPolicy || m.LinkAllowHosts[0] != "example.org" || m.Retention != 30*24*time.Hour || m.AuthorQuota != 10 {
		t.Errorf("moderation %+v", m)
	}
	db, err := peerset.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for text, rule := range map[string]string{"I hate grapefruit": "bad-words"} {
		if _, err := db.Put(context.Background(), record.Draft{Text: text}); describeError(err).Rule != rule {
			t.Errorf("put %q: %v, want rule %s", text, err, rule)
		}
	}
	if _, err := db.Put(context.Background(), record.Draft{Text: "x", Link: "https://elsewhere.net/"}); describeError(err).Rule != moderation.RuleLinkPolicy {
		t.Errorf("a link to a host not allowed: %v", err)
	}
	if _, err := db.Put(context.Background(), record.Draft{Text: "x", Link: "https://www.example.org/a"}); err != nil {
		t.Errorf("a link to an allowed host: %v", err)
	}
}

func TestNcryptsecAsNsec(t *testing.T) {
	sk := mustKey(t)
	enc, err := record.EncryptKey(sk, "correct horse", 4, record.KeySecurity(0))
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOpenOptions(fmt.Sprintf(`{"room":"r","nsec":%q,"passphrase":"correct horse"}`, enc))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil || cfg.Key == nil || cfg.Key.Public() != sk.Public() || cfg.KeyPassphrase != "" {
		t.Fatalf("an ncryptsec with its passphrase: %v", err)
	}
	o.Passphrase = "wrong"
	if _, err := o.config(); describeError(invalidInput(err)).Code != codeKeyPassphrase {
		t.Errorf("a wrong passphrase: %v", err)
	}
	o.Passphrase = ""
	if _, err := o.config(); describeError(invalidInput(err)).Code != codeKeyPassphrase {
		t.Errorf("no passphrase: %v", err)
	}
}

// slowPageCall judges like js/peerset.js judgeRecords with an async rule of
// 25 ms: one record after the other, all under the call's one timeout.
func slowPageCall(ctx context.Context, op, arg string, timeout time.Duration) (string, error) {
	var recs []json.RawMessage
	if err := json.Unmarshal([]byte(arg), &recs); err != nil {
		return "", err
	}
	need := time.Duration(len(recs)) * 25 * time.Millisecond
	if need > timeout {
		time.Sleep(timeout)
		return "", fmt.Errorf("the page did not answer judge within %v", timeout)
	}
	time.Sleep(need)
	out := make([]any, len(recs))
	b, _ := json.Marshal(out)
	return string(b), nil
}

// TestConcurrentLocalPutsWithAPageRule: 300 puts started together under a
// page rule of 25 ms a record each get their own judging call (and its 5 s
// timeout); grouped into one batch for one store transaction, they shared
// one call and most were refused as unanswered (found in review: 208 of 300).
func TestConcurrentLocalPutsWithAPageRule(t *testing.T) {
	o, err := parseOpenOptions(`{"room":"r","moderation":{"preset":"open","rules":[{"name":"slow-async"}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules = newPageJudge(context.Background(), slowPageCall, o.Moderation.Rules, millis(o.Moderation.RuleTimeout)).rules()
	db, err := peerset.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var failed atomic.Int32
	var example atomic.Value
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			if _, err := db.Put(context.Background(), record.Draft{Text: fmt.Sprintf("record %d", i)}); err != nil {
				failed.Add(1)
				example.Store(err.Error())
			}
		})
	}
	wg.Wait()
	t.Logf("300 puts started together, a page rule of 25 ms a record, timeout 5 s: %d failed (%v)", failed.Load(), example.Load())
	if failed.Load() > 0 {
		t.Errorf("%d local puts refused because their batch's judging exceeded the timeout", failed.Load())
	}
}
