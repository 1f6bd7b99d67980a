package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Limits and defaults of the reconciliation options.
const (
	// MinFrameSizeLimit is the smallest non-zero FrameSizeLimit, as in negentropy.
	MinFrameSizeLimit = 4096
	// DefaultBranching is the most sub-ranges a differing range is split into.
	DefaultBranching = 16
	// DefaultIDListThreshold: a responder sends its id list for differing ranges with fewer items.
	DefaultIDListThreshold = 32
	// DefaultInitiatorIDListThreshold: an initiator sends its id list for differing ranges with
	// fewer items and otherwise splits them, if need be down to one fingerprint per item. A
	// fingerprint range costs about 20 bytes against 32 per id, and a responder answers an id list
	// with its own full list, so by default an initiator sends id lists only for empty ranges.
	DefaultInitiatorIDListThreshold = 1

	maxBranching = 32
	maxThreshold = 32
	// maxMissingRanges bounds the time ranges an initiator keeps for MissingRanges: past it they
	// are merged, and neighbours joined, so that a responder that keeps a reconciliation going
	// cannot grow them without bound.
	maxMissingRanges = 4096
	// frameSlack is kept free below FrameSizeLimit for the closing range, as in negentropy.
	frameSlack = 200
	// maxBoundLen is the longest encoded bound: timestamp varint, prefix length, 32-byte prefix.
	maxBoundLen = maxVarintLen + 1 + IDSize
)

var (
	// ErrInvalidOptions is returned by the constructors for out-of-range options.
	ErrInvalidOptions = errors.New("invalid reconciliation options")
	// ErrNotInitiated is returned by Initiator.Reconcile before Initiate.
	ErrNotInitiated = errors.New("reconciliation was not initiated")
)

// Options configure both sides of a reconciliation. The zero value is valid: unlimited frames, no
// time buckets, default splitting.
type Options struct {
	// FrameSizeLimit caps every message this side produces, in bytes: 0 means unlimited, otherwise at
	// least MinFrameSizeLimit. A capped side answers part of a message and leaves the rest for a
	// later round. Set it when the peer is untrusted: without it a small id-list request can ask a
	// responder for every id it holds (32 bytes each), as the protocol allows.
	FrameSizeLimit int
	// Granularity splits the initiator's first message into one range per non-empty UTC time bucket.
	// With GranularityNone the first message is a single whole-set fingerprint.
	Granularity Granularity
	// Branching is the largest number of sub-ranges a differing range is split into (2–32;
	// 0 = default). Ranges near the leaves are split into fewer, about √m for m items.
	Branching int
	// IDListThreshold: a responder answers a differing range holding fewer items with its id list
	// (1–32; 0 = default).
	IDListThreshold int
	// InitiatorIDListThreshold is the same for the initiator side (1–32; 0 = default).
	InitiatorIDListThreshold int
}

func (o Options) normalized() (Options, error) {
	if o.FrameSizeLimit != 0 && o.FrameSizeLimit < MinFrameSizeLimit {
		return o, fmt.Errorf("%w: frame size limit %d is below %d", ErrInvalidOptions, o.FrameSizeLimit, MinFrameSizeLimit)
	}
	if o.Granularity < GranularityNone || o.Granularity > GranularityHour {
		return o, fmt.Errorf("%w: unknown granularity %d", ErrInvalidOptions, int(o.Granularity))
	}
	setDefault := func(v *int, def, lo, hi int, name string) error {
		if *v == 0 {
			*v = def
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("%w: %s %d outside %d..%d", ErrInvalidOptions, name, *v, lo, hi)
		}
		return nil
	}
	if err := setDefault(&o.Branching, DefaultBranching, 2, maxBranching, "branching"); err != nil {
		return o, err
	}
	if err := setDefault(&o.IDListThreshold, DefaultIDListThreshold, 1, maxThreshold, "id list threshold"); err != nil {
		return o, err
	}
	if err := setDefault(&o.InitiatorIDListThreshold, DefaultInitiatorIDListThreshold, 1, maxThreshold, "initiator id list threshold"); err != nil {
		return o, err
	}
	return o, nil
}

// Initiator drives a reconciliation: it opens with Initiate and feeds each reply to Reconcile until
// done. It learns which ids only it has (have) and which only the peer has (need). The tree must not
// change while a call runs; changes between rounds are tolerated (they may show up as differences).
type Initiator struct {
	core    reconciler
	started bool
	missing []TimeRange
}

// Responder answers an initiator's messages. It keeps no state between messages, so one Responder
// may serve many peers in turn; calls must not overlap with tree changes.
type Responder struct {
	core reconciler
}

// NewInitiator returns an initiator over tree.
func NewInitiator(tree *Tree, opts Options) (*Initiator, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, fmt.Errorf("failed to create initiator: %w", err)
	}
	return &Initiator{core: reconciler{tree: tree, opts: o, initiator: true}}, nil
}

// NewResponder returns a responder over tree.
func NewResponder(tree *Tree, opts Options) (*Responder, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, fmt.Errorf("failed to create responder: %w", err)
	}
	return &Responder{core: reconciler{tree: tree, opts: o}}, nil
}

// Initiate returns the first message. Without time buckets it is a single fingerprint of the whole
// set (20 bytes), which settles equal sets in one round trip. With a Granularity it holds one
// fingerprint range per non-empty time bucket (a range runs on to the next non-empty bucket, so
// empty buckets cost nothing), bracketed by empty ranges before the first and after the last bucket
// so that differences outside our time span still get time bounds.
func (in *Initiator) Initiate() ([]byte, error) {
	in.started, in.missing = true, nil
	c := &in.core
	w := messageWriter{buf: make([]byte, 0, 64)}
	w.buf = append(w.buf, protocolVersion)
	width := c.opts.Granularity.Seconds()
	size := c.tree.Len()
	if width == 0 || size == 0 {
		w.writeFingerprintRange(MaxBound, c.tree.Root())
		return w.buf, nil
	}
	var empty aggregate
	emptyFingerprint := empty.fingerprint()
	first, _ := c.tree.At(0)
	if start := bucketStart(first.Timestamp, width); start > 0 {
		w.writeFingerprintRange(TimeBound(start), emptyFingerprint)
	}
	budget := c.budget()
	c.tree.eachBucket(width, func(from, to int, r TimeRange) bool {
		upper := MaxBound
		if to < size {
			// The range runs on to the start of the next non-empty bucket.
			next, _ := c.tree.At(to)
			upper = TimeBound(bucketStart(next.Timestamp, width))
		} else if r.End != MaxTimestamp {
			upper = TimeBound(r.End)
		}
		mark := w.mark()
		w.writeFingerprintRange(upper, c.tree.FingerprintOfRanks(from, to))
		if !upper.IsInfinite() && to == size {
			w.writeFingerprintRange(MaxBound, emptyFingerprint)
		}
		if budget > 0 && len(w.buf) > budget {
			w.rollback(mark)
			w.writeFingerprintRange(MaxBound, c.tree.FingerprintOfRanks(from, size))
			return false
		}
		return true
	})
	return w.buf, nil
}

// Reconcile processes the responder's reply. It returns the next message to send, the ids found
// only on this side (have) and only on the peer (need) in this round, and done once the sets are
// reconciled, in which case reply is nil. A peer that repeats ranges can make an id show up in
// more than one round. Errors wrap ErrMalformedMessage, ErrUnsupportedVersion or ErrNotInitiated.
func (in *Initiator) Reconcile(msg []byte) (reply []byte, have, need [][IDSize]byte, done bool, err error) {
	if !in.started {
		return nil, nil, nil, false, fmt.Errorf("failed to reconcile: %w", ErrNotInitiated)
	}
	var round roundResult
	out, err := in.core.process(msg, &round)
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("failed to reconcile: %w", err)
	}
	in.missing = append(in.missing, round.ranges...)
	if len(in.missing) > maxMissingRanges {
		in.missing = coarsenTimeRanges(mergeTimeRanges(in.missing, in.core.opts.Granularity.Seconds()), maxMissingRanges/2)
	}
	if len(out) == 1 { // only the version byte: nothing left to ask
		return nil, round.have, round.need, true, nil
	}
	return out, round.have, round.need, false, nil
}

// MissingRanges returns the time ranges found to differ so far, aligned to the Granularity's
// buckets (exact seconds with GranularityNone) and merged. An id only this side has marks its own
// bucket; an id only the peer has marks every bucket of the id-list range it arrived in, because the
// protocol does not send its timestamp, so ranges can be wider than the true difference. With
// GranularityNone the first message has no bracketing ranges, so a peer's ids older or newer than
// all of ours give a range starting at 0 or ending at MaxTimestamp.
func (in *Initiator) MissingRanges() []TimeRange {
	return mergeTimeRanges(in.missing, in.core.opts.Granularity.Seconds())
}

// Respond answers one initiator message. A message of another protocol version gets a reply that
// holds only our version byte, as negentropy prescribes. Errors wrap ErrMalformedMessage.
func (re *Responder) Respond(msg []byte) ([]byte, error) {
	out, err := re.core.process(msg, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to respond: %w", err)
	}
	return out, nil
}

// roundResult collects what an initiator learns from one reply.
type roundResult struct {
	have, need [][IDSize]byte
	ranges     []TimeRange
}

// reconciler holds what both sides share: the tree, the options and scratch space.
type reconciler struct {
	tree      *Tree
	opts      Options
	initiator bool

	theirIDs [][IDSize]byte // scratch for id-list comparison
	ourItems []Item
}

func (c *reconciler) budget() int {
	if c.opts.FrameSizeLimit == 0 {
		return 0
	}
	return c.opts.FrameSizeLimit - frameSlack
}

// process decodes msg range by range and writes the answer. round is nil on the responder side.
func (c *reconciler) process(msg []byte, round *roundResult) ([]byte, error) {
	r := messageReader{data: msg}
	version, err := r.readByte()
	if err != nil {
		return nil, fmt.Errorf("failed to read protocol version: %w", err)
	}
	if version != protocolVersion {
		if c.initiator {
			return nil, fmt.Errorf("%w: 0x%02x", ErrUnsupportedVersion, version)
		}
		return []byte{protocolVersion}, nil
	}

	w := messageWriter{buf: make([]byte, 0, 256)}
	w.buf = append(w.buf, protocolVersion)
	size := c.tree.Len()
	budget := c.budget()

	var prevBound Bound
	havePrev := false
	lower := 0        // position of the first item of the current range
	covered := 0      // position up to which the output covers the order
	skipping := false // ranges since `covered` that need no answer, coalesced into one Skip

	for r.remaining() > 0 {
		bound, err := r.readBound()
		if err != nil {
			return nil, fmt.Errorf("failed to decode bound: %w", err)
		}
		if havePrev && bound.Compare(prevBound) <= 0 {
			return nil, fmt.Errorf("%w: bounds are not ascending", ErrMalformedMessage)
		}
		modeValue, err := r.readVarint()
		if err != nil {
			return nil, fmt.Errorf("failed to decode mode: %w", err)
		}
		upper := max(c.tree.Rank(bound), lower)

		mark, markCovered, markSkipping := w.mark(), covered, skipping
		flushSkip := func() {
			if skipping {
				w.writeSkipRange(prevBound)
				skipping = false
				covered = lower
			}
		}
		truncatedAt := -1
		noRoom := false

		switch Mode(modeValue) {
		case ModeSkip:
			skipping = true
		case ModeFingerprint:
			theirs, err := r.readBytes(FingerprintSize)
			if err != nil {
				return nil, fmt.Errorf("failed to read fingerprint: %w", err)
			}
			ours := c.tree.FingerprintOfRanks(lower, upper)
			if bytes.Equal(theirs, ours[:]) {
				skipping = true
				break
			}
			flushSkip()
			c.split(&w, lower, upper, bound)
			covered = upper
		case ModeIDList:
			count, err := r.readVarint()
			if err != nil {
				return nil, fmt.Errorf("failed to decode id count: %w", err)
			}
			if count > uint64(r.remaining()/IDSize) {
				return nil, fmt.Errorf("%w: id list of %d ids exceeds the message", ErrMalformedMessage, count)
			}
			ids, _ := r.readBytes(int(count) * IDSize)
			if c.initiator {
				c.compareIDLists(ids, lower, upper, prevBound, havePrev, bound, round)
				skipping = true
				break
			}
			flushSkip()
			cut, ok := c.writeIDListReply(&w, lower, upper, bound, budget)
			if !ok {
				noRoom = true
				break
			}
			covered = upper
			if cut < upper {
				truncatedAt = cut
			}
		default:
			return nil, fmt.Errorf("%w: unknown mode %d", ErrMalformedMessage, modeValue)
		}

		if truncatedAt >= 0 {
			// The id list filled the frame: close with a fingerprint for everything after it.
			w.writeFingerprintRange(MaxBound, c.tree.FingerprintOfRanks(truncatedAt, size))
			return w.buf, nil
		}
		if noRoom || budget > 0 && len(w.buf) > budget {
			// This range's answer does not fit: drop it, end the pending skip and close with a
			// fingerprint for the rest of the order, which the peer will split again.
			w.rollback(mark)
			covered, skipping = markCovered, markSkipping
			flushSkip()
			w.writeFingerprintRange(MaxBound, c.tree.FingerprintOfRanks(covered, size))
			return w.buf, nil
		}
		prevBound, havePrev, lower = bound, true, upper
	}
	return w.buf, nil
}

// split answers a differing range [lower, upper) that ends at upperBound: small ranges go out as id
// lists, larger ones as fingerprint ranges of equal item counts (see bucketCount). A responder
// never answers a range with that same range, so the sides cannot bounce a range back and forth;
// an initiator may send a single item's fingerprint, which is cheaper than its id.
func (c *reconciler) split(w *messageWriter, lower, upper int, upperBound Bound) {
	count := upper - lower
	threshold := max(c.opts.IDListThreshold, 2)
	if c.initiator {
		threshold = c.opts.InitiatorIDListThreshold
	}
	if count < threshold {
		c.writeIDList(w, lower, upper, upperBound)
		return
	}
	buckets := c.bucketCount(count)
	perBucket, extra := count/buckets, count%buckets
	prevAgg := c.tree.aggregateOfPrefix(lower)
	end := lower
	for i := 0; i < buckets; i++ {
		end += perBucket
		if i < extra {
			end++
		}
		agg := c.tree.aggregateOfPrefix(end)
		diff := agg.minus(&prevAgg)
		prevAgg = agg
		bound := upperBound
		if end < upper {
			last, _ := c.tree.At(end - 1)
			next, _ := c.tree.At(end)
			bound = minimalBound(last, next)
		}
		w.writeFingerprintRange(bound, diff.fingerprint())
	}
}

// Near the leaves a differing range usually holds a single difference, and fewer, larger buckets
// cost less than Branching of them. With fingerprint ranges of about 20 bytes and ids of 32: after
// an initiator's split the responder lists the ids of the differing bucket, so b buckets cost about
// 20·b + 32·m/b bytes, least at b = √(1.6·m); after a responder's split two more steps follow, and
// b = √(0.5·m) measured best (interop/cmd/reconbench). Far from the leaves Branching caps b.
const (
	initiatorLeafFactor = 1.6
	responderLeafFactor = 0.5
)

// bucketCount returns how many sub-ranges a differing range of count items is split into.
func (c *reconciler) bucketCount(count int) int {
	factor := responderLeafFactor
	if c.initiator {
		factor = initiatorLeafFactor
	}
	b := int(math.Ceil(math.Sqrt(factor * float64(count))))
	return max(min(b, c.opts.Branching, count), min(2, count))
}

func (c *reconciler) writeIDList(w *messageWriter, lower, upper int, upperBound Bound) {
	w.writeBound(upperBound)
	w.buf = append(w.buf, byte(ModeIDList))
	w.buf = appendVarint(w.buf, uint64(upper-lower))
	c.tree.AscendRanks(lower, upper, func(it Item) bool {
		w.buf = append(w.buf, it.ID[:]...)
		return true
	})
}

// writeIDListReply writes our ids of [lower, upper) as far as the frame budget allows. It returns the
// position after the last id written, and false when not even one id fits.
func (c *reconciler) writeIDListReply(w *messageWriter, lower, upper int, upperBound Bound, budget int) (int, bool) {
	if budget == 0 {
		c.writeIDList(w, lower, upper, upperBound)
		return upper, true
	}
	fit := (budget - len(w.buf) - maxBoundLen - 1 - maxVarintLen) / IDSize
	if fit >= upper-lower {
		c.writeIDList(w, lower, upper, upperBound)
		return upper, true
	}
	if fit <= 0 {
		return lower, false
	}
	cut := lower + fit
	first, _ := c.tree.At(cut)
	c.writeIDList(w, lower, cut, Bound(first))
	return cut, true
}

// compareIDLists compares the peer's ids for [lower, upper) with ours and records the differences.
func (c *reconciler) compareIDLists(theirBytes []byte, lower, upper int, prevBound Bound, havePrev bool, upperBound Bound, round *roundResult) {
	theirs := c.theirIDs[:0]
	for i := 0; i+IDSize <= len(theirBytes); i += IDSize {
		theirs = append(theirs, [IDSize]byte(theirBytes[i:i+IDSize]))
	}
	compareIDs := func(a, b [IDSize]byte) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(theirs, compareIDs)
	theirs = slices.Compact(theirs)

	ours := c.ourItems[:0]
	c.tree.AscendRanks(lower, upper, func(it Item) bool {
		ours = append(ours, it)
		return true
	})
	slices.SortFunc(ours, func(a, b Item) int { return compareIDs(a.ID, b.ID) })

	foundNeed := false
	i, j := 0, 0
	for i < len(ours) || j < len(theirs) {
		switch {
		case j == len(theirs) || (i < len(ours) && compareIDs(ours[i].ID, theirs[j]) < 0):
			round.have = append(round.have, ours[i].ID)
			round.ranges = append(round.ranges, TimeRange{Start: ours[i].Timestamp, End: ours[i].Timestamp + 1})
			i++
		case i == len(ours) || compareIDs(ours[i].ID, theirs[j]) > 0:
			round.need = append(round.need, theirs[j])
			foundNeed = true
			j++
		default:
			i++
			j++
		}
	}
	c.theirIDs, c.ourItems = theirs[:0], ours[:0]

	if foundNeed {
		// The peer's ids come without timestamps: anywhere in the range may hold them.
		start := uint64(0)
		if havePrev {
			start = prevBound.Timestamp
		}
		end := upperBound.Timestamp
		if !upperBound.IsInfinite() && upperBound.ID != ([IDSize]byte{}) {
			end++ // items at the bound's own second can lie below it
		}
		round.ranges = append(round.ranges, TimeRange{Start: start, End: end})
	}
}
