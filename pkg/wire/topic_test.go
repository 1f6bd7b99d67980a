package wire

import (
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

func TestTSHA1ByteEncoding(t *testing.T) {
	// Each byte is written in base 36 without padding, so the length of the
	// result is between 20 and 40 characters and uses only [0-9a-z].
	for _, s := range []string{"", "a", "Trystero@peerset@lobby", strings.Repeat("x", 1000)} {
		got := tsha1(s)
		if len(got) < 20 || len(got) > 40 {
			t.Errorf("tsha1(%q) has length %d", s, len(got))
		}
		if strings.Trim(got, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("tsha1(%q) = %q has characters outside base 36", s, got)
		}
	}
}

func TestInfoHashIsValidID(t *testing.T) {
	tests := []struct{ app, room string }{
		{"test-app", "room1"},
		{"peerset", ""},
		{"", ""},
		{"ä", "🙂"},
	}
	for _, tc := range tests {
		if ih := InfoHash(tc.app, tc.room); !IsValidID(ih) {
			t.Errorf("InfoHash(%q, %q) = %q is not a valid id", tc.app, tc.room, ih)
		}
	}
	if InfoHash("a", "bc") == InfoHash("ab", "c") {
		t.Error("the separator does not separate")
	}
}

func TestRandomIDs(t *testing.T) {
	tests := []struct {
		name string
		gen  func() (string, error)
		n    int
	}{
		{"peer id", NewPeerID, IDLength},
		{"offer id", NewOfferID, IDLength},
		{"challenge", NewHandshakeChallenge, challengeLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				id, err := tc.gen()
				if err != nil {
					t.Fatal(err)
				}
				if len(id) != tc.n || strings.Trim(id, idCharset) != "" {
					t.Fatalf("bad id %q", id)
				}
				if seen[id] {
					t.Fatalf("duplicate id %q", id)
				}
				seen[id] = true
			}
		})
	}
}

func TestRandomIDUsesWholeCharset(t *testing.T) {
	counts := map[byte]int{}
	const n = 62 * 200
	id, err := randomID(rand.Reader, n)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(id); i++ {
		counts[id[i]]++
	}
	if len(counts) != len(idCharset) {
		t.Fatalf("saw %d distinct characters, want %d", len(counts), len(idCharset))
	}
	// Expected 200 per character; a biased generator (b % 62 without
	// rejection) would give the first 8 characters about 5/4 of that, but a
	// loose bound keeps this test free of flakes.
	for c, k := range counts {
		if k < 100 || k > 320 {
			t.Errorf("character %q drawn %d times, expected about 200", c, k)
		}
	}
}

// TestPeerIDFrom: ids drawn from a seeded source repeat with the seed and
// are valid; a failing source is an error, not a short id.
func TestPeerIDFrom(t *testing.T) {
	seed := [32]byte{1}
	a, errA := PeerIDFrom(mrand.NewChaCha8(seed))
	b, errB := PeerIDFrom(mrand.NewChaCha8(seed))
	c, errC := PeerIDFrom(mrand.NewChaCha8([32]byte{2}))
	if errA != nil || errB != nil || errC != nil {
		t.Fatal(errA, errB, errC)
	}
	if a != b || a == c || !IsValidID(a) || !IsValidID(c) {
		t.Fatalf("ids %q, %q (same seed), %q (another): want the first two equal, the third different, all valid", a, b, c)
	}
	if _, err := PeerIDFrom(failingReader{}); err == nil {
		t.Fatal("an id from a failing source")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no bytes") }

func TestIsValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"2c412m6x5k1c2y383j6o", true},
		{"0123456789AaBbCcDdEe", true},
		{"!\"#$%&'()*+,-./:;<=>", true},
		{"", false},
		{"2c412m6x5k1c2y383j6", false},
		{"2c412m6x5k1c2y383j6oo", false},
		{"é123456789012345678", false}, // 20 bytes, 19 characters
		{"\xff123456789012345678\x00", false},
	}
	for _, tc := range tests {
		if got := IsValidID(tc.id); got != tc.want {
			t.Errorf("IsValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestIsHandshakeInitiator(t *testing.T) {
	if !IsHandshakeInitiator("0aaaaaaaaaaaaaaaaaaa", "Aaaaaaaaaaaaaaaaaaaa") {
		t.Error("lower id must initiate")
	}
	if IsHandshakeInitiator("b", "B") {
		t.Error("ASCII 'b' > 'B'; the peer with 'b' must not initiate")
	}
}
