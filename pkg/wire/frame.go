package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Trystero's data-channel framing of 0.23.1–0.25.4 ("Trystero 0.25
// framing"; trystero-wire.md §5.1, §5.2, which calls it v2: not to be
// confused with the version byte 2 of Trystero 0.26 framing, frame26.go).
// The room and presence frames are the same in both.
//
// Every data-channel message is a frame:
//
//	room data: [0x01][token length u16 BE][room token][action chunk]
//	presence:  [0x02][0|1][token length u16 BE][room token]
//
// An action chunk is a 36-byte header followed by a payload slice:
//
//	[type, UTF-8, zero-padded to 32][nonce u16 BE][flags][progress]
const (
	// ActionTypeSize is the width of the zero-padded action type field.
	ActionTypeSize = 32
	// ChunkHeaderSize is the size of an action chunk header.
	ChunkHeaderSize = ActionTypeSize + 2 + 1 + 1
	// MaxChunkSize is the largest chunk the encoder produces (data chunks;
	// a metadata chunk is as large as its JSON).
	MaxChunkSize = 16 * 1024
	// ChunkPayloadSize is how many payload bytes one data chunk carries.
	ChunkPayloadSize = MaxChunkSize - ChunkHeaderSize // 16348

	// RoomFramePrefixSize is the size of a room data frame's header: the
	// kind byte and the room token's u16 length, before the token.
	RoomFramePrefixSize     = 3
	presenceFramePrefixSize = 4
	maxRoomTokenLength      = math.MaxUint16
)

var (
	// ErrMalformedFrame means a data-channel frame could not be decoded.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrMalformedChunk means an action chunk could not be decoded or its
	// reassembled payload is not valid for its kind.
	ErrMalformedChunk = errors.New("malformed action chunk")
	// ErrInvalidActionType means an action type is empty, longer than 32
	// bytes, not UTF-8, or contains a NUL byte.
	ErrInvalidActionType = errors.New("invalid action type")
	// ErrInvalidPayload means a message payload does not match its kind
	// (a string that is not UTF-8, JSON or metadata that is not valid JSON).
	ErrInvalidPayload = errors.New("invalid action payload")
	// ErrMessageTooLarge means a reassembled message would exceed the limit.
	ErrMessageTooLarge = errors.New("action message too large")
	// ErrTooManyPartialMessages means too many messages are being
	// reassembled at once.
	ErrTooManyPartialMessages = errors.New("too many partial action messages")
	// ErrReassemblyBudget means the messages being reassembled would hold
	// more bytes than the reassembly budget.
	ErrReassemblyBudget = errors.New("partial action messages over the reassembly budget")
)

// FrameKind tells room data frames from presence frames.
type FrameKind uint8

// Frame kinds; the values are the first byte on the wire.
const (
	FrameRoomData FrameKind = 0x01
	FramePresence FrameKind = 0x02
)

// Frame is one decoded data-channel message.
type Frame struct {
	Kind      FrameKind
	RoomToken string
	// Present is the presence flag of a FramePresence frame.
	Present bool
	// Chunk is the action chunk of a FrameRoomData frame. It aliases the
	// decoded buffer.
	Chunk []byte
}

func checkRoomToken(token string) error {
	if token == "" || len(token) > maxRoomTokenLength {
		return fmt.Errorf("%w: room token length %d", ErrMalformedFrame, len(token))
	}
	return nil
}

// EncodeRoomFrame wraps an action chunk in a room data frame.
func EncodeRoomFrame(roomToken string, chunk []byte) ([]byte, error) {
	if err := checkRoomToken(roomToken); err != nil {
		return nil, fmt.Errorf("failed to encode room frame: %w", err)
	}
	out := make([]byte, 0, RoomFramePrefixSize+len(roomToken)+len(chunk))
	out = append(out, byte(FrameRoomData))
	out = binary.BigEndian.AppendUint16(out, uint16(len(roomToken)))
	out = append(out, roomToken...)
	return append(out, chunk...), nil
}

// EncodePresenceFrame builds a presence frame announcing that the sender is
// (present=true) or no longer is (false) in the room.
func EncodePresenceFrame(roomToken string, present bool) ([]byte, error) {
	if err := checkRoomToken(roomToken); err != nil {
		return nil, fmt.Errorf("failed to encode presence frame: %w", err)
	}
	out := make([]byte, 0, presenceFramePrefixSize+len(roomToken))
	out = append(out, byte(FramePresence), 0)
	if present {
		out[1] = 1
	}
	out = binary.BigEndian.AppendUint16(out, uint16(len(roomToken)))
	return append(out, roomToken...), nil
}

// DecodeFrame decodes a data-channel message. Errors wrap ErrMalformedFrame.
func DecodeFrame(data []byte) (Frame, error) {
	if len(data) < RoomFramePrefixSize {
		return Frame{}, fmt.Errorf("failed to decode frame: %w: %d bytes", ErrMalformedFrame, len(data))
	}
	switch FrameKind(data[0]) {
	case FrameRoomData:
		n := int(binary.BigEndian.Uint16(data[1:3]))
		if n == 0 || len(data) < RoomFramePrefixSize+n {
			return Frame{}, fmt.Errorf("failed to decode room frame: %w: token length %d, frame %d bytes", ErrMalformedFrame, n, len(data))
		}
		return Frame{
			Kind:      FrameRoomData,
			RoomToken: string(data[RoomFramePrefixSize : RoomFramePrefixSize+n]),
			Chunk:     data[RoomFramePrefixSize+n:],
		}, nil
	case FramePresence:
		if len(data) < presenceFramePrefixSize {
			return Frame{}, fmt.Errorf("failed to decode presence frame: %w: %d bytes", ErrMalformedFrame, len(data))
		}
		if data[1] > 1 {
			return Frame{}, fmt.Errorf("failed to decode presence frame: %w: presence flag %d", ErrMalformedFrame, data[1])
		}
		n := int(binary.BigEndian.Uint16(data[2:4]))
		if n == 0 || len(data) != presenceFramePrefixSize+n {
			return Frame{}, fmt.Errorf("failed to decode presence frame: %w: token length %d, frame %d bytes", ErrMalformedFrame, n, len(data))
		}
		return Frame{
			Kind:      FramePresence,
			RoomToken: string(data[presenceFramePrefixSize:]),
			Present:   data[1] == 1,
		}, nil
	default:
		return Frame{}, fmt.Errorf("failed to decode frame: %w: unknown kind 0x%02x", ErrMalformedFrame, data[0])
	}
}

// ChunkFlags are the tag bits of an action chunk.
type ChunkFlags uint8

// Tag bits.
const (
	FlagLast   ChunkFlags = 1 << 0
	FlagMeta   ChunkFlags = 1 << 1
	FlagBinary ChunkFlags = 1 << 2
	FlagJSON   ChunkFlags = 1 << 3
)

// Chunk is one decoded action chunk.
type Chunk struct {
	Type     string
	Nonce    uint16
	Flags    ChunkFlags
	Progress uint8
	// Payload aliases the decoded buffer.
	Payload []byte
}

// CheckActionType reports whether typ can name an action: 1 to
// ActionTypeSize bytes of UTF-8 without NUL; errors wrap
// ErrInvalidActionType.
func CheckActionType(typ string) error {
	switch {
	case typ == "":
		return fmt.Errorf("%w: empty", ErrInvalidActionType)
	case len(typ) > ActionTypeSize:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidActionType, len(typ), ActionTypeSize)
	case !utf8.ValidString(typ):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidActionType)
	case strings.IndexByte(typ, 0) >= 0:
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidActionType)
	}
	return nil
}

// AppendChunk appends the wire form of c to dst.
func AppendChunk(dst []byte, c Chunk) ([]byte, error) {
	if err := CheckActionType(c.Type); err != nil {
		return dst, fmt.Errorf("failed to encode chunk: %w", err)
	}
	var header [ChunkHeaderSize]byte
	copy(header[:ActionTypeSize], c.Type)
	binary.BigEndian.PutUint16(header[ActionTypeSize:], c.Nonce)
	header[ActionTypeSize+2] = byte(c.Flags)
	header[ActionTypeSize+3] = c.Progress
	dst = append(dst, header[:]...)
	return append(dst, c.Payload...), nil
}

// DecodeChunk decodes an action chunk. Like Trystero, it strips every NUL
// byte from the type field. Errors wrap ErrMalformedChunk.
func DecodeChunk(data []byte) (Chunk, error) {
	if len(data) < ChunkHeaderSize {
		return Chunk{}, fmt.Errorf("failed to decode chunk: %w: %d bytes, header is %d", ErrMalformedChunk, len(data), ChunkHeaderSize)
	}
	typ := string(bytes.ReplaceAll(data[:ActionTypeSize], []byte{0}, nil))
	if typ == "" || !utf8.ValidString(typ) {
		return Chunk{}, fmt.Errorf("failed to decode chunk: %w: %w", ErrMalformedChunk, ErrInvalidActionType)
	}
	return Chunk{
		Type:     typ,
		Nonce:    binary.BigEndian.Uint16(data[ActionTypeSize:]),
		Flags:    ChunkFlags(data[ActionTypeSize+2]),
		Progress: data[ActionTypeSize+3],
		Payload:  data[ChunkHeaderSize:],
	}, nil
}

// chunkProgress is Trystero's progress byte: JavaScript's
// Math.round((i+1)/total*255), computed with the same float64 operations.
func chunkProgress(i, total int) uint8 {
	x := float64(i+1) / float64(total) * 255
	r := math.Floor(x)
	if x-r >= 0.5 {
		r++
	}
	return uint8(r)
}

// PayloadKind is how an action payload is encoded, matching what a
// JavaScript peer sends and receives.
type PayloadKind uint8

// Payload kinds.
const (
	// PayloadString is a JS string: raw UTF-8, no flags.
	PayloadString PayloadKind = iota
	// PayloadJSON is any other JS value, JSON.stringify'd: FlagJSON.
	PayloadJSON
	// PayloadBinary is an ArrayBuffer/TypedArray/Blob: FlagBinary|FlagJSON.
	PayloadBinary
)

func (k PayloadKind) String() string {
	switch k {
	case PayloadString:
		return "string"
	case PayloadJSON:
		return "json"
	case PayloadBinary:
		return "binary"
	}
	return fmt.Sprintf("PayloadKind(%d)", uint8(k))
}

func (k PayloadKind) flags() (ChunkFlags, error) {
	switch k {
	case PayloadString:
		return 0, nil
	case PayloadJSON:
		return FlagJSON, nil
	case PayloadBinary:
		return FlagBinary | FlagJSON, nil
	}
	return 0, fmt.Errorf("%w: unknown payload kind %d", ErrInvalidPayload, uint8(k))
}

func payloadKindOf(f ChunkFlags) PayloadKind {
	switch {
	case f&FlagBinary != 0:
		return PayloadBinary
	case f&FlagJSON != 0:
		return PayloadJSON
	}
	return PayloadString
}

// ActionMessage is one whole action message of a room.
type ActionMessage struct {
	Type string
	Kind PayloadKind
	// Payload is UTF-8 text (PayloadString), JSON text (PayloadJSON) or raw
	// bytes (PayloadBinary).
	Payload []byte
	// Meta is the optional metadata as JSON text; nil means none.
	Meta json.RawMessage
}

// StringMessage builds a message carrying a JS string.
func StringMessage(typ, s string) ActionMessage {
	return ActionMessage{Type: typ, Kind: PayloadString, Payload: []byte(s)}
}

// BinaryMessage builds a message carrying bytes.
func BinaryMessage(typ string, b []byte) ActionMessage {
	return ActionMessage{Type: typ, Kind: PayloadBinary, Payload: b}
}

// JSONMessage builds a message carrying v as JSON, encoded like
// JSON.stringify (see MarshalJSValue).
func JSONMessage(typ string, v any) (ActionMessage, error) {
	payload, err := MarshalJSValue(v)
	if err != nil {
		return ActionMessage{}, fmt.Errorf("failed to build %q message: %w", typ, err)
	}
	return ActionMessage{Type: typ, Kind: PayloadJSON, Payload: payload}, nil
}

// WithMeta returns a copy of m carrying v (JSON-encoded) as metadata.
func (m ActionMessage) WithMeta(v any) (ActionMessage, error) {
	meta, err := MarshalJSValue(v)
	if err != nil {
		return ActionMessage{}, fmt.Errorf("failed to encode metadata: %w", err)
	}
	m.Meta = meta
	return m, nil
}

// MarshalJSValue encodes v as JSON without HTML escaping, so that the bytes
// match JavaScript's JSON.stringify for ordinary values (Go still escapes
// U+2028/U+2029, which any JSON parser reads back the same).
func MarshalJSValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("failed to encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (m ActionMessage) validate() error {
	if err := CheckActionType(m.Type); err != nil {
		return err
	}
	switch m.Kind {
	case PayloadString:
		if !utf8.Valid(m.Payload) {
			return fmt.Errorf("%w: string payload is not UTF-8", ErrInvalidPayload)
		}
	case PayloadJSON:
		if !json.Valid(m.Payload) {
			return fmt.Errorf("%w: JSON payload is not valid JSON", ErrInvalidPayload)
		}
	case PayloadBinary:
	default:
		return fmt.Errorf("%w: unknown payload kind %d", ErrInvalidPayload, uint8(m.Kind))
	}
	if m.Meta != nil && !json.Valid(m.Meta) {
		return fmt.Errorf("%w: metadata is not valid JSON", ErrInvalidPayload)
	}
	return nil
}

// ActionEncoder splits action messages into chunks. It keeps one nonce
// counter per action type, so use one encoder per room (per local room
// instance, as Trystero does). It is safe for concurrent use.
type ActionEncoder struct {
	mu     sync.Mutex
	nonces map[string]uint16
}

// NewActionEncoder returns an encoder whose nonce counters all start at 0.
func NewActionEncoder() *ActionEncoder {
	return &ActionEncoder{nonces: make(map[string]uint16)}
}

func (e *ActionEncoder) nextNonce(typ string) uint16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := e.nonces[typ]
	e.nonces[typ] = n + 1 // wraps at 0xffff like Trystero's & 0xffff
	return n
}

// EncodeChunks splits m into action chunks (without the room frame). With
// metadata, chunk 0 carries it; an empty payload still yields one chunk.
func (e *ActionEncoder) EncodeChunks(m ActionMessage) ([][]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("failed to encode %q message: %w", m.Type, err)
	}
	kindFlags, err := m.Kind.flags()
	if err != nil {
		return nil, fmt.Errorf("failed to encode %q message: %w", m.Type, err)
	}
	hasMeta := m.Meta != nil
	dataChunks := (len(m.Payload) + ChunkPayloadSize - 1) / ChunkPayloadSize
	total := dataChunks
	if hasMeta {
		total++
	}
	if total == 0 {
		total = 1
	}
	nonce := e.nextNonce(m.Type)

	chunks := make([][]byte, 0, total)
	for i := 0; i < total; i++ {
		c := Chunk{Type: m.Type, Nonce: nonce, Flags: kindFlags, Progress: chunkProgress(i, total)}
		if i == total-1 {
			c.Flags |= FlagLast
		}
		if hasMeta && i == 0 {
			c.Flags |= FlagMeta
			c.Payload = m.Meta
		} else {
			d := i
			if hasMeta {
				d--
			}
			start := d * ChunkPayloadSize
			end := min(start+ChunkPayloadSize, len(m.Payload))
			c.Payload = m.Payload[start:end]
		}
		out, err := AppendChunk(make([]byte, 0, ChunkHeaderSize+len(c.Payload)), c)
		if err != nil {
			return nil, fmt.Errorf("failed to encode %q message: %w", m.Type, err)
		}
		chunks = append(chunks, out)
	}
	return chunks, nil
}

// EncodeFrames splits m into chunks and wraps each in a room data frame.
func (e *ActionEncoder) EncodeFrames(roomToken string, m ActionMessage) ([][]byte, error) {
	if err := checkRoomToken(roomToken); err != nil {
		return nil, fmt.Errorf("failed to encode %q message: %w", m.Type, err)
	}
	chunks, err := e.EncodeChunks(m)
	if err != nil {
		return nil, err
	}
	for i, c := range chunks {
		if chunks[i], err = EncodeRoomFrame(roomToken, c); err != nil {
			return nil, err
		}
	}
	return chunks, nil
}

// ReassemblerLimits bound the memory a Reassembler may hold, in bytes and
// in time: messages arrive in chunks before anything about the sender is
// known, so what a peer can make us hold must not depend on its good will.
type ReassemblerLimits struct {
	// MaxMessageSize bounds payload plus metadata bytes of one message.
	MaxMessageSize int
	// MaxPartialMessages bounds how many messages may be incomplete at once.
	MaxPartialMessages int
	// MaxPartialBytes bounds the bytes held by all incomplete messages
	// together. It is raised to MaxMessageSize if lower, so that one
	// message of the largest size can always be received.
	MaxPartialBytes int
	// PartialTimeout: an incomplete message that receives no chunk for this
	// long is dropped (see Expire).
	PartialTimeout time.Duration
}

// Defaults of ReassemblerLimits, also pkg/swarm's Config defaults.
const (
	// DefaultMaxMessageBytes bounds one reassembled action message: the
	// peerset session's largest message (a records batch, 512 KiB by
	// default) with room to spare.
	DefaultMaxMessageBytes = 640 << 10
	// DefaultMaxPartialMessages bounds the action messages of one peer that
	// may be partially received at once.
	DefaultMaxPartialMessages = 4
	// DefaultMaxPartialBytes bounds the bytes that the partially received
	// messages of one peer may hold together.
	DefaultMaxPartialBytes = 1 << 20
	// DefaultPartialTimeout: a partially received message that gets no
	// chunk for this long is dropped.
	DefaultPartialTimeout = 10 * time.Second
)

// DefaultReassemblerLimits are used for zero fields of ReassemblerLimits.
var DefaultReassemblerLimits = ReassemblerLimits{
	MaxMessageSize:     DefaultMaxMessageBytes,
	MaxPartialMessages: DefaultMaxPartialMessages,
	MaxPartialBytes:    DefaultMaxPartialBytes,
	PartialTimeout:     DefaultPartialTimeout,
}

type partialKey struct {
	typ   string
	nonce uint16
}

type partialMessage struct {
	// chunks are copies of the data chunks received so far; they are
	// joined once, when the last chunk arrives, so that what is held is
	// exactly what was received.
	chunks       [][]byte
	size         int // payload bytes in chunks
	meta         []byte
	hasMeta      bool
	lastProgress time.Time
}

func (p *partialMessage) held() int { return p.size + len(p.meta) }

// Reassembler joins action chunks back into messages, keyed by (type,
// nonce). Use one per remote peer and room. It is not safe for concurrent
// use. It never panics on bad input; errors wrap ErrMalformedChunk,
// ErrInvalidPayload, ErrMessageTooLarge, ErrTooManyPartialMessages or
// ErrReassemblyBudget, and drop the affected message: its remaining chunks
// are skipped silently.
//
// What it holds is bounded by its limits: at most MaxPartialMessages
// incomplete messages, MaxPartialBytes in all, and nothing that made no
// progress for PartialTimeout once Expire ran (Add runs it too).
type Reassembler struct {
	limits   ReassemblerLimits
	partials map[partialKey]*partialMessage
	held     int // bytes held by partials
	// discarding holds messages dropped before their last chunk: their
	// remaining chunks are skipped, so that the tail of a dropped message
	// cannot pass for a message of its own.
	discarding map[partialKey]struct{}
	now        func() time.Time
}

// NewReassembler returns a Reassembler with the given limits; zero fields
// take DefaultReassemblerLimits.
func NewReassembler(limits ReassemblerLimits) *Reassembler {
	if limits.MaxMessageSize <= 0 {
		limits.MaxMessageSize = DefaultReassemblerLimits.MaxMessageSize
	}
	if limits.MaxPartialMessages <= 0 {
		limits.MaxPartialMessages = DefaultReassemblerLimits.MaxPartialMessages
	}
	if limits.MaxPartialBytes <= 0 {
		limits.MaxPartialBytes = DefaultReassemblerLimits.MaxPartialBytes
	}
	limits.MaxPartialBytes = max(limits.MaxPartialBytes, limits.MaxMessageSize)
	if limits.PartialTimeout <= 0 {
		limits.PartialTimeout = DefaultReassemblerLimits.PartialTimeout
	}
	return &Reassembler{
		limits:     limits,
		partials:   make(map[partialKey]*partialMessage),
		discarding: make(map[partialKey]struct{}),
		now:        time.Now,
	}
}

// Limits returns the limits in use, defaults applied.
func (r *Reassembler) Limits() ReassemblerLimits { return r.limits }

// Pending returns how many messages are partially received.
func (r *Reassembler) Pending() int { return len(r.partials) }

// HeldBytes returns the payload and metadata bytes of the partially
// received messages.
func (r *Reassembler) HeldBytes() int { return r.held }

// Reset drops every partial message.
func (r *Reassembler) Reset() {
	clear(r.partials)
	clear(r.discarding)
	r.held = 0
}

// Expire drops the partial messages that received no chunk for
// PartialTimeout before now (their remaining chunks will be skipped) and
// returns how many it dropped.
func (r *Reassembler) Expire(now time.Time) int {
	dropped := 0
	for key, p := range r.partials {
		if now.Sub(p.lastProgress) >= r.limits.PartialTimeout {
			r.drop(key, false)
			dropped++
		}
	}
	return dropped
}

// NextExpiry returns when the oldest partial message will expire if it
// makes no progress; ok is false when nothing is partial.
func (r *Reassembler) NextExpiry() (at time.Time, ok bool) {
	for _, p := range r.partials {
		if t := p.lastProgress.Add(r.limits.PartialTimeout); !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok
}

// drop forgets a partial message and skips its remaining chunks.
func (r *Reassembler) drop(key partialKey, isLast bool) {
	if p := r.partials[key]; p != nil {
		r.held -= p.held()
		delete(r.partials, key)
	}
	r.discard(key, isLast)
}

// discard skips the remaining chunks of a message dropped before its last
// chunk. The set is bounded like the partial messages.
func (r *Reassembler) discard(key partialKey, isLast bool) {
	if isLast {
		return
	}
	if len(r.discarding) >= 4*r.limits.MaxPartialMessages {
		clear(r.discarding)
	}
	r.discarding[key] = struct{}{}
}

// Add feeds one action chunk (without its room frame). It returns the whole
// message and true when c was its last chunk. The returned message owns its
// bytes.
func (r *Reassembler) Add(data []byte) (ActionMessage, bool, error) {
	c, err := DecodeChunk(data)
	if err != nil {
		return ActionMessage{}, false, err
	}
	key := partialKey{typ: c.Type, nonce: c.Nonce}
	p := r.partials[key]
	isLast := c.Flags&FlagLast != 0
	isMeta := c.Flags&FlagMeta != 0

	if _, skip := r.discarding[key]; skip && p == nil {
		if isLast {
			delete(r.discarding, key)
		}
		return ActionMessage{}, false, nil
	}
	now := r.now()
	if p == nil {
		if len(c.Payload) > r.limits.MaxMessageSize {
			r.discard(key, isLast)
			return ActionMessage{}, false, fmt.Errorf("failed to reassemble %q: %w: over %d bytes", c.Type, ErrMessageTooLarge, r.limits.MaxMessageSize)
		}
		if isLast && !isMeta {
			// Single-chunk message: no state needed.
			return r.finish(c, &partialMessage{chunks: [][]byte{c.Payload}, size: len(c.Payload)})
		}
		if !isLast {
			r.Expire(now) // a stale message must not keep a fresh one out
		}
		if !isLast && len(r.partials) >= r.limits.MaxPartialMessages {
			r.discard(key, isLast)
			return ActionMessage{}, false, fmt.Errorf("failed to reassemble %q: %w (limit %d)", c.Type, ErrTooManyPartialMessages, r.limits.MaxPartialMessages)
		}
		p = &partialMessage{}
		r.partials[key] = p
	}

	fail := func(err error) (ActionMessage, bool, error) {
		r.drop(key, isLast)
		return ActionMessage{}, false, fmt.Errorf("failed to reassemble %q: %w", c.Type, err)
	}
	if p.held()+len(c.Payload) > r.limits.MaxMessageSize {
		return fail(fmt.Errorf("%w: over %d bytes", ErrMessageTooLarge, r.limits.MaxMessageSize))
	}
	if !isLast && r.held+len(c.Payload) > r.limits.MaxPartialBytes {
		return fail(fmt.Errorf("%w: %d bytes held, limit %d", ErrReassemblyBudget, r.held, r.limits.MaxPartialBytes))
	}
	switch {
	case isMeta && p.hasMeta:
		return fail(fmt.Errorf("%w: second metadata chunk", ErrMalformedChunk))
	case isMeta:
		p.meta, p.hasMeta = c.Payload, true
		if !isLast { // the last chunk is copied by finish, right below
			p.meta = bytes.Clone(c.Payload)
		}
	case len(c.Payload) == 0 && !isLast:
		return fail(fmt.Errorf("%w: empty data chunk before the last", ErrMalformedChunk))
	default:
		chunk := c.Payload
		if !isLast {
			chunk = bytes.Clone(chunk)
		}
		p.chunks = append(p.chunks, chunk)
		p.size += len(chunk)
	}
	r.held += len(c.Payload)
	p.lastProgress = now
	if !isLast {
		return ActionMessage{}, false, nil
	}
	r.held -= p.held()
	delete(r.partials, key)
	return r.finish(c, p)
}

// finish builds the message, copying its chunks into one buffer (so that
// it owns its bytes); the kind comes from the last chunk's flags, as in
// Trystero.
func (r *Reassembler) finish(last Chunk, p *partialMessage) (ActionMessage, bool, error) {
	payload := make([]byte, 0, p.size)
	for _, c := range p.chunks {
		payload = append(payload, c...)
	}
	m := ActionMessage{Type: last.Type, Kind: payloadKindOf(last.Flags), Payload: payload}
	if p.hasMeta {
		m.Meta = json.RawMessage(bytes.Clone(p.meta))
		if m.Meta == nil {
			m.Meta = json.RawMessage{}
		}
	}
	if err := m.validate(); err != nil {
		return ActionMessage{}, false, fmt.Errorf("failed to reassemble %q: %w", last.Type, err)
	}
	return m, true, nil
}
