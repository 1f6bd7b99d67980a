//go:build !js

package peerset

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/record"
)

// TestImportBlobRestoresABackup: the events of a DB with blobs, exported
// and imported into a fresh DB, get their blobs back from the bytes alone
// (no peer), checked against the layout their records name, within the
// same limits as a fetch.
func TestImportBlobRestoresABackup(t *testing.T) {
	ctx := context.Background()
	open := moderation.PresetOpen()
	src, err := Open(ctx, Config{Room: "blob-backup", Moderation: &open})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
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
			cfg.Room, cfg.Moderation = "blob-backup", &open
			dst, err := Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			if res, err := dst.Import(ctx, events); err != nil || res.Stored != len(events) {
				t.Fatalf("import of the events: %+v, %v", res, err)
			}
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
