package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestChunkProgress(t *testing.T) {
	tests := []struct {
		total int
		want  []uint8
	}{
		{1, []uint8{255}},
		{2, []uint8{128, 255}}, // 127.5 rounds up, as Math.round does
		{3, []uint8{85, 170, 255}},
		{4, []uint8{64, 128, 191, 255}}, // 63.75, 127.5, 191.25
		{10, []uint8{26, 51, 77, 102, 128, 153, 179, 204, 230, 255}},
	}
	for _, tc := range tests {
		var got []uint8
		for i := range tc.total {
			got = append(got, chunkProgress(i, tc.total))
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("total %d: progress %v, want %v", tc.total, got, tc.want)
		}
	}
}

// TestChunkingRoundTrip checks chunk counts, sizes, flags, progress and
// reassembly around the 16348-byte chunk boundaries.
func TestChunkingRoundTrip(t *testing.T) {
	const c = ChunkPayloadSize
	sizes := []int{0, 1, c - 1, c, c + 1, 2*c - 1, 2 * c, 2*c + 1, 5*c + 123, 100_000}
	for _, size := range sizes {
		for _, meta := range []json.RawMessage{nil, json.RawMessage(`{"name":"file.bin","size":1}`)} {
			t.Run(fmt.Sprintf("size=%d/meta=%v", size, meta != nil), func(t *testing.T) {
				msg := BinaryMessage("file", patterned(size))
				msg.Meta = meta
				chunks, err := NewActionEncoder().EncodeChunks(msg)
				if err != nil {
					t.Fatal(err)
				}
				wantData := (size + c - 1) / c
				wantTotal := wantData
				if meta != nil {
					wantTotal++
				}
				wantTotal = max(wantTotal, 1)
				if len(chunks) != wantTotal {
					t.Fatalf("%d chunks, want %d", len(chunks), wantTotal)
				}
				sum := 0
				for i, raw := range chunks {
					ch, err := DecodeChunk(raw)
					if err != nil {
						t.Fatal(err)
					}
					isMeta := meta != nil && i == 0
					wantFlags := FlagBinary | FlagJSON
					if isMeta {
						wantFlags |= FlagMeta
					}
					if i == len(chunks)-1 {
						wantFlags |= FlagLast
					}
					if ch.Flags != wantFlags {
						t.Errorf("chunk %d flags %04b, want %04b", i, ch.Flags, wantFlags)
					}
					if ch.Progress != chunkProgress(i, wantTotal) {
						t.Errorf("chunk %d progress %d", i, ch.Progress)
					}
					if ch.Nonce != 0 || ch.Type != "file" {
						t.Errorf("chunk %d: nonce %d type %q", i, ch.Nonce, ch.Type)
					}
					if !isMeta {
						if len(raw) > MaxChunkSize {
							t.Errorf("chunk %d is %d bytes, over %d", i, len(raw), MaxChunkSize)
						}
						if i != len(chunks)-1 && len(ch.Payload) != c {
							t.Errorf("non-last chunk %d carries %d bytes, want %d", i, len(ch.Payload), c)
						}
						sum += len(ch.Payload)
					}
				}
				if sum != size {
					t.Errorf("chunks carry %d payload bytes, want %d", sum, size)
				}

				re := NewReassembler(ReassemblerLimits{})
				for i, raw := range chunks {
					got, done, err := re.Add(raw)
					if err != nil {
						t.Fatalf("Add chunk %d: %v", i, err)
					}
					if done != (i == len(chunks)-1) {
						t.Fatalf("chunk %d: done = %v", i, done)
					}
					if done {
						if got.Kind != PayloadBinary || !bytes.Equal(got.Payload, msg.Payload) || !bytes.Equal(got.Meta, meta) {
							t.Errorf("reassembled kind %v, %d bytes, meta %q", got.Kind, len(got.Payload), got.Meta)
						}
					}
				}
				if re.Pending() != 0 {
					t.Errorf("%d partial messages left", re.Pending())
				}
			})
		}
	}
}

func TestReassemblerOwnsItsBytes(t *testing.T) {
	chunks, err := NewActionEncoder().EncodeChunks(BinaryMessage("x", patterned(2*ChunkPayloadSize)))
	if err != nil {
		t.Fatal(err)
	}
	re := NewReassembler(ReassemblerLimits{})
	var got ActionMessage
	for _, c := range chunks {
		if got, _, err = re.Add(c); err != nil {
			t.Fatal(err)
		}
		clear(c[ChunkHeaderSize:]) // the caller reuses its buffer
	}
	if !bytes.Equal(got.Payload, patterned(2*ChunkPayloadSize)) {
		t.Error("reassembled payload changed when the input buffers were reused")
	}
}

func TestEncoderNonces(t *testing.T) {
	enc := NewActionEncoder()
	nonceOf := func(typ string) uint16 {
		t.Helper()
		chunks, err := enc.EncodeChunks(StringMessage(typ, ""))
		if err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint16(chunks[0][ActionTypeSize:])
	}
	for want := range uint16(3) {
		if got := nonceOf("a"); got != want {
			t.Errorf("a: nonce %d, want %d", got, want)
		}
	}
	if got := nonceOf("b"); got != 0 {
		t.Errorf("b: nonce %d, want 0 (counters are per type)", got)
	}
	enc.nonces["a"] = 0xffff
	if got := nonceOf("a"); got != 0xffff {
		t.Errorf("nonce %d, want 65535", got)
	}
	if got := nonceOf("a"); got != 0 {
		t.Errorf("nonce %d after 65535, want 0", got)
	}
}

func TestEncodeKindsAndMeta(t *testing.T) {
	jsonMsg, err := JSONMessage("obj", map[string]any{"html": "<b>&</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if string(jsonMsg.Payload) != `{"html":"<b>&</b>"}` {
		t.Errorf("JSON payload %s is not JSON.stringify's", jsonMsg.Payload)
	}
	withMeta, err := StringMessage("s", "").WithMeta(map[string]int{"r": 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		msg       ActionMessage
		wantFlags []ChunkFlags
	}{
		{"string", StringMessage("s", "hello"), []ChunkFlags{FlagLast}},
		{"json", jsonMsg, []ChunkFlags{FlagLast | FlagJSON}},
		{"binary", BinaryMessage("b", []byte{1}), []ChunkFlags{FlagLast | FlagBinary | FlagJSON}},
		{"empty binary", BinaryMessage("b", nil), []ChunkFlags{FlagLast | FlagBinary | FlagJSON}},
		// Meta with an empty payload: one chunk, both meta and last.
		{"meta only", withMeta, []ChunkFlags{FlagLast | FlagMeta}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks, err := NewActionEncoder().EncodeChunks(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var flags []ChunkFlags
			for _, c := range chunks {
				flags = append(flags, ChunkFlags(c[ActionTypeSize+2]))
			}
			if fmt.Sprint(flags) != fmt.Sprint(tc.wantFlags) {
				t.Errorf("flags %v, want %v", flags, tc.wantFlags)
			}
			re := NewReassembler(ReassemblerLimits{})
			var got ActionMessage
			for _, c := range chunks {
				if got, _, err = re.Add(c); err != nil {
					t.Fatal(err)
				}
			}
			if got.Type != tc.msg.Type || got.Kind != tc.msg.Kind || !bytes.Equal(got.Payload, tc.msg.Payload) || !bytes.Equal(got.Meta, tc.msg.Meta) {
				t.Errorf("round trip gave %+v, want %+v", got, tc.msg)
			}
		})
	}
}

func TestEncodeRejectsBadMessages(t *testing.T) {
	tests := []struct {
		name string
		msg  ActionMessage
		want error
	}{
		{"empty type", StringMessage("", "x"), ErrInvalidActionType},
		{"33-byte type", StringMessage(strings.Repeat("t", 33), "x"), ErrInvalidActionType},
		{"NUL in type", StringMessage("a\x00b", "x"), ErrInvalidActionType},
		{"non-UTF-8 type", StringMessage("\xff", "x"), ErrInvalidActionType},
		{"non-UTF-8 string", StringMessage("s", "\xff"), ErrInvalidPayload},
		{"invalid JSON", ActionMessage{Type: "j", Kind: PayloadJSON, Payload: []byte("{")}, ErrInvalidPayload},
		{"empty JSON", ActionMessage{Type: "j", Kind: PayloadJSON}, ErrInvalidPayload},
		{"invalid meta", ActionMessage{Type: "j", Kind: PayloadBinary, Meta: json.RawMessage("nope")}, ErrInvalidPayload},
		{"unknown kind", ActionMessage{Type: "j", Kind: 9}, ErrInvalidPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc := NewActionEncoder()
			if _, err := enc.EncodeChunks(tc.msg); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
			if len(enc.nonces) != 0 {
				t.Error("a rejected message used up a nonce")
			}
		})
	}
	if _, err := NewActionEncoder().EncodeChunks(StringMessage(strings.Repeat("t", 32), "")); err != nil {
		t.Errorf("32-byte type rejected: %v", err)
	}
	if _, err := NewActionEncoder().EncodeFrames("", StringMessage("a", "")); !errors.Is(err, ErrMalformedFrame) {
		t.Errorf("empty room token: error = %v", err)
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	token := RoomToken("test-app", "room1")
	room, err := EncodeRoomFrame(token, []byte("chunk"))
	if err != nil {
		t.Fatal(err)
	}
	presence, err := EncodePresenceFrame(token, true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"two bytes", []byte{1, 0}},
		{"unknown kind", []byte{3, 0, 1, 'x'}},
		{"zero kind", []byte{0, 0, 1, 'x'}},
		{"room token length zero", []byte{1, 0, 0, 'x'}},
		{"room token truncated", room[:20]},
		{"presence three bytes", []byte{2, 1, 0}},
		{"presence flag 2", append([]byte{2, 2}, presence[2:]...)},
		{"presence truncated", presence[:len(presence)-1]},
		{"presence trailing byte", append(bytes.Clone(presence), 0)},
		{"presence token length zero", []byte{2, 1, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeFrame(tc.data); !errors.Is(err, ErrMalformedFrame) {
				t.Errorf("error = %v, want ErrMalformedFrame", err)
			}
		})
	}
	// A room frame with an empty chunk decodes; the chunk decoder rejects it.
	fr, err := DecodeFrame(room[:3+len(token)])
	if err != nil || len(fr.Chunk) != 0 {
		t.Errorf("empty-chunk room frame: %+v, %v", fr, err)
	}
	if _, err := EncodeRoomFrame(strings.Repeat("t", 1<<16), nil); !errors.Is(err, ErrMalformedFrame) {
		t.Errorf("oversized token: error = %v", err)
	}
}

func chunkBytes(t *testing.T, c Chunk) []byte {
	t.Helper()
	b, err := AppendChunk(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReassemblerErrors(t *testing.T) {
	short := make([]byte, ChunkHeaderSize-1)
	allZeroType := make([]byte, ChunkHeaderSize)
	badUTF8Type := make([]byte, ChunkHeaderSize)
	badUTF8Type[0] = 0xff
	tests := []struct {
		name   string
		limits ReassemblerLimits
		chunks [][]byte
		want   error
	}{
		{"short chunk", ReassemblerLimits{}, [][]byte{short}, ErrMalformedChunk},
		{"type all NUL", ReassemblerLimits{}, [][]byte{allZeroType}, ErrMalformedChunk},
		{"type not UTF-8", ReassemblerLimits{}, [][]byte{badUTF8Type}, ErrMalformedChunk},
		{"string not UTF-8", ReassemblerLimits{}, [][]byte{
			chunkBytes(t, Chunk{Type: "s", Flags: FlagLast, Payload: []byte{0xff}}),
		}, ErrInvalidPayload},
		{"JSON not JSON", ReassemblerLimits{}, [][]byte{
			chunkBytes(t, Chunk{Type: "j", Flags: FlagLast | FlagJSON, Payload: []byte("{")}),
		}, ErrInvalidPayload},
		{"meta not JSON", ReassemblerLimits{}, [][]byte{
			chunkBytes(t, Chunk{Type: "m", Flags: FlagMeta | FlagBinary, Payload: []byte("x")}),
			chunkBytes(t, Chunk{Type: "m", Flags: FlagLast | FlagBinary, Payload: []byte("x")}),
		}, ErrInvalidPayload},
		{"two meta chunks", ReassemblerLimits{}, [][]byte{
			chunkBytes(t, Chunk{Type: "m", Flags: FlagMeta, Payload: []byte("1")}),
			chunkBytes(t, Chunk{Type: "m", Flags: FlagMeta, Payload: []byte("2")}),
		}, ErrMalformedChunk},
		{"empty non-last chunk", ReassemblerLimits{}, [][]byte{
			chunkBytes(t, Chunk{Type: "e", Flags: FlagBinary, Payload: []byte("x")}),
			chunkBytes(t, Chunk{Type: "e", Flags: FlagBinary}),
		}, ErrMalformedChunk},
		{"single chunk too large", ReassemblerLimits{MaxMessageSize: 4}, [][]byte{
			chunkBytes(t, Chunk{Type: "big", Flags: FlagLast | FlagBinary, Payload: []byte("12345")}),
		}, ErrMessageTooLarge},
		{"chunks too large together", ReassemblerLimits{MaxMessageSize: 4}, [][]byte{
			chunkBytes(t, Chunk{Type: "big", Flags: FlagBinary, Payload: []byte("123")}),
			chunkBytes(t, Chunk{Type: "big", Flags: FlagLast | FlagBinary, Payload: []byte("45")}),
		}, ErrMessageTooLarge},
		{"meta counts toward the size", ReassemblerLimits{MaxMessageSize: 4}, [][]byte{
			chunkBytes(t, Chunk{Type: "big", Flags: FlagMeta, Payload: []byte("123")}),
			chunkBytes(t, Chunk{Type: "big", Flags: FlagLast | FlagBinary, Payload: []byte("45")}),
		}, ErrMessageTooLarge},
		{"too many partial messages", ReassemblerLimits{MaxPartialMessages: 2}, [][]byte{
			chunkBytes(t, Chunk{Type: "p", Nonce: 1, Flags: FlagBinary, Payload: []byte("x")}),
			chunkBytes(t, Chunk{Type: "p", Nonce: 2, Flags: FlagBinary, Payload: []byte("x")}),
			chunkBytes(t, Chunk{Type: "p", Nonce: 3, Flags: FlagBinary, Payload: []byte("x")}),
		}, ErrTooManyPartialMessages},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			re := NewReassembler(tc.limits)
			var err error
			for i, c := range tc.chunks {
				_, _, err = re.Add(c)
				if i < len(tc.chunks)-1 && err != nil {
					t.Fatalf("chunk %d: unexpected error %v", i, err)
				}
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReassemblerRecoversAfterErrors(t *testing.T) {
	re := NewReassembler(ReassemblerLimits{MaxMessageSize: 10, MaxPartialMessages: 1})
	open := chunkBytes(t, Chunk{Type: "a", Flags: FlagBinary, Payload: []byte("12345678")})
	if _, _, err := re.Add(open); err != nil {
		t.Fatal(err)
	}
	// Another partial message is refused while the slot is taken, but a
	// single-chunk message still gets through.
	if _, _, err := re.Add(chunkBytes(t, Chunk{Type: "b", Flags: FlagBinary, Payload: []byte("x")})); !errors.Is(err, ErrTooManyPartialMessages) {
		t.Fatalf("error = %v", err)
	}
	if m, done, err := re.Add(chunkBytes(t, Chunk{Type: "c", Flags: FlagLast, Payload: []byte("hi")})); err != nil || !done || string(m.Payload) != "hi" {
		t.Fatalf("single chunk: %+v %v %v", m, done, err)
	}
	// Overflowing "a" drops it and frees the slot.
	if _, _, err := re.Add(chunkBytes(t, Chunk{Type: "a", Flags: FlagLast | FlagBinary, Payload: []byte("9abc")})); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("error = %v", err)
	}
	if re.Pending() != 0 {
		t.Fatalf("pending = %d after the overflow", re.Pending())
	}
	if _, _, err := re.Add(chunkBytes(t, Chunk{Type: "b", Flags: FlagBinary, Payload: []byte("x")})); err != nil {
		t.Fatal(err)
	}
	re.Reset()
	if re.Pending() != 0 {
		t.Fatal("Reset kept partial messages")
	}
}

func TestReassemblerInterleaved(t *testing.T) {
	enc := NewActionEncoder()
	a1, _ := enc.EncodeChunks(BinaryMessage("a", patterned(3*ChunkPayloadSize)))
	a2, _ := enc.EncodeChunks(BinaryMessage("a", patterned(2*ChunkPayloadSize+5)))
	b1, _ := enc.EncodeChunks(StringMessage("b", strings.Repeat("é", ChunkPayloadSize)+"x"))
	order := [][]byte{a1[0], a2[0], b1[0], a1[1], b1[1], a2[1], a1[2], b1[2], a2[2]}
	re := NewReassembler(ReassemblerLimits{})
	var got []string
	for _, c := range order {
		m, done, err := re.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			got = append(got, fmt.Sprintf("%s:%d", m.Type, len(m.Payload)))
		}
	}
	want := []string{
		fmt.Sprintf("a:%d", 3*ChunkPayloadSize),
		fmt.Sprintf("b:%d", 2*ChunkPayloadSize+1),
		fmt.Sprintf("a:%d", 2*ChunkPayloadSize+5),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("completed %v, want %v", got, want)
	}
}

func TestReassemblerSkipsTheTailOfADroppedMessage(t *testing.T) {
	enc := NewActionEncoder()
	big, err := enc.EncodeChunks(BinaryMessage("a", patterned(3*ChunkPayloadSize+10)))
	if err != nil {
		t.Fatal(err)
	}
	next, err := enc.EncodeChunks(StringMessage("a", "after"))
	if err != nil {
		t.Fatal(err)
	}
	re := NewReassembler(ReassemblerLimits{MaxMessageSize: 2 * ChunkPayloadSize})
	var errs []error
	for _, c := range append(big, next...) {
		m, done, err := re.Add(c)
		if err != nil {
			errs = append(errs, err)
		}
		if done && string(m.Payload) != "after" {
			t.Fatalf("the tail of the dropped message came out as a message of %d bytes", len(m.Payload))
		}
		if done {
			errs = append(errs, nil)
		}
	}
	if len(errs) != 2 || !errors.Is(errs[0], ErrMessageTooLarge) || errs[1] != nil {
		t.Fatalf("results %v, want [ErrMessageTooLarge, the next message]", errs)
	}
	if re.Pending() != 0 {
		t.Fatalf("pending = %d", re.Pending())
	}
}

// TestReassemblerBudget: the bytes of all partial messages together stay
// within MaxPartialBytes, which is never below one whole message.
func TestReassemblerBudget(t *testing.T) {
	part := func(typ string, nonce uint16, n int) []byte {
		return chunkBytes(t, Chunk{Type: typ, Nonce: nonce, Flags: FlagBinary, Payload: patterned(n)})
	}
	last := func(typ string, nonce uint16, n int) []byte {
		return chunkBytes(t, Chunk{Type: typ, Nonce: nonce, Flags: FlagBinary | FlagLast, Payload: patterned(n)})
	}
	meta := func(typ string, n int) []byte {
		return chunkBytes(t, Chunk{Type: typ, Flags: FlagMeta, Payload: []byte(`"` + strings.Repeat("m", n-2) + `"`)})
	}
	type step struct {
		chunk []byte
		err   error // nil: accepted
		held  int   // HeldBytes after the step
	}
	tests := []struct {
		name   string
		limits ReassemblerLimits
		steps  []step
	}{
		{"a second message over the budget is dropped", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 12}, []step{
			{part("a", 0, 8), nil, 8},
			{part("b", 0, 3), nil, 11},
			{part("b", 0, 2), ErrReassemblyBudget, 8},
			{last("b", 0, 1), nil, 8}, // the tail of the dropped message is skipped
			{last("a", 0, 2), nil, 0},
		}},
		{"the last chunk does not count against the budget", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 12}, []step{
			{part("a", 0, 8), nil, 8},
			{part("b", 0, 4), nil, 12},
			{last("b", 0, 6), nil, 8},
		}},
		{"metadata counts", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 12}, []step{
			{meta("a", 6), nil, 6},
			{part("b", 0, 6), nil, 12},
			{part("a", 0, 1), ErrReassemblyBudget, 6},
		}},
		{"a budget below one message is raised to it", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 2}, []step{
			{part("a", 0, 9), nil, 9},
			{part("b", 0, 1), nil, 10},
			{part("b", 0, 1), ErrReassemblyBudget, 9},
		}},
		{"a dropped message frees its bytes", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 12}, []step{
			{part("a", 0, 8), nil, 8},
			{part("a", 0, 3), ErrMessageTooLarge, 0},
			{part("b", 0, 10), nil, 10},
		}},
		{"single-chunk messages hold nothing", ReassemblerLimits{MaxMessageSize: 10, MaxPartialBytes: 10}, []step{
			{part("a", 0, 10), nil, 10},
			{last("b", 0, 10), nil, 10},
		}},
		{"four partial messages by default", ReassemblerLimits{}, []step{
			{part("a", 0, 1), nil, 1},
			{part("a", 1, 1), nil, 2},
			{part("a", 2, 1), nil, 3},
			{part("a", 3, 1), nil, 4},
			{part("a", 4, 1), ErrTooManyPartialMessages, 4},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			re := NewReassembler(tc.limits)
			for i, s := range tc.steps {
				_, _, err := re.Add(s.chunk)
				if !errors.Is(err, s.err) || (s.err == nil && err != nil) {
					t.Fatalf("step %d: error %v, want %v", i, err, s.err)
				}
				if re.HeldBytes() != s.held {
					t.Fatalf("step %d: holds %d bytes, want %d", i, re.HeldBytes(), s.held)
				}
			}
		})
	}
}

func TestReassemblerDefaults(t *testing.T) {
	got := NewReassembler(ReassemblerLimits{}).Limits()
	want := ReassemblerLimits{MaxMessageSize: 640 << 10, MaxPartialMessages: 4, MaxPartialBytes: 1 << 20, PartialTimeout: 10 * time.Second}
	if got != want {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	// A larger message limit raises the budget with it.
	if got := NewReassembler(ReassemblerLimits{MaxMessageSize: 4 << 20}).Limits().MaxPartialBytes; got != 4<<20 {
		t.Errorf("budget %d with 4 MiB messages", got)
	}
}

// TestReassemblerExpiry: a partial message that makes no progress for
// PartialTimeout is dropped, by Expire or when another message starts, and
// the rest of it is skipped.
func TestReassemblerExpiry(t *testing.T) {
	const timeout = 10 * time.Second
	now := time.Unix(1000, 0)
	re := NewReassembler(ReassemblerLimits{MaxPartialMessages: 2, PartialTimeout: timeout})
	re.now = func() time.Time { return now }
	add := func(c Chunk) (ActionMessage, bool, error) {
		t.Helper()
		return re.Add(chunkBytes(t, c))
	}

	if _, ok := re.NextExpiry(); ok {
		t.Fatal("NextExpiry with nothing partial")
	}
	if _, _, err := add(Chunk{Type: "a", Flags: FlagBinary, Payload: []byte("a1")}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * time.Second)
	if _, _, err := add(Chunk{Type: "b", Flags: FlagBinary, Payload: []byte("b1")}); err != nil {
		t.Fatal(err)
	}
	if at, ok := re.NextExpiry(); !ok || !at.Equal(time.Unix(1010, 0)) {
		t.Fatalf("NextExpiry = %v, %v; want a's, at 1010", at, ok)
	}
	// Progress on a restarts its clock.
	now = now.Add(3 * time.Second)
	if _, _, err := add(Chunk{Type: "a", Flags: FlagBinary, Payload: []byte("a2")}); err != nil {
		t.Fatal(err)
	}
	if n := re.Expire(now.Add(timeout - time.Nanosecond)); n != 1 || re.Pending() != 1 || re.HeldBytes() != 4 {
		t.Fatalf("Expire dropped %d; pending %d holding %d, want b dropped and a (4 bytes) kept", n, re.Pending(), re.HeldBytes())
	}
	// b's tail is skipped, not taken for a message of its own.
	if m, done, err := add(Chunk{Type: "b", Flags: FlagBinary | FlagLast, Payload: []byte("b2")}); done || err != nil {
		t.Fatalf("b's tail gave %+v, %v, %v", m, done, err)
	}
	// a is stale once timeout passed: a new message takes its slot without
	// an explicit Expire.
	now = now.Add(timeout)
	if _, _, err := add(Chunk{Type: "c", Flags: FlagBinary, Payload: []byte("c1")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := add(Chunk{Type: "d", Flags: FlagBinary, Payload: []byte("d1")}); err != nil {
		t.Fatalf("a stale message kept a slot: %v", err)
	}
	if re.Pending() != 2 || re.HeldBytes() != 4 {
		t.Fatalf("pending %d holding %d, want c and d", re.Pending(), re.HeldBytes())
	}
	if m, done, err := add(Chunk{Type: "c", Flags: FlagBinary | FlagLast, Payload: []byte("c2")}); !done || err != nil || string(m.Payload) != "c1c2" {
		t.Fatalf("c: %q, %v, %v", m.Payload, done, err)
	}
	if re.Expire(now.Add(time.Hour)) != 1 || re.Pending() != 0 || re.HeldBytes() != 0 {
		t.Fatalf("after expiring everything: pending %d holding %d", re.Pending(), re.HeldBytes())
	}
}

func TestReassemblerMetadataOnly(t *testing.T) {
	re := NewReassembler(ReassemblerLimits{})
	m, done, err := re.Add(chunkBytes(t, Chunk{Type: "m", Flags: FlagMeta | FlagLast | FlagBinary, Payload: []byte(`{"k":1}`)}))
	if err != nil || !done || string(m.Meta) != `{"k":1}` || m.Payload == nil || len(m.Payload) != 0 {
		t.Fatalf("got %+v, %v, %v", m, done, err)
	}
	if re.Pending() != 0 || re.HeldBytes() != 0 {
		t.Fatalf("pending %d holding %d", re.Pending(), re.HeldBytes())
	}
}
