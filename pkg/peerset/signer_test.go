package peerset

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store"
)

// fakeSigner stands for a NIP-07 extension: it holds a key the DB never
// sees, counts the events it is asked to sign, and misbehaves on request.
type fakeSigner struct {
	sk     *record.SecretKey
	asked  atomic.Int32
	refuse bool
	tamper func(*record.Event) // changes the signed event before returning it
}

func newFakeSigner(t *testing.T) *fakeSigner {
	t.Helper()
	sk, err := record.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &fakeSigner{sk: sk}
}

func (f *fakeSigner) PublicKey(context.Context) (record.PublicKey, error) {
	return f.sk.Public(), nil
}

func (f *fakeSigner) SignEvent(ctx context.Context, e *record.Event) (*record.Event, error) {
	f.asked.Add(1)
	if f.refuse {
		return nil, errors.New("user rejected")
	}
	signed, err := KeySigner(f.sk).SignEvent(ctx, e)
	if err == nil && f.tamper != nil {
		f.tamper(signed)
	}
	return signed, err
}

// metaKeys lists which of the key metadata entries a store holds.
func heldKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	var held []string
	for _, k := range []string{metaKeySecret, metaKeyEncrypted} {
		if _, err := st.GetMeta(context.Background(), k); err == nil {
			held = append(held, k)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return held
}

// A signer signs every record and deletion, once each even when the room
// requires proof of work; the records carry its key; no secret key is made
// or kept.
func TestSignerSignsRecords(t *testing.T) {
	ctx := context.Background()
	for _, pow := range []int{0, 8} {
		signer := newFakeSigner(t)
		st := noClose{store.NewMemory()} // stands for IndexedDB
		mod := moderation.DefaultConfig()
		mod.PoWDifficulty = pow
		db := openTest(t, Config{Signer: signer, Store: st, Moderation: &mod})
		if db.Key() != signer.sk.Public() || db.KeyStorage() != KeySignerHeld || db.ReadOnly() {
			t.Fatalf("pow %d: key %s, storage %q, read-only %v", pow, db.Key().Npub(), db.KeyStorage(), db.ReadOnly())
		}
		r, err := db.Put(ctx, record.Draft{Text: "signed elsewhere"})
		if err != nil {
			t.Fatalf("pow %d: %v", pow, err)
		}
		if err := r.Event.Verify(); err != nil || r.Author != signer.sk.Public() {
			t.Fatalf("pow %d: the record does not verify as the signer's: %v (author %s)", pow, err, r.Author.Npub())
		}
		if got := moderation.LeadingZeroBits(r.Event.ID); got < pow {
			t.Fatalf("pow %d: the id has %d leading zero bits", pow, got)
		}
		if _, err := db.Put(ctx, record.Draft{UUID: r.UUID, Text: "edited"}); err != nil {
			t.Fatal(err)
		}
		if err := db.Delete(ctx, r.UUID); err != nil {
			t.Fatal(err)
		}
		if n := signer.asked.Load(); n != 3 {
			t.Errorf("pow %d: the signer was asked %d times for three writes", pow, n)
		}
		if held := heldKeys(t, st); len(held) > 0 {
			t.Errorf("pow %d: the store holds a secret key (%v)", pow, held)
		}
	}
}

// A signer that refuses, fails, or returns something else than it was asked
// to sign fails the write with ErrSigner, and nothing is stored.
func TestSignerRefusalsAreErrors(t *testing.T) {
	ctx := context.Background()
	other, _ := record.GenerateKey()
	cases := []struct {
		name   string
		refuse bool
		tamper func(*record.Event)
	}{
		{"the user says no", true, nil},
		{"another key", false, func(e *record.Event) { _ = e.Sign(other) }},
		{"changed text", false, func(e *record.Event) { e.Content += "!"; e.ID = e.ComputeID() }},
		{"a broken signature", false, func(e *record.Event) { e.Sig[5] ^= 1 }},
		{"another id", false, func(e *record.Event) { e.ID[0] ^= 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signer := newFakeSigner(t)
			signer.refuse, signer.tamper = c.refuse, c.tamper
			db := openTest(t, Config{Signer: signer})
			_, err := db.Put(ctx, record.Draft{Text: "x"})
			if !errors.Is(err, ErrSigner) {
				t.Fatalf("Put: %v, want ErrSigner", err)
			}
			if s := db.Stats(); s.Records != 0 {
				t.Fatalf("%d records stored after a failed signature", s.Records)
			}
		})
	}
}

// A signer and a key cannot both sign; a read-only node (an ephemeral
// identity without a key) refuses writes and keeps no key.
func TestIdentityChoices(t *testing.T) {
	ctx := context.Background()
	sk, _ := record.GenerateKey()
	for _, cfg := range []Config{
		{Room: "r", Signer: newFakeSigner(t), Key: sk},
		{Room: "r", Signer: newFakeSigner(t), KeyPassphrase: "p"},
		{Room: "r", Identity: "anonymous"},
	} {
		if db, err := Open(ctx, cfg); err == nil {
			db.Close()
			t.Errorf("Open accepted %+v", cfg)
		}
	}

	st := noClose{store.NewMemory()}
	db := openTest(t, Config{Identity: IdentityEphemeral, Store: st})
	if !db.ReadOnly() || db.KeyStorage() != KeyNone || db.Stats().Author != "" {
		t.Fatalf("read-only %v, storage %q, author %q", db.ReadOnly(), db.KeyStorage(), db.Stats().Author)
	}
	if _, err := db.Put(ctx, record.Draft{Text: "x"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put: %v, want ErrReadOnly", err)
	}
	if err := db.Delete(ctx, "0d7b4e1c-3b2a-4c5d-9e8f-1a2b3c4d5e6f"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Delete: %v, want ErrReadOnly", err)
	}
	if held := heldKeys(t, st); len(held) > 0 {
		t.Fatalf("a read-only node kept a key: %v", held)
	}
	// It still takes records from peers.
	writer := openTest(t, Config{})
	r, err := writer.Put(ctx, record.Draft{Text: "from a writer"})
	if err != nil {
		t.Fatal(err)
	}
	if out := db.Ingest(ctx, Origin{PeerID: "p"}, []*record.Event{r.Event}); out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	// With a key it writes, by that key.
	db = openTest(t, Config{Identity: IdentityEphemeral, Key: sk})
	if r, err := db.Put(ctx, record.Draft{Text: "y"}); err != nil || r.Author != sk.Public() {
		t.Fatalf("ephemeral with a key: %v", err)
	}
}
