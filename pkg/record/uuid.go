package record

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrInvalidUUID is wrapped when a record's UUID is not a canonical v4 UUID.
var ErrInvalidUUID = errors.New("invalid UUID: want a lowercase RFC 4122 version 4 UUID like 3f2b8c1e-9d4a-4b6f-8e2a-1c0d9e8f7a6b")

// NewUUID returns a random version 4 UUID in canonical lowercase form, the
// same shape as the browser's crypto.randomUUID().
func NewUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("failed to read random bytes: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return FormatUUID(b), nil
}

// CheckUUID returns nil if s is a canonical lowercase version 4 UUID.
func CheckUUID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("%w (got %d characters)", ErrInvalidUUID, len(s))
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("%w (no '-' at position %d)", ErrInvalidUUID, i)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return fmt.Errorf("%w (%q at position %d)", ErrInvalidUUID, c, i)
			}
		}
	}
	if s[14] != '4' {
		return fmt.Errorf("%w (version %c)", ErrInvalidUUID, s[14])
	}
	if v := s[19]; v != '8' && v != '9' && v != 'a' && v != 'b' {
		return fmt.Errorf("%w (variant %c)", ErrInvalidUUID, v)
	}
	return nil
}
