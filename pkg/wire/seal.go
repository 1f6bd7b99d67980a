package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The sealed SDP format (trystero-wire.md §3): AES-256-GCM with a 16-byte
// nonce, written as the nonce bytes in decimal joined by ",", then "$", then
// standard base64 of ciphertext‖tag.
const (
	sdpNonceSize = 16
	sdpTagSize   = 16
	// maxSealedSDPLength bounds the text OpenSDP accepts (an SDP with many
	// candidates is a few KiB; this leaves ample room).
	maxSealedSDPLength = 1 << 20
)

var (
	// ErrWrongPassword means a sealed SDP did not authenticate: the sender
	// used another room password (or another app/room).
	ErrWrongPassword = errors.New("incorrect room password when decrypting SDP")
	// ErrMalformedSealedSDP means the sealed text is not in Trystero's format.
	ErrMalformedSealedSDP = errors.New("malformed sealed SDP")
)

// SDPKey derives the AES-256 key that seals a room's SDPs:
// SHA-256(password + ":" + appID + ":" + room). An empty password is valid.
func SDPKey(password, appID, room string) [32]byte {
	return sha256.Sum256([]byte(password + ":" + appID + ":" + room))
}

func newSDPAEAD(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("failed to create AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, sdpNonceSize)
	if err != nil {
		return nil, fmt.Errorf("failed to create GCM: %w", err)
	}
	return aead, nil
}

// SealSDP encrypts an SDP with a fresh random nonce and returns the wire text.
func SealSDP(key [32]byte, sdp string) (string, error) {
	var nonce [sdpNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("failed to read random nonce: %w", err)
	}
	return sealSDPWithNonce(key, nonce, sdp)
}

func sealSDPWithNonce(key [32]byte, nonce [sdpNonceSize]byte, sdp string) (string, error) {
	aead, err := newSDPAEAD(key)
	if err != nil {
		return "", fmt.Errorf("failed to seal SDP: %w", err)
	}
	sealed := aead.Seal(nil, nonce[:], []byte(sdp), nil)

	var b strings.Builder
	b.Grow(4*sdpNonceSize + 1 + base64.StdEncoding.EncodedLen(len(sealed)))
	for i, x := range nonce {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
	b.WriteByte('$')
	b.WriteString(base64.StdEncoding.EncodeToString(sealed))
	return b.String(), nil
}

// OpenSDP decrypts sealed wire text. It returns an error wrapping
// ErrWrongPassword when the text is well formed but does not authenticate
// under key, and one wrapping ErrMalformedSealedSDP when it is not well formed.
func OpenSDP(key [32]byte, text string) (string, error) {
	nonce, sealed, err := parseSealedSDP(text)
	if err != nil {
		return "", fmt.Errorf("failed to open SDP: %w", err)
	}
	aead, err := newSDPAEAD(key)
	if err != nil {
		return "", fmt.Errorf("failed to open SDP: %w", err)
	}
	plain, err := aead.Open(nil, nonce[:], sealed, nil)
	if err != nil {
		return "", fmt.Errorf("failed to open SDP: %w", ErrWrongPassword)
	}
	return string(plain), nil
}

func parseSealedSDP(text string) (nonce [sdpNonceSize]byte, sealed []byte, err error) {
	if len(text) > maxSealedSDPLength {
		return nonce, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedSealedSDP, maxSealedSDPLength)
	}
	ivText, dataText, ok := strings.Cut(text, "$")
	if !ok {
		return nonce, nil, fmt.Errorf("%w: no '$' separator", ErrMalformedSealedSDP)
	}
	parts := strings.Split(ivText, ",")
	if len(parts) != sdpNonceSize {
		return nonce, nil, fmt.Errorf("%w: nonce has %d numbers, want %d", ErrMalformedSealedSDP, len(parts), sdpNonceSize)
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 || strings.TrimLeft(p, "0123456789") != "" {
			return nonce, nil, fmt.Errorf("%w: nonce byte %d is not a decimal number", ErrMalformedSealedSDP, i)
		}
		v, convErr := strconv.Atoi(p)
		if convErr != nil || v > 255 {
			return nonce, nil, fmt.Errorf("%w: nonce byte %d is out of range", ErrMalformedSealedSDP, i)
		}
		nonce[i] = byte(v)
	}
	sealed, err = base64.StdEncoding.Strict().DecodeString(dataText)
	if err != nil {
		return nonce, nil, fmt.Errorf("%w: bad base64: %v", ErrMalformedSealedSDP, err)
	}
	if len(sealed) < sdpTagSize {
		return nonce, nil, fmt.Errorf("%w: ciphertext shorter than the GCM tag", ErrMalformedSealedSDP)
	}
	return nonce, sealed, nil
}
