package session

import (
	"bytes"
	"strings"
	"testing"

	"github.com/peersetdb/peerset/pkg/merkle"
	"github.com/peersetdb/peerset/pkg/record"
)

// The decoders must never panic, and what they accept must encode back to a
// payload they accept again with the same value.

func FuzzDecodeHello(f *testing.F) {
	key, _ := record.GenerateKey()
	f.Add(EncodeHello(Hello{Version: 1, Room: testRoom, PubKey: key.Public(), Limits: Config{}.mustDefaults().limits()}))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"room":null}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, err := DecodeHello(payload)
		if err != nil {
			return
		}
		again, err := DecodeHello(EncodeHello(h))
		if err != nil || again != h {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeAuth(f *testing.F) {
	f.Add(encodeAuth(auth{Sig: [64]byte{1}}))
	f.Add([]byte(`{"sig":""}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := decodeAuth(payload)
		if err != nil {
			return
		}
		if again, err := decodeAuth(encodeAuth(a)); err != nil || again != a {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeRoot(f *testing.F) {
	f.Add(encodeRoot(rootMsg{Count: 3}))
	f.Add([]byte(`{"root":"00","count":1e99}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := decodeRoot(payload)
		if err != nil {
			return
		}
		if again, err := decodeRoot(encodeRoot(r)); err != nil || again != r {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeNeg(f *testing.F) {
	tree := merkle.NewTree()
	in, _ := merkle.NewInitiator(tree, merkle.Options{})
	msg, _ := in.Initiate()
	f.Add(encodeNeg(negMsg{SID: 1, Msg: msg}))
	f.Add([]byte(`{"sid":4294967296,"msg":"YQ=="}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		n, err := decodeNeg(payload, MinFrameSizeLimit)
		if err != nil {
			return
		}
		// An accepted message must be safe to hand to a responder.
		re, _ := merkle.NewResponder(tree, merkle.Options{FrameSizeLimit: MinFrameSizeLimit})
		_, _ = re.Respond(n.Msg)
		if _, err := decodeNeg(encodeNeg(n), MinFrameSizeLimit); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeWant(f *testing.F) {
	f.Add(encodeWant(wantMsg{IDs: [][32]byte{{1}, {2}}}))
	f.Add([]byte(`{"ids":"` + strings.Repeat("A", 44) + `"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w, err := decodeWant(payload, 8)
		if err != nil {
			return
		}
		if len(w.IDs) == 0 || len(w.IDs) > 8 {
			t.Fatalf("accepted %d ids", len(w.IDs))
		}
		if _, err := decodeWant(encodeWant(w), 8); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzDecodeIDsMsg(f *testing.F) {
	f.Add(encodeIDsMsg(idsMsg{IDs: [][32]byte{{1}, {2}}}))
	f.Add(make([]byte, 64))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := decodeIDsMsg(ActionIHave, payload, 8)
		if err != nil {
			return
		}
		if len(m.IDs) == 0 || len(m.IDs) > 8 {
			t.Fatalf("accepted %d ids", len(m.IDs))
		}
		if !bytes.Equal(encodeIDsMsg(m), payload) {
			t.Fatal("re-encoding differs from the payload")
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	key, _ := record.GenerateKey()
	e, _ := record.New(record.Draft{Text: "fuzz"}, key, testRoom, record.Limits{})
	f.Add(appendRecords(nil, [][]byte{e.AppendJSON(nil)}, [][32]byte{{3}}))
	f.Add([]byte(`{"events":[{}],"missing":""}`))
	lim := Limits{Frame: MinFrameSizeLimit, Records: 4, Bytes: MinBatchBytes, Want: 4}
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := decodeRecords(payload, lim)
		if err != nil {
			return
		}
		if len(r.Events) > lim.Records {
			t.Fatalf("accepted %d events", len(r.Events))
		}
		for _, raw := range r.Events {
			_, _ = record.ParseEvent(raw, lim.Bytes)
		}
	})
}

func FuzzDecodeBye(f *testing.F) {
	f.Add(encodeBye(byeMsg{Code: ByeBanned, Reason: "x"}))
	f.Fuzz(func(t *testing.T, payload []byte) {
		b, err := decodeBye(payload)
		if err != nil {
			return
		}
		if again, err := decodeBye(encodeBye(b)); err != nil || again != b {
			t.Fatalf("re-decode: %+v, %v", again, err)
		}
	})
}

func FuzzDecodeBlobMessages(f *testing.F) {
	var sha [32]byte
	sha[0] = 7
	f.Add(encodeBlobWant(record.BlobRef{SHA256: sha, Size: 100, ChunkSize: record.BlobChunkSize}, nil))
	f.Add(encodeBlobWant(record.BlobRef{SHA256: sha, ListHash: sha, Size: 5 << 20, ChunkSize: record.BlobChunkSize}, []int{0, 1, 15}))
	f.Add(encodeBlobData(sha, 3, []byte("chunk")))
	f.Add(encodeBlobData(sha, BlobListIndex, make([]byte, 64)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if layout, indexes, err := DecodeBlobWant(payload); err == nil {
			ints := make([]int, len(indexes))
			for i, v := range indexes {
				ints[i] = int(v)
			}
			if !bytes.Equal(encodeBlobWant(layout, ints), payload) {
				t.Fatalf("blob-want does not encode back")
			}
		}
		if gotSHA, index, data, err := DecodeBlobData(payload); err == nil {
			if !bytes.Equal(encodeBlobData(gotSHA, index, data), payload) {
				t.Fatalf("blob-data does not encode back")
			}
		}
	})
}
