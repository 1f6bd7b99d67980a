package record

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcutil/bech32"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// PrefixNcryptsec is the NIP-49 prefix of a password-encrypted secret key.
const PrefixNcryptsec = "ncryptsec"

// KeySecurity is NIP-49's statement of how the key was handled before it
// was encrypted.
type KeySecurity byte

// Key security values (NIP-49).
const (
	KeyKnownInsecure   KeySecurity = 0x00 // the key has been handled insecurely (e.g. stored unencrypted)
	KeyNotInsecure     KeySecurity = 0x01 // the key has not been known to be handled insecurely
	KeySecurityUnknown KeySecurity = 0x02
)

// DefaultLogN is the scrypt cost used by EncryptKey when logN is 0: 2^16
// rounds, 64 MiB of memory, about a second in a browser.
const DefaultLogN = 16

// Errors from NIP-49.
var (
	ErrWrongPassword = errors.New("wrong password (or corrupted ncryptsec)")
	ErrBadNcryptsec  = errors.New("malformed ncryptsec")
)

const ncryptsecVersion = 0x02

// EncryptKey encrypts sk with a password as a NIP-49 ncryptsec: scrypt
// (N = 2^logN, r = 8, p = 1, random 16-byte salt) derives the key of
// XChaCha20-Poly1305, which seals the 32-byte secret with the security byte
// as associated data. The password is normalised to Unicode NFKC first.
func EncryptKey(sk *SecretKey, password string, logN uint8, security KeySecurity) (string, error) {
	if logN == 0 {
		logN = DefaultLogN
	}
	if logN > 22 {
		return "", fmt.Errorf("failed to encrypt key: log_n %d is over 22 (4 GiB of memory)", logN)
	}
	var salt [16]byte
	var nonce [chacha20poly1305.NonceSizeX]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", fmt.Errorf("failed to read random bytes: %w", err)
	}
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("failed to read random bytes: %w", err)
	}
	aead, err := nip49Cipher(password, salt[:], logN)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, 91)
	out = append(out, ncryptsecVersion, logN)
	out = append(out, salt[:]...)
	out = append(out, nonce[:]...)
	out = append(out, byte(security))
	out = aead.Seal(out, nonce[:], sk.Bytes(), []byte{byte(security)})
	data, err := bech32.ConvertBits(out, 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("failed to encode ncryptsec: %w", err)
	}
	s, err := bech32.Encode(PrefixNcryptsec, data)
	if err != nil {
		return "", fmt.Errorf("failed to encode ncryptsec: %w", err)
	}
	return s, nil
}

// DecryptKey opens an ncryptsec with its password. A wrong password gives
// ErrWrongPassword; malformed text gives ErrBadNcryptsec, ErrWrongPrefix or
// ErrBadChecksum.
func DecryptKey(ncryptsec, password string) (*SecretKey, KeySecurity, error) {
	hrp, data, err := bech32.DecodeNoLimit(ncryptsec)
	if err != nil {
		var checksum bech32.ErrInvalidChecksum
		if errors.As(err, &checksum) {
			return nil, 0, fmt.Errorf("failed to decode ncryptsec: %w", ErrBadChecksum)
		}
		return nil, 0, fmt.Errorf("failed to decode ncryptsec: %w: %v", ErrBadNcryptsec, err)
	}
	if hrp != PrefixNcryptsec {
		return nil, 0, fmt.Errorf("failed to decode ncryptsec: %w: got %q", ErrWrongPrefix, hrp)
	}
	b, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil || len(b) != 91 || b[0] != ncryptsecVersion {
		return nil, 0, fmt.Errorf("failed to decode ncryptsec: %w: want 91 bytes of version 2", ErrBadNcryptsec)
	}
	logN, salt, nonce, security, sealed := b[1], b[2:18], b[18:42], b[42], b[43:]
	if logN > 22 {
		return nil, 0, fmt.Errorf("failed to decode ncryptsec: %w: log_n %d is over 22", ErrBadNcryptsec, logN)
	}
	aead, err := nip49Cipher(password, salt, logN)
	if err != nil {
		return nil, 0, err
	}
	plain, err := aead.Open(nil, nonce, sealed, []byte{security})
	if err != nil {
		return nil, 0, fmt.Errorf("failed to decrypt ncryptsec: %w", ErrWrongPassword)
	}
	sk, err := SecretKeyFromBytes(plain)
	if err != nil {
		return nil, 0, fmt.Errorf("failed to decrypt ncryptsec: %w", err)
	}
	return sk, KeySecurity(security), nil
}

func nip49Cipher(password string, salt []byte, logN uint8) (interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}, error) {
	key, err := scrypt.Key([]byte(nfkc(password)), salt, 1<<logN, 8, 1, 32)
	if err != nil {
		return nil, fmt.Errorf("failed to derive the key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("failed to set up XChaCha20-Poly1305: %w", err)
	}
	return aead, nil
}
