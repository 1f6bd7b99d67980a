//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peersetdb/peerset/pkg/moderation"
	"github.com/peersetdb/peerset/pkg/peerset"
	"github.com/peersetdb/peerset/pkg/record"
	"github.com/peersetdb/peerset/pkg/store/bolt"
)

// importBatch is how many events one Import call takes.
const importBatch = 2000

// maxImportLine bounds one line of import input: far above any record a
// room accepts (64 KiB by default), it only guards against unbounded input.
const maxImportLine = 1 << 20

// cmdImport reads NIP-01 events, one per line, verifies, moderates and
// stores them as if a peer had sent them, and prints the counts as its last
// line. Input that is not an event counts as invalid; only unreadable input
// or a failing store is an error.
func cmdImport(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("import")
	var f dbFlags
	f.register(fs)
	blobDir := fs.String("blobs", "", "a directory of blobs written by export --blobs: each file is stored as the blob that an imported (or held) record refers to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *blobDir != "" {
		if st, err := os.Stat(*blobDir); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: --blobs %s is not a readable directory", errUsage, *blobDir)
		}
	}
	ctx := context.Background()
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var total peerset.ImportResult
	total.ByRule = map[string]int{}
	// The importer checks a batch's signatures while the one before it is
	// stored: each batch is a new slice, as it keeps the last one.
	imp := db.NewImporter(ctx)
	batch := make([]*record.Event, 0, importBatch)
	flush := func() error {
		err := imp.Add(batch)
		batch = make([]*record.Event, 0, importBatch)
		return err
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
	for {
		line, tooLong, err := readLine(in, maxImportLine)
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("failed to read the events to import: %w", err)
		}
		if tooLong {
			total.NotAnEvent()
			continue
		}
		if len(line) == 0 {
			continue
		}
		e, perr := record.ParseEvent(line, 0)
		if perr != nil {
			total.NotAnEvent()
		} else {
			batch = append(batch, e)
		}
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := flush(); err != nil {
		return err
	}
	r, err := imp.Close()
	if err != nil {
		return err
	}
	total.Add(r)
	out := importLine{ImportResult: total}
	if *blobDir != "" {
		b, err := importBlobs(ctx, db, *blobDir)
		if err != nil {
			return err
		}
		out.Blobs = &b
	}
	return writeJSON(stdout, out)
}

// importLine is import's last line: the events' counts and, with --blobs,
// the blobs'.
type importLine struct {
	peerset.ImportResult
	Blobs *blobCounts `json:"blobs,omitempty"`
}

// blobCounts are import --blobs' counts: files stored as blobs, refused by
// a limit (byRule), and invalid (no record held refers to them, their
// bytes do not match the record's layout, or the name is no SHA-256).
type blobCounts struct {
	Stored  int            `json:"stored"`
	Refused int            `json:"refused"`
	Invalid int            `json:"invalid"`
	ByRule  map[string]int `json:"byRule"`
}

// importBlobs stores each file of dir (named by its SHA-256 in hex, as
// export --blobs writes them) as a blob, one file in memory at a time.
func importBlobs(ctx context.Context, db *peerset.DB, dir string) (blobCounts, error) {
	c := blobCounts{ByRule: map[string]int{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return c, fmt.Errorf("failed to list the blobs in %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if !isBlobName(e.Name()) {
			c.Invalid++
			c.ByRule["name"]++
			continue
		}
		info, err := e.Info()
		if err != nil {
			return c, fmt.Errorf("failed to read the blob %s: %w", e.Name(), err)
		}
		if info.Size() > int64(db.MaxBlobBytes()) {
			c.Refused++
			c.ByRule[peerset.RuleBlobSize]++
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return c, fmt.Errorf("failed to read the blob %s: %w", e.Name(), err)
		}
		ref, err := db.ImportBlob(ctx, data)
		var rej *moderation.Rejection
		switch {
		case err == nil && ref.Hex() == e.Name():
			c.Stored++
		case err == nil:
			// The bytes are another blob than the name says: stored all
			// the same (they matched a record), counted as misnamed.
			c.Stored++
			c.ByRule["misnamed"]++
		case errors.As(err, &rej):
			c.Refused++
			c.ByRule[rej.Rule]++
		case errors.Is(err, peerset.ErrNotFound):
			c.Invalid++
			c.ByRule["no-record"]++
		case errors.Is(err, peerset.ErrBlobMismatch):
			c.Invalid++
			c.ByRule["mismatch"]++
		default:
			return c, err
		}
	}
	return c, nil
}

// isBlobName reports whether name is a SHA-256 in lowercase hex.
func isBlobName(name string) bool {
	if len(name) != 64 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

// readLine reads one line without its end of line, up to max bytes; a
// longer line is skipped whole and reported as tooLong.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		part, isPrefix, err := r.ReadLine()
		if !tooLong {
			if len(line)+len(part) > max {
				tooLong, line = true, nil
			} else {
				line = append(line, part...)
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}

// cmdExport writes every live record and kept deletion of a database file,
// one NIP-01 event per line, oldest first, streaming from the file.
func cmdExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("export")
	var f dbFlags
	f.registerFile(fs)
	blobDir := fs.String("blobs", "", "also write every blob held whole into this directory (created if missing), one file per blob named by its SHA-256 in hex")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx := context.Background()
	if f.room == "" && f.path != "" {
		// The file says which room it holds.
		app, room, err := storedRoom(ctx, f.path)
		if err != nil {
			return err
		}
		f.app, f.room = app, room
	}
	f.preset = moderation.PresetNameOpen // export what is held, whatever the rules
	db, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	line := make([]byte, 0, 1024)
	err = db.ExportEach(ctx, func(e *record.Event) error {
		line = append(e.AppendJSON(line[:0]), '\n')
		_, err := out.Write(line)
		return err
	})
	if err != nil {
		return fmt.Errorf("failed to export: %w", err)
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if *blobDir != "" {
		return exportBlobs(ctx, db, *blobDir)
	}
	return nil
}

// exportBlobs writes every blob db holds whole into dir, one at a time
// (each through a temporary file, renamed when complete).
func exportBlobs(ctx context.Context, db *peerset.DB, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create the blob directory: %w", err)
	}
	shas, err := db.WholeBlobs(ctx)
	if err != nil {
		return err
	}
	for _, sha := range shas {
		data, err := db.BlobByHash(ctx, sha)
		if errors.Is(err, peerset.ErrNotFound) {
			continue // deleted with its record meanwhile
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, hex.EncodeToString(sha[:]))
		if err := os.WriteFile(name+".tmp", data, 0o644); err != nil {
			return fmt.Errorf("failed to write a blob: %w", err)
		}
		if err := os.Rename(name+".tmp", name); err != nil {
			return fmt.Errorf("failed to write a blob: %w", err)
		}
	}
	return nil
}

// storedRoom reads the appId and room a database file is bound to.
func storedRoom(ctx context.Context, path string) (app, room string, err error) {
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return "", "", err
	}
	defer st.Close()
	return peerset.StoreRoom(ctx, st)
}
