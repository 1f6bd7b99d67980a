package record

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// NIP-19 human-readable prefixes.
const (
	PrefixNpub = "npub"
	PrefixNsec = "nsec"
)

// Errors from NIP-19 decoding. Each decoding error wraps exactly one of them.
var (
	ErrWrongPrefix = errors.New("wrong NIP-19 prefix")
	ErrBadChecksum = errors.New("bad bech32 checksum")
	ErrWrongLength = errors.New("wrong NIP-19 data length")
	ErrBadBech32   = errors.New("malformed bech32 text")
)

// EncodeNpub writes a public key as an npub.
func EncodeNpub(pk PublicKey) string { return mustEncodeBech32(PrefixNpub, pk[:]) }

// EncodeNsec writes a secret key as an nsec.
func EncodeNsec(sk *SecretKey) string { return mustEncodeBech32(PrefixNsec, sk.Bytes()) }

// DecodeNpub reads an npub. It fails with ErrWrongPrefix for an nsec (or
// anything else), ErrBadChecksum for a mistyped key, ErrWrongLength for data
// that is not 32 bytes and ErrInvalidPublicKey for a point not on the curve.
func DecodeNpub(s string) (PublicKey, error) {
	var pk PublicKey
	b, err := decodeBech32Key(s, PrefixNpub)
	if err != nil {
		return pk, err
	}
	copy(pk[:], b)
	if !pk.Valid() {
		return PublicKey{}, fmt.Errorf("failed to decode npub: %w", ErrInvalidPublicKey)
	}
	return pk, nil
}

// DecodeNsec reads an nsec; errors as for DecodeNpub.
func DecodeNsec(s string) (*SecretKey, error) {
	b, err := decodeBech32Key(s, PrefixNsec)
	if err != nil {
		return nil, err
	}
	sk, err := SecretKeyFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("failed to decode nsec: %w", err)
	}
	return sk, nil
}

// DecodeKey reads an npub or an nsec and returns its prefix and the 32 bytes.
func DecodeKey(s string) (prefix string, key []byte, err error) {
	prefix, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(s)), "1")
	switch prefix {
	case PrefixNpub:
		pk, err := DecodeNpub(s)
		if err != nil {
			return "", nil, err
		}
		return prefix, pk[:], nil
	case PrefixNsec:
		sk, err := DecodeNsec(s)
		if err != nil {
			return "", nil, err
		}
		return prefix, sk.Bytes(), nil
	}
	return "", nil, fmt.Errorf("failed to decode key: %w: want npub or nsec, got %q", ErrWrongPrefix, prefix)
}

func decodeBech32Key(s, wantPrefix string) ([]byte, error) {
	s = strings.TrimSpace(s)
	hrp, data, err := bech32.Decode(s)
	if err != nil {
		var checksum bech32.ErrInvalidChecksum
		if errors.As(err, &checksum) {
			return nil, fmt.Errorf("failed to decode %s: %w (mistyped or truncated key?)", wantPrefix, ErrBadChecksum)
		}
		return nil, fmt.Errorf("failed to decode %s: %w: %v", wantPrefix, ErrBadBech32, err)
	}
	if hrp != wantPrefix {
		return nil, fmt.Errorf("failed to decode %s: %w: got %q", wantPrefix, ErrWrongPrefix, hrp)
	}
	b, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w: %v", wantPrefix, ErrWrongLength, err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("failed to decode %s: %w: want 32 bytes, got %d", wantPrefix, ErrWrongLength, len(b))
	}
	return b, nil
}

func mustEncodeBech32(prefix string, b []byte) string {
	data, err := bech32.ConvertBits(b, 8, 5, true)
	if err != nil {
		panic("record: bech32 conversion of 32 bytes failed: " + err.Error()) // unreachable for 8→5 with padding
	}
	s, err := bech32.Encode(prefix, data)
	if err != nil {
		panic("record: bech32 encoding failed: " + err.Error()) // unreachable: fixed prefix, valid data
	}
	return s
}
