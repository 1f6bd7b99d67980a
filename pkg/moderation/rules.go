package moderation

import (
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/peersetdb/peerset/pkg/record"
)

// SchemaRule ("schema") accepts only well-formed records and deletions
// within limits, and plain texts of at most maxTextRunes characters
// (0: no text limit). The room is left to the integrity rule.
func SchemaRule(limits record.Limits, maxTextRunes int) Rule {
	return RuleFunc(RuleSchema, func(c *Context, e *record.Event) Verdict {
		if err := record.CheckLimits(e, limits); err != nil {
			return RejectErr(err)
		}
		// The event's own room tag: a foreign room is the integrity rule's
		// finding, so that schema only judges the shape.
		if err := record.CheckStructure(e, e.TagValue(record.TagRoom)); err != nil {
			return RejectErr(err)
		}
		if maxTextRunes > 0 {
			if r := c.Record(e); r != nil && r.MediaType == record.MediaTypeText {
				if n := utf8.RuneCountInString(r.Text); n > maxTextRunes {
					return Rejectf("text has %d characters, over the limit of %d", n, maxTextRunes)
				}
			}
		}
		return Accept()
	})
}

// TimestampRule ("timestamp") refuses events created more than maxSkew in
// the future or more than retention ago (see Expired). The second case is
// harmless: it happens to honest peers near the retention boundary.
func TimestampRule(maxSkew, retention time.Duration) Rule {
	return RuleFunc(RuleTimestamp, func(c *Context, e *record.Event) Verdict {
		now := c.Now.Unix()
		if ahead := e.CreatedAt - now; ahead > int64(maxSkew/time.Second) {
			return Rejectf("created_at is %v in the future, more than the allowed clock skew of %v",
				time.Duration(ahead)*time.Second, maxSkew)
		}
		if Expired(c.Now, e.CreatedAt, retention) {
			return Rejectf("created_at %s is older than the retention of %v",
				time.Unix(e.CreatedAt, 0).UTC().Format(time.RFC3339), retention).harmless()
		}
		return Accept()
	})
}

// IntegrityRule ("integrity") checks that the event is authentic and
// belongs to the room roomID: well formed, its id the hash of its content,
// its signature valid for its author, its structure and room tag right. The
// rejection wraps the record sentinel (record.ErrIDMismatch,
// record.ErrBadSignature, record.ErrWrongRoom, ...). NewPipeline runs it
// first, so that no rule judges an event by an id, a time or an author it
// merely claims. An event whose id checks out and is already stored is
// refused as a harmless duplicate before its signature is checked: the
// stored copy was verified, and the id is the hash of the very same bytes.
func IntegrityRule(roomID string) Rule { return integrityRule{roomID: roomID} }

type integrityRule struct{ roomID string }

func (integrityRule) Name() string { return RuleIntegrity }

func (r integrityRule) Check(c *Context, e *record.Event) Verdict {
	if err := e.CheckWellFormed(); err != nil {
		return RejectErr(err)
	}
	if id := e.ComputeID(); id != e.ID {
		return RejectErr(fmt.Errorf("%w: id %x…, the content hashes to %x…", record.ErrIDMismatch, e.ID[:4], id[:4]))
	}
	if c.Index.Has(e.ID) {
		v := Rejectf("event %s is already stored", shortID(e.ID)).harmless().stateful()
		v.Rule, v.verified = RuleDuplicate, true
		return v
	}
	if !c.SignatureChecked {
		if err := e.VerifySignature(); err != nil {
			return RejectErr(err)
		}
	}
	if err := record.CheckStructure(e, r.roomID); err != nil {
		return RejectErr(err)
	}
	return Accept()
}

// DuplicateRule ("duplicate") refuses an event whose id is already stored,
// a record version that a stored version or tombstone already supersedes,
// and a deletion older than the stored one. All of these are harmless
// rejections: sync delivers the same data from many peers and in any order.
// Records with the same content as another live record of the same author
// are the Index's business (Policy.Duplicates): which of the two stays must
// not depend on which arrived first.
func DuplicateRule() Rule {
	return RuleFunc(RuleDuplicate, func(c *Context, e *record.Event) Verdict {
		if c.Index.Has(e.ID) {
			return Rejectf("event %s is already stored", shortID(e.ID)).harmless().stateful()
		}
		if e.CheckWellFormed() != nil {
			return Accept() // the integrity rule's business
		}
		s, err := record.Summarize(e)
		if err != nil {
			return Accept() // the integrity rule's business
		}
		addr := s.Address()
		switch e.Kind {
		case record.KindRecord:
			if t, ok := c.Index.Tombstone(addr); ok && t.Deletes(s) {
				return Rejectf("stale: record %s was deleted", addr.UUID).harmless().stateful()
			}
			if live, ok := c.Index.Live(addr); ok && live.Supersedes(s) {
				return Rejectf("stale: a newer version %s of record %s is stored", shortID(live.ID), addr.UUID).harmless().stateful()
			}
		case record.KindDeletion:
			if t, ok := c.Index.Tombstone(addr); ok && !s.Supersedes(t) {
				return Rejectf("stale: a newer deletion %s of record %s is stored", shortID(t.ID), addr.UUID).harmless().stateful()
			}
		}
		return Accept()
	})
}

// BadWordsRule ("bad-words") refuses records whose human-readable text or
// link contains a word of the filter (see WordFilter). Deletions are never
// refused, so that an author can always take a record down.
func BadWordsRule(f *WordFilter) Rule {
	return RuleFunc(RuleBadWords, func(c *Context, e *record.Event) Verdict {
		r := c.Record(e)
		if r == nil {
			return Accept()
		}
		for _, s := range []string{humanText(r), r.Link} {
			if w, ok := f.Find(s); ok {
				return Rejectf("text contains the blocked word %q", clip(w, 40))
			}
		}
		return Accept()
	})
}

// NoLinkInTextRule ("no-link-in-text") refuses records whose
// human-readable text contains a link (see LinkScanner). Links belong in
// the record's link field, where the link-policy rule checks them.
func NoLinkInTextRule(s *LinkScanner) Rule {
	return RuleFunc(RuleNoLinkInText, func(c *Context, e *record.Event) Verdict {
		r := c.Record(e)
		if r == nil {
			return Accept()
		}
		if link, ok := s.Find(humanText(r)); ok {
			return Rejectf("text contains a link (%q)", clip(link, 80))
		}
		return Accept()
	})
}

// LinkPolicyRule ("link-policy") checks the record's link field against
// the policy (see LinkPolicy.Check). Records without a link pass.
func LinkPolicyRule(p LinkPolicy) Rule {
	return RuleFunc(RuleLinkPolicy, func(c *Context, e *record.Event) Verdict {
		r := c.Record(e)
		if r == nil || r.Link == "" {
			return Accept()
		}
		if err := p.Check(r.Link); err != nil {
			return RejectErr(err)
		}
		return Accept()
	})
}

// humanText is what people read of a record: plain text, or the payload of
// other text and JSON media types. Binary payloads are not scanned.
func humanText(r *record.Record) string {
	switch mt := r.MediaType; {
	case mt == record.MediaTypeText:
		return r.Text
	case record.IsTextMediaType(mt):
		return string(r.Data)
	}
	return ""
}

func shortID(id [32]byte) string { return hex.EncodeToString(id[:4]) }

// clip shortens s to at most n bytes (on a rune boundary) for messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
