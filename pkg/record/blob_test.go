package record

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestHashBlob(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		chunks int
		last   int
	}{
		{"one byte", 1, 1, 1},
		{"one chunk", BlobChunkSize, 1, BlobChunkSize},
		{"a chunk and a byte", BlobChunkSize + 1, 2, 1},
		{"5 MiB", 5 << 20, 80, BlobChunkSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{7, 1, 9}, tc.size/3+1)[:tc.size]
			ref, list := HashBlob(data, "image/png")
			if ref.SHA256 != sha256.Sum256(data) || ref.Size != int64(tc.size) || ref.Chunks() != tc.chunks || ref.ChunkLen(tc.chunks-1) != tc.last {
				t.Fatalf("ref %+v: chunks %d last %d", ref, ref.Chunks(), ref.ChunkLen(tc.chunks-1))
			}
			if err := ref.CheckHashList(list); err != nil {
				t.Fatal(err)
			}
			for i := range ref.Chunks() {
				c := data[i*BlobChunkSize : i*BlobChunkSize+ref.ChunkLen(i)]
				if h := sha256.Sum256(c); !bytes.Equal(h[:], list[32*i:32*i+32]) {
					t.Fatalf("chunk %d hash differs", i)
				}
			}
			// Written in odd pieces, the hasher agrees.
			h := NewBlobHasher(0)
			for p := data; len(p) > 0; {
				k := min(len(p), 7777)
				h.Write(p[:k])
				p = p[k:]
			}
			if ref2, list2 := h.Sum("image/png"); ref2 != ref || !bytes.Equal(list2, list) {
				t.Fatal("piecewise hashing differs")
			}
			spoiled := append([]byte(nil), list...)
			spoiled[0] ^= 1
			if err := ref.CheckHashList(spoiled); !errors.Is(err, ErrInvalidBlob) {
				t.Fatalf("spoiled list: %v", err)
			}
			if err := ref.CheckHashList(list[:len(list)-32]); !errors.Is(err, ErrInvalidBlob) {
				t.Fatalf("short list: %v", err)
			}
		})
	}
}

func TestBlobRecordRoundTrip(t *testing.T) {
	sk, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	room := RoomID("app", "room")
	ref, _ := HashBlob(bytes.Repeat([]byte("x"), 100_000), "image/jpeg")
	e, err := New(Draft{Text: "a caption", Blob: &ref}, sk, room, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRecord(e, room, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	r, err := Parse(e)
	if err != nil {
		t.Fatal(err)
	}
	if r.Blob == nil || *r.Blob != ref || r.Text != "a caption" || r.MediaType != MediaTypeText || r.Data != nil {
		t.Fatalf("parsed %+v blob %+v", r, r.Blob)
	}
	if _, err := New(Draft{Data: []byte(`{}`), Blob: &ref}, sk, room, DefaultLimits()); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("data and blob: %v", err)
	}
	bad := ref
	bad.ChunkSize = 1000
	if _, err := New(Draft{Blob: &bad}, sk, room, DefaultLimits()); !errors.Is(err, ErrInvalidBlob) {
		t.Fatalf("odd chunk size: %v", err)
	}
}

// TestParseBlobTags: every malformed blob tag is refused as an invalid
// record (an integrity failure: the author signed it so).
func TestParseBlobTags(t *testing.T) {
	ok := [][]string{{"d", "6f1c1d2e-3b4a-4c5d-8e6f-7a8b9c0d1e2f"}, {"room", RoomID("a", "b")}}
	x := []string{"x", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	size := []string{"size", "100"}
	chunks := []string{"chunks", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "65536"}
	tests := []struct {
		name string
		tags [][]string
		ok   bool
	}{
		{"complete", [][]string{x, size, chunks}, true},
		{"with a type", [][]string{{"m", "video/mp4"}, x, size, chunks}, true},
		{"no size", [][]string{x, chunks}, false},
		{"no chunks", [][]string{x, size}, false},
		{"upper-case hash", [][]string{{"x", "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"}, size, chunks}, false},
		{"short hash", [][]string{{"x", "9f86"}, size, chunks}, false},
		{"zero size", [][]string{x, {"size", "0"}, chunks}, false},
		{"size with a plus", [][]string{x, {"size", "+100"}, chunks}, false},
		{"too big", [][]string{x, {"size", "2147483648"}, chunks}, false},
		{"odd chunk size", [][]string{x, size, {"chunks", chunks[1], "65535"}}, false},
		{"tiny chunk size", [][]string{x, size, {"chunks", chunks[1], "1024"}}, false},
		{"two x tags", [][]string{x, x, size, chunks}, false},
		{"base64 content", [][]string{{"m", "image/png", "base64"}, x, size, chunks}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Event{Kind: KindRecord, Tags: append(append([][]string{}, ok...), tc.tags...)}
			r, err := Parse(e)
			if tc.ok {
				if err != nil || r.Blob == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}
