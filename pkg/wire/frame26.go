package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Trystero 0.26 action framing (Trystero's main branch, CHANGELOG 0.26.0;
// docs/protocol.md "Trystero 0.26 framing"). The room envelope of frame.go
// is unchanged; what it carries is one of these frames instead of a
// Trystero 0.25 chunk. All integers are big-endian; sizes and offsets are
// IEEE 754 float64 holding whole numbers.
//
//	byte 0   version, always 2
//	byte 1   kind | format<<4   (format only on inline and offer frames)
//
//	inline   [2][k|f<<4][name, 32 bytes, zero-padded][meta length u16][meta][payload]
//	offer    [2][1|f<<4][name, 32 bytes][meta length u16][id u32][size f64][meta]
//	chunk    [2][2][id u32][offset f64][data]
//	accepted [2][3][id u32]
//	rejected [2][4][id u32][reason, UTF-8, at most 200 bytes]
//	cancelled[2][5][id u32]
//
// A message whose inline frame (36 bytes of header, metadata and payload)
// fits in 16384 bytes goes inline. A larger one is offered; the receiver
// answers accepted (it reserved the bytes) or rejected, and only after
// accepted does the sender send the payload in chunks of at most
// 16384−14 bytes, in order, each at the offset where the previous ended.
const (
	// Wire26Version is byte 0 of every Trystero 0.26 action frame.
	Wire26Version = 2
	// Wire26MaxFrameSize bounds one action frame, header included.
	Wire26MaxFrameSize = 16 * 1024
	// Wire26InlineHeaderSize: version, kind/format, name, metadata length.
	Wire26InlineHeaderSize = 36
	// Wire26OfferHeaderSize: the inline header, id and size.
	Wire26OfferHeaderSize = 48
	// Wire26ControlHeaderSize: version, kind, id.
	Wire26ControlHeaderSize = 6
	// Wire26ChunkHeaderSize: the control header and the offset.
	Wire26ChunkHeaderSize = 14
	// Wire26ChunkPayloadSize is how many payload bytes a chunk carries
	// (every chunk but the last carries exactly this many).
	Wire26ChunkPayloadSize = Wire26MaxFrameSize - Wire26ChunkHeaderSize // 16370
	// Wire26MaxRejectReason bounds the reason text of a rejected frame.
	Wire26MaxRejectReason = 200

	wire26NameOffset = 2
	wire26MetaLenOff = 34
	wire26IDOffset   = 36
	wire26SizeOffset = 40
	// JavaScript's Number.MAX_SAFE_INTEGER: a size or offset above it is
	// refused, as Trystero does.
	maxSafeInteger = 1<<53 - 1
)

// Wire26Kind is the kind nibble of a Trystero 0.26 action frame.
type Wire26Kind uint8

// Frame kinds; the values are the low nibble of byte 1.
const (
	Wire26Inline    Wire26Kind = 0
	Wire26Offer     Wire26Kind = 1
	Wire26Chunk     Wire26Kind = 2
	Wire26Accepted  Wire26Kind = 3
	Wire26Rejected  Wire26Kind = 4
	Wire26Cancelled Wire26Kind = 5
)

func (k Wire26Kind) String() string {
	switch k {
	case Wire26Inline:
		return "inline"
	case Wire26Offer:
		return "offer"
	case Wire26Chunk:
		return "chunk"
	case Wire26Accepted:
		return "accepted"
	case Wire26Rejected:
		return "rejected"
	case Wire26Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Wire26Kind(%d)", uint8(k))
}

// Reasons a receiver puts in rejected frames (Trystero's own texts).
const (
	RejectTooLarge    = "payload exceeds receiver size limit"
	RejectTooMany     = "too many pending transfers"
	RejectTimedOut    = "action transfer timed out"
	RejectBadTransfer = "invalid action chunk offset or length"
)

var (
	// ErrIncompatibleActionWire means an action frame is not of the action
	// wire format that the peer has been speaking (or, for a Trystero 0.26
	// frame, that byte 0 is not version 2). Trystero 0.26 disconnects a
	// peer for this ("incompatible action protocol version").
	ErrIncompatibleActionWire = errors.New("incompatible action protocol version")
	// ErrActionRejected means the receiver answered our offer with
	// rejected; the error text carries its reason.
	ErrActionRejected = errors.New("action rejected by the receiver")
	// ErrActionCancelled means a transfer ended before it was complete
	// (the offer was not accepted in time, or the peer closed).
	ErrActionCancelled = errors.New("action transfer cancelled")
)

// Frame26 is one decoded Trystero 0.26 action frame. Which fields matter
// depends on Kind.
type Frame26 struct {
	Kind Wire26Kind
	// Format of an inline or offer frame: PayloadString (0, text),
	// PayloadJSON (1) or PayloadBinary (2), Trystero's format numbers.
	Format PayloadKind
	// Type is the action name (inline, offer).
	Type string
	// Meta is the metadata JSON (inline, offer); nil means none.
	Meta json.RawMessage
	// ID names a transfer (offer, chunk, accepted, rejected, cancelled).
	ID uint32
	// Size is the payload size an offer announces.
	Size uint64
	// Offset is where a chunk's data starts in the payload.
	Offset uint64
	// Payload is an inline frame's payload or a chunk's data; a decoded
	// frame's aliases the input.
	Payload []byte
	// Reason is a rejected frame's text.
	Reason string
}

func malformed26(format string, args ...any) error {
	return fmt.Errorf("failed to decode Trystero 0.26 action frame: %w: "+format, append([]any{ErrMalformedChunk}, args...)...)
}

// AppendFrame26 appends the wire form of f to dst. It refuses what a
// Trystero 0.26 receiver would refuse.
func AppendFrame26(dst []byte, f Frame26) ([]byte, error) {
	fail := func(format string, args ...any) ([]byte, error) {
		return dst, fmt.Errorf("failed to encode Trystero 0.26 %s frame: "+format, append([]any{f.Kind}, args...)...)
	}
	switch f.Kind {
	case Wire26Inline, Wire26Offer:
		if err := CheckActionType(f.Type); err != nil {
			return fail("%w", err)
		}
		if f.Format > PayloadBinary {
			return fail("%w: unknown payload kind %d", ErrInvalidPayload, uint8(f.Format))
		}
		header := Wire26InlineHeaderSize
		if f.Kind == Wire26Offer {
			header = Wire26OfferHeaderSize
			if f.Size == 0 || f.Size > maxSafeInteger {
				return fail("%w: size %d", ErrInvalidPayload, f.Size)
			}
			if len(f.Payload) != 0 {
				return fail("an offer carries no payload")
			}
		}
		if n := header + len(f.Meta) + len(f.Payload); n > Wire26MaxFrameSize {
			return fail("%w: %d bytes, at most %d", ErrMessageTooLarge, n, Wire26MaxFrameSize)
		}
		var h [Wire26OfferHeaderSize]byte
		h[0] = Wire26Version
		h[1] = byte(f.Kind) | byte(f.Format)<<4
		copy(h[wire26NameOffset:wire26MetaLenOff], f.Type)
		binary.BigEndian.PutUint16(h[wire26MetaLenOff:], uint16(len(f.Meta)))
		if f.Kind == Wire26Offer {
			binary.BigEndian.PutUint32(h[wire26IDOffset:], f.ID)
			binary.BigEndian.PutUint64(h[wire26SizeOffset:], math.Float64bits(float64(f.Size)))
		}
		dst = append(dst, h[:header]...)
		dst = append(dst, f.Meta...)
		return append(dst, f.Payload...), nil
	case Wire26Chunk:
		if len(f.Payload) == 0 || len(f.Payload) > Wire26ChunkPayloadSize {
			return fail("%d bytes of data, want 1 to %d", len(f.Payload), Wire26ChunkPayloadSize)
		}
		if f.Offset > maxSafeInteger {
			return fail("offset %d", f.Offset)
		}
		dst = append(dst, Wire26Version, byte(Wire26Chunk))
		dst = binary.BigEndian.AppendUint32(dst, f.ID)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(float64(f.Offset)))
		return append(dst, f.Payload...), nil
	case Wire26Accepted, Wire26Cancelled, Wire26Rejected:
		dst = append(dst, Wire26Version, byte(f.Kind))
		dst = binary.BigEndian.AppendUint32(dst, f.ID)
		if f.Kind == Wire26Rejected {
			dst = append(dst, truncateUTF8Bytes(f.Reason, Wire26MaxRejectReason)...)
		}
		return dst, nil
	}
	return fail("unknown kind")
}

// truncateUTF8Bytes cuts s to at most n bytes without splitting a rune.
func truncateUTF8Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// float64Integer reads a big-endian float64 that must hold a whole number
// in [0, 2^53-1], as Trystero's Number.isSafeInteger check.
func float64Integer(b []byte) (uint64, bool) {
	v := math.Float64frombits(binary.BigEndian.Uint64(b))
	if !(v >= 0 && v <= maxSafeInteger) || v != math.Trunc(v) {
		return 0, false
	}
	return uint64(v), true
}

// DecodeFrame26 decodes a Trystero 0.26 action frame (without its room
// envelope), checking everything a Trystero 0.26 receiver checks. Errors
// wrap ErrIncompatibleActionWire (byte 0 is not 2) or ErrMalformedChunk.
// It never panics and allocates only the strings it returns.
func DecodeFrame26(data []byte) (Frame26, error) {
	if len(data) < 2 || len(data) > Wire26MaxFrameSize {
		return Frame26{}, malformed26("%d bytes, want 2 to %d", len(data), Wire26MaxFrameSize)
	}
	if data[0] != Wire26Version {
		return Frame26{}, fmt.Errorf("failed to decode Trystero 0.26 action frame: %w: byte 0 is 0x%02x, want 0x02", ErrIncompatibleActionWire, data[0])
	}
	kind, format := Wire26Kind(data[1]&0x0f), PayloadKind(data[1]>>4)
	if kind > Wire26Cancelled || format > PayloadBinary || (kind > Wire26Offer && format != PayloadString) {
		return Frame26{}, malformed26("kind byte 0x%02x", data[1])
	}
	f := Frame26{Kind: kind, Format: format}
	if kind >= Wire26Chunk {
		switch {
		case len(data) < Wire26ControlHeaderSize,
			(kind == Wire26Accepted || kind == Wire26Cancelled) && len(data) != Wire26ControlHeaderSize,
			kind == Wire26Rejected && len(data) > Wire26ControlHeaderSize+Wire26MaxRejectReason:
			return Frame26{}, malformed26("%s frame of %d bytes", kind, len(data))
		}
		f.ID = binary.BigEndian.Uint32(data[2:])
		switch kind {
		case Wire26Rejected:
			f.Reason = string(data[Wire26ControlHeaderSize:])
		case Wire26Chunk:
			if len(data) <= Wire26ChunkHeaderSize {
				return Frame26{}, malformed26("chunk frame of %d bytes carries no data", len(data))
			}
			off, ok := float64Integer(data[Wire26ControlHeaderSize:])
			if !ok {
				return Frame26{}, malformed26("chunk offset is not a whole number of bytes")
			}
			f.Offset, f.Payload = off, data[Wire26ChunkHeaderSize:]
		}
		return f, nil
	}
	header := Wire26InlineHeaderSize
	if kind == Wire26Offer {
		header = Wire26OfferHeaderSize
	}
	if len(data) < header {
		return Frame26{}, malformed26("%s header needs %d bytes, frame has %d", kind, header, len(data))
	}
	name := data[wire26NameOffset:wire26MetaLenOff]
	if i := bytes.IndexByte(name, 0); i >= 0 && bytes.IndexFunc(name[i:], func(r rune) bool { return r != 0 }) >= 0 {
		// Trystero strips every NUL; a name with NULs inside is one no
		// Trystero sender writes, so refuse it rather than guess.
		return Frame26{}, malformed26("%w: NUL inside the name", ErrInvalidActionType)
	}
	name = bytes.TrimRight(name, "\x00")
	if len(name) == 0 || !utf8.Valid(name) {
		return Frame26{}, malformed26("%w: empty or not UTF-8", ErrInvalidActionType)
	}
	metaLen := int(binary.BigEndian.Uint16(data[wire26MetaLenOff:]))
	payloadAt := header + metaLen
	if payloadAt > len(data) {
		return Frame26{}, malformed26("metadata of %d bytes past the end of a %d-byte frame", metaLen, len(data))
	}
	f.Type = string(name)
	if metaLen > 0 {
		if !json.Valid(data[header:payloadAt]) {
			return Frame26{}, malformed26("%w: metadata is not valid JSON", ErrInvalidPayload)
		}
		f.Meta = json.RawMessage(data[header:payloadAt])
	}
	if kind == Wire26Inline {
		f.Payload = data[payloadAt:]
		return f, nil
	}
	f.ID = binary.BigEndian.Uint32(data[wire26IDOffset:])
	size, ok := float64Integer(data[wire26SizeOffset:])
	if !ok || size == 0 {
		return Frame26{}, malformed26("offer size is not a positive whole number of bytes")
	}
	if payloadAt != len(data) {
		return Frame26{}, malformed26("offer carries %d bytes after its metadata", len(data)-payloadAt)
	}
	f.Size = size
	return f, nil
}

// Message26Fits reports whether m goes inline (one frame) rather than
// through an offer, as Trystero 0.26 decides: 36 + metadata + payload
// bytes at most 16384.
func Message26Fits(m ActionMessage) bool {
	return Wire26InlineHeaderSize+len(m.Meta)+len(m.Payload) <= Wire26MaxFrameSize
}

// EncodeMessage26 encodes m for Trystero 0.26. A message that fits goes in
// one inline frame (chunks is nil); otherwise first is the offer (with id)
// and chunks are the frames to send once the receiver accepted it.
func EncodeMessage26(m ActionMessage, id uint32) (first []byte, chunks [][]byte, err error) {
	if err := m.validate(); err != nil {
		return nil, nil, fmt.Errorf("failed to encode %q message: %w", m.Type, err)
	}
	if len(m.Meta) > Wire26MaxFrameSize-Wire26OfferHeaderSize {
		return nil, nil, fmt.Errorf("failed to encode %q message: %w: metadata of %d bytes, at most %d", m.Type, ErrMessageTooLarge, len(m.Meta), Wire26MaxFrameSize-Wire26OfferHeaderSize)
	}
	f := Frame26{Kind: Wire26Inline, Format: m.Kind, Type: m.Type, Meta: m.Meta, Payload: m.Payload}
	if Message26Fits(m) {
		first, err = AppendFrame26(nil, f)
		return first, nil, err
	}
	f.Kind, f.ID, f.Size, f.Payload = Wire26Offer, id, uint64(len(m.Payload)), nil
	if first, err = AppendFrame26(nil, f); err != nil {
		return nil, nil, err
	}
	for off := 0; off < len(m.Payload); off += Wire26ChunkPayloadSize {
		data := m.Payload[off:min(off+Wire26ChunkPayloadSize, len(m.Payload))]
		c, err := AppendFrame26(make([]byte, 0, Wire26ChunkHeaderSize+len(data)), Frame26{Kind: Wire26Chunk, ID: id, Offset: uint64(off), Payload: data})
		if err != nil {
			return nil, nil, err
		}
		chunks = append(chunks, c)
	}
	return first, chunks, nil
}

// Receiver26 is the receiving side of the Trystero 0.26 framing for one
// remote peer: inline messages, offers and their admission, chunks and
// cancellations (accepted and rejected frames answer our own offers; see
// the caller). It is bounded like Reassembler, by the same limits:
//
//   - an offer over MaxMessageSize (payload plus metadata) is rejected;
//   - at most MaxPartialMessages offers are pending (accepted or waiting),
//     more are rejected;
//   - one accepted transfer at a time, and only while the accepted
//     transfers' payload bytes stay within MaxPartialBytes; the others
//     wait (holding only their metadata) and are accepted in turn;
//   - a transfer that makes no progress for PartialTimeout is dropped and
//     rejected (Expire); waiting offers are kept alive by the progress of
//     the accepted one.
//
// It is not safe for concurrent use and never panics on bad input.
type Receiver26 struct {
	limits    ReassemblerLimits
	transfers map[uint32]*transfer26
	order     []uint32 // offer ids in arrival order, for admission
	active    *transfer26
	reserved  int // payload bytes reserved by accepted transfers
	held      int // bytes held: data received and metadata
	// ended remembers transfers that ended before their last chunk, so
	// that chunks still in flight are skipped quietly, not counted as
	// violations. Bounded like Reassembler's discard set.
	ended map[uint32]struct{}
	now   func() time.Time
}

type transfer26 struct {
	id           uint32
	typ          string
	format       PayloadKind
	meta         json.RawMessage
	size         int
	data         []byte
	accepted     bool
	lastProgress time.Time
}

// NewReceiver26 returns a receiver with the given limits; zero fields take
// DefaultReassemblerLimits, as NewReassembler does.
func NewReceiver26(limits ReassemblerLimits) *Receiver26 {
	return &Receiver26{
		limits:    NewReassembler(limits).Limits(),
		transfers: make(map[uint32]*transfer26),
		ended:     make(map[uint32]struct{}),
		now:       time.Now,
	}
}

// Pending returns how many offers are pending (accepted or waiting).
func (r *Receiver26) Pending() int { return len(r.transfers) }

// HeldBytes returns the bytes the pending transfers hold (data received
// and metadata).
func (r *Receiver26) HeldBytes() int { return r.held }

// Reset drops every pending transfer.
func (r *Receiver26) Reset() {
	clear(r.transfers)
	clear(r.ended)
	r.order, r.active, r.reserved, r.held = nil, nil, 0, 0
}

func control26(kind Wire26Kind, id uint32, reason string) []byte {
	b, _ := AppendFrame26(nil, Frame26{Kind: kind, ID: id, Reason: reason})
	return b
}

// release forgets a transfer; remember keeps its stray chunks quiet.
func (r *Receiver26) release(t *transfer26, remember bool) {
	delete(r.transfers, t.id)
	for i, id := range r.order {
		if id == t.id {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	r.held -= len(t.meta) + len(t.data)
	if t.accepted {
		r.reserved -= t.size
	}
	if r.active == t {
		r.active = nil
	}
	if remember {
		if len(r.ended) >= 4*r.limits.MaxPartialMessages {
			clear(r.ended)
		}
		r.ended[t.id] = struct{}{}
	}
}

// admit accepts the oldest waiting offer if nothing is being received and
// the budget allows; it returns the accepted frame to send, or nil.
func (r *Receiver26) admit(now time.Time) []byte {
	if r.active != nil {
		return nil
	}
	for _, id := range r.order {
		t := r.transfers[id]
		if t.accepted || r.reserved+t.size > r.limits.MaxPartialBytes {
			continue
		}
		t.accepted, t.lastProgress = true, now
		r.active = t
		r.reserved += t.size
		return control26(Wire26Accepted, id, "")
	}
	return nil
}

// Receive handles one decoded frame of kind inline, offer, chunk or
// cancelled. It returns a whole message when one completed, and the
// control frames to send back (accepted, rejected). An error means a
// protocol violation by the peer; replies may still need sending.
func (r *Receiver26) Receive(f Frame26) (msg ActionMessage, complete bool, replies [][]byte, err error) {
	now := r.now()
	switch f.Kind {
	case Wire26Inline:
		m := ActionMessage{Type: f.Type, Kind: f.Format, Payload: bytes.Clone(f.Payload), Meta: cloneMeta(f.Meta)}
		if m.Payload == nil {
			m.Payload = []byte{}
		}
		if len(m.Payload)+len(m.Meta) > r.limits.MaxMessageSize {
			return ActionMessage{}, false, nil, fmt.Errorf("failed to receive %q: %w: over %d bytes", f.Type, ErrMessageTooLarge, r.limits.MaxMessageSize)
		}
		if err := m.validate(); err != nil {
			return ActionMessage{}, false, nil, fmt.Errorf("failed to receive %q: %w", f.Type, err)
		}
		return m, true, nil, nil
	case Wire26Offer:
		if _, dup := r.transfers[f.ID]; dup {
			return ActionMessage{}, false, nil, malformed26("duplicate offer %d", f.ID)
		}
		delete(r.ended, f.ID)
		if f.Size+uint64(len(f.Meta)) > uint64(r.limits.MaxMessageSize) {
			return ActionMessage{}, false, [][]byte{control26(Wire26Rejected, f.ID, RejectTooLarge)},
				fmt.Errorf("failed to receive %q: %w: offer of %d bytes, limit %d", f.Type, ErrMessageTooLarge, f.Size+uint64(len(f.Meta)), r.limits.MaxMessageSize)
		}
		replies = r.Expire(now) // a stale offer must not keep a fresh one out
		if len(r.transfers) >= r.limits.MaxPartialMessages {
			return ActionMessage{}, false, append(replies, control26(Wire26Rejected, f.ID, RejectTooMany)),
				fmt.Errorf("failed to receive %q: %w (limit %d)", f.Type, ErrTooManyPartialMessages, r.limits.MaxPartialMessages)
		}
		t := &transfer26{id: f.ID, typ: f.Type, format: f.Format, meta: cloneMeta(f.Meta), size: int(f.Size), lastProgress: now}
		r.transfers[f.ID] = t
		r.order = append(r.order, f.ID)
		r.held += len(t.meta)
		if a := r.admit(now); a != nil {
			replies = append(replies, a)
		}
		return ActionMessage{}, false, replies, nil
	case Wire26Cancelled:
		if t := r.transfers[f.ID]; t != nil {
			r.release(t, true)
			if a := r.admit(now); a != nil {
				replies = append(replies, a)
			}
		}
		return ActionMessage{}, false, replies, nil
	case Wire26Chunk:
		t := r.transfers[f.ID]
		if t == nil {
			if _, ok := r.ended[f.ID]; ok {
				return ActionMessage{}, false, nil, nil
			}
			return ActionMessage{}, false, nil, malformed26("chunk for transfer %d, which was never offered", f.ID)
		}
		if !t.accepted || f.Offset != uint64(len(t.data)) || len(f.Payload) != min(Wire26ChunkPayloadSize, t.size-len(t.data)) {
			r.release(t, true)
			replies = append(replies, control26(Wire26Rejected, f.ID, RejectBadTransfer))
			if a := r.admit(now); a != nil {
				replies = append(replies, a)
			}
			return ActionMessage{}, false, replies, malformed26("chunk of transfer %d: %d bytes at offset %d, accepted %v, %d of %d received", f.ID, len(f.Payload), f.Offset, t.accepted, len(t.data), t.size)
		}
		// The buffer grows with what arrived, never to the size an offer
		// announced: an offer, one chunk and a cancel, again and again,
		// must not make us allocate the whole announced size each time.
		t.data = append(t.data, f.Payload...)
		r.held += len(f.Payload)
		for _, w := range r.transfers { // waiting offers live while we make progress
			w.lastProgress = now
		}
		if len(t.data) < t.size {
			return ActionMessage{}, false, nil, nil
		}
		r.release(t, false)
		if a := r.admit(now); a != nil {
			replies = append(replies, a)
		}
		m := ActionMessage{Type: t.typ, Kind: t.format, Payload: t.data, Meta: t.meta}
		if err := m.validate(); err != nil {
			return ActionMessage{}, false, replies, fmt.Errorf("failed to receive %q: %w", t.typ, err)
		}
		return m, true, replies, nil
	}
	return ActionMessage{}, false, nil, fmt.Errorf("failed to receive: %s frames answer our own offers", f.Kind)
}

func cloneMeta(m json.RawMessage) json.RawMessage {
	if m == nil {
		return nil
	}
	return json.RawMessage(bytes.Clone(m))
}

// Expire drops the transfers that made no progress for PartialTimeout
// before now and returns the rejected frames to send (and the accepted
// frame of an offer admitted in their place).
func (r *Receiver26) Expire(now time.Time) (replies [][]byte) {
	for _, t := range r.transfers {
		if now.Sub(t.lastProgress) >= r.limits.PartialTimeout {
			r.release(t, true)
			replies = append(replies, control26(Wire26Rejected, t.id, RejectTimedOut))
		}
	}
	if len(replies) > 0 {
		if a := r.admit(now); a != nil {
			replies = append(replies, a)
		}
	}
	return replies
}

// NextExpiry returns when the oldest pending transfer expires if nothing
// progresses; ok is false when nothing is pending.
func (r *Receiver26) NextExpiry() (at time.Time, ok bool) {
	for _, t := range r.transfers {
		if x := t.lastProgress.Add(r.limits.PartialTimeout); !ok || x.Before(at) {
			at, ok = x, true
		}
	}
	return at, ok
}
