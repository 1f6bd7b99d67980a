package peerset

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/peersetdb/peerset/pkg/record"
)

// Signer signs this node's events with a key the DB never holds: a NIP-07
// browser extension (window.nostr), a remote signer, a hardware key. See
// Config.Signer.
type Signer interface {
	// PublicKey returns the key the signer signs with. Open calls it once.
	PublicKey(ctx context.Context) (record.PublicKey, error)
	// SignEvent signs e, whose PubKey (the signer's key), CreatedAt, Kind,
	// Tags, Content and ID are set, and returns the signed event. It may
	// ask the user; an error means the event is not signed (the user said
	// no, the signer is gone). The DB checks what it returns: the same
	// event, by the signer's key, with a valid BIP-340 signature.
	SignEvent(ctx context.Context, e *record.Event) (*record.Event, error)
}

// Identity says which key proves this node in the swarm's handshakes.
type Identity string

const (
	// IdentityAuthor (the default): the handshake proves the node's key,
	// the one that signs its records; peers strike and ban that key. With a
	// Signer it is a session key drawn by Open instead (see Config.Signer).
	IdentityAuthor Identity = ""
	// IdentityEphemeral: every connection proves a fresh key drawn for it
	// and never kept, so that peers learn no long-term key from the
	// handshake. Peers can still sync with the node and strike or ban that
	// connection's key. The node writes only with a Config.Key or
	// Config.Signer (whose records carry that author, as records must);
	// without either it is read-only: Put and Delete return ErrReadOnly.
	IdentityEphemeral Identity = "ephemeral"
)

// Errors of signing.
var (
	// ErrSigner: the signer refused (the user said no) or failed, or
	// returned something other than the event it was asked to sign.
	ErrSigner = errors.New("the signer did not sign")
	// ErrReadOnly: the node has no key to sign with (Config.Identity
	// IdentityEphemeral without Config.Key or Config.Signer).
	ErrReadOnly = errors.New("read-only: this node joined with an ephemeral identity and no key or signer; open it with Config.Key or Config.Signer to write")
)

// KeySigner returns a Signer that signs with sk, held in memory.
func KeySigner(sk *record.SecretKey) Signer { return keySigner{sk} }

type keySigner struct{ sk *record.SecretKey }

func (k keySigner) PublicKey(context.Context) (record.PublicKey, error) { return k.sk.Public(), nil }

func (k keySigner) SignEvent(_ context.Context, e *record.Event) (*record.Event, error) {
	signed := *e
	if err := signed.Sign(k.sk); err != nil {
		return nil, err
	}
	return &signed, nil
}

// sign has the node's signer sign e (PubKey and ID set) and checks the
// result.
func (db *DB) sign(ctx context.Context, e *record.Event) (*record.Event, error) {
	if db.signer == nil {
		return nil, ErrReadOnly
	}
	signed, err := db.signer.SignEvent(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrSigner, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrSigner, err)
	}
	if err := checkSigned(signed, e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigner, err)
	}
	return signed, nil
}

// checkSigned checks that signed is want (an unsigned event with its id),
// signed by want's author.
func checkSigned(signed, want *record.Event) error {
	switch {
	case signed == nil:
		return errors.New("it returned no event")
	case signed.PubKey != want.PubKey:
		return fmt.Errorf("it signed as %s, not as %s", signed.PubKey.Npub(), want.PubKey.Npub())
	case signed.CreatedAt != want.CreatedAt || signed.Kind != want.Kind || signed.Content != want.Content ||
		!slices.EqualFunc(signed.Tags, want.Tags, slices.Equal):
		return errors.New("it changed the event it was asked to sign")
	case signed.ID != want.ID:
		return fmt.Errorf("%w: it returned id %x, the event hashes to %x", record.ErrIDMismatch, signed.ID[:4], want.ID[:4])
	}
	if err := signed.VerifySignature(); err != nil {
		return err
	}
	return nil
}
