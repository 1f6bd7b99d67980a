package record

import (
	"errors"
	"testing"
)

// The NIP-49 example: password "nostr", log_n 16.
func TestNIP49Vector(t *testing.T) {
	var v struct {
		Vectors []struct {
			Ncryptsec string `json:"ncryptsec"`
			Password  string `json:"password"`
			SecretHex string `json:"secret_hex"`
		} `json:"vectors"`
	}
	loadJSON(t, "nip49.json", &v)
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, c := range v.Vectors {
		sk, _, err := DecryptKey(c.Ncryptsec, c.Password)
		if err != nil {
			t.Fatal(err)
		}
		if sk.Hex() != c.SecretHex {
			t.Fatalf("decrypted %s, want %s", sk.Hex(), c.SecretHex)
		}
		if _, _, err := DecryptKey(c.Ncryptsec, c.Password+"x"); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("wrong password: %v", err)
		}
	}
}

func TestNIP49RoundTrip(t *testing.T) {
	sk, _ := GenerateKey()
	// NFKC: the composed and decomposed forms of "é" are one password.
	enc, err := EncryptKey(sk, "caf\u00e9 password", 12, KeyNotInsecure)
	if err != nil {
		t.Fatal(err)
	}
	back, sec, err := DecryptKey(enc, "cafe\u0301 password")
	if err != nil || back.Hex() != sk.Hex() || sec != KeyNotInsecure {
		t.Fatalf("round trip: %v %v", err, sec)
	}
	tests := []struct {
		name  string
		input string
		want  error
	}{
		{"an nsec", sk.Nsec(), ErrWrongPrefix},
		{"mistyped", enc[:len(enc)-1] + map[bool]string{true: "q", false: "p"}[enc[len(enc)-1] != 'q'], ErrBadChecksum},
		{"garbage", "ncryptsec1xyz", ErrBadNcryptsec},
	}
	for _, tt := range tests {
		if _, _, err := DecryptKey(tt.input, "pw"); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
