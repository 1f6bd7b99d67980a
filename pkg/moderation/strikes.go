package moderation

import (
	"container/list"
	"sync"
	"time"

	"github.com/peersetdb/peerset/pkg/record"
)

// Defaults of LedgerConfig.
const (
	DefaultStrikeThreshold = 5
	DefaultStrikeWindow    = 10 * time.Minute
	DefaultBanDuration     = 15 * time.Minute
	DefaultMaxSubjects     = 10000
)

// LedgerConfig sets a Ledger's policy; zero fields take the defaults.
type LedgerConfig struct {
	// Threshold is the number of strikes within Window that bans (default 5:
	// the fifth strike bans).
	Threshold int
	// Window is how long a strike counts (default 10 minutes).
	Window time.Duration
	// BanDuration is how long a ban lasts (default 15 minutes).
	BanDuration time.Duration
	// MaxSubjects bounds the subjects tracked (default 10000). Past it the
	// least recently struck subject is forgotten, preferring ones that are
	// not banned.
	MaxSubjects int
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
}

// Strike is one mark against a subject.
type Strike struct {
	Reason string
	At     time.Time
}

// Status is what the ledger knows about a subject.
type Status struct {
	Subject     string
	Strikes     []Strike  // strikes still counting, oldest first
	BannedUntil time.Time // zero when not banned
	Bans        int       // bans so far (while the subject is tracked)
	BanReason   string    // the strike that caused the last ban
}

// PeerSubject is the ledger subject of a swarm peer id.
func PeerSubject(peerID string) string { return "peer:" + peerID }

// KeySubject is the ledger subject of an author's key.
func KeySubject(pk record.PublicKey) string { return "key:" + pk.Hex() }

type subject struct {
	Status
	elem *list.Element
}

// Ledger counts strikes against subjects (peers, keys: any string, see
// PeerSubject and KeySubject) and bans a subject for BanDuration when it
// collects Threshold strikes within Window. A ban clears the strikes that
// caused it; strikes during a ban are still counted for afterwards. It is
// safe for concurrent use and its memory is bounded by MaxSubjects.
type Ledger struct {
	cfg      LedgerConfig
	mu       sync.Mutex
	subjects map[string]*subject
	lru      *list.List // of *subject, most recently struck first
}

// NewLedger makes a ledger with the policy cfg.
func NewLedger(cfg LedgerConfig) *Ledger {
	if cfg.Threshold <= 0 {
		cfg.Threshold = DefaultStrikeThreshold
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultStrikeWindow
	}
	if cfg.BanDuration <= 0 {
		cfg.BanDuration = DefaultBanDuration
	}
	if cfg.MaxSubjects <= 0 {
		cfg.MaxSubjects = DefaultMaxSubjects
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Ledger{cfg: cfg, subjects: map[string]*subject{}, lru: list.New()}
}

// Config returns the ledger's policy with defaults filled in.
func (l *Ledger) Config() LedgerConfig { return l.cfg }

// Strike records a strike against subject and reports whether the subject
// is banned afterwards (by this strike or an earlier one).
func (l *Ledger) Strike(subjectID, reason string) (banned bool) {
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.subjects[subjectID]
	if s == nil {
		if len(l.subjects) >= l.cfg.MaxSubjects {
			l.evictLocked(now)
		}
		s = &subject{Status: Status{Subject: subjectID}}
		s.elem = l.lru.PushFront(s)
		l.subjects[subjectID] = s
	} else {
		l.lru.MoveToFront(s.elem)
	}
	l.pruneLocked(s, now)
	s.Strikes = append(s.Strikes, Strike{Reason: reason, At: now})
	if over := len(s.Strikes) - l.cfg.Threshold; over > 0 {
		s.Strikes = append(s.Strikes[:0], s.Strikes[over:]...)
	}
	if now.Before(s.BannedUntil) {
		return true
	}
	if len(s.Strikes) >= l.cfg.Threshold {
		s.BannedUntil = now.Add(l.cfg.BanDuration)
		s.Bans++
		s.BanReason = reason
		s.Strikes = nil
		return true
	}
	return false
}

// Banned reports whether subject is banned now, and until when.
func (l *Ledger) Banned(subjectID string) (bool, time.Time) {
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.subjects[subjectID]; s != nil && now.Before(s.BannedUntil) {
		return true, s.BannedUntil
	}
	return false, time.Time{}
}

// Strikes returns the subject's strikes that still count, oldest first.
func (l *Ledger) Strikes(subjectID string) []Strike {
	return l.Status(subjectID).Strikes
}

// Status returns what the ledger knows about subject now.
func (l *Ledger) Status(subjectID string) Status {
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.subjects[subjectID]
	if s == nil {
		return Status{Subject: subjectID}
	}
	l.pruneLocked(s, now)
	st := s.Status
	st.Strikes = append([]Strike(nil), s.Strikes...)
	if !now.Before(st.BannedUntil) {
		st.BannedUntil = time.Time{}
	}
	return st
}

// Forgive forgets subject: its strikes and any ban.
func (l *Ledger) Forgive(subjectID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.subjects[subjectID]; s != nil {
		l.lru.Remove(s.elem)
		delete(l.subjects, subjectID)
	}
}

// Len returns the number of subjects tracked.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subjects)
}

// pruneLocked drops strikes older than the window.
func (l *Ledger) pruneLocked(s *subject, now time.Time) {
	cutoff := now.Add(-l.cfg.Window)
	i := 0
	for i < len(s.Strikes) && !s.Strikes[i].At.After(cutoff) {
		i++
	}
	if i > 0 {
		s.Strikes = append(s.Strikes[:0], s.Strikes[i:]...)
	}
}

// evictLocked forgets the least recently struck subject that is not
// banned, or the least recently struck one if all are banned.
func (l *Ledger) evictLocked(now time.Time) {
	victim := l.lru.Back()
	for el := l.lru.Back(); el != nil; el = el.Prev() {
		if !now.Before(el.Value.(*subject).BannedUntil) {
			victim = el
			break
		}
	}
	if victim != nil {
		s := victim.Value.(*subject)
		l.lru.Remove(victim)
		delete(l.subjects, s.Subject)
	}
}
