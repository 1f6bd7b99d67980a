package wire

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

const testSDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"

var sealedFormat = regexp.MustCompile(`^([0-9]{1,3},){15}[0-9]{1,3}\$[A-Za-z0-9+/]+={0,2}$`)

func TestSealOpenRoundTrip(t *testing.T) {
	tests := []struct {
		name, password, sdp string
	}{
		{"password", "secret", testSDP},
		{"empty password", "", testSDP},
		{"empty sdp", "secret", ""},
		{"unicode", "pässwörd", "v=0\r\ns=ünïcode\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := SDPKey(tc.password, "test-app", "room1")
			sealed, err := SealSDP(key, tc.sdp)
			if err != nil {
				t.Fatal(err)
			}
			if !sealedFormat.MatchString(sealed) {
				t.Errorf("sealed text %q is not in the wire format", sealed)
			}
			got, err := OpenSDP(key, sealed)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.sdp {
				t.Errorf("OpenSDP = %q, want %q", got, tc.sdp)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	key := SDPKey("", "test-app", "room1")
	a, err := SealSDP(key, testSDP)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealSDP(key, testSDP)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two seals of the same SDP are identical")
	}
}

func TestSealWithFixedNonce(t *testing.T) {
	key := SDPKey("secret", "test-app", "room1")
	nonce := [sdpNonceSize]byte{167, 110, 181, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255}
	sealed, err := sealSDPWithNonce(key, nonce, "v=0\r\n")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "167,110,181,0,1,2,3,4,5,6,7,8,9,10,11,255$"
	if !strings.HasPrefix(sealed, prefix) {
		t.Errorf("sealed = %q, want prefix %q", sealed, prefix)
	}
	// 5 plaintext bytes + 16 tag bytes = 21 bytes = 28 base64 chars with padding.
	if n := len(sealed) - len(prefix); n != 28 {
		t.Errorf("base64 part is %d chars, want 28", n)
	}
}

func TestOpenSDPWrongPassword(t *testing.T) {
	sealed, err := SealSDP(SDPKey("secret", "test-app", "room1"), testSDP)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][32]byte{
		SDPKey("other", "test-app", "room1"),
		SDPKey("", "test-app", "room1"),
		SDPKey("secret", "test-app", "room2"),
	} {
		_, err := OpenSDP(key, sealed)
		if !errors.Is(err, ErrWrongPassword) {
			t.Errorf("OpenSDP error = %v, want ErrWrongPassword", err)
		}
		if errors.Is(err, ErrMalformedSealedSDP) {
			t.Errorf("wrong password reported as malformed: %v", err)
		}
	}
}

func TestOpenSDPMalformed(t *testing.T) {
	key := SDPKey("secret", "test-app", "room1")
	// 6 bytes + 16 tag bytes = 22 bytes: the base64 ends in "==".
	good, err := sealSDPWithNonce(key, [sdpNonceSize]byte{}, "v=0\r\nx")
	if err != nil {
		t.Fatal(err)
	}
	_, b64, _ := strings.Cut(good, "$")
	iv := "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"
	tests := []struct {
		name, text string
	}{
		{"empty", ""},
		{"no separator", iv},
		{"15 nonce bytes", "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0$" + b64},
		{"17 nonce bytes", iv + ",0$" + b64},
		{"byte over 255", "256" + iv[1:] + "$" + b64},
		{"negative byte", "-1" + iv[1:] + "$" + b64},
		{"hex byte", "0x1" + iv[1:] + "$" + b64},
		{"space", " 1" + iv[1:] + "$" + b64},
		{"empty byte", "," + iv[1:] + "$" + b64},
		{"bad base64", iv + "$***"},
		{"unpadded base64", iv + "$" + strings.TrimRight(b64, "=")},
		{"shorter than tag", iv + "$AAAA"},
		{"bare string", "not a sealed sdp"},
		{"huge", strings.Repeat("1", maxSealedSDPLength+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenSDP(key, tc.text)
			if !errors.Is(err, ErrMalformedSealedSDP) {
				t.Errorf("OpenSDP error = %v, want ErrMalformedSealedSDP", err)
			}
		})
	}
	if !strings.HasSuffix(good, "==") {
		t.Fatalf("sealed text %q should be padded", good)
	}
	if got, err := OpenSDP(key, good); err != nil || got != "v=0\r\nx" {
		t.Errorf("OpenSDP(good) = %q, %v", got, err)
	}
}
