package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// The fuzz targets check that decoders never panic and that whatever they
// accept is consistent. Run one with e.g.
// go test -run=^$ -fuzz=FuzzDecodeFrame ./pkg/wire

func FuzzDecodeFrame(f *testing.F) {
	token := RoomToken("test-app", "room1")
	hs, _ := NewActionEncoder().EncodeFrames(token, StringMessage(ActionHSReady, ""))
	pres, _ := EncodePresenceFrame(token, true)
	f.Add(hs[0])
	f.Add(pres)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff})
	f.Add([]byte{2, 1, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("error %v does not wrap ErrMalformedFrame", err)
			}
			return
		}
		var again []byte
		switch fr.Kind {
		case FrameRoomData:
			again, err = EncodeRoomFrame(fr.RoomToken, fr.Chunk)
		case FramePresence:
			again, err = EncodePresenceFrame(fr.RoomToken, fr.Present)
		default:
			t.Fatalf("decoded unknown kind %d", fr.Kind)
		}
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding %x gave %x, %v", data, again, err)
		}
		_, _ = DecodeChunk(fr.Chunk)
	})
}

// FuzzReassembler splits the input into chunks (each prefixed with a u16
// length) and feeds them to a small Reassembler.
func FuzzReassembler(f *testing.F) {
	enc := NewActionEncoder()
	seed := func(chunks [][]byte) []byte {
		var out []byte
		for _, c := range chunks {
			out = binary.BigEndian.AppendUint16(out, uint16(len(c)))
			out = append(out, c...)
		}
		return out
	}
	msg, _ := BinaryMessage("file", patterned(300)).WithMeta(map[string]int{"n": 1})
	c1, _ := enc.EncodeChunks(msg)
	c2, _ := enc.EncodeChunks(StringMessage("chat", "hi-A"))
	j, _ := JSONMessage("chat", map[string]any{"n": 1})
	c3, _ := enc.EncodeChunks(j)
	f.Add(seed(c1))
	f.Add(seed(append(append(c2, c3...), c1...)))
	f.Add(seed([][]byte{make([]byte, ChunkHeaderSize)}))
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		re := NewReassembler(ReassemblerLimits{MaxMessageSize: 1024, MaxPartialMessages: 4, MaxPartialBytes: 1536, PartialTimeout: 10 * time.Second})
		// A clock that advances one second per chunk: partials expire
		// ten chunks after their last progress.
		now := time.Unix(0, 0)
		re.now = func() time.Time { return now }
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			chunk := data[:n]
			data = data[n:]
			now = now.Add(time.Second)
			if n%7 == 0 {
				re.Expire(now)
				for _, p := range re.partials {
					if now.Sub(p.lastProgress) >= 10*time.Second {
						t.Fatalf("a partial message %v old survived Expire", now.Sub(p.lastProgress))
					}
				}
			}
			m, done, err := re.Add(chunk)
			if err != nil && done {
				t.Fatal("done together with an error")
			}
			if done {
				if len(m.Payload)+len(m.Meta) > 1024 {
					t.Fatalf("message of %d bytes passed a 1024-byte limit", len(m.Payload)+len(m.Meta))
				}
				if err := m.validate(); err != nil {
					t.Fatalf("reassembled an invalid message: %v", err)
				}
			}
			if re.Pending() > 4 {
				t.Fatalf("%d partial messages, limit 4", re.Pending())
			}
			held := 0
			for _, p := range re.partials {
				held += p.held()
			}
			if held != re.HeldBytes() || held > 1536 {
				t.Fatalf("held %d bytes, counted %d, budget 1536", held, re.HeldBytes())
			}
		}
	})
}

func FuzzDecodeAnnounceRequest(f *testing.F) {
	f.Add([]byte(`{"action":"announce","info_hash":"2c412m6x5k1c2y383j6o","peer_id":"0123456789AaBbCcDdEe","numwant":1,"offers":[{"offer_id":"oFfErIdOfFeRiD012345","offer":{"type":"offer","sdp":"x"}}]}`))
	f.Add([]byte(`{"action":"announce","info_hash":"2c412m6x5k1c2y383j6o","peer_id":"0123456789AaBbCcDdEe","answer":{"type":"answer","sdp":"x"},"offer_id":"oFfErIdOfFeRiD012345","to_peer_id":"ZzYyXxWwVvUuTtSsRrQq"}`))
	f.Add([]byte(`{"action":"announce","left":"0"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeAnnounceRequest(data)
		if err != nil {
			return
		}
		if !IsValidID(m.InfoHash) || !IsValidID(m.PeerID) {
			t.Fatalf("accepted invalid ids %q %q", m.InfoHash, m.PeerID)
		}
		if m.Answer != nil && (!IsValidID(m.ToPeerID) || !IsValidID(m.OfferID)) {
			t.Fatalf("accepted an answer with ids %q %q", m.ToPeerID, m.OfferID)
		}
		_ = m.Seeding()
	})
}

func FuzzDecodeTrackerReply(f *testing.F) {
	f.Add([]byte(`{"complete":0,"incomplete":2,"action":"announce","interval":120,"info_hash":"2c412m6x5k1c2y383j6o"}`))
	f.Add([]byte(`{"action":"announce","offer":{"type":"offer","sdp":"x"},"offer_id":"oFfErIdOfFeRiD012345","peer_id":"ZzYyXxWwVvUuTtSsRrQq","info_hash":"2c412m6x5k1c2y383j6o"}`))
	f.Add([]byte(`{"failure reason":"x"}`))
	f.Add([]byte(`{"warning message":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeTrackerReply(data)
		if err != nil {
			return
		}
		if _, err := EncodeTrackerMessage(m); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}

func FuzzOpenSDP(f *testing.F) {
	key := SDPKey("secret", "test-app", "room1")
	good, _ := sealSDPWithNonce(key, [sdpNonceSize]byte{1, 2, 3}, "v=0\r\n")
	f.Add(good)
	f.Add("1,2,3$AAAA")
	f.Add("$")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := OpenSDP(key, text)
		if err != nil && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrMalformedSealedSDP) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
