package moderation

import (
	"errors"
	"fmt"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Names of the built-in rules. They are stable: error messages and the
// JavaScript API report them.
const (
	RuleSchema       = "schema"
	RuleTimestamp    = "timestamp"
	RuleProofOfWork  = "proof-of-work"
	RuleDuplicate    = "duplicate"
	RuleIntegrity    = "integrity"
	RuleAuthorQuota  = "author-quota"
	RuleBadWords     = "bad-words"
	RuleNoLinkInText = "no-link-in-text"
	RuleLinkPolicy   = "link-policy"
)

// ErrRejected matches every *Rejection with errors.Is.
var ErrRejected = errors.New("rejected by moderation")

// Verdict is a rule's decision about one event.
type Verdict struct {
	Accept bool
	Rule   string // name of the rule that decided; the pipeline fills it in
	Reason string // why the event was rejected; empty when accepted
	// Harmless marks a rejection that honest peers cause during normal sync
	// (already stored, a stale version, past retention, a quota or duplicate
	// seen in another order). Callers should not strike the sender for it.
	Harmless bool
	Err      error // optional underlying cause, e.g. record.ErrBadSignature

	verified     bool // the rejected event is known to be authentic (see Rejection.Verified)
	dependsOnSet bool // see Rejection.DependsOnSet
}

// Accept is the verdict of a rule that lets the event through.
func Accept() Verdict { return Verdict{Accept: true} }

// Reject is the verdict of a rule that refuses the event for reason.
func Reject(reason string) Verdict { return Verdict{Reason: reason} }

// Rejectf is Reject with a formatted reason.
func Rejectf(format string, args ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, args...)}
}

// RejectErr refuses the event because of err, which the Rejection wraps.
func RejectErr(err error) Verdict { return Verdict{Reason: err.Error(), Err: err} }

// harmless returns v marked as a harmless rejection.
func (v Verdict) harmless() Verdict { v.Harmless = true; return v }

// stateful returns v marked as a rejection that depends on what is stored.
func (v Verdict) stateful() Verdict { v.dependsOnSet = true; return v }

// Rejection is the error returned by Pipeline.Check for a refused event.
// Use errors.As to read the rule's name, errors.Is(err, ErrRejected) to tell
// it from other errors, and errors.Is with a record sentinel (e.g.
// record.ErrBadSignature) to learn the underlying cause when there is one.
type Rejection struct {
	Rule     string
	Reason   string
	Harmless bool  // see Verdict.Harmless
	Err      error // the underlying cause, if any
	// Verified: the event's id and signature were checked before it was
	// refused, so the refusal is a fact about that very event. Only such
	// refusals may be remembered by id: anyone can send a forged copy that
	// claims a real event's id.
	Verified bool
	// DependsOnSet: the refusal depends on what is stored (a stale version, a
	// quota, a duplicate) and may change when the author's events change
	// (see MemoryIndex.AuthorEpoch). Other refusals are facts about the event
	// alone under these rules.
	DependsOnSet bool
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("rejected by rule %q: %s", r.Rule, r.Reason)
}

// Is makes errors.Is(err, ErrRejected) true for every Rejection.
func (r *Rejection) Is(target error) bool { return target == ErrRejected }

// Unwrap returns the underlying cause, if any.
func (r *Rejection) Unwrap() error { return r.Err }

// AsRejection returns the *Rejection inside err, if there is one.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	ok := errors.As(err, &r)
	return r, ok
}

// Context is what a rule may consult besides the event: the current time
// and the caller's view of what is stored. The pipeline makes one per event.
type Context struct {
	Now   time.Time
	Index Index // never nil inside a pipeline
	// SignatureChecked: the caller verified the event's id and signature
	// already (e.g. in parallel, before taking a lock); the integrity rule
	// checks everything else.
	SignatureChecked bool

	parsed   bool
	parsedOf *record.Event
	rec      *record.Record
}

// NewContext makes a Context for running rules directly (tests, tools).
// A nil index is treated as an empty store.
func NewContext(now time.Time, idx Index) *Context {
	if idx == nil {
		idx = emptyIndex{}
	}
	return &Context{Now: now, Index: idx}
}

// Record returns the friendly view of e, parsed once per context, or nil
// if e is not a well-formed record (a deletion, another kind, or malformed:
// the schema rule reports those).
func (c *Context) Record(e *record.Event) *record.Record {
	if c.parsed && c.parsedOf == e {
		return c.rec
	}
	c.parsed, c.parsedOf, c.rec = true, e, nil
	if e.Kind != record.KindRecord || e.CheckWellFormed() != nil {
		return nil
	}
	if r, err := record.Parse(e); err == nil {
		c.rec = r
	}
	return c.rec
}

// Rule is one step of the pipeline.
type Rule interface {
	Name() string
	Check(c *Context, e *record.Event) Verdict
}

type funcRule struct {
	name string
	f    func(c *Context, e *record.Event) Verdict
}

func (r funcRule) Name() string                              { return r.name }
func (r funcRule) Check(c *Context, e *record.Event) Verdict { return r.f(c, e) }

// RuleFunc makes a custom rule named name from a Go function.
func RuleFunc(name string, f func(c *Context, e *record.Event) Verdict) Rule {
	return funcRule{name: name, f: f}
}

// Preparer is a custom rule that judges a batch of events at once, before
// the pipeline checks them one by one: a rule whose every call is costly (a
// rule written in JavaScript, called across threads) keeps the verdicts of
// Prepare and answers Check from them. Callers that check batches call
// Pipeline.Prepare outside their locks, with verified events only (id and
// signature checked): a verdict kept by id must not be given to a forgery
// that claims a real record's id.
type Preparer interface {
	Prepare(events []*record.Event)
}

// customRule runs a custom rule, refusing the event if the rule panics: a
// faulty rule must not take the node down, and refusing is the safe answer.
type customRule struct{ Rule }

func (r customRule) Check(c *Context, e *record.Event) (v Verdict) {
	defer func() {
		if p := recover(); p != nil {
			v = Rejectf("the rule failed: %v", p)
		}
	}()
	return r.Rule.Check(c, e)
}

// HasPreparers reports whether a custom rule judges batches (see Preparer).
func (p *Pipeline) HasPreparers() bool {
	for _, r := range p.rules[p.builtin:] {
		if cr, ok := r.(customRule); ok {
			if _, ok := cr.Rule.(Preparer); ok {
				return true
			}
		}
	}
	return false
}

// Prepare lets the custom rules that are Preparers judge events at once
// (see Preparer); a panic in one is ignored (its Check refuses then).
func (p *Pipeline) Prepare(events []*record.Event) {
	for _, r := range p.rules[p.builtin:] {
		cr, ok := r.(customRule)
		if !ok {
			continue
		}
		if pr, ok := cr.Rule.(Preparer); ok {
			func() {
				defer func() { _ = recover() }()
				pr.Prepare(events)
			}()
		}
	}
}

// Pipeline runs rules in order and stops at the first rejection. It does
// not change after construction and is safe for concurrent use when its
// Index is.
type Pipeline struct {
	rules   []Rule
	builtin int // rules[:builtin] come from cfg; the rest are custom
	cfg     Config
	clock   func() time.Time
}

// NewPipelineOf builds a pipeline from rules alone, with the clock time.Now;
// NewPipeline builds one from a Config.
func NewPipelineOf(rules ...Rule) *Pipeline {
	return &Pipeline{rules: rules, clock: time.Now}
}

// Rules returns the names of the pipeline's rules in the order they run.
func (p *Pipeline) Rules() []string {
	names := make([]string, len(p.rules))
	for i, r := range p.rules {
		names[i] = r.Name()
	}
	return names
}

// Config returns the configuration the pipeline was built from, with its
// defaults filled in (the zero Config for NewPipelineOf).
func (p *Pipeline) Config() Config { return p.cfg }

// Check runs the rules on e at the pipeline clock's current time and
// returns nil if every rule accepts it, or a *Rejection from the first rule
// that refuses it. idx is the caller's view of the store; nil means empty.
func (p *Pipeline) Check(e *record.Event, idx Index) error {
	return p.CheckAt(p.clock(), e, idx)
}

// CheckAt is Check at the time now.
func (p *Pipeline) CheckAt(now time.Time, e *record.Event, idx Index) error {
	return p.check(now, e, idx, false)
}

// CheckVerifiedAt is CheckAt for an event whose id and signature the caller
// has verified (record.Event.Verify): the integrity rule does not verify the
// signature again.
func (p *Pipeline) CheckVerifiedAt(now time.Time, e *record.Event, idx Index) error {
	return p.check(now, e, idx, true)
}

func (p *Pipeline) check(now time.Time, e *record.Event, idx Index, signatureChecked bool) error {
	if e == nil {
		return &Rejection{Rule: RuleSchema, Reason: "no event"}
	}
	c := NewContext(now, idx)
	c.SignatureChecked = signatureChecked
	verified := false
	for _, r := range p.rules {
		v := r.Check(c, e)
		if v.Accept {
			_, isIntegrity := r.(integrityRule)
			verified = verified || isIntegrity
			continue
		}
		if v.Rule == "" {
			v.Rule = r.Name()
		}
		if v.Reason == "" {
			v.Reason = "no reason given"
		}
		return &Rejection{Rule: v.Rule, Reason: v.Reason, Harmless: v.Harmless, Err: v.Err,
			Verified: verified || v.verified, DependsOnSet: v.dependsOnSet}
	}
	return nil
}
