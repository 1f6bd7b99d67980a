package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type wireVectors struct {
	Comment string `json:"_comment"`
	Topics  []struct {
		AppID     string `json:"app_id"`
		Room      string `json:"room"`
		RootTopic string `json:"root_topic"`
		InfoHash  string `json:"info_hash"`
		RoomToken string `json:"room_token"`
	} `json:"topics"`
	SDPKeys []struct {
		Name            string `json:"name"`
		Password        string `json:"password"`
		AppID           string `json:"app_id"`
		Room            string `json:"room"`
		KeyHex          string `json:"key_hex"`
		ReferencePrefix string `json:"reference_prefix"`
		ReferenceSuffix string `json:"reference_suffix"`
	} `json:"sdp_keys"`
	PasswordHandshakes []struct {
		Challenge string `json:"challenge"`
		Password  string `json:"password"`
		AppID     string `json:"app_id"`
		Room      string `json:"room"`
		Hash      string `json:"hash"`
	} `json:"password_handshakes"`
	ActionSequences []struct {
		Name     string `json:"name"`
		AppID    string `json:"app_id"`
		Room     string `json:"room"`
		Messages []struct {
			Type       string   `json:"type"`
			Kind       string   `json:"kind"`
			Payload    string   `json:"payload"`
			PayloadHex string   `json:"payload_hex"`
			Meta       string   `json:"meta"`
			ChunksHex  []string `json:"chunks_hex"`
			FramesHex  []string `json:"frames_hex"`
		} `json:"messages"`
	} `json:"action_sequences"`
	PresenceFrames []struct {
		AppID    string `json:"app_id"`
		Room     string `json:"room"`
		Present  bool   `json:"present"`
		FrameHex string `json:"frame_hex"`
	} `json:"presence_frames"`
}

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("failed to read %s: %v", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("failed to decode %s: %v", name, err)
	}
}

func loadWireVectors(t *testing.T) wireVectors {
	t.Helper()
	var v wireVectors
	loadJSON(t, "vectors.json", &v)
	if len(v.Topics) == 0 || len(v.SDPKeys) == 0 || len(v.PasswordHandshakes) == 0 || len(v.ActionSequences) == 0 || len(v.PresenceFrames) == 0 {
		t.Fatal("vectors.json is missing a section")
	}
	return v
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestTopicVectors(t *testing.T) {
	for _, tc := range loadWireVectors(t).Topics {
		t.Run(tc.AppID+"/"+tc.Room, func(t *testing.T) {
			if got := tsha1("Trystero@" + tc.AppID + "@" + tc.Room); got != tc.RootTopic {
				t.Errorf("tsha1 = %q, want %q", got, tc.RootTopic)
			}
			if got := rootTopic(tc.AppID, tc.Room); got != tc.RootTopic {
				t.Errorf("rootTopic = %q, want %q", got, tc.RootTopic)
			}
			if got := InfoHash(tc.AppID, tc.Room); got != tc.InfoHash {
				t.Errorf("InfoHash = %q, want %q", got, tc.InfoHash)
			}
			if got := RoomToken(tc.AppID, tc.Room); got != tc.RoomToken {
				t.Errorf("RoomToken = %q, want %q", got, tc.RoomToken)
			}
		})
	}
}

func TestSDPKeyVectors(t *testing.T) {
	for _, tc := range loadWireVectors(t).SDPKeys {
		t.Run(tc.Name, func(t *testing.T) {
			key := SDPKey(tc.Password, tc.AppID, tc.Room)
			got := hex.EncodeToString(key[:])
			if got != tc.KeyHex {
				t.Errorf("SDPKey = %s, want %s", got, tc.KeyHex)
			}
			if !strings.HasPrefix(got, tc.ReferencePrefix) || !strings.HasSuffix(got, tc.ReferenceSuffix) {
				t.Errorf("SDPKey = %s, want %s…%s as printed in the reference", got, tc.ReferencePrefix, tc.ReferenceSuffix)
			}
		})
	}
}

func TestPasswordHandshakeVectors(t *testing.T) {
	for _, tc := range loadWireVectors(t).PasswordHandshakes {
		t.Run(tc.Challenge, func(t *testing.T) {
			if len(tc.Challenge) != challengeLength {
				t.Errorf("challenge length %d, want %d", len(tc.Challenge), challengeLength)
			}
			if got := PasswordHandshakeHash(tc.Challenge, tc.Password, tc.AppID, tc.Room); got != tc.Hash {
				t.Errorf("PasswordHandshakeHash = %s, want %s", got, tc.Hash)
			}
		})
	}
}

func parseKind(t *testing.T, s string) PayloadKind {
	t.Helper()
	switch s {
	case "string":
		return PayloadString
	case "json":
		return PayloadJSON
	case "binary":
		return PayloadBinary
	}
	t.Fatalf("unknown kind %q", s)
	return 0
}

// TestActionFrameVectors encodes each sequence with one encoder (so nonces
// count up as in the live capture) and checks the exact bytes, then feeds
// the bytes back through DecodeFrame and a Reassembler.
func TestActionFrameVectors(t *testing.T) {
	for _, seq := range loadWireVectors(t).ActionSequences {
		t.Run(seq.Name, func(t *testing.T) {
			token := RoomToken(seq.AppID, seq.Room)
			enc := NewActionEncoder()
			re := NewReassembler(ReassemblerLimits{})
			for i, v := range seq.Messages {
				msg := ActionMessage{Type: v.Type, Kind: parseKind(t, v.Kind), Payload: []byte(v.Payload)}
				if v.Meta != "" {
					msg.Meta = json.RawMessage(v.Meta)
				}
				if v.PayloadHex != "" {
					msg.Payload = mustHex(t, v.PayloadHex)
				}
				var want [][]byte
				for _, c := range v.ChunksHex {
					f, err := EncodeRoomFrame(token, mustHex(t, c))
					if err != nil {
						t.Fatal(err)
					}
					want = append(want, f)
				}
				for _, f := range v.FramesHex {
					want = append(want, mustHex(t, f))
				}
				got, err := enc.EncodeFrames(token, msg)
				if err != nil {
					t.Fatalf("message %d: EncodeFrames: %v", i, err)
				}
				if len(got) != len(want) {
					t.Fatalf("message %d: %d frames, want %d", i, len(got), len(want))
				}
				for j := range want {
					if !bytes.Equal(got[j], want[j]) {
						t.Errorf("message %d frame %d:\n got %x\nwant %x", i, j, got[j], want[j])
					}
				}

				var done bool
				var out ActionMessage
				for j, f := range want {
					fr, err := DecodeFrame(f)
					if err != nil {
						t.Fatalf("message %d frame %d: DecodeFrame: %v", i, j, err)
					}
					if fr.Kind != FrameRoomData || fr.RoomToken != token {
						t.Fatalf("message %d frame %d: got kind %d token %q", i, j, fr.Kind, fr.RoomToken)
					}
					if done {
						t.Fatalf("message %d completed before its last frame", i)
					}
					out, done, err = re.Add(fr.Chunk)
					if err != nil {
						t.Fatalf("message %d frame %d: Add: %v", i, j, err)
					}
				}
				if !done {
					t.Fatalf("message %d did not complete", i)
				}
				if out.Type != msg.Type || out.Kind != msg.Kind || !bytes.Equal(out.Payload, msg.Payload) || !bytes.Equal(out.Meta, msg.Meta) {
					t.Errorf("message %d: reassembled %+v, want %+v", i, out, msg)
				}
			}
			if re.Pending() != 0 {
				t.Errorf("%d partial messages left", re.Pending())
			}
		})
	}
}

func TestHSReadyFrameIs103Bytes(t *testing.T) {
	frames, err := NewActionEncoder().EncodeFrames(RoomToken("test-app", "room1"), StringMessage(ActionHSReady, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 1 || len(frames[0]) != 103 {
		t.Fatalf("got %d frames, first %d bytes; want one of 103", len(frames), len(frames[0]))
	}
}

func TestPresenceFrameVectors(t *testing.T) {
	for _, tc := range loadWireVectors(t).PresenceFrames {
		name := "absent"
		if tc.Present {
			name = "present"
		}
		t.Run(name, func(t *testing.T) {
			token := RoomToken(tc.AppID, tc.Room)
			want := mustHex(t, tc.FrameHex)
			got, err := EncodePresenceFrame(token, tc.Present)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || len(got) != 68 {
				t.Errorf("got %x (%d bytes), want %x (68 bytes)", got, len(got), want)
			}
			fr, err := DecodeFrame(want)
			if err != nil {
				t.Fatal(err)
			}
			if fr.Kind != FramePresence || fr.RoomToken != token || fr.Present != tc.Present || fr.Chunk != nil {
				t.Errorf("decoded %+v", fr)
			}
		})
	}
}

// TestCapturedTrysteroOffer opens an SDP sealed by real Trystero code.
func TestCapturedTrysteroOffer(t *testing.T) {
	var v struct {
		Comment  string `json:"_comment"`
		Captures []struct {
			Name     string `json:"name"`
			Password string `json:"password"`
			AppID    string `json:"app_id"`
			Room     string `json:"room"`
			Wire     string `json:"wire"`
		} `json:"captures"`
	}
	loadJSON(t, "captured.json", &v)
	if len(v.Captures) == 0 {
		t.Fatal("no captures")
	}
	for _, tc := range v.Captures {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := DecodeTrackerReply([]byte(tc.Wire))
			if err != nil {
				t.Fatal(err)
			}
			offer, ok := m.(*ForwardedOffer)
			if !ok {
				t.Fatalf("decoded %T, want *ForwardedOffer", m)
			}
			if offer.InfoHash != InfoHash(tc.AppID, tc.Room) || offer.Offer.Type != SDPTypeOffer {
				t.Errorf("offer %+v", offer)
			}
			sdp, err := OpenSDP(SDPKey(tc.Password, tc.AppID, tc.Room), offer.Offer.SDP)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sdp, "v=0\r\n") || !strings.Contains(sdp, "a=fingerprint:") {
				t.Errorf("opened SDP does not look like an SDP: %q", sdp)
			}
			if _, err := OpenSDP(SDPKey(tc.Password+"x", tc.AppID, tc.Room), offer.Offer.SDP); !errors.Is(err, ErrWrongPassword) {
				t.Errorf("wrong password: error = %v", err)
			}
		})
	}
}
