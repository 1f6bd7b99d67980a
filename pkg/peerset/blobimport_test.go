//go:build !js

package peerset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// openOpenDB opens a DB in memory under cfg, with the open preset unless
// cfg names rules, closed when the test ends.
func openOpenDB(t *testing.T, cfg Config) *DB {
	t.Helper()
	if cfg.Moderation == nil {
		open := moderation.PresetOpen()
		cfg.Moderation = &open
	}
	db, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// restoredDB is openOpenDB with events imported, every one stored.
func restoredDB(t *testing.T, cfg Config, events []*record.Event) *DB {
	t.Helper()
	db := openOpenDB(t, cfg)
	if res, err := db.Import(context.Background(), events); err != nil || res.Stored != len(events) {
		t.Fatalf("import of the events: %+v, %v", res, err)
	}
	return db
}

// TestImportBlobRestoresABackup: the events of a DB with blobs, exported
// and imported into a fresh DB, get their blobs back from the bytes alone
// (no peer), checked against the layout their records name, within the
// same limits as a fetch.
func TestImportBlobRestoresABackup(t *testing.T) {
	ctx := context.Background()
	src := openOpenDB(t, Config{Room: "blob-backup"})
	photo := blobBytes(600<<10, 1)
	recPhoto, err := src.PutBlob(ctx, record.Draft{Text: "a photo"}, bytes.NewReader(photo), "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	// A record whose blob reference lies about the chunks' hash list: the
	// bytes match its SHA-256 and size, not its layout.
	liar := blobBytes(100<<10, 2)
	ref, _ := record.HashBlob(liar, "")
	ref.ListHash[0] ^= 1
	if _, err := src.Put(ctx, record.Draft{Text: "a wrong list", Blob: &ref}); err != nil {
		t.Fatal(err)
	}
	events, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		cfg  Config
		data []byte
		want func(record.BlobRef, error) string // "" when as expected
	}{
		{"the photo", Config{}, photo, func(got record.BlobRef, err error) string {
			if err != nil || got != *recPhoto.Blob {
				return "want the photo's reference"
			}
			return ""
		}},
		{"bytes no record refers to", Config{}, blobBytes(1000, 3), func(_ record.BlobRef, err error) string {
			if !errors.Is(err, ErrNotFound) {
				return "want ErrNotFound"
			}
			return ""
		}},
		{"bytes that do not match the record's layout", Config{}, liar, func(_ record.BlobRef, err error) string {
			if !errors.Is(err, ErrBlobMismatch) {
				return "want ErrBlobMismatch"
			}
			return ""
		}},
		{"over the author's quota", Config{BlobQuotaAuthor: 512 << 10}, photo, func(_ record.BlobRef, err error) string {
			if rej := (*moderation.Rejection)(nil); !errors.As(err, &rej) || rej.Rule != RuleBlobQuotaAuthor {
				return "want a refusal by " + RuleBlobQuotaAuthor
			}
			return ""
		}},
		{"over the largest blob", Config{MaxBlobBytes: 512 << 10}, photo, func(_ record.BlobRef, err error) string {
			if rej := (*moderation.Rejection)(nil); !errors.As(err, &rej) || rej.Rule != RuleBlobSize {
				return "want a refusal by " + RuleBlobSize
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Room = "blob-backup"
			dst := restoredDB(t, cfg, events)
			got, err := dst.ImportBlob(ctx, tc.data)
			if why := tc.want(got, err); why != "" {
				t.Fatalf("ImportBlob = %+v, %v: %s", got, err, why)
			}
			held, _, err := dst.Blob(ctx, recPhoto.UUID)
			stored := err == nil && bytes.Equal(held, photo)
			if wantStored := tc.name == "the photo"; stored != wantStored {
				t.Fatalf("the photo held whole after the import: %v (%v), want %v", stored, err, wantStored)
			}
			if stored {
				// Again: a no-op.
				if _, err := dst.ImportBlob(ctx, photo); err != nil {
					t.Fatalf("a second import of the photo: %v", err)
				}
			}
		})
	}
}

// TestImportBlobWithACancelledContextLosesNoReference: ImportBlob notes the
// references queued so far before it looks the blob up; a call whose
// context is cancelled must not drop them (they would be noted nowhere, and
// the blob would stay without a record forever: ErrNotFound, then swept).
func TestImportBlobWithACancelledContextLosesNoReference(t *testing.T) {
	ctx := context.Background()
	src := openOpenDB(t, Config{Room: "blob-backup-cancel"})
	data := blobBytes(10<<10, 7)
	if _, err := src.PutBlob(ctx, record.Draft{}, bytes.NewReader(data), ""); err != nil {
		t.Fatal(err)
	}
	events, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for round := range 20 {
		dst := restoredDB(t, Config{Room: "blob-backup-cancel"}, events)
		if _, err := dst.ImportBlob(cancelled, data); err == nil {
			t.Fatalf("round %d: ImportBlob with a cancelled context succeeded", round)
		}
		// A context cancelled while ImportBlob notes the queued references
		// (past its first check): they are noted all the same.
		dst.notePendingBlobRefs(cancelled)
		if _, err := dst.ImportBlob(ctx, data); err != nil {
			t.Fatalf("round %d: after a call with a cancelled context: %v", round, err)
		}
	}
}

// TestImportBlobSkipsALyingRecord: a record may name a blob's SHA-256 with
// a wrong layout (anyone who saw the honest record can publish one); the
// bytes are stored under the honest record's layout all the same, even
// when the liar's id sorts first.
func TestImportBlobSkipsALyingRecord(t *testing.T) {
	ctx := context.Background()
	src := openOpenDB(t, Config{Room: "blob-backup-liar"})
	data := blobBytes(100<<10, 8)
	honest, err := src.PutBlob(ctx, record.Draft{Text: "honest"}, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	liar := *honest.Blob
	liar.ListHash[0] ^= 1
	for i := 0; ; i++ {
		if i == 64 {
			t.Fatal("64 lying records, none with an id below the honest one's")
		}
		rec, err := src.Put(ctx, record.Draft{Text: fmt.Sprintf("liar %d", i), Blob: &liar})
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Compare(rec.Event.ID[:], honest.Event.ID[:]) < 0 {
			break // a liar is looked at first
		}
	}
	events, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst := restoredDB(t, Config{Room: "blob-backup-liar"}, events)
	got, err := dst.ImportBlob(ctx, data)
	if err != nil || got != *honest.Blob {
		t.Fatalf("ImportBlob = %+v, %v; want the honest record's layout", got, err)
	}
}
