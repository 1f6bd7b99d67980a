package session

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

// ProtocolVersion is the version of the peerset session protocol this package
// speaks; a hello with another version is refused with ByeVersion.
const ProtocolVersion = 1

// Action names (transport "action types", at most MaxActionBytes bytes each).
const (
	ActionPrefix   = "peerset/"
	ActionHello    = "peerset/hello"
	ActionAuth     = "peerset/auth"
	ActionRoot     = "peerset/root"
	ActionNeg      = "peerset/neg"
	ActionNegReply = "peerset/neg-reply"
	ActionWant     = "peerset/want"
	ActionRecords  = "peerset/records"
	ActionBye      = "peerset/bye"
)

// Wire constants.
const (
	// MaxActionBytes is the longest action name (Trystero v2's action header).
	MaxActionBytes = 32
	// MaxControlBytes caps the payload of hello, auth, root and bye.
	MaxControlBytes = 4096
	// NonceSize is the length of a hello nonce.
	NonceSize = 32
	// MaxByeCodeBytes and MaxByeReasonBytes cap a bye's fields.
	MaxByeCodeBytes   = 32
	MaxByeReasonBytes = 512
	// idSize is the length of a record id.
	idSize = 32
)

// Bye codes: why a session ends.
const (
	ByeVersion   = "version"   // protocol version mismatch
	ByeRoom      = "room"      // the hello names another room
	ByeBanned    = "banned"    // the peer is banned
	ByeFull      = "full"      // MaxPeers reached
	ByeAuth      = "auth"      // handshake failed (bad signature, reflected nonce, bad hello)
	ByeTimeout   = "timeout"   // handshake or challenge timeout
	ByeExpired   = "expired"   // max peer or client session time reached
	ByeViolation = "violation" // unrecoverable protocol violation
	ByeShutdown  = "shutdown"  // the local node is leaving
	ByeReplaced  = "replaced"  // a newer connection to the same transport id replaced this one
)

// Limits are what a peer accepts, advertised in its hello; the sender keeps its
// messages within the smaller of its own and the receiver's limits.
type Limits struct {
	Frame   int `json:"frame"`   // negentropy message bytes (decoded)
	Records int `json:"records"` // events per records message
	Bytes   int `json:"bytes"`   // bytes per records message (the whole payload)
	Want    int `json:"want"`    // ids per want message
}

func (l Limits) check() error {
	switch {
	case l.Frame < MinFrameSizeLimit || l.Frame > MaxFrameSizeLimit:
		return fmt.Errorf("frame size limit %d outside %d..%d", l.Frame, MinFrameSizeLimit, MaxFrameSizeLimit)
	case l.Records < MinBatchRecords || l.Records > MaxBatchRecords:
		return fmt.Errorf("batch records %d outside %d..%d", l.Records, MinBatchRecords, MaxBatchRecords)
	case l.Bytes < MinBatchBytes || l.Bytes > MaxBatchBytes:
		return fmt.Errorf("batch bytes %d outside %d..%d", l.Bytes, MinBatchBytes, MaxBatchBytes)
	case l.Want < MinWantIDs || l.Want > MaxWantIDs:
		return fmt.Errorf("want ids %d outside %d..%d", l.Want, MinWantIDs, MaxWantIDs)
	}
	return nil
}

// min returns the field-wise minimum: what a sender may use towards a receiver.
func (l Limits) min(o Limits) Limits {
	return Limits{Frame: min(l.Frame, o.Frame), Records: min(l.Records, o.Records), Bytes: min(l.Bytes, o.Bytes), Want: min(l.Want, o.Want)}
}

// Hello is the payload of peerset/hello, which opens the handshake. Peers
// built on Manager never handle it; it is exported, with EncodeHello,
// DecodeHello and SignAuth, for tools and tests that speak the protocol by
// hand.
type Hello struct {
	Version int
	Room    string // record.RoomID: 64 lowercase hex digits
	PubKey  record.PublicKey
	Nonce   [NonceSize]byte
	Limits  Limits
	// Rules is the optional digest of the sender's moderation rules
	// (moderation.Config.Digest): at most MaxRulesDigestBytes of printable
	// ASCII, "" when not sent.
	Rules string
	// Gossip says the sender speaks gossip (ihave, iwant: docs/protocol.md
	// 4.8); a peer that does not gets new records pushed instead.
	Gossip bool
	// Blobs says the sender serves and fetches blobs (docs/protocol.md
	// 4.10); a peer that does not is never sent blob messages.
	Blobs bool
}

// MaxRulesDigestBytes bounds Hello.Rules.
const MaxRulesDigestBytes = 64

type helloJSON struct {
	V      *int    `json:"v"`
	Room   *string `json:"room"`
	PubKey *string `json:"pubkey"`
	Nonce  *string `json:"nonce"`
	Limits *Limits `json:"limits"`
	Rules  string  `json:"rules,omitempty"`
	Gossip bool    `json:"gossip,omitempty"`
	Blobs  bool    `json:"blobs,omitempty"`
}

// EncodeHello writes a hello payload.
func EncodeHello(h Hello) []byte {
	v, room, pk, nonce, lim := h.Version, h.Room, h.PubKey.Hex(), fmt.Sprintf("%x", h.Nonce), h.Limits
	b, _ := json.Marshal(helloJSON{V: &v, Room: &room, PubKey: &pk, Nonce: &nonce, Limits: &lim, Rules: h.Rules, Gossip: h.Gossip, Blobs: h.Blobs})
	return b
}

// DecodeHello reads a hello. It reads the version first, so that a hello of
// another version fails with ErrVersionMismatch however the rest looks; unknown
// fields are allowed (the hello is the protocol's extension point). Everything
// else must be present and well formed: errors wrap ErrProtocolViolation.
func DecodeHello(payload []byte) (Hello, error) {
	var h Hello
	if len(payload) > MaxControlBytes {
		return h, fmt.Errorf("%w: hello of %d bytes", ErrMessageTooLarge, len(payload))
	}
	var j helloJSON
	if err := decodeJSON(payload, &j, false); err != nil {
		return h, err
	}
	if j.V == nil {
		return h, fmt.Errorf("%w: hello without version", ErrProtocolViolation)
	}
	if *j.V != ProtocolVersion {
		return h, fmt.Errorf("%w: peer speaks version %d, we speak %d", ErrVersionMismatch, *j.V, ProtocolVersion)
	}
	if j.Room == nil || j.PubKey == nil || j.Nonce == nil || j.Limits == nil {
		return h, fmt.Errorf("%w: hello lacks a field", ErrProtocolViolation)
	}
	h.Version, h.Limits = *j.V, *j.Limits
	if _, err := parseHex(*j.Room, 32); err != nil {
		return h, fmt.Errorf("%w: hello room: %w", ErrProtocolViolation, err)
	}
	h.Room = *j.Room
	pk, err := parseHex(*j.PubKey, 32)
	if err != nil {
		return h, fmt.Errorf("%w: hello pubkey: %w", ErrProtocolViolation, err)
	}
	h.PubKey = record.PublicKey(pk)
	if !h.PubKey.Valid() {
		return h, fmt.Errorf("%w: hello pubkey: %w", ErrProtocolViolation, record.ErrInvalidPublicKey)
	}
	nonce, err := parseHex(*j.Nonce, NonceSize)
	if err != nil {
		return h, fmt.Errorf("%w: hello nonce: %w", ErrProtocolViolation, err)
	}
	h.Nonce = [NonceSize]byte(nonce)
	if err := h.Limits.check(); err != nil {
		return h, fmt.Errorf("%w: hello limits: %w", ErrProtocolViolation, err)
	}
	if len(j.Rules) > MaxRulesDigestBytes || strings.IndexFunc(j.Rules, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return h, fmt.Errorf("%w: hello rules digest is not up to %d printable ASCII characters", ErrProtocolViolation, MaxRulesDigestBytes)
	}
	h.Rules, h.Gossip, h.Blobs = j.Rules, j.Gossip, j.Blobs
	return h, nil
}

// auth answers the peer's nonce: a BIP-340 signature over AuthHash.
type auth struct {
	Sig [64]byte
}

type authJSON struct {
	Sig *string `json:"sig"`
}

func encodeAuth(a auth) []byte {
	s := fmt.Sprintf("%x", a.Sig)
	b, _ := json.Marshal(authJSON{Sig: &s})
	return b
}

func decodeAuth(payload []byte) (auth, error) {
	var a auth
	if len(payload) > MaxControlBytes {
		return a, fmt.Errorf("%w: auth of %d bytes", ErrMessageTooLarge, len(payload))
	}
	var j authJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return a, err
	}
	if j.Sig == nil {
		return a, fmt.Errorf("%w: auth without sig", ErrProtocolViolation)
	}
	sig, err := parseHex(*j.Sig, 64)
	if err != nil {
		return a, fmt.Errorf("%w: auth sig: %w", ErrProtocolViolation, err)
	}
	a.Sig = [64]byte(sig)
	return a, nil
}

// rootMsg announces the sender's set: the negentropy fingerprint of all its
// items, and their count.
type rootMsg struct {
	Root  merkle.Fingerprint
	Count int
}

type rootJSON struct {
	Root  *string `json:"root"`
	Count *int64  `json:"count"`
}

// maxCount bounds counts on the wire (JavaScript's safe integers).
const maxCount = 1<<53 - 1

func encodeRoot(r rootMsg) []byte {
	s, n := r.Root.String(), int64(r.Count)
	b, _ := json.Marshal(rootJSON{Root: &s, Count: &n})
	return b
}

func decodeRoot(payload []byte) (rootMsg, error) {
	var r rootMsg
	if len(payload) > MaxControlBytes {
		return r, fmt.Errorf("%w: root of %d bytes", ErrMessageTooLarge, len(payload))
	}
	var j rootJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return r, err
	}
	if j.Root == nil || j.Count == nil {
		return r, fmt.Errorf("%w: root lacks a field", ErrProtocolViolation)
	}
	fp, err := parseHex(*j.Root, merkle.FingerprintSize)
	if err != nil {
		return r, fmt.Errorf("%w: root: %w", ErrProtocolViolation, err)
	}
	if *j.Count < 0 || *j.Count > maxCount {
		return r, fmt.Errorf("%w: root count %d out of range", ErrProtocolViolation, *j.Count)
	}
	r.Root, r.Count = merkle.Fingerprint(fp), int(*j.Count)
	return r, nil
}

// negMsg carries one negentropy v1 message of reconciliation sid: the
// initiator's on ActionNeg, the responder's answer on ActionNegReply.
type negMsg struct {
	SID uint32
	Msg []byte
}

type negJSON struct {
	SID *int64  `json:"sid"`
	Msg *string `json:"msg"`
}

func encodeNeg(n negMsg) []byte {
	sid, msg := int64(n.SID), base64.StdEncoding.EncodeToString(n.Msg)
	b, _ := json.Marshal(negJSON{SID: &sid, Msg: &msg})
	return b
}

// decodeNeg reads a neg or neg-reply whose message may hold at most frameLimit
// bytes. It checks the negentropy framing too (merkle.DecodeMessage).
func decodeNeg(payload []byte, frameLimit int) (negMsg, error) {
	var n negMsg
	if max := base64.StdEncoding.EncodedLen(frameLimit) + envelopeBytes; len(payload) > max {
		return n, fmt.Errorf("%w: neg of %d bytes, over %d", ErrMessageTooLarge, len(payload), max)
	}
	var j negJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return n, err
	}
	if j.SID == nil || j.Msg == nil {
		return n, fmt.Errorf("%w: neg lacks a field", ErrProtocolViolation)
	}
	if *j.SID < 1 || *j.SID > 1<<32-1 {
		return n, fmt.Errorf("%w: neg sid %d out of range", ErrProtocolViolation, *j.SID)
	}
	msg, err := decodeBase64(*j.Msg)
	if err != nil {
		return n, fmt.Errorf("%w: neg msg: %w", ErrProtocolViolation, err)
	}
	if len(msg) == 0 || len(msg) > frameLimit {
		return n, fmt.Errorf("%w: neg msg of %d bytes (limit %d)", ErrProtocolViolation, len(msg), frameLimit)
	}
	if _, err := merkle.DecodeMessage(msg); err != nil && !errors.Is(err, merkle.ErrUnsupportedVersion) {
		return n, fmt.Errorf("%w: neg msg: %w", ErrProtocolViolation, err)
	}
	n.SID, n.Msg = uint32(*j.SID), msg
	return n, nil
}

// wantMsg asks for records by id.
type wantMsg struct {
	IDs [][idSize]byte
}

type idsJSON struct {
	IDs *string `json:"ids"`
}

func encodeWant(w wantMsg) []byte {
	s := encodeIDs(w.IDs)
	b, _ := json.Marshal(idsJSON{IDs: &s})
	return b
}

// decodeWant reads a want of 1..maxIDs distinct ids.
func decodeWant(payload []byte, maxIDs int) (wantMsg, error) {
	var w wantMsg
	if max := base64.StdEncoding.EncodedLen(maxIDs*idSize) + envelopeBytes; len(payload) > max {
		return w, fmt.Errorf("%w: want of %d bytes, over %d", ErrMessageTooLarge, len(payload), max)
	}
	var j idsJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return w, err
	}
	if j.IDs == nil {
		return w, fmt.Errorf("%w: want without ids", ErrProtocolViolation)
	}
	ids, err := decodeIDs(*j.IDs, maxIDs)
	if err != nil {
		return w, err
	}
	if len(ids) == 0 {
		return w, fmt.Errorf("%w: empty want", ErrProtocolViolation)
	}
	w.IDs = ids
	return w, nil
}

// recordsMsg carries record events (an answer to a want, or a push), and the
// ids of a want the sender does not hold (any more).
type recordsMsg struct {
	Events  []json.RawMessage // each a NIP-01 event object, parsed by the caller
	Missing [][idSize]byte
}

type recordsJSON struct {
	Events  []json.RawMessage `json:"events"`
	Missing *string           `json:"missing"`
}

// recordsOverhead is the size of `{"events":[]}`.
const recordsOverhead = len(`{"events":[]}`)

// missingOverhead is the size of `,"missing":""` without the base64 text.
const missingOverhead = len(`,"missing":""`)

// appendRecords writes a records message from event JSON objects (already
// encoded) and missing ids.
func appendRecords(dst []byte, events [][]byte, missing [][idSize]byte) []byte {
	dst = append(dst, `{"events":[`...)
	for i, e := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	dst = append(dst, ']')
	if len(missing) > 0 {
		dst = append(dst, `,"missing":"`...)
		dst = append(dst, encodeIDs(missing)...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// decodeRecords reads a records message within the receiver's limits. Events
// are returned raw: one malformed event must not spoil the others.
func decodeRecords(payload []byte, lim Limits) (recordsMsg, error) {
	var r recordsMsg
	if len(payload) > lim.Bytes {
		return r, fmt.Errorf("%w: records of %d bytes, over %d", ErrMessageTooLarge, len(payload), lim.Bytes)
	}
	var j recordsJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return r, err
	}
	if j.Events == nil {
		return r, fmt.Errorf("%w: records without events", ErrProtocolViolation)
	}
	if len(j.Events) > lim.Records {
		return r, fmt.Errorf("%w: %d events in one message, over %d", ErrProtocolViolation, len(j.Events), lim.Records)
	}
	if j.Missing != nil {
		ids, err := decodeIDs(*j.Missing, lim.Bytes/idSize)
		if err != nil {
			return r, err
		}
		r.Missing = ids
	}
	if len(j.Events) == 0 && len(r.Missing) == 0 {
		return r, fmt.Errorf("%w: empty records message", ErrProtocolViolation)
	}
	r.Events = j.Events
	return r, nil
}

// byeMsg ends a session.
type byeMsg struct {
	Code   string
	Reason string
}

type byeJSON struct {
	Code   *string `json:"code"`
	Reason *string `json:"reason"`
}

func encodeBye(b byeMsg) []byte {
	code, reason := truncateUTF8(b.Code, MaxByeCodeBytes), truncateUTF8(b.Reason, MaxByeReasonBytes)
	out, _ := json.Marshal(byeJSON{Code: &code, Reason: &reason})
	return out
}

func decodeBye(payload []byte) (byeMsg, error) {
	var b byeMsg
	if len(payload) > MaxControlBytes {
		return b, fmt.Errorf("%w: bye of %d bytes", ErrMessageTooLarge, len(payload))
	}
	var j byeJSON
	if err := decodeJSON(payload, &j, true); err != nil {
		return b, err
	}
	if j.Code == nil || j.Reason == nil {
		return b, fmt.Errorf("%w: bye lacks a field", ErrProtocolViolation)
	}
	if len(*j.Code) == 0 || len(*j.Code) > MaxByeCodeBytes || len(*j.Reason) > MaxByeReasonBytes {
		return b, fmt.Errorf("%w: bye fields too long", ErrProtocolViolation)
	}
	b.Code, b.Reason = *j.Code, *j.Reason
	return b, nil
}

// decodeJSON decodes exactly one JSON object from payload into v. Unknown
// fields are refused when strict. Errors wrap ErrProtocolViolation.
func decodeJSON(payload []byte, v any, strict bool) error {
	if !utf8.Valid(payload) {
		return fmt.Errorf("%w: payload is not valid UTF-8", ErrProtocolViolation)
	}
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: payload is not a JSON object", ErrProtocolViolation)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: failed to decode payload: %w", ErrProtocolViolation, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrProtocolViolation)
	}
	return nil
}

// parseHex decodes exactly n bytes written as 2n lowercase hex digits.
func parseHex(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("want %d hex digits, got %d characters", 2*n, len(s))
	}
	out := make([]byte, n)
	for i := 0; i < n; i++ {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, errors.New("not lowercase hex")
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeBase64 reads standard, padded base64 (as JavaScript's btoa writes it),
// refusing non-canonical encodings.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.Strict().DecodeString(s)
}

func encodeIDs(ids [][idSize]byte) string {
	raw := make([]byte, 0, len(ids)*idSize)
	for _, id := range ids {
		raw = append(raw, id[:]...)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// decodeIDs reads up to maxIDs distinct ids packed in base64.
func decodeIDs(s string, maxIDs int) ([][idSize]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > (maxIDs+1)*idSize {
		return nil, fmt.Errorf("%w: more than %d ids", ErrProtocolViolation, maxIDs)
	}
	raw, err := decodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: ids: %w", ErrProtocolViolation, err)
	}
	if len(raw)%idSize != 0 {
		return nil, fmt.Errorf("%w: ids of %d bytes, not a multiple of %d", ErrProtocolViolation, len(raw), idSize)
	}
	if len(raw)/idSize > maxIDs {
		return nil, fmt.Errorf("%w: %d ids, over %d", ErrProtocolViolation, len(raw)/idSize, maxIDs)
	}
	ids := make([][idSize]byte, 0, len(raw)/idSize)
	seen := make(map[[idSize]byte]struct{}, len(raw)/idSize)
	for i := 0; i < len(raw); i += idSize {
		id := [idSize]byte(raw[i : i+idSize])
		if _, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: duplicate id", ErrProtocolViolation)
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
	}
	return ids, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
