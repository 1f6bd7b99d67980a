package nostrsignal

import (
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/peersetdb/peerset/pkg/record"
)

// Trystero's names and bounds on the Nostr wire (docs/nostr-signalling.md).
const (
	libName = "Trystero"
	// topicTag is the tag that carries an event's topic, and "#x" the
	// filter on it.
	topicTag = "x"
	// kindBase and kindSpan place every topic in the ephemeral range:
	// kind = 20000 + (sum of the topic's UTF-16 code units) mod 10000.
	kindBase = 20000
	kindSpan = 10000

	// MaxIDLength bounds the peer and offer ids accepted in a payload
	// (Trystero's are 20 and 12 characters).
	MaxIDLength = 64
	// MaxContentBytes bounds an event's content (a sealed SDP with many
	// candidates is a few KiB).
	MaxContentBytes = 64 << 10
)

// tsha1 is Trystero's topic hash: SHA-1, each byte in lowercase base 36
// without padding, concatenated.
// TODO: use pkg/wire's copy once pkg/swarm's topic helpers move there.
func tsha1(s string) string {
	sum := sha1.Sum([]byte(s))
	var b strings.Builder
	for _, x := range sum {
		b.WriteString(strconv.FormatUint(uint64(x), 36))
	}
	return b.String()
}

// RootTopic is the room's topic, where peers announce themselves:
// tsha1("Trystero@" + appID + "@" + room). The room password plays no part.
func RootTopic(appID, room string) string {
	return tsha1(libName + "@" + appID + "@" + room)
}

// PeerTopic is the topic that reaches one peer of the room (offers, answers,
// candidates and directed announcements to it):
// tsha1("Trystero@" + appID + "@" + room + "@" + peerID).
func PeerTopic(appID, room, peerID string) string {
	return tsha1(libName + "@" + appID + "@" + room + "@" + peerID)
}

// TopicKind is the Nostr event kind of a topic: 20000 plus the sum of its
// UTF-16 code units modulo 10000 (an ephemeral kind, which relays do not
// store).
func TopicKind(topic string) int {
	sum := 0
	for _, r := range topic {
		if r >= 0x10000 {
			// A surrogate pair in JavaScript: two code units.
			r -= 0x10000
			sum += 0xD800 + int(r>>10)
			sum += 0xDC00 + int(r&0x3FF)
			continue
		}
		sum += int(r)
	}
	return kindBase + sum%kindSpan
}

// Payload is the JSON object in an event's content. An announcement has only
// PeerID (and Passive); an offer carries OfferID and the sealed Offer; an
// answer the sealed Answer and the OfferID it answers; a trickled ICE
// candidate the sealed Candidate and OfferID. Sealed texts are Trystero's
// AES-GCM format (pkg/swarm SealSDP/OpenSDP), opaque to this package.
type Payload struct {
	PeerID    string
	OfferID   string
	Offer     string
	Answer    string
	Candidate string
	Passive   bool
}

// Encode returns the payload as compact JSON with Trystero's key order
// (peerId, offerId, offer|answer|candidate, passive); empty fields are left
// out.
func (p Payload) Encode() string {
	b := []byte(`{"peerId":`)
	b = record.AppendJSONString(b, p.PeerID)
	if p.OfferID != "" {
		b = append(b, `,"offerId":`...)
		b = record.AppendJSONString(b, p.OfferID)
	}
	for _, f := range [...]struct{ k, v string }{{"offer", p.Offer}, {"answer", p.Answer}, {"candidate", p.Candidate}} {
		if f.v != "" {
			b = append(b, `,"`...)
			b = append(b, f.k...)
			b = append(b, `":`...)
			b = record.AppendJSONString(b, f.v)
		}
	}
	if p.Passive {
		b = append(b, `,"passive":true`...)
	}
	return string(append(b, '}'))
}

// ErrBadPayload means an event's content is not a signalling payload that
// Trystero would act on.
var ErrBadPayload = errors.New("not a signalling payload")

// DecodePayload reads an event's content with Trystero's rules: a JSON
// object with a non-empty string peerId; offer, answer and candidate, when
// present, must be non-empty strings; offerId is kept only when a string;
// passive only when true. Ids over MaxIDLength and content over
// MaxContentBytes are refused.
func DecodePayload(content string) (Payload, error) {
	if len(content) > MaxContentBytes {
		return Payload{}, fmt.Errorf("%w: content is %d bytes, at most %d", ErrBadPayload, len(content), MaxContentBytes)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(content), &fields); err != nil || fields == nil {
		return Payload{}, fmt.Errorf("%w: content is not a JSON object", ErrBadPayload)
	}
	str := func(key string) (string, bool) {
		raw, ok := fields[key]
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", true
		}
		return s, true
	}
	var p Payload
	for _, f := range [...]struct {
		key string
		dst *string
	}{{"offer", &p.Offer}, {"answer", &p.Answer}, {"candidate", &p.Candidate}} {
		if s, present := str(f.key); present {
			if s == "" {
				return Payload{}, fmt.Errorf("%w: %s is not a non-empty string", ErrBadPayload, f.key)
			}
			*f.dst = s
		}
	}
	p.PeerID, _ = str("peerId")
	if p.PeerID == "" {
		return Payload{}, fmt.Errorf("%w: no peerId", ErrBadPayload)
	}
	p.OfferID, _ = str("offerId")
	if len(p.PeerID) > MaxIDLength || len(p.OfferID) > MaxIDLength {
		return Payload{}, fmt.Errorf("%w: peerId or offerId longer than %d bytes", ErrBadPayload, MaxIDLength)
	}
	if raw, ok := fields["passive"]; ok && string(raw) == "true" {
		p.Passive = true
	}
	return p, nil
}

// NewEvent builds and signs the event that publishes content on topic, as
// Trystero does: kind TopicKind(topic), one tag ["x", topic], created_at in
// seconds.
func NewEvent(sk *record.SecretKey, topic, content string, createdAt int64) (*record.Event, error) {
	e := &record.Event{Kind: TopicKind(topic), CreatedAt: createdAt, Tags: [][]string{{topicTag, topic}}, Content: content}
	if err := e.Sign(sk); err != nil {
		return nil, err
	}
	return e, nil
}

// EncodeEventMessage returns ["EVENT", <event>] for a relay.
func EncodeEventMessage(e *record.Event) []byte {
	return append(e.AppendJSON([]byte(`["EVENT",`)), ']')
}

// EncodeReq returns the subscription Trystero sends:
// ["REQ", sub, {"kinds": [...], "since": since, "#x": [topics...]}], with
// the kinds of the topics, each once, in order.
func EncodeReq(sub string, since int64, topics ...string) []byte {
	b := record.AppendJSONString([]byte(`["REQ",`), sub)
	b = append(b, `,{"kinds":[`...)
	seen := map[int]bool{}
	for _, t := range topics {
		k := TopicKind(t)
		if seen[k] {
			continue
		}
		if len(seen) > 0 {
			b = append(b, ',')
		}
		seen[k] = true
		b = strconv.AppendInt(b, int64(k), 10)
	}
	b = append(b, `],"since":`...)
	b = strconv.AppendInt(b, since, 10)
	b = append(b, `,"#x":[`...)
	for i, t := range topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = record.AppendJSONString(b, t)
	}
	return append(b, "]}]"...)
}

// EncodeClose returns ["CLOSE", sub].
func EncodeClose(sub string) []byte {
	return append(record.AppendJSONString([]byte(`["CLOSE",`), sub), ']')
}

// RelayMessage is one decoded relay-to-client message.
type RelayMessage struct {
	Type string // EVENT, OK, EOSE, CLOSED, NOTICE (others are ErrUnknownMessage)
	// SubID is the subscription of EVENT, EOSE and CLOSED.
	SubID string
	// Event is the raw event JSON of EVENT (decoded and verified later).
	Event json.RawMessage
	// EventID, Accepted: the OK fields.
	EventID  string
	Accepted bool
	// Message is the reason of OK and CLOSED, the text of NOTICE.
	Message string
}

// ErrMalformedRelayMessage means a relay sent something that is not NIP-01.
var ErrMalformedRelayMessage = errors.New("malformed relay message")

// ParseRelayMessage decodes one relay message. It checks shapes only; the
// event of an EVENT is returned raw. It never panics.
func ParseRelayMessage(data []byte) (RelayMessage, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil || len(parts) == 0 {
		return RelayMessage{}, fmt.Errorf("%w: not a non-empty JSON array", ErrMalformedRelayMessage)
	}
	strAt := func(i int) (string, bool) {
		if i >= len(parts) {
			return "", false
		}
		var s string
		return s, json.Unmarshal(parts[i], &s) == nil
	}
	typ, ok := strAt(0)
	if !ok {
		return RelayMessage{}, fmt.Errorf("%w: message type is not a string", ErrMalformedRelayMessage)
	}
	m := RelayMessage{Type: typ}
	bad := func(why string) (RelayMessage, error) {
		return RelayMessage{}, fmt.Errorf("%w: %s %s", ErrMalformedRelayMessage, typ, why)
	}
	switch typ {
	case "EVENT":
		if m.SubID, ok = strAt(1); !ok || len(parts) != 3 {
			return bad("needs a subscription id and an event")
		}
		m.Event = parts[2]
	case "OK":
		if m.EventID, ok = strAt(1); !ok || len(parts) < 3 {
			return bad("needs an event id and a status")
		}
		if err := json.Unmarshal(parts[2], &m.Accepted); err != nil {
			return bad("status is not a boolean")
		}
		m.Message, _ = strAt(3)
	case "EOSE":
		if m.SubID, ok = strAt(1); !ok {
			return bad("needs a subscription id")
		}
	case "CLOSED":
		if m.SubID, ok = strAt(1); !ok {
			return bad("needs a subscription id")
		}
		m.Message, _ = strAt(2)
	case "NOTICE":
		m.Message, _ = strAt(1)
	default:
		if len(typ) > 16 {
			typ = typ[:16] + "…"
		}
		return RelayMessage{}, fmt.Errorf("%w: unknown message type %q", ErrMalformedRelayMessage, typ)
	}
	return m, nil
}
