package merkle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// fuzzTree is a small set with clustered timestamps, so decoded bounds land inside it.
func fuzzTree() *Tree {
	tree := NewTree()
	for i := uint64(0); i < 300; i++ {
		it := testItem(i)
		it.Timestamp = 1000 + i/3
		if _, err := tree.Insert(it); err != nil {
			panic(err)
		}
	}
	return tree
}

func FuzzReconcile(f *testing.F) {
	tree := fuzzTree()
	for _, seed := range []string{"", "61", "62", "610000", "6100000100", "61000002", "6100000200"} {
		b, _ := hex.DecodeString(seed)
		f.Add(b)
	}
	for _, opts := range []Options{{}, {Granularity: GranularityHour}} {
		in, err := NewInitiator(tree, opts)
		if err != nil {
			f.Fatal(err)
		}
		msg, err := in.Initiate()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	if vf, err := readVectorFile(); err == nil {
		for _, s := range vf.Starts {
			if b, err := hex.DecodeString(s.Message); err == nil {
				f.Add(b)
			}
		}
		for _, e := range vf.Exchanges {
			for _, m := range e.Messages[:min(4, len(e.Messages))] {
				if b, err := hex.DecodeString(m); err == nil {
					f.Add(b)
				}
			}
		}
	} else {
		f.Fatal(err)
	}

	unlimited, _ := NewResponder(tree, Options{})
	limited, _ := NewResponder(tree, Options{FrameSizeLimit: MinFrameSizeLimit})

	f.Fuzz(func(t *testing.T, msg []byte) {
		decoded, decodeErr := DecodeMessage(msg)
		if decodeErr == nil {
			again, err := DecodeMessage(decoded.Encode())
			if err != nil {
				t.Fatalf("re-encoded message does not decode: %v", err)
			}
			if !bytes.Equal(again.Encode(), decoded.Encode()) {
				t.Fatal("encoding is not stable")
			}
		} else if !errors.Is(decodeErr, ErrMalformedMessage) && !errors.Is(decodeErr, ErrUnsupportedVersion) {
			t.Fatalf("unexpected error kind: %v", decodeErr)
		}

		reply, err := unlimited.Respond(msg)
		versionMismatch := len(msg) > 0 && msg[0] != protocolVersion
		if (err == nil) != (decodeErr == nil || versionMismatch) {
			t.Fatalf("responder error %v disagrees with decoder error %v", err, decodeErr)
		}
		if err == nil {
			if _, err := DecodeMessage(reply); err != nil {
				t.Fatalf("responder reply does not decode: %v", err)
			}
		}

		reply, err = limited.Respond(msg)
		if err == nil {
			if len(reply) > MinFrameSizeLimit {
				t.Fatalf("reply of %d bytes exceeds the frame limit", len(reply))
			}
			if _, err := DecodeMessage(reply); err != nil {
				t.Fatalf("limited reply does not decode: %v", err)
			}
		}

		in, _ := NewInitiator(tree, Options{FrameSizeLimit: MinFrameSizeLimit})
		if _, err := in.Initiate(); err != nil {
			t.Fatal(err)
		}
		next, _, _, done, err := in.Reconcile(msg)
		if err == nil && !done {
			if len(next) > MinFrameSizeLimit {
				t.Fatalf("initiator message of %d bytes exceeds the frame limit", len(next))
			}
			if _, err := DecodeMessage(next); err != nil {
				t.Fatalf("initiator message does not decode: %v", err)
			}
		}
	})
}

func readVectorFile() (vectorFile, error) {
	var vf vectorFile
	data, err := readTestdata("vectors.json")
	if err != nil {
		return vf, err
	}
	return vf, jsonUnmarshal(data, &vf)
}

func TestMalformedMessages(t *testing.T) {
	tree := fuzzTree()
	cases := []struct {
		name string
		hex  string
		want error
	}{
		{"empty", "", ErrMalformedMessage},
		{"truncated bound", "61", nil}, // version only: a valid, empty message
		{"truncated varint", "6180", ErrMalformedMessage},
		{"varint over 64 bits", "61ffffffffffffffffffff7f0001", ErrMalformedMessage},
		{"id prefix over 32 bytes", "610021", ErrMalformedMessage},
		{"truncated id prefix", "61000201", ErrMalformedMessage},
		{"missing mode", "610000", ErrMalformedMessage},
		{"unknown mode", "61000003", ErrMalformedMessage},
		{"truncated fingerprint", "6100000101020304", ErrMalformedMessage},
		{"id count beyond message", "6100000205" + "00", ErrMalformedMessage},
		{"huge id count", "61000002ffffffffffffffff7f", ErrMalformedMessage},
		{"bounds not ascending", "61020000" + "010000", ErrMalformedMessage},
		{"bound after infinity", "61000000" + "020000", ErrMalformedMessage},
		{"timestamp overflow", "61" + "81ffffffffffffffff7f0000" + "81ffffffffffffffff7f0000", ErrMalformedMessage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			_, decErr := DecodeMessage(msg)
			re, _ := NewResponder(tree, Options{})
			_, respErr := re.Respond(msg)
			in, _ := NewInitiator(tree, Options{})
			if _, err := in.Initiate(); err != nil {
				t.Fatal(err)
			}
			_, _, _, _, initErr := in.Reconcile(msg)
			for side, err := range map[string]error{"decoder": decErr, "responder": respErr, "initiator": initErr} {
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: got %v, want %v", side, err, tc.want)
				}
			}
		})
	}
}

func TestUnsupportedVersion(t *testing.T) {
	tree := fuzzTree()
	re, _ := NewResponder(tree, Options{})
	reply, err := re.Respond([]byte{0x62, 0x00, 0x00})
	if err != nil || !bytes.Equal(reply, []byte{protocolVersion}) {
		t.Fatalf("responder: reply %x, err %v; want 61 and no error", reply, err)
	}
	in, _ := NewInitiator(tree, Options{})
	if _, err := in.Initiate(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := in.Reconcile([]byte{0x62}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("initiator: got %v, want ErrUnsupportedVersion", err)
	}
	if _, err := DecodeMessage([]byte{0x60}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("decoder: got %v, want ErrUnsupportedVersion", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	tree := NewTree()
	cases := []struct {
		name string
		opts Options
	}{
		{"frame limit too small", Options{FrameSizeLimit: 4095}},
		{"negative frame limit", Options{FrameSizeLimit: -1}},
		{"unknown granularity", Options{Granularity: 9}},
		{"branching too small", Options{Branching: 1}},
		{"branching too large", Options{Branching: 33}},
		{"threshold too large", Options{IDListThreshold: 33}},
		{"initiator threshold negative", Options{InitiatorIDListThreshold: -2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewInitiator(tree, tc.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("initiator: got %v", err)
			}
			if _, err := NewResponder(tree, tc.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("responder: got %v", err)
			}
		})
	}
	if _, err := NewInitiator(tree, Options{FrameSizeLimit: MinFrameSizeLimit, Granularity: GranularityHour}); err != nil {
		t.Fatal(err)
	}
}
