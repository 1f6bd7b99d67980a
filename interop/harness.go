// Package interop runs peerset's negentropy implementation (pkg/merkle) against an independent
// one, github.com/nbd-wtf/go-nostr/nip77/negentropy, in memory: it builds the two sides' sets,
// drives a reconciliation to the end and reports what went over the wire. It lives in its own
// module so the main module does not depend on go-nostr.
package interop

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/nbd-wtf/go-nostr"
	"github.com/nbd-wtf/go-nostr/nip77/negentropy"
	"github.com/nbd-wtf/go-nostr/nip77/negentropy/storage/vector"
	"github.com/peersetdb/peerset/pkg/merkle"
)

// Impl names an implementation.
type Impl string

// The two implementations.
const (
	Ours   Impl = "peerset"
	Theirs Impl = "go-nostr"
)

// maxMessages stops a run that does not converge.
const maxMessages = 100_000

// Scenario is a pair of sets: Common items held by both sides plus items only one side holds.
type Scenario struct {
	Common []merkle.Item
	OnlyA  []merkle.Item // the initiator's extra items
	OnlyB  []merkle.Item // the responder's extra items
}

// SideA returns the initiator's items.
func (s Scenario) SideA() []merkle.Item { return concat(s.Common, s.OnlyA) }

// SideB returns the responder's items.
func (s Scenario) SideB() []merkle.Item { return concat(s.Common, s.OnlyB) }

func concat(a, b []merkle.Item) []merkle.Item {
	out := make([]merkle.Item, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// ScatteredScenario draws a universe of n items (timestamps spread over spanSeconds, random ids)
// and removes d of them at random, alternately from side B (so A has it) and side A.
func ScatteredScenario(seed uint64, n, d int, spanSeconds uint64) Scenario {
	if d > n {
		d = n
	}
	rng := rand.New(rand.NewPCG(seed, uint64(n)<<20^uint64(d)))
	const epoch = 1_700_000_000
	items := make([]merkle.Item, n)
	var buf [16]byte
	for i := range items {
		binary.LittleEndian.PutUint64(buf[:8], seed)
		binary.LittleEndian.PutUint64(buf[8:], uint64(i))
		items[i].ID = sha256.Sum256(buf[:])
		items[i].Timestamp = epoch + rng.Uint64N(spanSeconds)
	}
	var s Scenario
	picked := rng.Perm(n)[:d]
	isPicked := make(map[int]int, d)
	for k, i := range picked {
		isPicked[i] = k
	}
	for i, it := range items {
		k, ok := isPicked[i]
		switch {
		case !ok:
			s.Common = append(s.Common, it)
		case k%2 == 0:
			s.OnlyA = append(s.OnlyA, it)
		default:
			s.OnlyB = append(s.OnlyB, it)
		}
	}
	return s
}

// Result is the outcome of one reconciliation.
type Result struct {
	Initiator, Responder Impl
	Messages             int // messages sent, both directions
	BytesOut             int // initiator to responder, binary (NIP-77 hex doubles it)
	BytesIn              int // responder to initiator
	CPU                  time.Duration
	Have, Need           map[[32]byte]bool // as learned by the initiator
	MissingRanges        []merkle.TimeRange
}

// Bytes returns the bytes sent in both directions.
func (r Result) Bytes() int { return r.BytesOut + r.BytesIn }

// Check compares what the initiator learned with the scenario's true differences.
func (r Result) Check(s Scenario) error {
	if err := sameIDs(r.Have, s.OnlyA); err != nil {
		return fmt.Errorf("have: %w", err)
	}
	if err := sameIDs(r.Need, s.OnlyB); err != nil {
		return fmt.Errorf("need: %w", err)
	}
	return nil
}

func sameIDs(got map[[32]byte]bool, want []merkle.Item) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d ids, want %d", len(got), len(want))
	}
	for _, it := range want {
		if !got[it.ID] {
			return fmt.Errorf("missing %x", it.ID[:8])
		}
	}
	return nil
}

// Config selects the implementations and options of a run.
type Config struct {
	Initiator, Responder Impl
	FrameSizeLimit       int
	Options              merkle.Options // for our sides; FrameSizeLimit is taken from above
}

// initiatorSide and responderSide hide the implementations behind binary messages.
type initiatorSide interface {
	initiate() ([]byte, error)
	reconcile(msg []byte) (reply []byte, done bool, err error)
	finish() (have, need map[[32]byte]bool, ranges []merkle.TimeRange)
}

type responderSide interface {
	respond(msg []byte) ([]byte, error)
}

// Run reconciles scenario s under cfg and measures it. Building the sets is not measured.
func Run(s Scenario, cfg Config) (Result, error) {
	res := Result{Initiator: cfg.Initiator, Responder: cfg.Responder}
	opts := cfg.Options
	opts.FrameSizeLimit = cfg.FrameSizeLimit
	ini, err := newInitiator(cfg.Initiator, s.SideA(), opts)
	if err != nil {
		return res, err
	}
	resp, err := newResponder(cfg.Responder, s.SideB(), opts)
	if err != nil {
		return res, err
	}
	runtime.GC() // keep the garbage of building the sets out of the measurement
	start := cpuTime()
	msg, err := ini.initiate()
	if err != nil {
		return res, fmt.Errorf("failed to initiate: %w", err)
	}
	for {
		if res.Messages >= maxMessages {
			return res, errors.New("failed to converge")
		}
		if err := checkFrame(msg, cfg.FrameSizeLimit, cfg.Initiator); err != nil {
			return res, err
		}
		res.Messages++
		res.BytesOut += len(msg)
		reply, err := resp.respond(msg)
		if err != nil {
			return res, fmt.Errorf("failed to respond: %w", err)
		}
		if err := checkFrame(reply, cfg.FrameSizeLimit, cfg.Responder); err != nil {
			return res, err
		}
		res.Messages++
		res.BytesIn += len(reply)
		next, done, err := ini.reconcile(reply)
		if err != nil {
			return res, fmt.Errorf("failed to reconcile: %w", err)
		}
		if done {
			break
		}
		msg = next
	}
	res.CPU = cpuTime() - start
	res.Have, res.Need, res.MissingRanges = ini.finish()
	return res, nil
}

func checkFrame(msg []byte, limit int, impl Impl) error {
	if limit > 0 && len(msg) > limit {
		return fmt.Errorf("%s sent %d bytes over the frame limit %d", impl, len(msg), limit)
	}
	return nil
}

func newInitiator(impl Impl, items []merkle.Item, opts merkle.Options) (initiatorSide, error) {
	if impl == Theirs {
		return newTheirSide(items, opts.FrameSizeLimit), nil
	}
	tree, err := BuildTree(items)
	if err != nil {
		return nil, err
	}
	in, err := merkle.NewInitiator(tree, opts)
	if err != nil {
		return nil, err
	}
	return &ourInitiator{in: in, have: map[[32]byte]bool{}, need: map[[32]byte]bool{}}, nil
}

func newResponder(impl Impl, items []merkle.Item, opts merkle.Options) (responderSide, error) {
	if impl == Theirs {
		return newTheirSide(items, opts.FrameSizeLimit), nil
	}
	tree, err := BuildTree(items)
	if err != nil {
		return nil, err
	}
	re, err := merkle.NewResponder(tree, opts)
	if err != nil {
		return nil, err
	}
	return ourResponder{re}, nil
}

// BuildTree inserts items into a new tree.
func BuildTree(items []merkle.Item) (*merkle.Tree, error) {
	tree := merkle.NewTreeWithCapacity(len(items))
	for _, it := range items {
		if _, err := tree.Insert(it); err != nil {
			return nil, fmt.Errorf("failed to insert item: %w", err)
		}
	}
	return tree, nil
}

type ourInitiator struct {
	in         *merkle.Initiator
	have, need map[[32]byte]bool
}

func (o *ourInitiator) initiate() ([]byte, error) { return o.in.Initiate() }

func (o *ourInitiator) reconcile(msg []byte) ([]byte, bool, error) {
	reply, have, need, done, err := o.in.Reconcile(msg)
	for _, id := range have {
		o.have[id] = true
	}
	for _, id := range need {
		o.need[id] = true
	}
	return reply, done, err
}

func (o *ourInitiator) finish() (map[[32]byte]bool, map[[32]byte]bool, []merkle.TimeRange) {
	return o.have, o.need, o.in.MissingRanges()
}

type ourResponder struct{ re *merkle.Responder }

func (o ourResponder) respond(msg []byte) ([]byte, error) { return o.re.Respond(msg) }

// theirSide wraps go-nostr's negentropy, which speaks hex strings and reports ids on channels.
type theirSide struct {
	neg        *negentropy.Negentropy
	have, need map[[32]byte]bool
	drained    sync.WaitGroup
}

// NewTheirStorage builds go-nostr's sorted vector storage from items.
func NewTheirStorage(items []merkle.Item) *vector.Vector {
	v := vector.New()
	for _, it := range items {
		v.Insert(nostr.Timestamp(it.Timestamp), hex.EncodeToString(it.ID[:]))
	}
	v.Seal()
	return v
}

func newTheirSide(items []merkle.Item, frameSizeLimit int) *theirSide {
	return &theirSide{
		neg:  negentropy.New(NewTheirStorage(items), frameSizeLimit),
		have: map[[32]byte]bool{},
		need: map[[32]byte]bool{},
	}
}

func (t *theirSide) drain() {
	collect := func(ch chan string, into map[[32]byte]bool) {
		defer t.drained.Done()
		for s := range ch {
			var id [32]byte
			if _, err := hex.Decode(id[:], []byte(s)); err == nil {
				into[id] = true
			}
		}
	}
	t.drained.Add(2)
	go collect(t.neg.Haves, t.have)
	go collect(t.neg.HaveNots, t.need)
}

func (t *theirSide) initiate() ([]byte, error) {
	t.drain()
	return hex.DecodeString(t.neg.Start())
}

func (t *theirSide) reconcile(msg []byte) ([]byte, bool, error) {
	out, err := t.neg.Reconcile(hex.EncodeToString(msg))
	if err != nil {
		return nil, false, err
	}
	if out == "" {
		return nil, true, nil
	}
	reply, err := hex.DecodeString(out)
	return reply, false, err
}

func (t *theirSide) finish() (map[[32]byte]bool, map[[32]byte]bool, []merkle.TimeRange) {
	t.drained.Wait()
	return t.have, t.need, nil
}

func (t *theirSide) respond(msg []byte) ([]byte, error) {
	out, err := t.neg.Reconcile(hex.EncodeToString(msg))
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(out)
}

// OneSidedScenario is like ScatteredScenario but all d differences sit on one side: the
// initiator's when initiatorHasExtra, otherwise the responder's.
func OneSidedScenario(seed uint64, n, d int, spanSeconds uint64, initiatorHasExtra bool) Scenario {
	s := ScatteredScenario(seed, n, d, spanSeconds)
	extra := concat(s.OnlyA, s.OnlyB)
	s.OnlyA, s.OnlyB = nil, nil
	if initiatorHasExtra {
		s.OnlyA = extra
	} else {
		s.OnlyB = extra
	}
	return s
}
