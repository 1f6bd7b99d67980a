package record

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// PublicKey is a BIP-340 x-only public key: the 32-byte x coordinate, as
// Nostr events carry it in "pubkey" (lowercase hex) and NIP-19 as npub.
type PublicKey [32]byte

// SecretKey is a secp256k1 private key. Its zero value is not usable; make one
// with GenerateKey, ParseSecretKeyHex or DecodeNsec.
type SecretKey struct {
	key    *btcec.PrivateKey
	public PublicKey
}

// Errors for key input.
var (
	ErrInvalidSecretKey = errors.New("invalid secret key: must be 32 bytes in 1..n-1 of secp256k1")
	ErrInvalidPublicKey = errors.New("invalid public key: not the x coordinate of a secp256k1 point")
)

// GenerateKey makes a new random secret key.
func GenerateKey() (*SecretKey, error) {
	for {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("failed to read random bytes: %w", err)
		}
		sk, err := SecretKeyFromBytes(b[:])
		if err == nil {
			return sk, nil
		}
		// The chance of a zero or out-of-range scalar is about 2^-128; draw again.
	}
}

// SecretKeyFromBytes makes a secret key from its 32-byte big-endian scalar.
func SecretKeyFromBytes(b []byte) (*SecretKey, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("%w (got %d bytes)", ErrInvalidSecretKey, len(b))
	}
	var scalar btcec.ModNScalar
	if overflow := scalar.SetByteSlice(b); overflow || scalar.IsZero() {
		return nil, ErrInvalidSecretKey
	}
	key := btcec.PrivKeyFromScalar(&scalar)
	sk := &SecretKey{key: key}
	copy(sk.public[:], schnorr.SerializePubKey(key.PubKey()))
	return sk, nil
}

// ParseSecretKeyHex parses a secret key written as 64 hex digits.
func ParseSecretKeyHex(s string) (*SecretKey, error) {
	b, err := decodeHexExact(s, 32)
	if err != nil {
		return nil, fmt.Errorf("failed to parse secret key: %w", err)
	}
	return SecretKeyFromBytes(b)
}

// Public returns the x-only public key of sk.
func (sk *SecretKey) Public() PublicKey { return sk.public }

// Bytes returns the 32-byte scalar. Handle it as the secret it is.
func (sk *SecretKey) Bytes() []byte {
	b := sk.key.Key.Bytes()
	return b[:]
}

// Hex returns the secret key as 64 lowercase hex digits.
func (sk *SecretKey) Hex() string { return hex.EncodeToString(sk.Bytes()) }

// Nsec returns the secret key in NIP-19 form.
func (sk *SecretKey) Nsec() string { return EncodeNsec(sk) }

// String hides the key so that it does not end up in logs by accident.
func (sk *SecretKey) String() string { return "nsec1…(hidden)" }

// SignHash signs a 32-byte hash with BIP-340 (random auxiliary data). Events
// have Sign; this is for other signed statements, such as the peerset
// handshake's transcript.
func (sk *SecretKey) SignHash(hash [32]byte) ([64]byte, error) {
	var aux [32]byte
	if _, err := rand.Read(aux[:]); err != nil {
		return [64]byte{}, fmt.Errorf("failed to read random bytes: %w", err)
	}
	sig, err := schnorr.Sign(sk.key, hash[:], schnorr.CustomNonce(aux))
	if err != nil {
		return [64]byte{}, fmt.Errorf("failed to sign: %w", err)
	}
	return [64]byte(sig.Serialize()), nil
}

// VerifyHash checks a BIP-340 signature of a 32-byte hash by pk; the error
// wraps ErrBadSignature.
func (pk PublicKey) VerifyHash(hash [32]byte, sig [64]byte) error {
	pub, err := schnorr.ParsePubKey(pk[:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, ErrInvalidPublicKey)
	}
	s, err := schnorr.ParseSignature(sig[:])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if !s.Verify(hash[:], pub) {
		return ErrBadSignature
	}
	return nil
}

// ParsePublicKeyHex parses an x-only public key written as 64 lowercase hex digits.
func ParsePublicKeyHex(s string) (PublicKey, error) {
	var pk PublicKey
	b, err := decodeHexExact(s, 32)
	if err != nil {
		return pk, fmt.Errorf("failed to parse public key: %w", err)
	}
	copy(pk[:], b)
	return pk, nil
}

// Hex returns the key as 64 lowercase hex digits, the form used inside events.
func (pk PublicKey) Hex() string { return hex.EncodeToString(pk[:]) }

// Npub returns the key in NIP-19 form.
func (pk PublicKey) Npub() string { return EncodeNpub(pk) }

// String returns the npub form.
func (pk PublicKey) String() string { return pk.Npub() }

// Valid reports whether pk is the x coordinate of a point on the curve.
func (pk PublicKey) Valid() bool {
	_, err := schnorr.ParsePubKey(pk[:])
	return err == nil
}

// errBadHex is wrapped by decodeHexExact.
var errBadHex = errors.New("not lowercase hex of the expected length")

// decodeHexExact decodes s, which must be exactly 2*n lowercase hex digits.
func decodeHexExact(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("%w: want %d hex digits, got %d", errBadHex, 2*n, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, fmt.Errorf("%w: %q at offset %d", errBadHex, c, i)
		}
	}
	return hex.DecodeString(s)
}

// decodeHexInto decodes s, which must be exactly 2*len(dst) lowercase hex
// digits, into dst without allocating.
func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: want %d hex digits, got %d", errBadHex, 2*len(dst), len(s))
	}
	for i := range dst {
		hi, ok1 := lowerHexValue(s[2*i])
		lo, ok2 := lowerHexValue(s[2*i+1])
		if !ok1 || !ok2 {
			bad := 2 * i
			if ok1 {
				bad++
			}
			return fmt.Errorf("%w: %q at offset %d", errBadHex, s[bad], bad)
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

func lowerHexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
