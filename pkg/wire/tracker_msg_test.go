package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type trackerVectors struct {
	Comment string `json:"_comment"`
	Encode  []struct {
		Name    string          `json:"name"`
		Kind    string          `json:"kind"`
		Passive bool            `json:"passive"`
		Message json.RawMessage `json:"message"`
		Wire    string          `json:"wire"`
	} `json:"encode"`
	Replies []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		Wire string `json:"wire"`
	} `json:"replies"`
	BadReplies []struct {
		Name string `json:"name"`
		Wire string `json:"wire"`
	} `json:"bad_replies"`
	Requests []struct {
		Name    string `json:"name"`
		Wire    string `json:"wire"`
		Offers  int    `json:"offers"`
		Seeding bool   `json:"seeding"`
		Answer  bool   `json:"answer"`
	} `json:"requests"`
	BadRequests []struct {
		Name  string `json:"name"`
		Wire  string `json:"wire"`
		Error string `json:"error"`
	} `json:"bad_requests"`
}

var trackerErrors = map[string]error{
	"ErrMalformedTrackerMessage":   ErrMalformedTrackerMessage,
	"ErrUnknownTrackerAction":      ErrUnknownTrackerAction,
	"ErrInvalidInfoHash":           ErrInvalidInfoHash,
	"ErrInvalidPeerID":             ErrInvalidPeerID,
	"ErrInvalidToPeerID":           ErrInvalidToPeerID,
	"ErrInvalidOfferID":            ErrInvalidOfferID,
	"ErrInvalidSessionDescription": ErrInvalidSessionDescription,
}

func loadTrackerVectors(t *testing.T) trackerVectors {
	t.Helper()
	var v trackerVectors
	loadJSON(t, "tracker_messages.json", &v)
	if len(v.Encode) == 0 || len(v.Replies) == 0 || len(v.BadReplies) == 0 || len(v.Requests) == 0 || len(v.BadRequests) == 0 {
		t.Fatal("tracker_messages.json is missing a section")
	}
	return v
}

// TestEncodeTrackerMessages checks the exact bytes, including key order.
func TestEncodeTrackerMessages(t *testing.T) {
	for _, tc := range loadTrackerVectors(t).Encode {
		t.Run(tc.Name, func(t *testing.T) {
			var fields struct {
				InfoHash string             `json:"info_hash"`
				PeerID   string             `json:"peer_id"`
				ToPeerID string             `json:"to_peer_id"`
				OfferID  string             `json:"offer_id"`
				Offers   []TrackerOffer     `json:"offers"`
				Answer   SessionDescription `json:"answer"`
			}
			if err := json.Unmarshal(tc.Message, &fields); err != nil {
				t.Fatal(err)
			}
			var m TrackerMessage
			switch tc.Kind {
			case "offer_announce":
				a := NewOfferAnnounce(fields.InfoHash, fields.PeerID, fields.Offers)
				if tc.Passive {
					zero := int64(0)
					a.Left, a.Numwant = &zero, 3
				}
				m = a
			case "answer_announce":
				m = NewAnswerAnnounce(fields.InfoHash, fields.PeerID, fields.ToPeerID, fields.OfferID, fields.Answer)
			default:
				t.Fatalf("unknown kind %q", tc.Kind)
			}
			got, err := EncodeTrackerMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.Wire {
				t.Errorf("\n got %s\nwant %s", got, tc.Wire)
			}
			// What a client sends, a tracker must accept.
			if _, err := DecodeAnnounceRequest(got); err != nil {
				t.Errorf("DecodeAnnounceRequest: %v", err)
			}
		})
	}
}

func TestEncodeTrackerMessageValidates(t *testing.T) {
	const ih, me, other, oid = "2c412m6x5k1c2y383j6o", "0123456789AaBbCcDdEe", "ZzYyXxWwVvUuTtSsRrQq", "oFfErIdOfFeRiD012345"
	sd := SessionDescription{Type: SDPTypeOffer, SDP: "x"}
	tests := []struct {
		name string
		msg  TrackerMessage
		want error
	}{
		{"short info_hash", NewOfferAnnounce("short", me, nil), ErrInvalidInfoHash},
		{"bad peer_id", NewOfferAnnounce(ih, "short", nil), ErrInvalidPeerID},
		{"bad offer_id", NewOfferAnnounce(ih, me, []TrackerOffer{{OfferID: "x", Offer: sd}}), ErrInvalidOfferID},
		{"offer without sdp", NewOfferAnnounce(ih, me, []TrackerOffer{{OfferID: oid, Offer: SessionDescription{Type: "offer"}}}), ErrInvalidSessionDescription},
		{"answer without to_peer_id", NewAnswerAnnounce(ih, me, "", oid, sd), ErrInvalidToPeerID},
		{"answer without offer_id", NewAnswerAnnounce(ih, me, other, "", sd), ErrInvalidOfferID},
		{"wrong action", &OfferAnnounce{Action: "scrape", InfoHash: ih, PeerID: me}, ErrUnknownTrackerAction},
		{"empty failure", &TrackerFailure{}, ErrMalformedTrackerMessage},
		{"empty warning", &TrackerWarning{}, ErrMalformedTrackerMessage},
		{"negative interval", &AnnounceReply{Action: "announce", InfoHash: ih, Interval: -1}, ErrMalformedTrackerMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncodeTrackerMessage(tc.msg); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeTrackerReply(t *testing.T) {
	for _, tc := range loadTrackerVectors(t).Replies {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := DecodeTrackerReply([]byte(tc.Wire))
			if err != nil {
				t.Fatal(err)
			}
			var kind string
			switch m.(type) {
			case *AnnounceReply:
				kind = "announce_reply"
			case *ForwardedOffer:
				kind = "forwarded_offer"
			case *ForwardedAnswer:
				kind = "forwarded_answer"
			case *TrackerFailure:
				kind = "failure"
			case *TrackerWarning:
				kind = "warning"
			}
			if kind != tc.Kind {
				t.Fatalf("decoded %T, want %s", m, tc.Kind)
			}
			// Re-encoding gives the same bytes: field order is wire order.
			again, err := EncodeTrackerMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != tc.Wire {
				t.Errorf("re-encoded\n got %s\nwant %s", again, tc.Wire)
			}
		})
	}
}

func TestDecodeTrackerReplyRejects(t *testing.T) {
	for _, tc := range loadTrackerVectors(t).BadReplies {
		t.Run(tc.Name, func(t *testing.T) {
			if m, err := DecodeTrackerReply([]byte(tc.Wire)); err == nil {
				t.Errorf("accepted %s as %#v", tc.Wire, m)
			}
		})
	}
}

func TestDecodeAnnounceRequest(t *testing.T) {
	for _, tc := range loadTrackerVectors(t).Requests {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := DecodeAnnounceRequest([]byte(tc.Wire))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Offers) != tc.Offers || m.Seeding() != tc.Seeding || (m.Answer != nil) != tc.Answer {
				t.Errorf("got %d offers, seeding %v, answer %v", len(m.Offers), m.Seeding(), m.Answer != nil)
			}
		})
	}
}

func TestDecodeAnnounceRequestRejects(t *testing.T) {
	for _, tc := range loadTrackerVectors(t).BadRequests {
		t.Run(tc.Name, func(t *testing.T) {
			want, ok := trackerErrors[tc.Error]
			if !ok {
				t.Fatalf("unknown error name %q", tc.Error)
			}
			_, err := DecodeAnnounceRequest([]byte(tc.Wire))
			if !errors.Is(err, want) {
				t.Errorf("error = %v, want %v", err, want)
			}
		})
	}
	huge := fmt.Sprintf(`{"action":"announce","pad":"%s"}`, strings.Repeat("x", MaxTrackerMessageSize))
	if _, err := DecodeAnnounceRequest([]byte(huge)); !errors.Is(err, ErrMalformedTrackerMessage) {
		t.Errorf("huge message: error = %v", err)
	}
}
