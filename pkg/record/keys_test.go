package record

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

type nip19Vectors struct {
	Keys []struct {
		Prefix string `json:"prefix"`
		Bech32 string `json:"bech32"`
		Hex    string `json:"hex"`
	} `json:"keys"`
}

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("failed to read vectors: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("failed to parse %s: %v", name, err)
	}
}

func TestNIP19Vectors(t *testing.T) {
	var v nip19Vectors
	loadJSON(t, "nip19.json", &v)
	if len(v.Keys) == 0 {
		t.Fatal("no vectors")
	}
	for _, k := range v.Keys {
		t.Run(k.Prefix, func(t *testing.T) {
			prefix, b, err := DecodeKey(k.Bech32)
			if err != nil {
				t.Fatalf("DecodeKey: %v", err)
			}
			if prefix != k.Prefix || hex.EncodeToString(b) != k.Hex {
				t.Fatalf("DecodeKey = %s %x, want %s %s", prefix, b, k.Prefix, k.Hex)
			}
			switch k.Prefix {
			case PrefixNpub:
				pk, err := ParsePublicKeyHex(k.Hex)
				if err != nil {
					t.Fatal(err)
				}
				if got := pk.Npub(); got != k.Bech32 {
					t.Fatalf("Npub() = %s, want %s", got, k.Bech32)
				}
			case PrefixNsec:
				sk, err := ParseSecretKeyHex(k.Hex)
				if err != nil {
					t.Fatal(err)
				}
				if got := sk.Nsec(); got != k.Bech32 {
					t.Fatalf("Nsec() = %s, want %s", got, k.Bech32)
				}
			}
		})
	}
}

// The NIP-19 example nsec and npub are one key pair.
func TestNIP19ExamplePair(t *testing.T) {
	var v nip19Vectors
	loadJSON(t, "nip19.json", &v)
	sk, err := DecodeNsec(v.Keys[1].Bech32)
	if err != nil {
		t.Fatal(err)
	}
	if got := sk.Public().Npub(); got != v.Keys[0].Bech32 {
		t.Fatalf("public key of the example nsec = %s, want %s", got, v.Keys[0].Bech32)
	}
}

func TestNIP19Errors(t *testing.T) {
	const npub = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
	const nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
	short, _ := bech32.ConvertBits(make([]byte, 31), 8, 5, true)
	shortNpub, _ := bech32.Encode("npub", short)
	// x = 5 is not the x coordinate of any secp256k1 point.
	offCurve := make([]byte, 32)
	offCurve[31] = 5
	offData, _ := bech32.ConvertBits(offCurve, 8, 5, true)
	offNpub, _ := bech32.Encode("npub", offData)
	zeroData, _ := bech32.ConvertBits(make([]byte, 32), 8, 5, true)
	zeroNsec, _ := bech32.Encode("nsec", zeroData)
	lastSwapped := npub[:len(npub)-1] + "q"

	tests := []struct {
		name   string
		decode func(string) error
		input  string
		want   error
	}{
		{"nsec given as npub", decodeNpubErr, nsec, ErrWrongPrefix},
		{"npub given as nsec", decodeNsecErr, npub, ErrWrongPrefix},
		{"mistyped last character", decodeNpubErr, lastSwapped, ErrBadChecksum},
		{"truncated", decodeNpubErr, npub[:len(npub)-3], ErrBadChecksum},
		{"31-byte payload", decodeNpubErr, shortNpub, ErrWrongLength},
		{"not bech32", decodeNpubErr, "npub1 not a key", ErrBadBech32},
		{"empty", decodeNpubErr, "", ErrBadBech32},
		{"point not on the curve", decodeNpubErr, offNpub, ErrInvalidPublicKey},
		{"zero secret", decodeNsecErr, zeroNsec, ErrInvalidSecretKey},
		{"DecodeKey with another prefix", func(s string) error { _, _, err := DecodeKey(s); return err }, "note1abc", ErrWrongPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode(tt.input)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func decodeNpubErr(s string) error { _, err := DecodeNpub(s); return err }
func decodeNsecErr(s string) error { _, err := DecodeNsec(s); return err }

func TestGenerateKeyRoundTrip(t *testing.T) {
	for range 20 {
		sk, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeNsec(sk.Nsec())
		if err != nil || back.Hex() != sk.Hex() {
			t.Fatalf("nsec round trip: %v", err)
		}
		pk, err := DecodeNpub(sk.Public().Npub())
		if err != nil || pk != sk.Public() {
			t.Fatalf("npub round trip: %v", err)
		}
		if strings.Contains(sk.String(), sk.Nsec()) {
			t.Fatal("String() must not reveal the secret key")
		}
	}
}

func TestHexKeyErrors(t *testing.T) {
	for _, s := range []string{"", "00", strings.Repeat("G", 64), strings.Repeat("A", 64), strings.Repeat("0", 63)} {
		if _, err := ParsePublicKeyHex(s); err == nil {
			t.Errorf("ParsePublicKeyHex(%q) accepted", s)
		}
		if _, err := ParseSecretKeyHex(s); err == nil {
			t.Errorf("ParseSecretKeyHex(%q) accepted", s)
		}
	}
	// n, the group order, is not a valid scalar.
	if _, err := ParseSecretKeyHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"); !errors.Is(err, ErrInvalidSecretKey) {
		t.Fatalf("group order accepted as secret key: %v", err)
	}
}
